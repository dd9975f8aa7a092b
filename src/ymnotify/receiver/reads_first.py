"""An event loop whose every turn runs the reads it has just polled before the callbacks queued
during the turn before.

asyncio runs, in each turn, the callbacks that were queued before the turn's poll, then those
of the sockets the poll found readable. Under load the queue holds dozens of task steps (every
request woken by a commit sends its answer), so bytes that arrive meanwhile — a PING, which
``ping_at_once`` answers straight from its read callback — wait for all of them. Here the
readable sockets' callbacks go to the front of the turn instead: a PING waits only for the turn
in progress. Within a turn every callback still runs once, so nothing is starved; the order is
one that asyncio itself produces whenever bytes come in a turn earlier.

``SelectorEventLoop._process_events`` and ``_ready`` are private to CPython's asyncio (stable
since 3.4, the same through 3.13); where they are not what this expects, the loop is asyncio's
own (``loop_factory``), so the receiver runs either way.
"""

from __future__ import annotations

import asyncio
import collections
import sys
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class ReadsFirstEventLoop(asyncio.SelectorEventLoop):
    """``SelectorEventLoop`` with the callbacks of each poll's ready sockets run first."""

    def _process_events(self, event_list: list[Any]) -> None:
        ready: collections.deque[asyncio.Handle] = self._ready  # type: ignore[attr-defined]
        queued = len(ready)
        super()._process_events(event_list)  # type: ignore[misc]
        polled = len(ready) - queued
        if polled and queued:
            ready.rotate(polled)  # the polled ones, in their order, before the queued ones


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """The factory of ``ReadsFirstEventLoop`` where this asyncio has what it relies on;
    ``None`` (asyncio's default loop) elsewhere, e.g. on Windows."""
    if sys.platform == "win32" or not hasattr(asyncio.SelectorEventLoop, "_process_events"):
        return None
    probe = ReadsFirstEventLoop()
    try:
        if not isinstance(getattr(probe, "_ready", None), collections.deque):
            return None
    finally:
        probe.close()
    return ReadsFirstEventLoop


def run(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(main)`` on the reads-first loop where it is available."""
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        return runner.run(main)
