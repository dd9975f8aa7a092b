"""The storage contract of the receiver, and the records it deals in.

A store keeps every notification the receiver accepted (raw body, headers, source, times), the
malformed ones in quarantine, the latest known state of each entity and the last PING. Backends
(``sqlite``, ``memory``, later ``postgres``) differ only in how; the contract suite in
``tests/store`` holds each of them to the same behaviour.

The one promise everything rests on: when ``accept`` returns, the notification is durable.
"""

from __future__ import annotations

import abc
import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ymnotify.protocol.models import StateChange


class NotificationStatus(enum.StrEnum):
    """Where a stored notification stands."""

    PENDING = "pending"  # stored, handlers not finished yet
    RETRYING = "retrying"  # some handler failed and waits for another attempt
    DONE = "done"  # every matching handler succeeded
    DEAD = "dead"  # some handler's job exhausted its attempts
    QUARANTINED = "quarantined"  # malformed: kept for a fix and a replay, never handled
    UNHANDLED = "unhandled"  # no handler matched


def utc_text(moment: datetime) -> str:
    """Fixed-width UTC text: sorts as time does, so stores compare times as strings."""
    utc = moment.astimezone(UTC)
    # strftime's %Y does not pad years before 1000 on every platform; "999-…" would sort after
    # "2026-…" and not parse back.
    return f"{utc.year:04d}-{utc:%m-%dT%H:%M:%S.%f}Z"


def parse_utc_text(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Incoming:
    """A request the receiver hands to the store: a notification or a quarantined body."""

    dedup_key: str
    body: bytes
    headers: Sequence[tuple[str, str]]
    source: str
    received_at: datetime
    notification_type: str | None = None
    entity: str | None = None
    event_time: datetime | None = None
    state_changes: tuple[StateChange, ...] = ()
    quarantine_reason: str | None = None  # set: the body is malformed, for this reason

    @property
    def quarantined(self) -> bool:
        return self.quarantine_reason is not None


@dataclass(frozen=True, slots=True)
class Accepted:
    """What ``accept`` did: the row's id, whether it was a repeat, whether it is stale."""

    notification_id: int
    duplicate: bool
    stale: bool


@dataclass(frozen=True, slots=True)
class StoredNotification:
    """A notification (or quarantined body) as the store holds it."""

    id: int
    dedup_key: str
    notification_type: str | None
    status: NotificationStatus
    entity: str | None
    event_time: datetime | None
    stale: bool
    duplicates: int
    received_at: datetime
    last_received_at: datetime
    source: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    error: str | None


@dataclass(frozen=True, slots=True)
class EntityState:
    """The latest known value of one piece of an entity's state (later event time wins)."""

    entity: str
    slot: str
    value: dict[str, Any]
    event_time: datetime
    notification_id: int


@dataclass(frozen=True, slots=True)
class PingRecord:
    """The last PING seen."""

    received_at: datetime
    source: str
    count: int


@dataclass(frozen=True, slots=True)
class InboxStats:
    """Counts for ``inbox stats`` and health views."""

    total: int
    by_status: dict[str, int]
    by_type: dict[str, int]
    duplicates: int
    stale: int
    last_ping: PingRecord | None
    last_received_at: datetime | None


@dataclass(frozen=True, slots=True)
class Backlog:
    """What waits: cheap to compute at every metrics scrape, even with a million rows."""

    pending: int
    # Receive time of the pending notification with the lowest id: ids follow receipt order to
    # within one commit batch, and reading it is one index probe instead of a scan.
    oldest_pending_at: datetime | None
    quarantined: int


@dataclass(frozen=True, slots=True)
class TypeCount:
    """How many notifications of one type arrived in one time bucket (for charts)."""

    bucket_start: datetime
    notification_type: str  # "" for quarantined bodies that name no type
    count: int


def check_buckets(since: datetime, until: datetime, bucket_seconds: int) -> None:
    """Refuse bucket arguments that the SQL backends could not honour exactly."""
    if since.microsecond:
        raise ValueError("counts_over_time: since must be a whole second")
    if bucket_seconds < 1:
        raise ValueError("counts_over_time: bucket_seconds must be at least 1")
    if until < since:
        raise ValueError("counts_over_time: until is before since")


@dataclass(frozen=True, slots=True)
class NotificationFilter:
    """Which notifications a listing returns; every field narrows, ``None`` means any."""

    notification_type: str | None = None
    status: NotificationStatus | None = None
    entity: str | None = None
    received_since: datetime | None = None
    received_until: datetime | None = None
    before_id: int | None = None  # paging: only ids below this one
    body_contains: bytes | None = None  # only bodies holding these exact bytes (case matters)
    limit: int = 100
    newest_first: bool = True
    ids: tuple[int, ...] = field(default=())


class Store(abc.ABC):
    """The storage contract. All methods are coroutines; ``open`` must be awaited first."""

    @abc.abstractmethod
    async def open(self) -> None:
        """Connect and bring the schema up to date (or refuse, see ``SchemaMismatch``)."""

    @abc.abstractmethod
    async def migrate(self) -> tuple[int, int]:
        """Bring the schema up to date; return (version before, version after).

        Works on a store that ``open`` refused for being behind.
        """

    @abc.abstractmethod
    async def close(self) -> None:
        """Finish pending writes and release connections."""

    @abc.abstractmethod
    async def check(self) -> None:
        """Raise ``StoreUnavailable`` unless the store answers now (for ``/readyz``)."""

    @abc.abstractmethod
    async def accept(self, incoming: Incoming) -> Accepted:
        """Store a notification durably; on return it survives a crash.

        A repeat of a stored dedup key only increments that row's ``duplicates``. Staleness is
        decided, and entity state updated, in the same transaction.
        """

    @abc.abstractmethod
    def record_ping(self, source: str, received_at: datetime) -> None:
        """Note a PING without waiting for it to be written (PING is answered first)."""

    @abc.abstractmethod
    async def list_notifications(self, query: NotificationFilter) -> list[StoredNotification]:
        """Notifications matching ``query``, newest first unless asked otherwise."""

    @abc.abstractmethod
    async def get_notification(self, notification_id: int) -> StoredNotification | None:
        """One notification by id, or ``None``."""

    @abc.abstractmethod
    async def entity_states(self, entity: str) -> list[EntityState]:
        """The latest known state of an entity, one row per slot."""

    @abc.abstractmethod
    async def stats(self) -> InboxStats:
        """Totals by status and type, duplicates, stale count, the last PING."""

    @abc.abstractmethod
    async def backlog(self) -> Backlog:
        """Pending and quarantined counts and the oldest pending receive time (index-only)."""

    @abc.abstractmethod
    async def last_ping(self) -> PingRecord | None:
        """The last PING recorded, or ``None`` if none ever was."""

    @abc.abstractmethod
    async def counts_over_time(
        self, since: datetime, until: datetime, bucket_seconds: int
    ) -> list[TypeCount]:
        """Notifications received in ``[since, until)`` per type and bucket, oldest first.

        Bucket ``k`` covers ``[since + k*bucket_seconds, since + (k+1)*bucket_seconds)``; empty
        buckets are left out. ``since`` must be a whole second (see ``check_buckets``).
        """

    async def __aenter__(self) -> Store:
        await self.open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()
