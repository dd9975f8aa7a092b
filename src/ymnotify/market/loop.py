"""The event loop the Market sandbox runs on: uvloop where it is installed, else asyncio's own.

The sandbox's work is mostly network I/O (aiohttp's client posting deliveries, uvicorn serving
the API), which uvloop does in C: ``python -m bench.compare_market`` measured 0.88 × the CPU per
delivery (bench/analysis.md, eighth pass). The receiver stays on asyncio's loop: its reads-first
turn order (``receiver/reads_first.py``) needs asyncio's internals, and uvloop did not speed it
up beyond the noise. uvloop is not made for Windows; there, and wherever it is missing, the
sandbox runs the same on asyncio's loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop factory, or ``None`` (asyncio's default loop) when uvloop is missing."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def run(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(main)`` on uvloop where it is installed."""
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        return runner.run(main)
