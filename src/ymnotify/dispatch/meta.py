"""What a handler may know about the notification beyond its content: ``meta``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class EventMeta:
    """Injected into any handler, middleware or error observer with a parameter named ``meta``.

    ``stale`` is Market's "the later time wins" applied at intake: some state this notification
    reports (say, the order status) is older than what an earlier-processed notification of the
    same entity already said, so acting on it would move the entity backwards.
    """

    notification_id: int
    notification_type: str
    handler: str
    entity: str
    stale: bool
    attempt: int  # 1 on the first run
    max_attempts: int
    received_at: datetime
    event_time: datetime | None
    duplicates: int  # how many times Market re-sent the same body

    @property
    def last_attempt(self) -> bool:
        """Whether a failure now dead-letters the job."""
        return self.attempt >= self.max_attempts
