"""Slots shared fairly: at most N holders at once, and the waiters served lane by lane in turn.

An endpoint's connections are shared by every setting that posts to it: an integrator serves
many sellers at one URL. With a plain semaphore (first come, first served), one seller whose
requests hang queued its whole backlog ahead of everyone else's, and a fresh notification of
another seller waited for every one of them to time out (79 s measured with 64 queued at 8
connections and a 10 s timeout). Here each lane (a setting) has its own queue, and a freed slot
goes to the lane next in turn, so a lane waits for at most one slot per other waiting lane.

Written by hand: asyncio's primitives have no notion of lanes, and the rule is twenty lines.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Hashable
from contextlib import asynccontextmanager


class FairSlots:
    """``capacity`` slots; ``async with slots.hold(lane):`` takes one, waiting its lane's turn."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self._free = capacity
        # Lanes with waiters, in turn order: the lane served last goes to the back. A dict
        # keeps insertion order, so it is the ring.
        self._waiting: dict[Hashable, deque[asyncio.Future[None]]] = {}

    @asynccontextmanager
    async def hold(self, lane: Hashable) -> AsyncIterator[None]:
        await self._acquire(lane)
        try:
            yield
        finally:
            self._release()

    def waiting(self) -> int:
        """How many are waiting for a slot (for tests and diagnostics)."""
        return sum(len(queue) for queue in self._waiting.values())

    async def _acquire(self, lane: Hashable) -> None:
        if self._free > 0 and not self._waiting:
            self._free -= 1
            return
        granted: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(lane, deque()).append(granted)
        try:
            await granted
        except asyncio.CancelledError:
            if granted.done() and not granted.cancelled():
                self._release()  # handed a slot just as it was cancelled: pass it on
            else:
                self._forget(lane, granted)
            raise

    def _release(self) -> None:
        while self._waiting:
            lane, queue = next(iter(self._waiting.items()))
            granted = queue.popleft()
            del self._waiting[lane]
            if queue:
                self._waiting[lane] = queue  # to the back of the turn
            if not granted.done():
                granted.set_result(None)  # the slot passes straight to it
                return
        self._free += 1

    def _forget(self, lane: Hashable, granted: asyncio.Future[None]) -> None:
        queue = self._waiting.get(lane)
        if queue is None:
            return
        try:
            queue.remove(granted)
        except ValueError:
            return
        if not queue:
            del self._waiting[lane]
