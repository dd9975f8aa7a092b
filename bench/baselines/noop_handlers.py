"""A no-op handler for the dispatch benchmarks: it only notes when it started.

``ymnotify serve --app bench.baselines.noop_handlers:router`` (or ``ymnotify worker``) with
``BENCH_HANDLER_LOG=PATH``: every call appends ``orderId wall-clock-start`` to PATH, one line
each (line-buffered, so a line is on disk when the handler returns). Wall-clock time, because
the process measuring the latency is another one on the same machine.
"""

from __future__ import annotations

import os
import time

from ymnotify import OrderCreated, OrderStatusUpdated, Router

router = Router()
_log = open(os.environ["BENCH_HANDLER_LOG"], "a", buffering=1)  # noqa: SIM115 (process-long)


@router.on(OrderCreated, name="bench.noop")
async def noop(event: OrderCreated) -> None:
    """Note the start; do nothing else."""
    _log.write(f"{event.order_id} {time.time()}\n")


@router.on(OrderStatusUpdated, name="bench.noop-status")
async def noop_status(event: OrderStatusUpdated) -> None:
    """The same for the open-loop generator's bodies (``bench.bodies``)."""
    _log.write(f"{event.order_id} {time.time()}\n")
