"""How the dashboard's store queries behave on a big SQLite inbox (default: a million rows).

    .venv/bin/python bench/dashboard_queries.py [--rows 1000000] [--db PATH]

The inbox is written straight into a store migrated by ``SqliteStore`` (one transaction of
plain INSERTs: the point is the reads, and going through ``accept`` would take an hour). Then
each query the dashboard and /metrics run is timed through the store API, median of 5 runs.
Figures only; nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ymnotify.clock import utc_text
from ymnotify.store import NotificationFilter, NotificationStatus
from ymnotify.store.sqlite import SqliteStore

TYPES = ["ORDER_CREATED", "ORDER_STATUS_UPDATED", "CHAT_MESSAGE_SENT", "ORDER_RETURN_CREATED"]
STATUSES = ["done"] * 90 + ["pending"] * 8 + ["dead", "quarantined"]


def fill(path: Path, rows: int, now: datetime) -> None:
    rng = random.Random(7)
    span = timedelta(days=30)
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA synchronous=OFF")
    with connection:
        batch: list[tuple[Any, ...]] = []
        for index in range(rows):
            kind = rng.choice(TYPES)
            order = 10_000_000 + index // 4
            at = now - span + span * (index / rows)
            body = json.dumps(
                {
                    "notificationType": kind,
                    "orderId": order,
                    "campaignId": 21987654,
                    "items": [{"offerId": f"SKU-{rng.randrange(50_000)}", "count": 1}],
                    "createdAt": utc_text(at),
                }
            ).encode()
            batch.append(
                (
                    f"k{index}",
                    kind,
                    rng.choice(STATUSES),
                    f"order:{order}",
                    utc_text(at),
                    utc_text(at),
                    utc_text(at),
                    "95.108.254.17",
                    "[]",
                    body,
                )
            )
            if len(batch) == 10_000:
                insert(connection, batch)
                batch.clear()
        insert(connection, batch)
    connection.execute("ANALYZE")
    connection.close()


def insert(connection: sqlite3.Connection, batch: list[tuple[Any, ...]]) -> None:
    connection.executemany(
        "INSERT INTO notifications (dedup_key, notification_type, status, entity, event_time,"
        " received_at, last_received_at, source, headers, body) VALUES (?,?,?,?,?,?,?,?,?,?)",
        batch,
    )


async def timed(label: str, work: Callable[[], Awaitable[object]]) -> None:
    runs = []
    for _ in range(5):
        started = time.perf_counter()
        await work()
        runs.append(time.perf_counter() - started)
    print(f"{label:<58} {statistics.median(runs) * 1000:9.1f} ms")


async def measure(path: Path, now: datetime) -> None:
    store = SqliteStore(path)
    await store.open()
    try:
        first = NotificationFilter(limit=51)
        newest = await store.list_notifications(first)
        middle = newest[0].id // 2
        day_ago = now - timedelta(days=1)
        hour = datetime.fromtimestamp((int(now.timestamp()) // 3600 + 1) * 3600, UTC)
        cases: list[tuple[str, Callable[[], Awaitable[object]]]] = [
            ("inbox, first page", lambda: store.list_notifications(first)),
            (
                "inbox, page deep in the middle (before_id)",
                lambda: store.list_notifications(replace(first, before_id=middle)),
            ),
            (
                "inbox, type filter",
                lambda: store.list_notifications(replace(first, notification_type="ORDER_CREATED")),
            ),
            (
                "inbox, status=dead (1 %)",
                lambda: store.list_notifications(replace(first, status=NotificationStatus.DEAD)),
            ),
            (
                "inbox, entity",
                lambda: store.list_notifications(replace(first, entity="order:10100000")),
            ),
            (
                "inbox, last 24 h",
                lambda: store.list_notifications(replace(first, received_since=day_ago)),
            ),
            (
                "inbox, a day 10 days ago",
                lambda: store.list_notifications(
                    replace(
                        first,
                        received_since=now - timedelta(days=11),
                        received_until=now - timedelta(days=10),
                    )
                ),
            ),
            (
                "inbox, body search, common text",
                lambda: store.list_notifications(replace(first, body_contains=b"SKU-1")),
            ),
            (
                "inbox, body search, rare text (scans everything)",
                lambda: store.list_notifications(replace(first, body_contains=b'SKU-49999"')),
            ),
            (
                "inbox, body search within the last 24 h",
                lambda: store.list_notifications(
                    replace(first, body_contains=b'SKU-49999"', received_since=day_ago)
                ),
            ),
            (
                "timeline of one order",
                lambda: store.list_notifications(
                    NotificationFilter(entity="order:10100000", newest_first=False, limit=1001)
                ),
            ),
            ("/metrics: backlog()", store.backlog),
            ("/metrics: last_ping()", store.last_ping),
            (
                "home: counts_over_time(24 h, hourly)",
                lambda: store.counts_over_time(hour - timedelta(hours=24), hour, 3600),
            ),
            (
                "home: counts_over_time(30 d, daily)",
                lambda: store.counts_over_time(hour - timedelta(days=30), hour, 86400),
            ),
            ("home: stats() (GROUP BY over every row)", store.stats),
        ]
        for label, work in cases:
            await timed(label, work)
    finally:
        await store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--db", type=Path, help="reuse or keep this file (default: a temp one)")
    arguments = parser.parse_args()
    now = datetime.now(UTC)
    with tempfile.TemporaryDirectory() as folder:
        path = arguments.db or Path(folder) / "inbox.db"
        if not path.exists():
            asyncio.run(SqliteStore(path).migrate())
            started = time.perf_counter()
            fill(path, arguments.rows, now)
            print(f"filled {arguments.rows} rows in {time.perf_counter() - started:.1f} s")
        asyncio.run(measure(path, now))


if __name__ == "__main__":
    main()
