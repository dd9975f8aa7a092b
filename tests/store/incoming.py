"""Building what the receiver hands a store, the way the receiver builds it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from ymnotify.protocol import parse_body
from ymnotify.protocol.samples import sample
from ymnotify.protocol.wire import raw_dedup_key
from ymnotify.store import Incoming

T0 = datetime(2026, 9, 20, 9, 0, 0, 123456, UTC)
HEADERS = (
    ("content-type", "application/json"),
    ("traceparent", "00-8b05ba11f1d37f7cfce0eac1a5230600-8b23fad39202f968-01"),
)
MARKET_SOURCE = "5.45.207.10"


def at(minutes: float) -> datetime:
    """A moment ``minutes`` after ``T0``."""
    return T0 + timedelta(minutes=minutes)


def notification(
    kind: str, *, received: datetime | None = None, event: datetime | None = None, **fields: Any
) -> Incoming:
    """A valid notification of ``kind`` (a sample with ``fields`` overridden), as accepted."""
    body = json.dumps(sample(kind, at=event or T0, **fields)).encode()
    parsed = parse_body(body)
    return Incoming(
        dedup_key=parsed.dedup_key,
        body=body,
        headers=HEADERS,
        source=MARKET_SOURCE,
        received_at=received or T0,
        notification_type=parsed.notification.notification_type,
        entity=parsed.entity,
        event_time=parsed.notification.event_time,
        state_changes=parsed.notification.state_changes(),
    )


def quarantined(
    body: bytes, reason: str, *, kind: str | None = None, received: datetime | None = None
) -> Incoming:
    """A malformed body as the receiver quarantines it."""
    return Incoming(
        dedup_key=raw_dedup_key(body),
        body=body,
        headers=HEADERS,
        source=MARKET_SOURCE,
        received_at=received or T0,
        notification_type=kind,
        quarantine_reason=reason,
    )
