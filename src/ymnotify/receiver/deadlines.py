"""A body-read deadline for many requests at once, kept by one periodic timer.

``asyncio.timeout`` per request arms and cancels a timer (an object, a heap push, a cancel)
around every body read; on the intake's hot path that was about a tenth of the event loop's
time. Here a request only registers its task and deadline in a dict; one timer, running only
while some body is being read, cancels the tasks that are late. A deadline therefore fires up
to ``period`` after it is due, which is fine for a limit meant against slow clients.
"""

from __future__ import annotations

import asyncio
from typing import Any

Task = asyncio.Task[Any]


class BodyDeadlines:
    """Cancel tasks that are still reading a body ``seconds`` after they began."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        # Checked a few times per deadline, at most once a second.
        self.period = max(0.005, min(1.0, seconds / 4))
        self._reading: dict[Task, float] = {}
        self._expired: set[Task] = set()
        self._timer: asyncio.TimerHandle | None = None

    def begin(self) -> Task:
        """Register the current task as reading a body; pair with ``end``."""
        task = asyncio.current_task()
        if task is None:
            raise RuntimeError("BodyDeadlines.begin needs a running task")
        loop = task.get_loop()
        self._reading[task] = loop.time() + self.seconds
        if self._timer is None:
            self._timer = loop.call_later(self.period, self._sweep, loop)
        return task

    def end(self, task: Task) -> bool:
        """Unregister ``task``; whether its deadline cancelled it (that cancel is then undone)."""
        self._reading.pop(task, None)
        if task in self._expired:
            self._expired.discard(task)
            task.uncancel()
            return True
        return False

    def _sweep(self, loop: asyncio.AbstractEventLoop) -> None:
        now = loop.time()
        for task, deadline in list(self._reading.items()):
            if deadline <= now and task not in self._expired:
                self._expired.add(task)
                task.cancel()
        self._timer = loop.call_later(self.period, self._sweep, loop) if self._reading else None
