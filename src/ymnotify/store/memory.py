"""An in-memory store with the same behaviour as the others, for tests and for trying things.

It keeps nothing across restarts, so it never backs a real receiver; it passes the same contract
suite as the durable backends.
"""

from __future__ import annotations

import asyncio
import copy
from dataclasses import replace
from datetime import datetime, timedelta

from ymnotify.errors import StoreUnavailable
from ymnotify.store.base import (
    Accepted,
    Backlog,
    EntityState,
    InboxStats,
    Incoming,
    NotificationFilter,
    NotificationStatus,
    PingRecord,
    Store,
    StoredNotification,
    TypeCount,
    check_buckets,
)


class MemoryStore(Store):
    """A store in this process's memory."""

    def __init__(self) -> None:
        self._open = False
        self._lock = asyncio.Lock()
        self._rows: dict[int, StoredNotification] = {}
        self._by_key: dict[str, int] = {}
        self._state: dict[tuple[str, str], EntityState] = {}
        self._ping: PingRecord | None = None

    async def open(self) -> None:
        self._open = True

    async def migrate(self) -> tuple[int, int]:
        return (0, 0)  # nothing persists, so there is no schema to bring up to date

    async def close(self) -> None:
        self._open = False

    async def check(self) -> None:
        if not self._open:
            raise StoreUnavailable("the memory store is not open")

    async def accept(self, incoming: Incoming) -> Accepted:
        await self.check()
        async with self._lock:
            existing_id = self._by_key.get(incoming.dedup_key)
            if existing_id is not None:
                row = self._rows[existing_id]
                self._rows[existing_id] = replace(
                    row, duplicates=row.duplicates + 1, last_received_at=incoming.received_at
                )
                return Accepted(existing_id, duplicate=True, stale=row.stale)
            notification_id = len(self._rows) + 1
            stale = self._apply_state(incoming, notification_id)
            self._rows[notification_id] = StoredNotification(
                id=notification_id,
                dedup_key=incoming.dedup_key,
                notification_type=incoming.notification_type,
                status=NotificationStatus.QUARANTINED
                if incoming.quarantined
                else NotificationStatus.PENDING,
                entity=incoming.entity,
                event_time=incoming.event_time,
                stale=stale,
                duplicates=0,
                received_at=incoming.received_at,
                last_received_at=incoming.received_at,
                source=incoming.source,
                headers=tuple(incoming.headers),
                body=bytes(incoming.body),
                error=incoming.quarantine_reason,
            )
            self._by_key[incoming.dedup_key] = notification_id
            return Accepted(notification_id, duplicate=False, stale=stale)

    def _apply_state(self, incoming: Incoming, notification_id: int) -> bool:
        stale = False
        if incoming.entity is None:
            return stale
        for change in incoming.state_changes:
            key = (incoming.entity, change.slot)
            known = self._state.get(key)
            if known is not None and known.event_time > change.at:
                stale = True
                continue
            self._state[key] = EntityState(
                incoming.entity,
                change.slot,
                copy.deepcopy(change.value),
                change.at,
                notification_id,
            )
        return stale

    def record_ping(self, source: str, received_at: datetime) -> None:
        if self._ping is None:
            self._ping = PingRecord(received_at, source, 1)
        elif received_at >= self._ping.received_at:
            self._ping = PingRecord(received_at, source, self._ping.count + 1)
        else:  # an earlier PING noted late: counted, but the later one stays the last
            self._ping = replace(self._ping, count=self._ping.count + 1)

    async def list_notifications(self, query: NotificationFilter) -> list[StoredNotification]:
        await self.check()
        rows = [row for row in self._rows.values() if _matches(row, query)]
        rows.sort(key=lambda row: row.id, reverse=query.newest_first)
        return rows[: query.limit]

    async def get_notification(self, notification_id: int) -> StoredNotification | None:
        await self.check()
        return self._rows.get(notification_id)

    async def entity_states(self, entity: str) -> list[EntityState]:
        await self.check()
        return sorted(
            (state for (owner, _), state in self._state.items() if owner == entity),
            key=lambda state: state.slot,
        )

    async def stats(self) -> InboxStats:
        await self.check()
        by_status: dict[str, int] = {}
        by_type: dict[str, int] = {}
        for row in self._rows.values():
            by_status[row.status.value] = by_status.get(row.status.value, 0) + 1
            kind = row.notification_type or ""
            by_type[kind] = by_type.get(kind, 0) + 1
        rows = list(self._rows.values())
        return InboxStats(
            total=len(rows),
            by_status=by_status,
            by_type=by_type,
            duplicates=sum(row.duplicates for row in rows),
            stale=sum(row.stale for row in rows),
            last_ping=self._ping,
            last_received_at=max((row.last_received_at for row in rows), default=None),
        )

    async def backlog(self) -> Backlog:
        await self.check()
        pending = [r for r in self._rows.values() if r.status == NotificationStatus.PENDING]
        oldest = min(pending, key=lambda r: r.id, default=None)
        return Backlog(
            pending=len(pending),
            oldest_pending_at=None if oldest is None else oldest.received_at,
            quarantined=sum(
                r.status == NotificationStatus.QUARANTINED for r in self._rows.values()
            ),
        )

    async def last_ping(self) -> PingRecord | None:
        await self.check()
        return self._ping

    async def counts_over_time(
        self, since: datetime, until: datetime, bucket_seconds: int
    ) -> list[TypeCount]:
        check_buckets(since, until, bucket_seconds)
        await self.check()
        counts: dict[tuple[datetime, str], int] = {}
        width = timedelta(seconds=bucket_seconds)
        for row in self._rows.values():
            if since <= row.received_at < until:
                start = since + width * ((row.received_at - since) // width)
                key = (start, row.notification_type or "")
                counts[key] = counts.get(key, 0) + 1
        return [TypeCount(start, kind, n) for (start, kind), n in sorted(counts.items())]


def _matches(row: StoredNotification, query: NotificationFilter) -> bool:
    return (
        (query.notification_type is None or row.notification_type == query.notification_type)
        and (query.status is None or row.status == query.status)
        and (query.entity is None or row.entity == query.entity)
        and (query.received_since is None or row.received_at >= query.received_since)
        and (query.received_until is None or row.received_at < query.received_until)
        and (query.before_id is None or row.id < query.before_id)
        and (not query.body_contains or query.body_contains in row.body)
        and (not query.ids or row.id in query.ids)
    )
