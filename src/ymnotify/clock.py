"""Time, injected: the worker asks a ``Clock`` for "now" so backoff and leases can be tested
without sleeping, and so stored times never come from scattered ``datetime.now`` calls."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """Where the current (UTC, timezone-aware) time comes from."""

    def now(self) -> datetime: ...


class SystemClock:
    """The real time."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock:
    """A clock that moves only when told to: for tests of schedules and leases."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 1, tzinfo=UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, seconds: float) -> datetime:
        """Move time forward by ``seconds`` and return the new now."""
        self._now += timedelta(seconds=seconds)
        return self._now
