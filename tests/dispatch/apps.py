"""Handler modules that the acceptance tests load into real ``ymnotify`` processes (``--app``).

They talk to the test through a spool directory named by ``YMNOTIFY_TEST_SPOOL``: handlers
append JSON lines to ``records.jsonl`` and wait for flag files the test creates.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from ymnotify import EventMeta, OrderCreated, OrderStatusUpdated, Router

SPOOL_ENV = "YMNOTIFY_TEST_SPOOL"
FLAG_WAIT = 60.0  # no handler waits for a flag longer than this


def record(spool: Path, **fields: Any) -> None:
    """Append one record; each line is one small write with O_APPEND, whole across processes."""
    line = json.dumps(fields) + "\n"
    with (spool / "records.jsonl").open("a") as out:
        out.write(line)


def records(spool: Path) -> list[dict[str, Any]]:
    path = spool / "records.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


async def wait_for_flag(flag: Path) -> None:
    deadline = time.monotonic() + FLAG_WAIT
    while not await asyncio.to_thread(flag.exists):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{flag} never appeared")
        await asyncio.sleep(0.02)


def spooled(router: Router) -> Router:
    @router.lifespan
    async def spool() -> AsyncIterator[dict[str, Any]]:
        yield {"spool": Path(os.environ[SPOOL_ENV])}

    return router


# Order statuses: record start and end of each call, to check order and overlap.
statuses = spooled(Router("statuses"))


@statuses.on(OrderStatusUpdated, name="track_status")
async def track_status(event: OrderStatusUpdated, meta: EventMeta, spool: Path) -> None:
    start = time.time()
    await asyncio.sleep(0.03)
    record(
        spool,
        id=meta.notification_id,
        entity=meta.entity,
        status=str(event.status),
        stale=meta.stale,
        start=start,
        end=time.time(),
    )


# Gated: the handler starts, says so, and finishes only once the test creates "release".
gated = spooled(Router("gated"))


@gated.on(OrderCreated, name="gated_order")
async def gated_order(event: OrderCreated, meta: EventMeta, spool: Path) -> None:
    record(spool, id=meta.notification_id, event="started", attempt=meta.attempt, pid=os.getpid())
    await wait_for_flag(spool / "release")
    record(spool, id=meta.notification_id, event="finished", attempt=meta.attempt, pid=os.getpid())


# Broken until fixed: fails while the file "fixed" does not exist.
fragile = spooled(Router("fragile"))


class WarehouseDown(RuntimeError):
    pass


@fragile.on(OrderCreated, name="reserve_stock")
def reserve_stock(event: OrderCreated, meta: EventMeta, spool: Path) -> None:
    record(spool, id=meta.notification_id, attempt=meta.attempt)
    if not (spool / "fixed").exists():
        raise WarehouseDown(f"warehouse API refused order {event.order_id}")
