"""Screenshots of the receiver dashboard for docs/img/ (home, inbox, notification, timeline).

    .venv/bin/python tools/screenshots.py [--out docs/img]

Seeds a throwaway SQLite store with a day of sample notifications (written through the store,
so their receive times can lie in the past), starts the real ``ymnotify serve`` on it, sends a
PING over HTTP, logs in with headless Chromium (Debian's /usr/bin/chromium) and saves PNGs.
Everything runs on loopback and stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import sync_playwright

from ymnotify.protocol import parse_body, wire
from ymnotify.protocol.samples import SAMPLE_ID_BASE, sample
from ymnotify.store import Incoming
from ymnotify.store.sqlite import SqliteStore

TOKEN = "screenshot-token"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ORDER_ID = SAMPLE_ID_BASE + 51234567
# Relative frequencies of a plausible seller's day.
MIX = {
    "ORDER_CREATED": 10,
    "ORDER_STATUS_UPDATED": 14,
    "CHAT_MESSAGE_SENT": 5,
    "ORDER_RETURN_CREATED": 1,
    "GOODS_FEEDBACK_CREATED": 2,
    "QUESTION_CREATED": 1,
}


def incoming(body: dict[str, object], received_at: datetime) -> Incoming:
    raw = json.dumps(body, ensure_ascii=False).encode()
    parsed = parse_body(raw)
    return Incoming(
        dedup_key=parsed.dedup_key,
        body=raw,
        headers=(("content-type", "application/json"), ("user-agent", "Market-notifier")),
        source="95.108.254.17",
        received_at=received_at,
        notification_type=parsed.notification.notification_type,
        entity=parsed.notification.entity,
        event_time=parsed.notification.event_time,
        state_changes=parsed.notification.state_changes(),
    )


async def seed(path: Path, now: datetime) -> None:
    """A day of traffic, busier in the afternoon, plus one order told out of order."""
    rng = random.Random(20260920)
    store = SqliteStore(path)
    await store.open()
    try:
        kinds = list(MIX)
        weights = list(MIX.values())
        for hour in range(24, 0, -1):
            start = now - timedelta(hours=hour)
            volume = 6 + int(14 * max(0.0, 1 - abs(start.hour - 15) / 9)) + rng.randrange(4)
            for index in range(volume):
                kind = rng.choices(kinds, weights)[0]
                at = start + timedelta(seconds=rng.randrange(3600))
                number = SAMPLE_ID_BASE + hour * 100 + index
                ids: dict[str, Any] = {"orderId": number}
                if kind == "ORDER_STATUS_UPDATED":
                    ids["status"] = rng.choice(["PROCESSING", "DELIVERY", "DELIVERED"])
                elif kind == "CHAT_MESSAGE_SENT":
                    ids = {"chatId": SAMPLE_ID_BASE + hour, "messageId": f"m-{hour}-{index}"}
                elif kind == "GOODS_FEEDBACK_CREATED":
                    ids = {"feedbackId": number}
                elif kind == "QUESTION_CREATED":
                    ids = {"questionId": number}
                await store.accept(incoming(sample(kind, at=at, **ids), at))
        story = [
            (timedelta(minutes=40), sample("ORDER_CREATED", orderId=ORDER_ID)),
            (
                timedelta(minutes=25),
                sample(
                    "ORDER_STATUS_UPDATED",
                    orderId=ORDER_ID,
                    status="PROCESSING",
                    substatus="STARTED",
                ),
            ),
            (
                timedelta(minutes=12),
                sample(
                    "ORDER_STATUS_UPDATED",
                    orderId=ORDER_ID,
                    status="DELIVERY",
                    substatus="DELIVERY_SERVICE_RECEIVED",
                ),
            ),
            (
                timedelta(minutes=9),
                sample(
                    "ORDER_STATUS_UPDATED",
                    orderId=ORDER_ID,
                    status="PROCESSING",
                    substatus="READY_TO_SHIP",
                ),
            ),
        ]
        event_times = [
            timedelta(minutes=40),
            timedelta(minutes=25),
            timedelta(minutes=12),
            timedelta(minutes=20),
        ]  # the last was sent before the DELIVERY one
        for (ago, body), event_ago in zip(story, event_times, strict=True):
            for field in ("createdAt", "updatedAt"):
                if field in body:
                    body[field] = (now - event_ago).isoformat().replace("+00:00", "Z")
            await store.accept(incoming(body, now - ago))
        bad = b'{"notificationType": "ORDER_CREATED", "orderId": "51234567890", "campaignId": 1'
        await store.accept(
            Incoming(
                dedup_key=wire.raw_dedup_key(bad),
                body=bad,
                headers=(("content-type", "application/json"),),
                source="95.108.254.17",
                received_at=now - timedelta(minutes=3),
                notification_type="ORDER_CREATED",
                quarantine_reason="not JSON: Expecting ',' delimiter at line 1 column 82",
            )
        )
    finally:
        await store.close()


def start(db: Path) -> tuple[subprocess.Popen[str], str, str]:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ymnotify",
            "serve",
            "--port",
            "0",
            "--admin-port",
            "0",
            "--db",
            f"sqlite:///{db}",
            "--allow-network",
            "127.0.0.0/8",
        ],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "YMNOTIFY_ADMIN_TOKEN": TOKEN},
    )
    assert process.stderr is not None
    urls: dict[str, str] = {}
    deadline = time.monotonic() + 20
    while len(urls) < 2 and time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line:
            break
        match = re.search(r"(receiver|admin) listening on (\S+)", line)
        if match:
            urls[match.group(1)] = match.group(2)
    if len(urls) < 2:
        process.kill()
        raise SystemExit("ymnotify serve did not start")
    return process, urls["receiver"], urls["admin"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("docs/img"))
    out = parser.parse_args().out
    out.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC)
    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "inbox.db"
        asyncio.run(seed(db, now))
        process, receiver, admin = start(db)
        try:
            ping = httpx.post(receiver + "/notification", json={"notificationType": "PING"})
            ping.raise_for_status()
            shoot(admin, out)
        finally:
            process.terminate()
            process.wait(15)


def shoot(admin: str, out: Path) -> None:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
        )
        page = browser.new_page(viewport={"width": 1366, "height": 860}, base_url=admin)
        page.goto("/ui/")
        page.get_by_label("Token").fill(TOKEN)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_selector("#health")
        page.screenshot(path=out / "home.png", full_page=True)
        page.goto("/ui/inbox?type=ORDER_STATUS_UPDATED&limit=15")
        page.screenshot(path=out / "inbox.png", full_page=True)
        page.goto(f"/ui/entity/order:{ORDER_ID}")
        page.screenshot(path=out / "timeline.png", full_page=True)
        stale = page.locator("table.rows tr.stale td:first-child a").first
        stale.click()
        page.wait_for_selector("pre.body")
        page.screenshot(path=out / "notification.png", full_page=True)
        browser.close()
    for name in ("home", "inbox", "notification", "timeline"):
        print(f"wrote {out / (name + '.png')}")


if __name__ == "__main__":
    main()
