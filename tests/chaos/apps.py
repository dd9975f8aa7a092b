"""A handler module for the worker kill loop (``--app tests.chaos.apps:slow``).

Each call records its start, works for a moment (long enough for a kill -9 to land in the
middle), and records its end, in the spool directory of ``tests.dispatch.apps``.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from tests.dispatch.apps import record, spooled
from ymnotify import EventMeta, OrderCreated, Router

HANDLER_SECONDS = 0.4

slow = spooled(Router("slow"))


@slow.on(OrderCreated, name="slow_order")
async def slow_order(event: OrderCreated, meta: EventMeta, spool: Path) -> None:
    record(spool, id=meta.notification_id, event="started", attempt=meta.attempt, pid=os.getpid())
    await asyncio.sleep(HANDLER_SECONDS)
    record(spool, id=meta.notification_id, event="finished", attempt=meta.attempt, pid=os.getpid())
