"""Replay a dead notification from the dashboard and watch it succeed, in headless Chromium.

A real ``ymnotify serve --app`` runs a handler module written here, which fails until a flag
file exists. With one attempt allowed, the first notification goes dead at once; the test then
creates the file, presses Replay on the notification's page and waits for status ``done``. The
same server's ``/metrics`` and its JSON log lines (``--log-format json``) are checked too, after
the replay (the tests run in file order and share the server).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.admin.servers import admin_url
from tests.metrics import metric_samples
from tests.processes import RunningServer, start_server
from ymnotify.protocol.samples import sample

# The later tests check what the replay in the first one left behind: without Chromium they
# are skipped with it instead of failing on a notification that was never replayed.
pytestmark = pytest.mark.usefixtures("browser")

HANDLERS = """
from pathlib import Path

from ymnotify import OrderCreated, Router

FLAG = Path({flag!r})
router = Router()


@router.on(OrderCreated)
def sync_to_crm(event: OrderCreated) -> None:
    if not FLAG.exists():
        raise ConnectionError("CRM unreachable: " + str(FLAG) + " is missing")
"""


@pytest.fixture(scope="module")
def flag(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("flag") / "crm-is-up"


@pytest.fixture(scope="module")
def receiver(tmp_path_factory: pytest.TempPathFactory, flag: Path) -> Iterator[RunningServer]:
    """``ymnotify serve --app`` with the failing handler, one attempt, JSON logs."""
    project = tmp_path_factory.mktemp("project")
    (project / "shop_handlers.py").write_text(HANDLERS.format(flag=str(flag)))
    running = start_server(
        [
            "serve",
            "--port",
            "0",
            "--admin-port",
            "0",
            "--db",
            f"sqlite:///{project / 'inbox.db'}",
            "--allow-any-source",
            "--app",
            "shop_handlers:router",
            "--retry-max-attempts",
            "1",
            "--poll-interval",
            "0.2s",
            "--log-format",
            "json",
        ],
        cwd=project,
    )
    try:
        yield running
    finally:
        assert running.stop() == 0


@pytest.fixture
def page(browser: Browser, receiver: RunningServer) -> Iterator[Page]:
    context = browser.new_context(
        viewport={"width": 1366, "height": 860}, base_url=admin_url(receiver)
    )
    try:
        yield context.new_page()
    finally:
        context.close()


def test_replay_a_dead_notification_and_see_it_succeed(
    page: Page, receiver: RunningServer, flag: Path
) -> None:
    response = httpx.post(receiver.url + "/notification", json=sample("ORDER_CREATED"), timeout=10)
    assert response.status_code == 200

    page.goto("/ui/dead")
    rows = page.locator("table.dead tbody tr")
    for _ in range(50):  # server-rendered: reload until the worker has run the handler (bounded)
        if rows.count() == 1:
            break
        page.wait_for_timeout(200)
        page.reload()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("sync_to_crm")
    expect(rows.first).to_contain_text("ConnectionError: CRM unreachable")
    rows.first.locator("td").first.get_by_role("link").click()

    expect(page.get_by_role("heading", level=1)).to_contain_text("dead")
    expect(page.locator("table.jobs")).to_contain_text("sync_to_crm")
    traceback = page.locator("pre.traceback").first
    expect(traceback).to_contain_text("shop_handlers.py")
    expect(traceback).to_contain_text("ConnectionError")

    flag.touch()
    page.get_by_role("button", name="Replay").click()
    expect(page.get_by_role("status")).to_contain_text("requeued")
    heading = page.get_by_role("heading", level=1)
    for _ in range(50):  # bounded: the worker polls every 0.2 s
        if "done" in heading.inner_text():
            break
        page.wait_for_timeout(200)
        page.reload()
    expect(heading).to_contain_text("done")
    expect(page.locator("table.jobs tbody tr").first).to_contain_text("done")
    expect(page.get_by_role("button", name="Replay")).to_have_count(0)


def test_a_replay_post_without_the_form_token_is_refused(receiver: RunningServer) -> None:
    base = admin_url(receiver)
    forged = httpx.post(base + "/ui/notifications/1/replay", data={"csrf": "guess"}, timeout=10)
    assert forged.status_code == 403
    form_only = httpx.post(base + "/api/notifications/1/replay", data={"x": "1"}, timeout=10)
    assert form_only.status_code == 415
    jobs = httpx.get(base + "/api/notifications/1/jobs", timeout=10)
    assert jobs.status_code == 200
    assert jobs.json()["jobs"][0]["handler"] == "shop_handlers.sync_to_crm"


def test_metrics_count_the_handler_failure_and_jobs(receiver: RunningServer) -> None:
    text = httpx.get(admin_url(receiver) + "/metrics", timeout=10).text
    samples = metric_samples(text)
    handler = (("handler", "shop_handlers.sync_to_crm"),)
    assert samples[("ymnotify_handler_failures_total", handler)] == 1
    assert samples[("ymnotify_handler_dead_letters_total", handler)] == 1
    failed = (("handler", "shop_handlers.sync_to_crm"), ("outcome", "failed"))
    assert samples[("ymnotify_handler_duration_seconds_count", failed)] == 1
    assert samples[("ymnotify_jobs", (("status", "done"),))] == 1
    assert samples[("ymnotify_jobs", (("status", "dead"),))] == 0


def test_json_logs_are_one_object_per_line(receiver: RunningServer) -> None:
    lines = [line for line in list(receiver.output) if line.strip()]
    events = [json.loads(line) for line in lines]  # every line parses, or this fails
    assert {"time", "level", "logger", "message"} <= set(events[0])
    messages = [event["message"] for event in events]
    assert any(re.search(r"receiver listening on http://", m) for m in messages)
    assert any("dead after 1 attempts" in m for m in messages)
