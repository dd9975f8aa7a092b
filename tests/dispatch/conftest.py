"""Fixtures for the dispatch tests: a store of each backend, and accepting sample bodies."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from ymnotify.protocol import parse_body
from ymnotify.store import Store
from ymnotify.store.base import Incoming
from ymnotify.store.memory import MemoryStore
from ymnotify.store.sqlite import SqliteStore


@pytest.fixture(params=["sqlite", "memory"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    opened: Store = (
        SqliteStore(tmp_path / "dispatch.db") if request.param == "sqlite" else (MemoryStore())
    )
    async with opened:
        yield opened


async def accept(store: Store, body: dict[str, Any]) -> int:
    """Store ``body`` the way the receiver does after parsing it; returns its id."""
    raw = json.dumps(body).encode()
    parsed = parse_body(raw)
    notification = parsed.notification
    accepted = await store.accept(
        Incoming(
            dedup_key=parsed.dedup_key,
            body=raw,
            headers=(),
            source="127.0.0.1",
            received_at=datetime.now(UTC),
            notification_type=notification.notification_type,
            entity=parsed.entity,
            event_time=notification.event_time,
            state_changes=notification.state_changes(),
        )
    )
    return accepted.notification_id


async def eventually(
    check: Callable[[], Awaitable[bool]], *, within: float = 15.0, what: str = "condition"
) -> None:
    """Poll ``check`` until it holds; fail after ``within`` seconds."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"{what} did not hold within {within}s")
