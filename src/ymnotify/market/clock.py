"""Market's notion of "now": the wall clock, or a virtual clock moved only on request.

With the virtual clock, time stands still until ``advance`` moves it; the engine then runs the
work due in between in time order (see ``engine.Engine.advance``), so two weeks of retries take
seconds. Network timeouts are not Market time: they always run on the wall clock.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    """Where Market reads the time."""

    @property
    def virtual(self) -> bool: ...

    def now(self) -> datetime: ...

    def at(self, wall: datetime) -> datetime:
        """Market's time at a past wall-clock moment of the work running now (when an
        attempt went out, which may be long after it was claimed)."""
        ...


class RealClock:
    """The wall clock, UTC."""

    virtual = False

    def now(self) -> datetime:
        return datetime.now(UTC)

    def at(self, wall: datetime) -> datetime:
        return wall


class VirtualClock:
    """A clock that moves only when told to, and never backwards."""

    virtual = True

    def __init__(self, start: datetime) -> None:
        self._now = start.astimezone(UTC)

    def now(self) -> datetime:
        return self._now

    def at(self, wall: datetime) -> datetime:
        return self._now  # it stands still while work runs (``Engine.advance``)

    def set(self, moment: datetime) -> None:
        """Move to ``moment``; moving backwards is a bug in the caller."""
        moment = moment.astimezone(UTC)
        if moment < self._now:
            raise ValueError(f"the virtual clock cannot go back from {self._now} to {moment}")
        self._now = moment
