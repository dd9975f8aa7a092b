"""Would Market see this endpoint as healthy? A pure judgement from what the store knows.

Market sends a PING when a notification integration is enabled (or re-enabled after Market
disabled it) and wants a timely 200; after that it just posts notifications. So "healthy" here
means: the store is ready (so notifications get 200, not 500) and a PING was answered recently.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta

from ymnotify.store import PingRecord

DEFAULT_PING_RECENT = timedelta(hours=24)


class HealthLevel(enum.StrEnum):
    HEALTHY = "healthy"
    UNKNOWN = "unknown"  # the store is fine but no recent PING says Market reaches us
    UNHEALTHY = "unhealthy"  # the store fails: Market gets 500 and retries


@dataclass(frozen=True, slots=True)
class Health:
    level: HealthLevel
    summary: str
    details: tuple[str, ...]


def endpoint_health(
    *,
    store_problem: str | None,
    last_ping: PingRecord | None,
    last_received_at: datetime | None,
    now: datetime,
    recent: timedelta = DEFAULT_PING_RECENT,
) -> Health:
    """Judge the endpoint; ``store_problem`` is why the store is not ready, ``None`` if it is."""
    details: list[str] = []
    if last_received_at is not None:
        details.append(f"last notification received {ago(now - last_received_at)}")
    if store_problem is not None:
        return Health(
            HealthLevel.UNHEALTHY,
            "The store is not ready: Market gets 500 and will retry.",
            (store_problem, *details),
        )
    if last_ping is None:
        return Health(
            HealthLevel.UNKNOWN,
            "No PING seen yet: enable the notification in Market's cabinet to have it PINGed.",
            tuple(details),
        )
    ping_age = now - last_ping.received_at
    seen = f"last PING {ago(ping_age)} from {last_ping.source} ({last_ping.count} in all)"
    if ping_age <= recent:
        return Health(
            HealthLevel.HEALTHY,
            "Market would see this endpoint as healthy: a PING was answered recently and the"
            " store is ready.",
            (seen, *details),
        )
    return Health(
        HealthLevel.UNKNOWN,
        f"The store is ready, but no PING in the last {ago_span(recent)}: Market PINGs only"
        " when a notification is enabled, so re-enable it (or run ymnotify check) to confirm.",
        (seen, *details),
    )


def ago(span: timedelta) -> str:
    """``3 min ago``, ``2 h ago``: a span in the past, coarse enough to read at a glance."""
    if span < timedelta(0):
        return "just now"
    return f"{ago_span(span)} ago"


def ago_span(span: timedelta) -> str:
    seconds = int(span.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"
