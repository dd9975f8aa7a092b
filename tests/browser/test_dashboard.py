"""Click through the receiver dashboard in headless Chromium, as a seller would.

A real ``ymnotify serve`` gets notifications over HTTP from an allowed source (127.0.0.2); the
browser logs in with the admin token, finds one by filtering, opens it, follows its order's
timeline (where a notification that arrived after a later event is marked stale) and looks at
the quarantine.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.admin.servers import admin_url
from tests.processes import start_server
from ymnotify.protocol.samples import SAMPLE_ID_BASE, sample

TOKEN = "browser-test-token"
ORDER_ID = SAMPLE_ID_BASE + 424242
NEEDLE = "SKU-NEEDLE-314"


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The admin URL of a receiver holding a small, known inbox."""
    db = tmp_path_factory.mktemp("browser") / "inbox.db"
    running = start_server(
        [
            "serve",
            "--port",
            "0",
            "--admin-port",
            "0",
            "--admin-token",
            TOKEN,
            "--db",
            f"sqlite:///{db}",
            "--no-market-ranges",
            "--allow-network",
            "127.0.0.2/32",
        ]
    )
    try:
        post_inbox(running.url + "/notification")
        yield admin_url(running)
    finally:
        assert running.stop() == 0


def post_inbox(url: str) -> None:
    now = datetime.now(UTC)
    bodies = [
        {"notificationType": "PING", "time": "2026-09-20T09:00:00Z"},
        *(sample("ORDER_CREATED", orderId=SAMPLE_ID_BASE + i) for i in range(6)),
        sample(
            "ORDER_CREATED",
            orderId=ORDER_ID,
            items=[{"offerId": NEEDLE, "count": 1}],
        ),
        sample("ORDER_STATUS_UPDATED", at=now, orderId=ORDER_ID, status="DELIVERY"),
        # Sent earlier by Market, delivered later: stale, the DELIVERY state stands.
        sample(
            "ORDER_STATUS_UPDATED",
            at=now - timedelta(minutes=30),
            orderId=ORDER_ID,
            status="PROCESSING",
        ),
        sample("CHAT_CREATED"),
    ]
    transport = httpx.HTTPTransport(local_address="127.0.0.2")
    with httpx.Client(transport=transport, timeout=10) as market:
        for body in bodies:
            assert market.post(url, json=body).status_code == 200
        malformed = b'{"notificationType": "ORDER_CREATED", "orderId": "not a number"}'
        assert market.post(url, content=malformed).status_code == 400


@pytest.fixture
def page(browser: Browser, dashboard: str) -> Iterator[Page]:
    """A fresh browser context (no cookie yet) at a laptop-sized window."""
    context = browser.new_context(viewport={"width": 1366, "height": 860}, base_url=dashboard)
    try:
        yield context.new_page()
    finally:
        context.close()


def log_in(page: Page) -> None:
    page.goto("/ui/")
    expect(page).to_have_url(re.compile(r"/ui/login\?next="))
    page.get_by_label("Token").fill(TOKEN)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("#health")).to_be_visible()


def test_a_wrong_token_is_refused_and_the_right_one_kept(page: Page) -> None:
    page.goto("/ui/inbox")
    page.get_by_label("Token").fill("not it")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_have_text("That is not the admin token.")
    page.get_by_label("Token").fill(TOKEN)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/ui/inbox$"))
    page.goto("/ui/quarantine")  # the cookie carries on: no second login
    expect(page.get_by_role("heading", name="Quarantine")).to_be_visible()


def test_home_shows_health_counts_and_the_chart(page: Page) -> None:
    log_in(page)
    expect(page.locator("#health h1")).to_have_text("Healthy")
    expect(page.locator("#health")).to_contain_text("last PING")
    expect(page.locator("svg.chart rect").first).to_be_visible()
    expect(page.locator(".legend")).to_contain_text("ORDER_CREATED")
    expect(page.locator("#card-total b")).to_have_text("11")
    expect(page.locator("#card-pending b")).to_have_text("10")
    expect(page.locator("#card-quarantine b")).to_have_text("1")
    expect(page.locator("#card-stale b")).to_have_text("1")


def test_find_a_notification_open_it_and_follow_its_order(page: Page) -> None:
    log_in(page)
    page.get_by_role("link", name="Inbox", exact=True).click()
    page.get_by_label("Body contains").fill(NEEDLE)
    page.get_by_label("Status").select_option("pending")
    page.get_by_role("button", name="Filter").click()
    rows = page.locator("table.rows tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("ORDER_CREATED")

    rows.first.locator("td").first.get_by_role("link").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Notification")
    expect(page.locator("pre.body")).to_contain_text(f'"offerId": "{NEEDLE}"')
    expect(page.locator("pre.body")).to_contain_text(f'"orderId": {ORDER_ID}')
    expect(page.locator("dl.facts")).to_contain_text("127.0.0.2")
    expect(page.locator("table.headers")).to_contain_text("application/json")

    page.get_by_role("link", name=f"order:{ORDER_ID}").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"order:{ORDER_ID}")
    timeline = page.locator("table.rows tbody tr")
    expect(timeline).to_have_count(3)
    expect(timeline.nth(2)).to_have_class("stale")
    expect(timeline.nth(2)).to_contain_text("ORDER_STATUS_UPDATED")
    expect(timeline.nth(1)).not_to_have_class("stale")
    expect(page.locator("table.state")).to_contain_text("DELIVERY")

    timeline.nth(2).locator("td").first.get_by_role("link").click()
    expect(page.locator("dl.facts")).to_contain_text("yes: an event of this entity")


def test_the_quarantine_lists_the_malformed_body_and_why(page: Page) -> None:
    log_in(page)
    page.get_by_role("link", name="Quarantine", exact=True).click()
    rows = page.locator("table.quarantine tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("ORDER_CREATED")
    expect(rows.first).to_contain_text("orderId")
    expect(rows.first.locator("code")).to_contain_text('"orderId": "not a number"')


def test_paging_walks_the_inbox_by_id(page: Page) -> None:
    log_in(page)
    page.goto("/ui/inbox?limit=4")
    seen: list[str] = []
    for _ in range(5):  # 11 rows, 4 per page: three pages, bounded loop
        ids = page.locator("table.rows tbody tr td:first-child").all_inner_texts()
        seen.extend(ids)
        older = page.get_by_role("link", name="Older »")
        if older.count() == 0:
            break
        older.click()
    assert [int(i) for i in seen] == list(range(11, 0, -1))
