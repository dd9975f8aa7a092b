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


def utc_text(moment: datetime) -> str:
    """``moment`` in UTC as fixed-width text with microseconds and a ``Z``
    (``2026-11-28T09:15:42.318000Z``): RFC 3339, and it sorts as time does, so stores compare
    times as strings. A naive ``moment`` is taken as local time, as ``astimezone`` does."""
    if moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)
    # %-formatting of the fields: half the cost of ``isoformat(timespec=...)`` (and of an
    # f-string with format specs) and as fixed in width (four-digit years, six-digit
    # microseconds). This runs four times per notification: three stored times and the 200's.
    m = moment
    fields = (m.year, m.month, m.day, m.hour, m.minute, m.second, m.microsecond)
    return "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ" % fields  # noqa: UP031 (speed, see above)


def parse_utc_text(text: str) -> datetime:
    """The aware datetime of a ``utc_text``; ``ValueError`` for any other text.

    ``fromisoformat`` (C, and it reads the ``Z``) rather than ``strptime`` (Python, about fifty
    times slower): stores parse several of these for every row they read, the sandbox's and the
    worker's claims included. It also takes other ISO forms, so the fixed shape is checked first.
    """
    if len(text) != _UTC_TEXT_LENGTH or text[-1] != "Z" or text[10] != "T":
        raise ValueError(f"not a UTC time of the form 2026-11-28T09:15:42.318000Z: {text!r}")
    return datetime.fromisoformat(text)


_UTC_TEXT_LENGTH = len("2026-11-28T09:15:42.318000Z")
