"""What the Market sandbox keeps: cabinets, users, settings, deliveries, the request log."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ymnotify.delivery.outcome import Verdict
from ymnotify.market.rules import Scope, Settings


@dataclass(frozen=True, slots=True)
class User:
    """A cabinet user and their role."""

    login: str
    role: str


@dataclass(frozen=True, slots=True)
class Business:
    """A cabinet with its stores (campaignIds) and users."""

    id: int
    name: str
    campaign_ids: tuple[int, ...]
    users: tuple[User, ...]
    created_at: datetime

    def role_of(self, login: str) -> str | None:
        return next((user.role for user in self.users if user.login == login), None)


@dataclass(frozen=True, slots=True)
class Subscription:
    """A notification setting ("API-уведомление")."""

    id: int
    scope: Scope
    settings: Settings
    failing_since: datetime | None
    created_at: datetime
    updated_at: datetime
    deliveries: dict[str, int]  # count per delivery state, for the settings' page


@dataclass(frozen=True, slots=True)
class NewSubscription:
    """A setting about to be stored."""

    scope: Scope
    settings: Settings
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Claimed:
    """A delivery taken for one attempt, with what the attempt needs."""

    delivery_id: int
    subscription_id: int
    notification_type: str
    body: bytes
    attempts: int  # before this one
    first_attempt_at: datetime | None
    run_at: datetime
    settings: Settings | None  # its setting's, read with the claim; None: removed


@dataclass(frozen=True, slots=True)
class Moments:
    """What the delivery engine waits for, read at one moment ``now``."""

    due: bool  # a delivery not taken is due at ``now``
    next_run_at: datetime | None  # the earliest not taken that falls due after ``now``
    deadline: datetime | None  # the earliest moment the 14-day rule disables a setting

    def next_after(self, now: datetime) -> datetime | None:
        """The next moment after ``now`` when something falls due, if any."""
        return min((t for t in (self.next_run_at, self.deadline) if t and t > now), default=None)


@dataclass(frozen=True, slots=True)
class Published:
    """One published event and the deliveries it created (possibly none, with the reason)."""

    event_id: int
    notification_type: str
    deliveries: tuple[tuple[int, int], ...]  # (delivery id, subscription id)
    note: str | None = None


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One attempt in the request log."""

    id: int
    at: datetime  # Market time of the attempt
    subscription_id: int | None
    delivery_id: int | None
    attempt: int
    notification_type: str
    url: str
    traceparent: str
    request_body: bytes
    status: int | None
    response_content_type: str | None
    response_body: bytes
    latency_ms: float
    outcome: Verdict
    error_type: str | None
    error_subtype: str | None
    detail: str | None


@dataclass(frozen=True, slots=True)
class LogFilter:
    """Which log entries to list, newest first; every field narrows."""

    subscription_id: int | None = None
    notification_type: str | None = None
    outcome: Verdict | None = None
    since: datetime | None = None
    until: datetime | None = None
    text: str | None = None  # in the request body, response body, traceparent, URL or detail
    before_id: int | None = None  # only entries listed after this one (older): the next page
    limit: int = 100


@dataclass(frozen=True, slots=True)
class Tallies:
    """Counts for the Market sandbox's metrics, read from its store at scrape time."""

    # (verdict, Market error type or "", a retry) → delivery attempts
    attempts: dict[tuple[str, str, bool], int]
    disabled_by_market: int  # settings the 14-day rule turned off (and not removed)
    pending_deliveries: int
