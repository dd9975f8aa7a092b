"""Handlers for the PostgreSQL process tests (``--app tests.integration.apps:orders``).

Every call records its start and end (with the worker's pid) in the spool of
``tests.dispatch.apps``; order ``GATED_ORDER`` waits for the flag file ``release`` first, so a
test can kill a worker while that handler is blocked.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from tests.dispatch.apps import SPOOL_ENV, record, wait_for_flag
from ymnotify import EventMeta, OrderStatusUpdated, Router

GATED_ORDER = 999

orders = Router("orders")


@orders.lifespan
async def spool() -> AsyncIterator[dict[str, Any]]:
    yield {"spool": Path(os.environ[SPOOL_ENV])}


@orders.on(OrderStatusUpdated, name="track_order")
async def track_order(event: OrderStatusUpdated, meta: EventMeta, spool: Path) -> None:
    fields = {"id": meta.notification_id, "entity": meta.entity, "pid": os.getpid()}
    start = time.time()
    record(spool, event="started", attempt=meta.attempt, at=start, **fields)
    if event.order_id == GATED_ORDER:
        await wait_for_flag(spool / "release")
    else:
        await asyncio.sleep(0.02)  # long enough for the two workers to interleave
    record(spool, event="finished", attempt=meta.attempt, start=start, end=time.time(), **fields)
