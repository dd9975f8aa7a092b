"""Screenshots of the Market dashboard and the receiver's handler pages for docs/img/.

    .venv/bin/python tools/screenshots_market.py [--out docs/img]

Starts, on loopback: a receiver ``ymnotify serve --app`` whose CRM handler fails on status
updates (one attempt, so they go dead), a second receiver that is stopped after Market verified
it (so deliveries to it fail with Market's error classes), and ``ymnotify market serve --dev
--clock virtual``. Settings are made through the JSON API, events published, the clock moved,
then headless Chromium (Debian's /usr/bin/chromium) saves PNGs. Everything stops by itself.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from playwright.sync_api import sync_playwright

from ymnotify.protocol.samples import SAMPLE_ID_BASE, sample

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
USER = {"X-Market-User": "dev"}
HANDLERS = '''
from ymnotify import OrderCreated, OrderStatusUpdated, Router

router = Router()


@router.on(OrderCreated)
def save_order(event: OrderCreated) -> None:
    """Succeeds."""


@router.on(OrderStatusUpdated)
def push_status_to_crm(event: OrderStatusUpdated) -> None:
    raise ConnectionError("crm.internal:443: connection refused")
'''


def start(args: list[str], cwd: Path, pattern: str) -> tuple[subprocess.Popen[str], list[str]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "ymnotify", *args],
        cwd=cwd,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    assert process.stderr is not None
    found: list[str] = []
    deadline = time.monotonic() + 20
    wanted = pattern.count("|") + 1
    while len(found) < wanted and time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line:
            break
        match = re.search(rf"(?:{pattern}) listening on (\S+)", line)
        if match:
            found.append(match.group(1))
    if len(found) < wanted:
        process.kill()
        raise SystemExit(f"ymnotify {args[0]} did not start")
    return process, found


def wait_until(check: object, what: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if callable(check) and check():
            return
        time.sleep(0.2)
    raise SystemExit(f"timed out waiting for {what}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("docs/img"))
    out = parser.parse_args().out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        where = Path(folder)
        (where / "crm_handlers.py").write_text(HANDLERS)
        common = ["--port", "0", "--allow-network", "127.0.0.0/8"]
        shop, (shop_url, shop_admin) = start(
            [
                "serve",
                *common,
                "--admin-port",
                "0",
                "--db",
                f"sqlite:///{where / 'shop.db'}",
                "--app",
                "crm_handlers:router",
                "--retry-max-attempts",
                "1",
            ],
            where,
            "receiver|admin",
        )
        spare, (spare_url,) = start(
            ["serve", *common, "--no-admin", "--db", f"sqlite:///{where / 'spare.db'}"],
            where,
            "receiver",
        )
        market, (market_url,) = start(
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
            ],
            where,
            "market sandbox",
        )
        try:
            populate(market_url, shop_url, spare_url, spare)
            wait_until(
                lambda: (
                    "dead" in httpx.get(shop_admin + "/api/notifications?status=dead&limit=1").text
                ),
                "a dead letter",
            )
            shoot(market_url, shop_admin, out)
        finally:
            for process in (market, spare, shop):
                if process.poll() is None:
                    process.terminate()
                    process.wait(15)


def populate(market: str, shop: str, spare: str, spare_process: subprocess.Popen[str]) -> None:
    def subscribe(name: str, url: str, types: list[str], scope: dict[str, int]) -> None:
        body = {"name": name, "url": url, "types": types, "scope": scope}
        httpx.post(market + "/api/subscriptions", json=body, headers=USER).raise_for_status()

    subscribe(
        "CRM: orders",
        shop,
        ["ORDER_CREATED", "ORDER_STATUS_UPDATED", "ORDER_CANCELLED"],
        {"campaignId": 1001},
    )
    subscribe(
        "Support desk: chats", spare, ["CHAT_CREATED", "CHAT_MESSAGE_SENT"], {"businessId": 1}
    )
    spare_process.terminate()  # verified, now gone: Market's deliveries to it fail
    spare_process.wait(15)
    events = []
    for index in range(6):
        order = SAMPLE_ID_BASE + 7000 + index
        events.append(sample("ORDER_CREATED", campaign_id=1001, business_id=1, orderId=order))
        if index % 2 == 0:
            events.append(
                sample(
                    "ORDER_STATUS_UPDATED",
                    campaign_id=1001,
                    business_id=1,
                    orderId=order,
                    status="PROCESSING",
                )
            )
    for index in range(3):
        events.append(sample("CHAT_CREATED", business_id=1, chatId=SAMPLE_ID_BASE + index))
    httpx.post(market + "/api/events", json=events).raise_for_status()

    def attempts() -> int:
        entries = httpx.get(market + "/api/log?limit=1000").json()["entries"]
        return sum(e["notificationType"] != "PING" for e in entries)

    wait_until(lambda: attempts() >= len(events), "the first attempts")
    for _ in range(3):  # Market's retries of the failing deliveries, on the virtual clock
        httpx.post(market + "/api/clock/advance", json={"seconds": 600}).raise_for_status()


def shoot(market: str, shop_admin: str, out: Path) -> None:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
        )
        page = browser.new_page(viewport={"width": 1366, "height": 860}, base_url=market)
        page.goto("/ui/settings?user=dev")
        page.screenshot(path=out / "market-settings.png", full_page=True)
        page.goto("/ui/log?limit=12")
        page.screenshot(path=out / "market-log.png", full_page=True)
        page = browser.new_page(viewport={"width": 1366, "height": 860}, base_url=shop_admin)
        page.goto("/ui/dead")
        page.screenshot(path=out / "dead-letters.png", full_page=True)
        page.locator("table.dead tbody tr td:first-child a").first.click()
        page.wait_for_selector("pre.traceback")
        page.screenshot(path=out / "handler-attempts.png", full_page=True)
        browser.close()
    for name in ("market-settings", "market-log", "dead-letters", "handler-attempts"):
        print(f"wrote {out / (name + '.png')}")


if __name__ == "__main__":
    main()
