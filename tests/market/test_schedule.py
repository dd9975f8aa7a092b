"""Market's retry schedule and 14-day clock, as pure tables."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ymnotify.delivery.outcome import FailureSubtype, Outcome, Verdict
from ymnotify.market import schedule
from ymnotify.market.schedule import DeliveryState

T0 = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
M = timedelta(minutes=1)
H = timedelta(hours=1)
D = timedelta(days=1)
DELIVERED = Outcome(Verdict.DELIVERED)
REJECTED = Outcome(Verdict.REJECTED, FailureSubtype.HTTP)
FAILED = Outcome(Verdict.FAILED, FailureSubtype.HTTP)


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (timedelta(0), M),  # right after the first attempt
        (timedelta(seconds=59), M),
        (M, 2 * M),
        (59 * M, 60 * M),  # the last minutely retry is at one hour
        (60 * M, 75 * M),  # then every 15 minutes
        (61 * M, 75 * M),
        (75 * M, 90 * M),
        (23 * H + 45 * M, 24 * H),  # the last quarter-hourly one is at one day
        (24 * H, 25 * H),  # then hourly
        (24 * H + 10 * M, 25 * H),
        (13 * D + 23 * H, 14 * D),
        (-M, timedelta(0)),  # before the first attempt: the first attempt
    ],
)
def test_next_attempt_is_the_next_grid_point(now: timedelta, expected: timedelta) -> None:
    assert schedule.next_attempt_at(T0, T0 + now) == T0 + expected


def test_a_slow_attempt_does_not_shift_the_grid() -> None:
    # Attempt 5 ran 40 s late (a slow answer, a busy worker): attempt 6 is still at +5 min.
    assert schedule.next_attempt_at(T0, T0 + 4 * M + timedelta(seconds=40)) == T0 + 5 * M


def test_fourteen_days_of_retries() -> None:
    times = schedule.retry_times(T0, T0 + 14 * D)
    offsets = [t - T0 for t in times]
    first_hour = [o for o in offsets if o <= H]
    rest_of_day = [o for o in offsets if H < o <= D]
    later = [o for o in offsets if o > D]
    assert first_hour == [k * M for k in range(61)]  # the first attempt and 60 retries
    assert rest_of_day == [H + k * 15 * M for k in range(1, 93)]
    assert later == [D + k * H for k in range(1, 13 * 24 + 1)]
    assert len(times) == 1 + 60 + 92 + 312
    assert times[-1] == T0 + 14 * D


@pytest.mark.parametrize(
    ("outcome", "state", "next_at"),
    [
        (DELIVERED, DeliveryState.DELIVERED, None),
        (REJECTED, DeliveryState.REJECTED, None),
        (FAILED, DeliveryState.PENDING, T0 + 3 * M),
    ],
)
def test_after_attempt(outcome: Outcome, state: DeliveryState, next_at: datetime | None) -> None:
    decision = schedule.after_attempt(outcome, T0, T0 + 2 * M)
    assert decision.state is state
    assert decision.run_at == next_at


@pytest.mark.parametrize(
    ("running", "outcome", "expected"),
    [
        (None, FAILED, T0 + H),  # the first failure starts the clock
        (T0, FAILED, T0),  # later failures leave it running from the start
        (T0, DELIVERED, None),  # any 200 resets it
        (T0, REJECTED, None),  # a 400 is an answer, not a failure
        (None, DELIVERED, None),
        (None, REJECTED, None),
    ],
)
def test_fourteen_day_clock(
    running: datetime | None, outcome: Outcome, expected: datetime | None
) -> None:
    assert schedule.failing_since_after(running, outcome, T0 + H) == expected


def test_disable_deadline_is_fourteen_days() -> None:
    assert schedule.disable_deadline(T0) == T0 + 14 * D
