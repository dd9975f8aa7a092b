"""The retry policy, as a table: attempt and random draw in, decision out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ymnotify.dispatch.retry import GiveUp, RetryAt, RetryPolicy
from ymnotify.errors import ConfigError

NOW = datetime(2026, 9, 20, 9, 0, tzinfo=UTC)
POLICY = RetryPolicy(max_attempts=5, base_delay=2.0, max_delay=10.0)


@pytest.mark.parametrize(
    ("attempt", "draw", "delay"),
    [
        (1, 0.0, 1.0),  # nominal 2 s: half of it fixed, half random
        (1, 0.999, 1.999),
        (2, 0.0, 2.0),  # nominal 4 s
        (2, 0.5, 3.0),
        (3, 0.0, 4.0),  # nominal 8 s
        (4, 0.0, 5.0),  # nominal 16 s, capped at 10 s
        (4, 0.999, 9.995),
    ],
)
def test_backoff_doubles_with_jitter_and_a_cap(attempt: int, draw: float, delay: float) -> None:
    decision = POLICY.decide(attempt, NOW, draw)
    assert isinstance(decision, RetryAt)
    assert decision.delay == pytest.approx(delay)
    assert decision.when == NOW + timedelta(seconds=decision.delay)


@pytest.mark.parametrize("attempt", [5, 6, 50])
def test_the_last_attempt_gives_up(attempt: int) -> None:
    assert POLICY.decide(attempt, NOW, 0.3) == GiveUp(attempts=attempt)


def test_a_single_attempt_policy_never_retries() -> None:
    assert RetryPolicy(max_attempts=1).decide(1, NOW, 0.0) == GiveUp(attempts=1)


def test_huge_attempt_numbers_stay_at_the_cap() -> None:
    policy = RetryPolicy(max_attempts=10_000, base_delay=1.0, max_delay=60.0)
    assert policy.nominal_delay(5_000) == 60.0


@pytest.mark.parametrize(
    ("kwargs", "flag"),
    [
        ({"max_attempts": 0}, "--retry-max-attempts"),
        ({"base_delay": -1.0}, "--retry-base-delay"),
        ({"base_delay": 5.0, "max_delay": 1.0}, "--retry-max-delay"),
    ],
)
def test_nonsense_settings_are_refused_by_flag_name(kwargs: dict[str, float], flag: str) -> None:
    with pytest.raises(ConfigError, match=flag):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]
