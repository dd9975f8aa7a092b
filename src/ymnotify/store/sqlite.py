"""The SQLite store: one file, WAL, durable group commits, usable by several local processes.

Writes go through one ``GroupCommitWriter`` thread per process; reads use their own connection
in a worker thread. Several processes (``serve``, ``worker``, the CLI) may share the file: WAL
lets readers run beside the writer and ``busy_timeout`` makes writers of different processes
wait for each other instead of failing.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal, TypeVar

from ymnotify.errors import StoreUnavailable
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
    parse_utc_text,
    utc_text,
)
from ymnotify.store.groupcommit import GroupCommitWriter
from ymnotify.store.listing import listing_sql
from ymnotify.store.migrate import migrate_sqlite

T = TypeVar("T")
SynchronousMode = Literal["full", "normal"]
SQL = queries.load("sqlite")


class SqliteStore(Store):
    """A store in one SQLite file."""

    def __init__(
        self,
        path: str | Path,
        *,
        synchronous: SynchronousMode = "full",
        busy_timeout: float = 5.0,
    ) -> None:
        self.path = Path(path)
        self.synchronous = synchronous
        self.busy_timeout = busy_timeout
        self._writer: GroupCommitWriter | None = None
        self._reader: sqlite3.Connection | None = None
        self._reader_lock = threading.Lock()

    # -- lifecycle -----------------------------------------------------------------------------

    async def open(self) -> None:
        await asyncio.to_thread(self._open_sync)

    def _open_sync(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            setup = self._connect()
            try:
                migrate_sqlite(setup, queries.migrations("sqlite"))
            finally:
                setup.close()
            self._reader = self._connect()
        except (sqlite3.Error, OSError) as exc:  # OSError: its directory cannot be made
            raise StoreUnavailable(f"cannot open SQLite store {self.path}: {exc}") from exc
        self._writer = GroupCommitWriter(self._connect)
        self._writer.start()

    async def migrate(self) -> tuple[int, int]:
        def run() -> tuple[int, int]:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            connection = self._connect()
            try:
                return migrate_sqlite(connection, queries.migrations("sqlite"))
            except sqlite3.Error as exc:
                raise StoreUnavailable(f"cannot migrate SQLite store {self.path}: {exc}") from exc
            finally:
                connection.close()

        return await asyncio.to_thread(run)

    async def close(self) -> None:
        writer, self._writer = self._writer, None
        if writer is not None:
            await asyncio.to_thread(writer.stop)
        if self._reader is not None:
            with self._reader_lock:
                self._reader.close()
            self._reader = None

    def _connect(self) -> sqlite3.Connection:
        connection = sqlite3.connect(
            self.path,
            isolation_level=None,  # transactions are explicit
            check_same_thread=False,
            timeout=self.busy_timeout,
        )
        try:
            connection.row_factory = sqlite3.Row
            _enable_wal(connection, self.busy_timeout)
            # FULL fsyncs the WAL on every commit: an acked notification survives power loss.
            # NORMAL (documented as weaker) survives a process crash but not an OS crash.
            connection.execute(f"PRAGMA synchronous={self.synchronous.upper()}")
            connection.execute("PRAGMA foreign_keys=ON")
        except BaseException:
            connection.close()
            raise
        return connection

    @property
    def committed_batches(self) -> int:
        """Transactions committed since ``open``; far fewer than accepts under load."""
        return 0 if self._writer is None else self._writer.committed_batches

    async def check(self) -> None:
        if self._writer is None or not self._writer.alive:
            raise StoreUnavailable("the SQLite store is not open")
        await self._read(lambda c: c.execute("SELECT 1").fetchone())

    # -- writes --------------------------------------------------------------------------------

    async def accept(self, incoming: Incoming) -> Accepted:
        return await self._require_writer().submit(lambda c: _accept(c, incoming))

    def record_ping(self, source: str, received_at: datetime) -> None:
        if self._writer is None:
            return
        params = {"source": source, "received_at": utc_text(received_at)}
        self._writer.submit_nowait(lambda c: c.execute(SQL["record_ping"], params))

    def _require_writer(self) -> GroupCommitWriter:
        if self._writer is None:
            raise StoreUnavailable("the SQLite store is not open")
        return self._writer

    # -- reads ---------------------------------------------------------------------------------

    async def _read(self, query: Callable[[sqlite3.Connection], T]) -> T:
        def run() -> T:
            if self._reader is None:
                raise StoreUnavailable("the SQLite store is not open")
            with self._reader_lock:
                try:
                    return query(self._reader)
                except sqlite3.Error as exc:
                    raise StoreUnavailable(f"SQLite read failed: {exc}") from exc

        return await asyncio.to_thread(run)

    async def list_notifications(self, query: NotificationFilter) -> list[StoredNotification]:
        sql, params = listing_sql(
            query,
            placeholder=lambda name: f":{name}",
            encode_time=utc_text,
            body_contains="instr(body, {}) > 0",  # a BLOB needle: instr compares bytes
        )
        rows = await self._read(lambda c: c.execute(sql, params).fetchall())
        return [_notification_from_row(row) for row in rows]

    async def get_notification(self, notification_id: int) -> StoredNotification | None:
        row = await self._read(
            lambda c: c.execute(SQL["get_notification"], {"id": notification_id}).fetchone()
        )
        return None if row is None else _notification_from_row(row)

    async def entity_states(self, entity: str) -> list[EntityState]:
        rows = await self._read(
            lambda c: c.execute(SQL["entity_states"], {"entity": entity}).fetchall()
        )
        return [
            EntityState(
                entity=row["entity"],
                slot=row["slot"],
                value=json.loads(row["value"]),
                event_time=parse_utc_text(row["event_time"]),
                notification_id=row["notification_id"],
            )
            for row in rows
        ]

    async def stats(self) -> InboxStats:
        def gather(c: sqlite3.Connection) -> InboxStats:
            by_status = {r["status"]: r["n"] for r in c.execute(SQL["count_by_status"])}
            by_type = {r["notification_type"]: r["n"] for r in c.execute(SQL["count_by_type"])}
            totals = c.execute(SQL["totals"]).fetchone()
            ping = c.execute(SQL["last_ping"]).fetchone()
            return InboxStats(
                total=totals["total"],
                by_status=by_status,
                by_type=by_type,
                duplicates=totals["duplicates"],
                stale=totals["stale"],
                last_ping=None if ping is None else _ping_from_row(ping),
                last_received_at=None
                if totals["last_received_at"] is None
                else parse_utc_text(totals["last_received_at"]),
            )

        return await self._read(gather)

    async def backlog(self) -> Backlog:
        def gather(c: sqlite3.Connection) -> Backlog:
            oldest = c.execute(SQL["oldest_pending"]).fetchone()
            return Backlog(
                pending=c.execute(SQL["count_pending"]).fetchone()["n"],
                oldest_pending_at=None if oldest is None else parse_utc_text(oldest[0]),
                quarantined=c.execute(SQL["count_quarantined"]).fetchone()["n"],
            )

        return await self._read(gather)

    async def last_ping(self) -> PingRecord | None:
        row = await self._read(lambda c: c.execute(SQL["last_ping"]).fetchone())
        return None if row is None else _ping_from_row(row)

    async def counts_over_time(
        self, since: datetime, until: datetime, bucket_seconds: int
    ) -> list[TypeCount]:
        check_buckets(since, until, bucket_seconds)
        params = {
            "since": utc_text(since),
            "until": utc_text(until),
            "since_epoch": int(since.timestamp()),
            "bucket": bucket_seconds,
        }
        rows = await self._read(lambda c: c.execute(SQL["counts_over_time"], params).fetchall())
        width = timedelta(seconds=bucket_seconds)
        return [
            TypeCount(since + width * r["bucket"], r["notification_type"], r["n"]) for r in rows
        ]


def _enable_wal(connection: sqlite3.Connection, timeout: float) -> None:
    # Turning a new file into WAL takes an exclusive lock, and SQLite answers "database is
    # locked" at once, without its busy handler, while another process does the same (serve and
    # worker starting together on a fresh file). Retry briefly, bounded by the busy timeout.
    deadline = time.monotonic() + timeout
    while True:
        try:
            connection.execute("PRAGMA journal_mode=WAL")
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode != sqlite3.SQLITE_BUSY or time.monotonic() >= deadline:
                raise
            time.sleep(0.005)
        else:
            return


# -- pure helpers, run on the writer or reader thread ------------------------------------------


def _accept(connection: sqlite3.Connection, incoming: Incoming) -> Accepted:
    status = NotificationStatus.QUARANTINED if incoming.quarantined else NotificationStatus.PENDING
    row = connection.execute(
        SQL["insert_notification"],
        {
            "dedup_key": incoming.dedup_key,
            "notification_type": incoming.notification_type,
            "status": status.value,
            "entity": incoming.entity,
            "event_time": None if incoming.event_time is None else utc_text(incoming.event_time),
            "received_at": utc_text(incoming.received_at),
            "source": incoming.source,
            "headers": json.dumps(list(incoming.headers)),
            "body": incoming.body,
            "error": incoming.quarantine_reason,
        },
    ).fetchone()
    notification_id, duplicates = row["id"], row["duplicates"]
    if duplicates:
        stale = bool(
            connection.execute(
                "SELECT stale FROM notifications WHERE id = ?", (notification_id,)
            ).fetchone()[0]
        )
        return Accepted(notification_id, duplicate=True, stale=stale)
    stale = _apply_state(connection, incoming, notification_id)
    return Accepted(notification_id, duplicate=False, stale=stale)


def _apply_state(connection: sqlite3.Connection, incoming: Incoming, notification_id: int) -> bool:
    """Record the state a new notification reports; return whether any of it is stale."""
    stale = False
    if incoming.entity is None:
        return stale
    for change in incoming.state_changes:
        at = utc_text(change.at)
        key = {"entity": incoming.entity, "slot": change.slot}
        known = connection.execute(SQL["get_entity_state_slot"], key).fetchone()
        if known is not None and known["event_time"] > at:
            stale = True  # Market: the later event time wins; this one lost
            continue
        connection.execute(
            SQL["put_entity_state_slot"],
            {
                **key,
                "value": json.dumps(change.value, sort_keys=True),
                "event_time": at,
                "notification_id": notification_id,
            },
        )
    if stale:
        connection.execute(SQL["mark_stale"], {"id": notification_id})
    return stale


def _ping_from_row(row: sqlite3.Row) -> PingRecord:
    return PingRecord(parse_utc_text(row["received_at"]), row["source"], row["count"])


def _notification_from_row(row: sqlite3.Row) -> StoredNotification:
    return StoredNotification(
        id=row["id"],
        dedup_key=row["dedup_key"],
        notification_type=row["notification_type"],
        status=NotificationStatus(row["status"]),
        entity=row["entity"],
        event_time=None if row["event_time"] is None else parse_utc_text(row["event_time"]),
        stale=bool(row["stale"]),
        duplicates=row["duplicates"],
        received_at=parse_utc_text(row["received_at"]),
        last_received_at=parse_utc_text(row["last_received_at"]),
        source=row["source"],
        headers=tuple((name, value) for name, value in json.loads(row["headers"])),
        body=bytes(row["body"]),
        error=row["error"],
    )
