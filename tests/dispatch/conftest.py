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
from ymnotify.store import Store, store_from_url
from ymnotify.store.base import Incoming


@pytest.fixture(params=["sqlite", "memory", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each backend's empty store (sync: the PostgreSQL template is built with its own loop)."""
    if request.param == "memory":
        return "memory://"
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'dispatch.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[Store]:
    opened = store_from_url(store_url)
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
