"""Click through the Market sandbox's dashboard in headless Chromium, as a seller would.

A real ``ymnotify market serve --dev --clock virtual`` delivers to a real ``ymnotify serve``. The
browser picks the acting user, creates a setting (Market PINGs the receiver first), events are
published through the JSON API, the log is filtered by type, outcome and traceparent, the
virtual clock is moved, and the setting is disabled. The sandbox's ``/metrics`` and its JSON log
lines are checked on the same processes. The tests run in file order and share the servers.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.metrics import metric_samples
from tests.processes import RunningServer, start_server
from ymnotify.protocol.samples import sample

CAMPAIGN = 1001  # the --dev store
BUSINESS = 1


@dataclass
class Sandbox:
    market: RunningServer
    receiver: RunningServer


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    where: Path = tmp_path_factory.mktemp("market-ui")
    receiver = start_server(
        [
            "serve",
            "--port",
            "0",
            "--no-admin",
            "--db",
            f"sqlite:///{where / 'inbox.db'}",
            "--allow-network",
            "127.0.0.0/8",
        ]
    )
    try:
        market = start_server(
            [
                "market",
                "serve",
                "--dev",
                "--clock",
                "virtual",
                "--port",
                "0",
                "--db",
                f"sqlite:///{where / 'market.db'}",
                "--log-format",
                "json",
            ]
        )
        try:
            yield Sandbox(market, receiver)
        finally:
            assert market.stop() == 0
    finally:
        assert receiver.stop() == 0


@pytest.fixture
def page(browser: Browser, sandbox: Sandbox) -> Iterator[Page]:
    context = browser.new_context(
        viewport={"width": 1366, "height": 860}, base_url=sandbox.market.url
    )
    try:
        yield context.new_page()
    finally:
        context.close()


def delivered_log(market_url: str, count: int) -> list[dict[str, object]]:
    """The log's notification attempts once ``count`` of them are there (bounded wait)."""
    deadline = time.monotonic() + 20
    while True:
        entries = httpx.get(market_url + "/api/log", timeout=10).json()["entries"]
        done = [e for e in entries if e["notificationType"] != "PING"]
        if len(done) >= count or time.monotonic() > deadline:
            return done
        time.sleep(0.1)


def test_create_a_setting_publish_and_filter_the_log(page: Page, sandbox: Sandbox) -> None:
    page.goto("/ui/")
    expect(page.get_by_role("heading", level=1)).to_contain_text("API notifications")
    page.get_by_label("Acting user").select_option("dev")
    expect(page).to_have_url("/ui/settings?user=dev")
    page.get_by_label("Name").fill("CRM orders")
    page.get_by_label("Scope").select_option(f"campaign:{CAMPAIGN}")
    page.get_by_label("URL").fill(sandbox.receiver.url)  # Market adds /notification
    page.get_by_label("ORDER_CREATED", exact=True).check()
    page.get_by_label("ORDER_STATUS_UPDATED", exact=True).check()
    page.get_by_role("button", name="Create").click()
    expect(page.get_by_role("status")).to_contain_text("created setting 1 (CRM orders)")
    row = page.locator("#setting-1")
    expect(row).to_contain_text("store 1001")
    expect(row).to_contain_text("ORDER_CREATED, ORDER_STATUS_UPDATED")
    expect(row.locator(".status")).to_have_text("active")

    bodies = [
        sample("ORDER_CREATED", campaign_id=CAMPAIGN, business_id=BUSINESS),
        sample("ORDER_CREATED", campaign_id=CAMPAIGN, business_id=BUSINESS, orderId=7),
        sample("ORDER_STATUS_UPDATED", campaign_id=CAMPAIGN, business_id=BUSINESS),
    ]
    published = httpx.post(sandbox.market.url + "/api/events", json=bodies, timeout=10)
    assert published.status_code == 202, published.text
    attempts = delivered_log(sandbox.market.url, 3)
    assert [a["outcome"] for a in attempts] == ["delivered"] * 3

    page.get_by_role("link", name="Request log").click()
    expect(page.locator("table.log tbody tr")).to_have_count(4)  # the PING and three deliveries
    expect(page.locator("svg.rates")).to_contain_text("ORDER_CREATED")
    page.locator("select[name=type]").select_option("ORDER_CREATED")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("table.log tbody tr")).to_have_count(2)
    expect(page.locator("svg.rates")).not_to_contain_text("ORDER_STATUS_UPDATED")

    page.locator("select[name=type]").select_option("")
    page.locator("select[name=outcome]").select_option("failed")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_text("No attempt matches.")).to_be_visible()

    traceparent = str(attempts[0]["traceparent"])
    page.goto("/ui/log")
    page.get_by_label("Search").fill(traceparent)
    page.get_by_role("button", name="Filter").click()
    rows = page.locator("table.log tbody tr")
    expect(rows).to_have_count(1)
    rows.first.locator("summary").click()
    expect(rows.first).to_contain_text(traceparent)


def test_move_the_virtual_clock_then_disable_the_setting(page: Page) -> None:
    page.goto("/ui/settings?user=dev")
    before = page.locator("#clock span").first.inner_text()
    page.locator("#clock select").select_option("1d")
    page.get_by_role("button", name="Advance").click()
    expect(page.locator("#clock span").first).not_to_have_text(before)

    row = page.locator("#setting-1")
    row.get_by_role("button", name="Disable").click()
    expect(page.get_by_role("status")).to_contain_text("setting 1 disabled")
    expect(page.locator("#setting-1").get_by_role("button", name="Enable")).to_be_visible()
    expect(page.locator("#setting-1 .status")).to_have_text("disabled")


# It checks what the browser tests above created, so it skips with them.
@pytest.mark.usefixtures("browser")
def test_a_form_from_elsewhere_is_refused(sandbox: Sandbox) -> None:
    forged = httpx.post(
        sandbox.market.url + "/ui/settings/1/remove", data={"csrf": "guess"}, timeout=10
    )
    assert forged.status_code == 403
    still = httpx.get(sandbox.market.url + "/api/subscriptions/1", timeout=10)
    assert still.status_code == 200


# It checks what the browser tests above created, so it skips with them.
@pytest.mark.usefixtures("browser")
def test_market_metrics_parse_and_count_the_deliveries(sandbox: Sandbox) -> None:
    text = httpx.get(sandbox.market.url + "/metrics", timeout=10).text
    samples = metric_samples(text)
    delivered = (("error_type", ""), ("outcome", "delivered"))
    assert samples[("ymnotify_market_delivery_attempts_total", delivered)] == 3
    assert samples[("ymnotify_market_delivery_retries_total", ())] == 0
    assert samples[("ymnotify_market_pending_deliveries", ())] == 0
    assert samples[("ymnotify_market_settings_disabled_by_market", ())] == 0


def test_market_json_logs_are_one_object_per_line(sandbox: Sandbox) -> None:
    lines = [line for line in list(sandbox.market.output) if line.strip()]
    events = [json.loads(line) for line in lines]  # every line parses, or this fails
    assert all({"time", "level", "logger", "message"} <= set(event) for event in events)
    assert any("market sandbox listening on" in event["message"] for event in events)
