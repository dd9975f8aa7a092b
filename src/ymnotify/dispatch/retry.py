"""The retry policy: a pure decision from (attempt, now, a random draw) to retry-at or give-up.

Exponential backoff with jitter: the nth failed attempt waits ``base * 2**(n-1)`` seconds, capped
at ``max_delay``, of which the upper half is random ("equal jitter"), so handlers that failed
together (a database restart) do not all come back at the same instant, and no retry comes
sooner than half its nominal delay.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from ymnotify.errors import ConfigError


@dataclass(frozen=True, slots=True)
class RetryAt:
    """Run the job again at ``when`` (``delay`` seconds after the failure)."""

    when: datetime
    delay: float


@dataclass(frozen=True, slots=True)
class GiveUp:
    """No attempts left: the job is dead-lettered."""

    attempts: int


RetryDecision = RetryAt | GiveUp


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How many attempts a handler gets and how long it waits between them."""

    max_attempts: int = 10
    base_delay: float = 2.0
    max_delay: float = 600.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ConfigError("--retry-max-attempts must be at least 1")
        if self.base_delay < 0:
            raise ConfigError("--retry-base-delay must not be negative")
        if self.max_delay < self.base_delay:
            raise ConfigError("--retry-max-delay must not be below --retry-base-delay")

    def nominal_delay(self, attempt: int) -> float:
        """The delay after failed attempt number ``attempt`` (1-based), before jitter."""
        # Cap the exponent too: 2**attempt overflows float long before attempts run out.
        return min(self.max_delay, self.base_delay * 2.0 ** min(attempt - 1, 64))

    def decide(self, attempt: int, now: datetime, draw: float) -> RetryDecision:
        """What follows the failure of attempt ``attempt``; ``draw`` is uniform in [0, 1)."""
        if attempt >= self.max_attempts:
            return GiveUp(attempts=attempt)
        nominal = self.nominal_delay(attempt)
        delay = nominal / 2 + nominal / 2 * draw
        return RetryAt(when=now + timedelta(seconds=delay), delay=delay)
