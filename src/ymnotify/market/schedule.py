"""Market's retry schedule and its 14-day rule. Pure: times in, times out.

Retries (PROTOCOL.md §4): after a failed attempt Market tries again every minute during the
first hour, every 15 minutes during the rest of the first day, then once an hour. The schedule of
each delivery counts from its own first attempt, on a fixed grid (first + 1 min, + 2 min, …,
+ 60 min, + 75 min, …, + 24 h, + 25 h, …), so slow answers never make it drift.

The 14-day rule: a subscription's clock starts at the first attempt of its oldest undelivered
delivery, i.e. at the first failure since the endpoint last answered; any answer (200, or 400,
which Market counts as an answer, not a failure) stops it. When the clock reaches 14 days the
setting is disabled by Market.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta

from ymnotify.delivery.outcome import Outcome, Verdict

MINUTE = timedelta(minutes=1)
QUARTER_HOUR = timedelta(minutes=15)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
DISABLE_AFTER = timedelta(days=14)


class DeliveryState(enum.StrEnum):
    """Where a delivery stands."""

    PENDING = "pending"  # waiting for its next attempt (run_at)
    DELIVERED = "delivered"  # answered 200 with a valid body
    REJECTED = "rejected"  # answered 400: never retried
    CANCELLED = "cancelled"  # the subscription was disabled or removed before delivery


def retry_step(elapsed: timedelta) -> timedelta:
    """The grid spacing that applies ``elapsed`` after a delivery's first attempt."""
    if elapsed < HOUR:
        return MINUTE
    if elapsed < DAY:
        return QUARTER_HOUR
    return HOUR


def next_attempt_at(first_attempt_at: datetime, now: datetime) -> datetime:
    """The first point of the retry grid strictly after ``now``."""
    elapsed = now - first_attempt_at
    if elapsed < timedelta(0):
        return first_attempt_at
    step = retry_step(elapsed)
    return first_attempt_at + step * (elapsed // step + 1)


def retry_times(first_attempt_at: datetime, until: datetime) -> list[datetime]:
    """Every scheduled attempt from the first one up to ``until`` inclusive (for tests, docs)."""
    times = [first_attempt_at]
    while (following := next_attempt_at(first_attempt_at, times[-1])) <= until:
        times.append(following)
    return times


@dataclass(frozen=True, slots=True)
class Decision:
    """What becomes of a delivery after an attempt."""

    state: DeliveryState
    run_at: datetime | None  # the next attempt, when still pending


def after_attempt(outcome: Outcome, first_attempt_at: datetime, attempted_at: datetime) -> Decision:
    """Delivered, rejected, or pending again at the next point of the grid."""
    if outcome.verdict is Verdict.DELIVERED:
        return Decision(DeliveryState.DELIVERED, None)
    if outcome.verdict is Verdict.REJECTED:
        return Decision(DeliveryState.REJECTED, None)
    return Decision(DeliveryState.PENDING, next_attempt_at(first_attempt_at, attempted_at))


def failing_since_after(
    failing_since: datetime | None, outcome: Outcome, attempted_at: datetime
) -> datetime | None:
    """The subscription's 14-day clock after an attempt: reset by an answer, started by a
    failure when not running."""
    if outcome.answered:
        return None
    return failing_since if failing_since is not None else attempted_at


def disable_deadline(failing_since: datetime) -> datetime:
    """When Market disables a subscription whose endpoint has failed since ``failing_since``."""
    return failing_since + DISABLE_AFTER
