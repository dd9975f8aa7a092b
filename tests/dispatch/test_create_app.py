"""``ymnotify.create_app``: the receiver with its workers, served alone or mounted in Starlette."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from tests.dispatch.conftest import eventually
from ymnotify import (
    EventMeta,
    OrderCreated,
    ReceiverConfig,
    Router,
    SourcePolicy,
    WorkerSettings,
    create_app,
)
from ymnotify.errors import ConfigError
from ymnotify.protocol.samples import sample
from ymnotify.store import NotificationFilter, NotificationStatus

ANYONE = ReceiverConfig(sources=SourcePolicy.build(allow_any=True))
QUICK = WorkerSettings(poll_interval=0.02)


def recording_router() -> tuple[Router, list[int]]:
    router = Router()
    seen: list[int] = []

    @router.on(OrderCreated, name="record")
    async def record(event: OrderCreated, meta: EventMeta) -> None:
        seen.append(meta.notification_id)

    return router, seen


async def test_mounted_in_starlette_it_stores_and_its_workers_handle(tmp_path: Path) -> None:
    router, seen = recording_router()
    receiver = create_app(
        router, db=f"sqlite:///{tmp_path / 'in.db'}", config=ANYONE, worker_settings=QUICK
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with receiver.running():
            yield

    shop = Starlette(routes=[Mount("/market", app=receiver)], lifespan=lifespan)
    transport = httpx.ASGITransport(app=shop, client=("127.0.0.1", 50000))
    async with (
        lifespan(shop),
        httpx.AsyncClient(transport=transport, base_url="http://t") as client,
    ):
        answer = await client.post("/market/notification", json=sample("ORDER_CREATED"))
        assert answer.status_code == 200
        assert set(answer.json()) == {"version", "name", "time"}

        async def handled() -> bool:
            return seen == [1]

        await eventually(handled, what="the handler ran")
        stored = await receiver.store.get_notification(1)
        assert stored is not None
        assert stored.status is NotificationStatus.DONE


async def test_without_workers_it_only_stores() -> None:
    router, seen = recording_router()
    receiver = create_app(router, db="memory://", config=ANYONE, workers=0)
    assert receiver.services == ()
    transport = httpx.ASGITransport(app=receiver, client=("127.0.0.1", 50000))
    async with (
        receiver.running(),
        httpx.AsyncClient(transport=transport, base_url="http://t") as client,
    ):
        answer = await client.post("/notification", json=sample("ORDER_CREATED"))
        assert answer.status_code == 200
        await asyncio.sleep(0.1)
        (row,) = await receiver.store.list_notifications(NotificationFilter())
        assert row.status is NotificationStatus.PENDING
    assert seen == []


async def test_a_receiver_never_started_says_so_when_it_cannot_store(
    caplog: pytest.LogCaptureFixture,
) -> None:
    router, _ = recording_router()
    receiver = create_app(router, db="memory://", config=ANYONE, workers=0)
    app = Starlette(routes=[Mount("/market", app=receiver)])  # no lifespan enters running()
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        answer = await client.post("/market/notification", json=sample("ORDER_CREATED"))
    assert answer.status_code == 500  # Market will retry
    assert "this receiver was never started" in caplog.text
    assert "receiver.running()" in caplog.text


def test_negative_workers_are_refused() -> None:
    with pytest.raises(ConfigError, match="workers"):
        create_app(Router(), db="memory://", workers=-1)
