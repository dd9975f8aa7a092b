"""An event loop whose every turn runs the reads it has just polled before the callbacks queued
during the turn before.

asyncio runs, in each turn, the callbacks that were queued before the turn's poll, then those
of the sockets the poll found readable. Under load the queue holds dozens of task steps (every
request woken by a commit sends its answer), so bytes that arrive meanwhile — a PING, which
``ping_at_once`` answers straight from its read callback — wait for all of them. Here the
readable sockets' callbacks go to the front of the turn instead: a PING waits only for the turn
in progress. Within a turn every callback still runs once, so nothing is starved; the order is
one that asyncio itself produces whenever bytes come in a turn earlier.

A turn of a loaded receiver can still last milliseconds (dozens of task steps of ~100 µs on a
slow machine), so a long turn also polls between its callbacks: every ``poll_every``-th callback
first looks at the clock and, when ``poll_after`` has passed since the last poll, polls without
waiting and runs the callbacks of the sockets it found ready right there. A PING then waits
about ``poll_after`` and a few callbacks, however long the turn. Nothing queued moves: the turn
runs the callbacks asyncio counted for it, in their order, the reads found between them
included.

``SelectorEventLoop._process_events``, ``_ready`` and ``_selector`` and ``Handle._run`` are
private to CPython's asyncio (stable since 3.4, the same through 3.13); where they are not what
this expects, the loop is asyncio's own (``loop_factory``), so the receiver runs either way.
"""

from __future__ import annotations

import asyncio
import collections
import sys
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class ReadsFirstEventLoop(asyncio.SelectorEventLoop):
    """``SelectorEventLoop`` with the callbacks of each poll's ready sockets run first, and
    polls between the callbacks of a long turn."""

    # Every ``poll_every``-th callback of a long turn looks at the clock first and, when
    # ``poll_after`` seconds have passed since the last poll, polls. Measured in
    # bench/analysis.md (ninth pass): at a fixed rate PING p99 ~0.6-0.8 x, CPU within ~1 %;
    # polling more often shortened it more but cost saturated throughput (~5 %). Letting every
    # callback (or every 2nd) carry the poll, still once a millisecond, shortened it a little
    # more but cost the no-op ceiling on this loop 19 % (8 %) more CPU per request: a carrier is
    # a handle more per callback (tenth pass). Every 4th costs the ceiling nothing measurable.
    poll_every = 4
    poll_after = 0.001

    _polled_at = 0.0
    _poll_carried = False  # a queued callback carries the next poll

    def _process_events(self, event_list: list[Any]) -> None:
        ready: collections.deque[asyncio.Handle] = self._ready  # type: ignore[attr-defined]
        polled = self._queue_polled(event_list)
        if polled and len(ready) > polled:
            ready.rotate(polled)  # the polled ones, in their order, before the queued ones
        if not self._poll_carried:
            self._carry_poll(behind=polled)

    def _queue_polled(self, event_list: list[Any]) -> int:
        """Queue the callbacks of a poll's ready sockets at the end, as asyncio does; how many."""
        ready: collections.deque[asyncio.Handle] = self._ready  # type: ignore[attr-defined]
        queued = len(ready)
        super()._process_events(event_list)  # type: ignore[misc]
        self._polled_at = self.time()
        return len(ready) - queued

    def _carry_poll(self, behind: int) -> None:
        """Let the ``poll_every``-th queued callback after the first ``behind`` ones poll before
        it runs, if the queue is that long. The callback keeps its place, so the turn's count
        of callbacks stays as asyncio counted it."""
        ready: collections.deque[asyncio.Handle] = self._ready  # type: ignore[attr-defined]
        place = behind + self.poll_every - 1
        if place < len(ready):
            self._poll_carried = True
            ready[place] = asyncio.Handle(self._poll_then_run, (ready[place],), self)

    def _poll_then_run(self, callback: asyncio.Handle) -> None:
        """The carried poll, if it is due, then the queued callback whose place it took."""
        self._poll_carried = False
        try:
            if self.time() - self._polled_at >= self.poll_after:
                self._run_ready_sockets()
        finally:
            self._carry_poll(behind=0)
            if not callback._cancelled:
                callback._run()

    def _run_ready_sockets(self) -> None:
        """Poll without waiting and run the callbacks of what is ready at once."""
        ready: collections.deque[asyncio.Handle] = self._ready  # type: ignore[attr-defined]
        polled = self._queue_polled(self._selector.select(0))  # type: ignore[attr-defined]
        for handle in reversed([ready.pop() for _ in range(polled)]):
            if not handle._cancelled:
                handle._run()


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
