"""The PostgreSQL store: many receivers and workers on many machines share one database.

psycopg 3 with an async connection pool. Each accept is one transaction with
``synchronous_commit = on`` (forced per connection, whatever the server's default), so a 200 is
sent only after the commit is flushed; PostgreSQL itself batches concurrent commits into shared
WAL flushes, so no group-commit layer is needed here. When the database goes away, operations
raise ``StoreUnavailable`` (the receiver answers 500) and the pool reconnects by itself.

The schema is never changed implicitly: ``open`` refuses a database that is behind and asks
for ``ymnotify db migrate``, so that upgrading many processes is a deliberate step.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from ymnotify.errors import SchemaMismatch, StoreUnavailable
from ymnotify.store import queries
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
from ymnotify.store.listing import listing_sql

T = TypeVar("T")
SQL = queries.load("postgresql")
Connection = psycopg.AsyncConnection[dict[str, Any]]

# Serialises migrations of concurrent `db migrate` runs (an arbitrary, fixed lock id).
_MIGRATION_LOCK = 7_276_105_111_116
_PASSWORD_IN_URL = re.compile(r"(://[^:/@]+:)[^@]*@")


class PostgresStore(Store):
    """A store in a PostgreSQL database, given as a ``postgresql://`` URL."""

    def __init__(
        self,
        url: str,
        *,
        min_connections: int = 1,
        max_connections: int = 10,
        acquire_timeout: float = 5.0,
    ) -> None:
        self.url = url
        self.acquire_timeout = acquire_timeout
        self._pool = AsyncConnectionPool(
            url,
            min_size=min_connections,
            max_size=max_connections,
            open=False,
            kwargs={"row_factory": dict_row, "connect_timeout": max(2, int(acquire_timeout))},
            configure=_configure,
            check=AsyncConnectionPool.check_connection,
            reconnect_timeout=0,  # keep trying for ever: the database may come back
        )
        self._background: set[asyncio.Task[None]] = set()

    # -- lifecycle -----------------------------------------------------------------------------

    async def open(self) -> None:
        await self._open_pool()
        current, latest = await self.schema_versions()
        if current != latest:
            await self._pool.close()
            relation = "behind" if current < latest else "ahead of this ymnotify"
            raise SchemaMismatch(
                f"PostgreSQL schema is at version {current}, {relation} (this ymnotify needs"
                f" {latest}); run: ymnotify db migrate --db {_redacted(self.url)}",
                found=current,
                expected=latest,
            )

    async def _open_pool(self) -> None:
        try:
            await self._pool.open(wait=True, timeout=self.acquire_timeout)
        except PoolTimeout as exc:
            raise StoreUnavailable(
                f"cannot connect to PostgreSQL at {_redacted(self.url)} within"
                f" {self.acquire_timeout:g}s"
            ) from exc

    async def close(self) -> None:
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
        await self._pool.close()

    async def migrate(self) -> tuple[int, int]:
        """Apply pending migrations; return (version before, version after)."""
        if self._pool.closed:
            await self._open_pool()
        scripts = queries.migrations("postgresql")

        async def apply(connection: Connection) -> tuple[int, int]:
            await connection.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
            await _ensure_version_table(connection)
            before = await _schema_version(connection)
            for version, script in scripts:
                if version > before:
                    await connection.execute(script.encode())
                    await connection.execute("UPDATE ymnotify_schema SET version = %s", (version,))
            return before, max(before, scripts[-1][0])

        return await self._transaction(apply)

    async def schema_versions(self) -> tuple[int, int]:
        """(the database's schema version, the version this ymnotify needs)."""

        async def read(connection: Connection) -> int:
            await _ensure_version_table(connection)
            return await _schema_version(connection)

        return await self._transaction(read), queries.migrations("postgresql")[-1][0]

    async def check(self) -> None:
        await self._transaction(lambda c: c.execute("SELECT 1"))

    # -- plumbing ------------------------------------------------------------------------------

    async def _transaction(self, work: Callable[[Connection], Awaitable[T]]) -> T:
        """Run ``work`` in one transaction; translate every database failure."""
        try:
            async with (
                self._pool.connection(timeout=self.acquire_timeout) as connection,
                connection.transaction(),
            ):
                return await work(connection)
        except PoolTimeout as exc:
            raise StoreUnavailable(
                f"no PostgreSQL connection within {self.acquire_timeout:g}s"
            ) from exc
        except psycopg.Error as exc:
            raise StoreUnavailable(f"PostgreSQL failed: {exc}") from exc

    # -- writes --------------------------------------------------------------------------------

    async def accept(self, incoming: Incoming) -> Accepted:
        return await self._transaction(lambda c: _accept(c, incoming))

    def record_ping(self, source: str, received_at: datetime) -> None:
        params = {"source": source, "received_at": received_at}

        async def write() -> None:
            # On failure only "last PING seen" is lost; the PING itself was already answered.
            with contextlib.suppress(StoreUnavailable):
                await self._transaction(lambda c: c.execute(SQL["record_ping"], params))

        task = asyncio.create_task(write())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # -- reads ---------------------------------------------------------------------------------

    async def _fetch(self, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        async def run(connection: Connection) -> list[dict[str, Any]]:
            cursor = await connection.execute(sql, params)
            return await cursor.fetchall()

        return await self._transaction(run)

    async def list_notifications(self, query: NotificationFilter) -> list[StoredNotification]:
        sql, params = listing_sql(
            query,
            placeholder=lambda name: f"%({name})s",
            encode_time=lambda moment: moment,
            body_contains="position({} IN body) > 0",  # bytes → bytea: a byte-wise search
        )
        return [_notification_from_row(row) for row in await self._fetch(sql, params)]

    async def get_notification(self, notification_id: int) -> StoredNotification | None:
        rows = await self._fetch(SQL["get_notification"], {"id": notification_id})
        return _notification_from_row(rows[0]) if rows else None

    async def entity_states(self, entity: str) -> list[EntityState]:
        rows = await self._fetch(SQL["entity_states"], {"entity": entity})
        return [
            EntityState(
                entity=row["entity"],
                slot=row["slot"],
                value=json.loads(row["value"]),
                event_time=row["event_time"],
                notification_id=row["notification_id"],
            )
            for row in rows
        ]

    async def stats(self) -> InboxStats:
        async def gather(connection: Connection) -> InboxStats:
            by_status = {
                row["status"]: row["n"]
                for row in await (await connection.execute(SQL["count_by_status"])).fetchall()
            }
            by_type = {
                row["notification_type"]: row["n"]
                for row in await (await connection.execute(SQL["count_by_type"])).fetchall()
            }
            totals = await (await connection.execute(SQL["totals"])).fetchone()
            ping = await (await connection.execute(SQL["last_ping"])).fetchone()
            assert totals is not None
            return InboxStats(
                total=totals["total"],
                by_status=by_status,
                by_type=by_type,
                duplicates=int(totals["duplicates"]),
                stale=totals["stale"],
                last_ping=None
                if ping is None
                else PingRecord(ping["received_at"], ping["source"], ping["count"]),
                last_received_at=totals["last_received_at"],
            )

        return await self._transaction(gather)

    async def backlog(self) -> Backlog:
        async def gather(connection: Connection) -> Backlog:
            pending = await (await connection.execute(SQL["count_pending"])).fetchone()
            oldest = await (await connection.execute(SQL["oldest_pending"])).fetchone()
            quarantined = await (await connection.execute(SQL["count_quarantined"])).fetchone()
            assert pending is not None
            assert quarantined is not None
            return Backlog(
                pending=pending["n"],
                oldest_pending_at=None if oldest is None else oldest["received_at"],
                quarantined=quarantined["n"],
            )

        return await self._transaction(gather)

    async def last_ping(self) -> PingRecord | None:
        rows = await self._fetch(SQL["last_ping"], {})
        if not rows:
            return None
        return PingRecord(rows[0]["received_at"], rows[0]["source"], rows[0]["count"])

    async def counts_over_time(
        self, since: datetime, until: datetime, bucket_seconds: int
    ) -> list[TypeCount]:
        check_buckets(since, until, bucket_seconds)
        rows = await self._fetch(
            SQL["counts_over_time"], {"since": since, "until": until, "bucket": bucket_seconds}
        )
        width = timedelta(seconds=bucket_seconds)
        return [
            TypeCount(since + width * row["bucket"], row["notification_type"], row["n"])
            for row in rows
        ]


async def _configure(connection: Connection) -> None:
    # The 200 promise: never acknowledge a commit that is not flushed, whatever the server says.
    await connection.execute("SET synchronous_commit = on")
    await connection.commit()


async def _ensure_version_table(connection: Connection) -> None:
    await connection.execute(
        "CREATE TABLE IF NOT EXISTS ymnotify_schema (version INTEGER NOT NULL)"
    )
    await connection.execute(
        "INSERT INTO ymnotify_schema (version)"
        " SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM ymnotify_schema)"
    )


async def _schema_version(connection: Connection) -> int:
    row = await (await connection.execute("SELECT version FROM ymnotify_schema")).fetchone()
    assert row is not None
    return int(row["version"])


async def _accept(connection: Connection, incoming: Incoming) -> Accepted:
    status = NotificationStatus.QUARANTINED if incoming.quarantined else NotificationStatus.PENDING
    cursor = await connection.execute(
        SQL["insert_notification"],
        {
            "dedup_key": incoming.dedup_key,
            "notification_type": incoming.notification_type,
            "status": status.value,
            "entity": incoming.entity,
            "event_time": incoming.event_time,
            "received_at": incoming.received_at,
            "source": incoming.source,
            "headers": json.dumps(list(incoming.headers)),
            "body": incoming.body,
            "error": incoming.quarantine_reason,
        },
    )
    row = await cursor.fetchone()
    assert row is not None
    if row["duplicates"]:
        return Accepted(row["id"], duplicate=True, stale=row["stale"])
    stale = False
    if incoming.entity is not None:
        for change in incoming.state_changes:
            # One statement decides and writes: concurrent accepts of one entity cannot both win.
            written = await connection.execute(
                SQL["put_entity_state_slot"],
                {
                    "entity": incoming.entity,
                    "slot": change.slot,
                    "value": json.dumps(change.value, sort_keys=True),
                    "event_time": change.at,
                    "notification_id": row["id"],
                },
            )
            if await written.fetchone() is None:
                stale = True  # a later event time is already recorded; it wins
    if stale:
        await connection.execute(SQL["mark_stale"], {"id": row["id"]})
    return Accepted(row["id"], duplicate=False, stale=stale)


def _notification_from_row(row: dict[str, Any]) -> StoredNotification:
    return StoredNotification(
        id=row["id"],
        dedup_key=row["dedup_key"],
        notification_type=row["notification_type"],
        status=NotificationStatus(row["status"]),
        entity=row["entity"],
        event_time=row["event_time"],
        stale=row["stale"],
        duplicates=row["duplicates"],
        received_at=row["received_at"],
        last_received_at=row["last_received_at"],
        source=row["source"],
        headers=tuple((name, value) for name, value in json.loads(row["headers"])),
        body=bytes(row["body"]),
        error=row["error"],
    )


def _redacted(url: str) -> str:
    """The URL without its password, for messages."""
    return _PASSWORD_IN_URL.sub(r"\1***@", url)
