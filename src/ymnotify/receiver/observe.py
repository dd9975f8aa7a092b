"""What the intake path tells observers about each request, e.g. metrics.

The receiver's hot path knows nothing of Prometheus: after each answer is sent it calls every
``IntakeObserver`` with the notification type, the outcome and how long the answer took. An
observer must be cheap (a counter increment, no I/O) because it runs on the request's task.
"""

from __future__ import annotations

import enum
from typing import Protocol


class IntakeOutcome(enum.StrEnum):
    """How the receiver answered one POST."""

    ACCEPTED = "accepted"  # stored, 200
    DUPLICATE = "duplicate"  # already stored, counted, 200
    QUARANTINED = "quarantined"  # malformed, kept in quarantine, 400
    REFUSED = "refused"  # source outside the allowed networks, 403
    REJECTED = "rejected"  # body too large, too slow or abandoned: 413/408/400, nothing stored
    STORE_ERROR = "store_error"  # the store failed, 500 so Market retries
    PING = "ping"  # answered 200 before anything was written


class IntakeObserver(Protocol):
    """Told about every answered POST, after the answer was sent."""

    def observe(
        self, notification_type: str | None, outcome: IntakeOutcome, seconds: float
    ) -> None:
        """``notification_type`` is what the body declared (``None`` if unread or unnamed)."""
