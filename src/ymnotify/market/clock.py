"""Market's notion of "now": the wall clock, or a virtual clock moved only on request.

With the virtual clock, time stands still until ``advance`` moves it; the engine then runs the
work due in between in time order (see ``engine.Engine.advance``), so two weeks of retries take
seconds. Network timeouts are not Market time: they always run on the wall clock.

A file keeps the virtual clock's time across restarts. Served with the real clock, a file whose
virtual time is ahead of the wall clock is refused (its retries, activations and 14-day clocks
lie in a future the wall clock has not reached); otherwise the file's time follows the wall
clock from then on, and a later virtual start begins at the wall clock's time, after everything
the real clock wrote.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from ymnotify.errors import StoreError


class ClockMismatch(StoreError):
    """The file's virtual time is ahead of the wall clock and the real clock was asked for."""


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


def starting_clock(virtual: bool, saved: datetime | None, wall: datetime, *, file: Path) -> Clock:
    """The clock a sandbox starts with on ``file``, which keeps the virtual time ``saved`` (None:
    never advanced, or since served on the real clock); ``ClockMismatch`` if that cannot be."""
    if virtual:
        return VirtualClock(saved or wall)
    if saved is not None and saved > wall:
        raise ClockMismatch(
            f"{file}: its virtual Market time is {saved.isoformat()}, ahead of the wall clock:"
            " serve it with --clock virtual, or give --db another file for the real clock"
        )
    return RealClock()
