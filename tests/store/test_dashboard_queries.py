"""The store queries behind the dashboard and /metrics, held to one behaviour on every backend.

Body search, time ranges with keyset paging, the backlog, the last PING and counts per type
over time: memory, SQLite and PostgreSQL must answer alike.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ymnotify.protocol import parse_body, wire
from ymnotify.protocol.samples import SAMPLE_ID_BASE, sample
from ymnotify.store import (
    NotificationFilter,
    NotificationStatus,
    PingRecord,
    Store,
    TypeCount,
    store_from_url,
)
from ymnotify.store.base import Incoming

T0 = datetime(2026, 9, 20, 9, 0, 0, tzinfo=UTC)


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def backend_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where each backend's empty store lives.

    A sync fixture, because the PostgreSQL template is built with its own event loop.
    """
    if request.param == "memory":
        return "memory://"
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'inbox.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
async def any_store(backend_url: str) -> AsyncIterator[Store]:
    """An open, empty store of each backend in turn."""
    store = store_from_url(backend_url)
    await store.open()
    try:
        yield store
    finally:
        await store.close()


def notification(kind: str, received_at: datetime, **overrides: Any) -> Incoming:
    """A valid notification of ``kind`` as the receiver would hand it to the store."""
    body = json.dumps(sample(kind, at=received_at, **overrides), ensure_ascii=False).encode()
    parsed = parse_body(body)
    return Incoming(
        dedup_key=parsed.dedup_key,
        body=body,
        headers=(("content-type", "application/json"),),
        source="127.0.0.1",
        received_at=received_at,
        notification_type=parsed.notification.notification_type,
        entity=parsed.notification.entity,
        event_time=parsed.notification.event_time,
        state_changes=parsed.notification.state_changes(),
    )


def malformed(received_at: datetime, text: bytes = b"{not json") -> Incoming:
    return Incoming(
        dedup_key=wire.raw_dedup_key(text),
        body=text,
        headers=(),
        source="127.0.0.1",
        received_at=received_at,
        quarantine_reason="not JSON",
    )


async def test_body_search_finds_exact_bytes_with_keyset_paging(any_store: Store) -> None:
    ids = []
    for index in range(5):
        sku = "SKU-RED-42" if index % 2 == 0 else "SKU-BLUE-7"
        accepted = await any_store.accept(
            notification(
                "ORDER_CREATED",
                T0 + timedelta(minutes=index),
                orderId=SAMPLE_ID_BASE + index,
                items=[{"offerId": sku, "count": 1, "comment": "красный"}],
            )
        )
        ids.append(accepted.notification_id)
    await any_store.accept(malformed(T0 + timedelta(minutes=9), b'{"offerId": "SKU-RED-42"'))

    red = await any_store.list_notifications(NotificationFilter(body_contains=b"SKU-RED-42"))
    assert [row.status for row in red] == [NotificationStatus.QUARANTINED] + [
        NotificationStatus.PENDING
    ] * 3
    assert [row.id for row in red[1:]] == [ids[4], ids[2], ids[0]]

    first = await any_store.list_notifications(
        NotificationFilter(body_contains=b"SKU-RED-42", notification_type="ORDER_CREATED", limit=2)
    )
    assert [row.id for row in first] == [ids[4], ids[2]]
    rest = await any_store.list_notifications(
        NotificationFilter(
            body_contains=b"SKU-RED-42",
            notification_type="ORDER_CREATED",
            limit=2,
            before_id=first[-1].id,
        )
    )
    assert [row.id for row in rest] == [ids[0]]

    cyrillic = "красный".encode()
    assert len(await any_store.list_notifications(NotificationFilter(body_contains=cyrillic))) == 5
    assert await any_store.list_notifications(NotificationFilter(body_contains=b"sku-red")) == []


async def test_time_range_is_half_open(any_store: Store) -> None:
    for minute in range(4):
        await any_store.accept(
            notification(
                "CHAT_CREATED", T0 + timedelta(minutes=minute), chatId=SAMPLE_ID_BASE + minute
            )
        )
    rows = await any_store.list_notifications(
        NotificationFilter(
            received_since=T0 + timedelta(minutes=1), received_until=T0 + timedelta(minutes=3)
        )
    )
    assert [row.received_at for row in rows] == [
        T0 + timedelta(minutes=2),
        T0 + timedelta(minutes=1),
    ]


async def test_backlog_counts_pending_and_quarantined(any_store: Store) -> None:
    empty = await any_store.backlog()
    assert (empty.pending, empty.oldest_pending_at, empty.quarantined) == (0, None, 0)
    await any_store.accept(malformed(T0))
    for minute in (1, 2, 3):
        await any_store.accept(
            notification(
                "ORDER_CREATED", T0 + timedelta(minutes=minute), orderId=SAMPLE_ID_BASE + minute
            )
        )
    backlog = await any_store.backlog()
    assert backlog.pending == 3
    assert backlog.oldest_pending_at == T0 + timedelta(minutes=1)
    assert backlog.quarantined == 1


async def written_pings(store: Store, count: int) -> PingRecord:
    """The last PING once ``count`` were written (they are written behind the answer)."""
    deadline = time.monotonic() + 5
    ping = await store.last_ping()
    while (ping is None or ping.count < count) and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
        ping = await store.last_ping()
    assert ping is not None
    return ping


async def test_last_ping_is_recorded_without_waiting_and_the_latest_wins(any_store: Store) -> None:
    assert await any_store.last_ping() is None
    any_store.record_ping("127.0.0.9", T0)
    any_store.record_ping("127.0.0.10", T0 + timedelta(seconds=5))
    ping = await written_pings(any_store, 2)
    assert (ping.received_at, ping.source) == (T0 + timedelta(seconds=5), "127.0.0.10")
    any_store.record_ping("127.0.0.11", T0 + timedelta(seconds=1))  # an earlier one, noted late
    ping = await written_pings(any_store, 3)
    assert (ping.received_at, ping.source, ping.count) == (
        T0 + timedelta(seconds=5),
        "127.0.0.10",
        3,
    )


async def test_counts_over_time_per_type_and_bucket(any_store: Store) -> None:
    received = [
        ("ORDER_CREATED", timedelta(minutes=0, seconds=0)),
        ("ORDER_CREATED", timedelta(minutes=59, seconds=59, microseconds=999_999)),
        ("CHAT_CREATED", timedelta(minutes=30)),
        ("ORDER_CREATED", timedelta(hours=2, minutes=5)),
        ("ORDER_CREATED", timedelta(hours=3)),  # == until: outside
        ("ORDER_CREATED", timedelta(seconds=-1)),  # before since: outside
    ]
    for index, (kind, offset) in enumerate(received):
        ids = {"orderId": SAMPLE_ID_BASE + index} if kind.startswith("ORDER") else {}
        chat = {"chatId": SAMPLE_ID_BASE + index} if kind.startswith("CHAT") else {}
        await any_store.accept(notification(kind, T0 + offset, **ids, **chat))
    await any_store.accept(malformed(T0 + timedelta(hours=2, minutes=1)))

    counts = await any_store.counts_over_time(T0, T0 + timedelta(hours=3), 3600)
    assert counts == [
        TypeCount(T0, "CHAT_CREATED", 1),
        TypeCount(T0, "ORDER_CREATED", 2),
        TypeCount(T0 + timedelta(hours=2), "", 1),
        TypeCount(T0 + timedelta(hours=2), "ORDER_CREATED", 1),
    ]
    with pytest.raises(ValueError, match="whole second"):
        await any_store.counts_over_time(T0 + timedelta(microseconds=1), T0, 60)
