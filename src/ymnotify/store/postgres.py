"""The PostgreSQL store: many receivers and workers on many machines share one database.

psycopg 3 with an async connection pool. Each accept is one transaction with
``synchronous_commit = on`` (forced per connection, whatever the server's default), so a 200 is
sent only after the commit is flushed. It is one call of ``ymnotify_accept`` (migration 0004)
in autocommit, as a worker's ending of a job is one call of ``ymnotify_end_job`` (0003): round
trips were most of what the process spent on PostgreSQL. PostgreSQL itself batches concurrent
commits into shared WAL flushes, so no group-commit layer is needed here. When the database goes
away, operations raise ``StoreUnavailable`` (the receiver answers 500) and the pool reconnects
by itself.

Work wake-ups: a process that adds work (an accept, new jobs, a finished job that frees its lane)
sends ``NOTIFY ymnotify_work`` after the commit, and every process with a worker keeps one
dedicated ``LISTEN`` connection that wakes its worker at once and reconnects by itself. The
NOTIFY is deliberately not part of the accept transaction: PostgreSQL serialises the commits of
notifying transactions on one lock held through the WAL flush, which cut the measured accept
throughput to between a third and a half (see docs/architecture.md). Announcements are
coalesced (at most one in flight per process), and polling stays the safety net for one lost
between a commit and a crash.

Per-entity order: an accept with an entity takes a transaction-level advisory lock on it before
its id is drawn, so the accepts of one entity commit in id order even on several receivers, and
a worker never sees a later notification of an entity before an earlier one.

The schema is never changed implicitly: ``open`` refuses a database that is behind and asks
for ``ymnotify db migrate``, so that upgrading many processes is a deliberate step.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import select
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from ymnotify.errors import NotFound, SchemaMismatch, StoreUnavailable
from ymnotify.protocol.models import StateChange
from ymnotify.store import queries, redacted_url
from ymnotify.store.base import (
    Accepted,
    AttemptOutcome,
    AttemptRecord,
    Backlog,
    ClaimedJob,
    Classification,
    EntityState,
    InboxStats,
    Incoming,
    JobFailure,
    JobPlan,
    JobRecord,
    JobStatus,
    NotificationFilter,
    NotificationStatus,
    PingRecord,
    PruneSelection,
    Store,
    StoredNotification,
    TypeCount,
    check_buckets,
    lost_attempt_error,
)
from ymnotify.store.listing import listing_sql

T = TypeVar("T")
SQL = queries.load("postgresql")
Connection = psycopg.AsyncConnection[dict[str, Any]]

# Serialises migrations of concurrent `db migrate` runs (an arbitrary, fixed lock id).
_MIGRATION_LOCK = 7_276_105_111_116
WORK_CHANNEL = "ymnotify_work"
# Announce work to other processes: one statement, its own transaction (autocommit). Nothing
# depends on its commit surviving a crash, so it does not wait for its WAL flush
# (set_config(..., true) is SET LOCAL, and the commit at the statement's end follows it).
_NOTIFY = (
    "SELECT set_config('synchronous_commit', 'off', true) AS sync,"
    " pg_notify(%(channel)s, %(token)s) AS sent"
)
# How long the listening connection waits for a notification before it checks that the server
# still answers (a silently dead TCP connection would otherwise be waited on for ever).
_LISTEN_CHECK_EVERY = 10.0
_RECONNECT_DELAYS = (0.1, 0.2, 0.5, 1.0)  # then every second until the database is back
logger = logging.getLogger("ymnotify.store")


@dataclass(frozen=True, slots=True)
class _JobEnding:
    """How a worker ends a job it holds: the arguments of ``ymnotify_end_job``."""

    job_id: int
    worker: str
    now: datetime
    status: JobStatus  # done, unhandled, dead, or queued again for a retry
    finished_at: datetime | None  # None while it may run again
    outcome: AttemptOutcome
    retry_at: datetime | None
    error: str | None = None
    traceback: str | None = None


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
        super().__init__()
        self.url = url
        self.acquire_timeout = acquire_timeout
        self._pool = AsyncConnectionPool(
            url,
            min_size=min_connections,
            max_size=max_connections,
            open=False,
            kwargs={"row_factory": dict_row, "connect_timeout": max(2, int(acquire_timeout))},
            configure=_configure,
            check=_check_connection,
            # A failed background reconnect gives up at once instead of backing off for minutes;
            # the next request grows the pool again, so service resumes as soon as the database
            # answers (measured by tests/integration/test_postgres_faults.py).
            reconnect_timeout=0,
        )
        self._background: set[asyncio.Task[None]] = set()
        # Tells this process's own announcements apart when they come back on its LISTEN.
        self._token = uuid.uuid4().hex
        self._announcing: asyncio.Task[None] | None = None
        self._announce_again = False
        self._listening: asyncio.Task[None] | None = None
        self.listener_connects = 0  # LISTEN connections made (1 + reconnections)

    # -- lifecycle -----------------------------------------------------------------------------

    async def open(self) -> None:
        await self._open_pool()
        current, latest = await self.schema_versions()
        if current != latest:
            await self._pool.close()
            if current < latest:
                fix = f"run: ymnotify db migrate --db {redacted_url(self.url)}"
                relation = "behind"
            else:  # migrated by a newer ymnotify: only an upgrade helps
                fix, relation = "upgrade ymnotify", "ahead of this ymnotify"
            raise SchemaMismatch(
                f"PostgreSQL schema is at version {current}, {relation} (this ymnotify needs"
                f" {latest}); {fix}",
                found=current,
                expected=latest,
            )

    async def _open_pool(self) -> None:
        try:
            await self._pool.open(wait=True, timeout=self.acquire_timeout)
        except PoolTimeout as exc:
            raise StoreUnavailable(
                f"cannot connect to PostgreSQL at {redacted_url(self.url)} within"
                f" {self.acquire_timeout:g}s"
            ) from exc

    async def close(self) -> None:
        self._stop_listening()
        tasks = [*self._background, *filter(None, (self._announcing, self._listening))]
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        self._listening = None
        await self._pool.close()

    # -- wake-ups across processes -------------------------------------------------------------

    def subscribe_work(self, listener: Callable[[], None]) -> Callable[[], None]:
        """As ``Store.subscribe_work``; the first subscriber also starts this process's LISTEN
        connection, so work added by other processes wakes it at once."""
        unsubscribe = super().subscribe_work(listener)
        if self._listening is None or self._listening.done():
            self._listening = asyncio.create_task(self._listen(), name="ymnotify LISTEN")

        def unsubscribe_and_maybe_stop() -> None:
            unsubscribe()
            if not self._work_listeners:
                self._stop_listening()

        return unsubscribe_and_maybe_stop

    def _stop_listening(self) -> None:
        if self._listening is not None:
            self._listening.cancel()

    def _work_arrived(self) -> None:
        super()._work_arrived()
        self._announce()

    def _announce(self) -> None:
        """Send one NOTIFY soon; calls while one is being sent make one more after it."""
        if self._announcing is not None and not self._announcing.done():
            self._announce_again = True
            return
        self._announce_again = False
        self._announcing = asyncio.create_task(self._send_announcements(), name="ymnotify NOTIFY")

    async def _send_announcements(self) -> None:
        while True:
            try:
                await self._alone(_NOTIFY, {"channel": WORK_CHANNEL, "token": self._token})
            except StoreUnavailable as exc:
                # The work is stored; other workers find it by polling once the database is back.
                logger.debug("could not announce new work: %s", exc)
            if not self._announce_again:
                return
            self._announce_again = False

    async def _listen(self) -> None:
        """Keep a LISTEN connection open for good; wake local listeners on every announcement
        from another process, and once after each (re)connection for what was missed."""
        failures = 0
        while True:
            try:
                connection = await psycopg.AsyncConnection.connect(
                    self.url, autocommit=True, connect_timeout=max(2, int(self.acquire_timeout))
                )
                async with connection:
                    await connection.execute(f"LISTEN {WORK_CHANNEL}")
                    self.listener_connects += 1
                    if failures:
                        logger.info("listening for new work again (PostgreSQL is back)")
                    failures = 0
                    # Store._work_arrived: wake this process only; announcing what was heard
                    # would echo between processes for ever.
                    super()._work_arrived()
                    while True:
                        async for note in connection.notifies(timeout=_LISTEN_CHECK_EVERY):
                            if note.payload != self._token:
                                super()._work_arrived()
                        await connection.execute("SELECT 1")
            except (psycopg.Error, OSError) as exc:
                if not failures:
                    logger.warning("lost the LISTEN connection (%s); polling until it is back", exc)
                delay = _RECONNECT_DELAYS[min(failures, len(_RECONNECT_DELAYS) - 1)]
                failures += 1
                await asyncio.sleep(delay)

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

        return await self._transaction(_read_schema_version), queries.migrations("postgresql")[-1][
            0
        ]

    async def check(self) -> None:
        await self._transaction(lambda c: c.execute("SELECT 1"))

    # -- plumbing ------------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _connection(self) -> AsyncIterator[Connection]:
        """A pooled connection; every database failure in the block becomes ``StoreUnavailable``."""
        try:
            async with self._pool.connection(timeout=self.acquire_timeout) as connection:
                yield connection
        except PoolTimeout as exc:
            raise StoreUnavailable(
                f"no PostgreSQL connection within {self.acquire_timeout:g}s"
            ) from exc
        except psycopg.Error as exc:
            raise StoreUnavailable(f"PostgreSQL failed: {exc}") from exc

    async def _transaction(self, work: Callable[[Connection], Awaitable[T]]) -> T:
        """Run ``work`` in one transaction."""
        async with self._connection() as connection, connection.transaction():
            return await work(connection)

    async def _alone(self, sql: str, params: dict[str, Any]) -> dict[str, Any]:
        """Run one statement that returns one row as a transaction of its own, in one round
        trip (``_transaction`` adds a BEGIN and a COMMIT, a round trip each)."""
        async with self._connection() as connection:
            await connection.set_autocommit(True)
            try:
                row = await (await connection.execute(sql, params)).fetchone()
            finally:
                # A connection psycopg closed (a cancel it could not deliver, a backend that
                # went away) is discarded by the pool; restoring autocommit on it would raise
                # and hide the cancellation or the server's own error.
                if not connection.closed:
                    await connection.set_autocommit(False)
        assert row is not None  # the statement returns one row by construction
        return row

    # -- writes --------------------------------------------------------------------------------

    async def accept(self, incoming: Incoming) -> Accepted:
        # Market waits 10 s: a lock held by a migration, a failover or a frozen network must
        # turn into a 500 (and Market's retry) within the timeout, not hold the request. A
        # connection abandoned mid-statement is discarded by the pool; if its COMMIT did land,
        # the retry is a duplicate and answered 200.
        try:
            async with asyncio.timeout(self.acquire_timeout):
                row = await self._alone(SQL["accept"], _accept_params(incoming))
        except TimeoutError as exc:
            raise StoreUnavailable(
                f"PostgreSQL did not store the notification within {self.acquire_timeout:g}s"
            ) from exc
        self._work_arrived()
        return Accepted(row["id"], duplicate=row["duplicate"], stale=row["stale"])

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

    async def job_counts(self) -> dict[JobStatus, int]:
        rows = await self._fetch(SQL["job_counts"], {})
        return {JobStatus(row["status"]): row["n"] for row in rows}

    async def unfinished_jobs_by_handler(self) -> dict[str, int]:
        rows = await self._fetch(SQL["unfinished_jobs_by_handler"], {})
        return {row["handler"]: row["n"] for row in rows}

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

    # -- jobs ----------------------------------------------------------------------------------
    # Workers of many processes claim at once: claims lock the rows they take and skip rows
    # others are taking; a notification's status is derived only under its row lock.

    async def unplanned(self, limit: int) -> list[StoredNotification]:
        async def read(connection: Connection) -> list[dict[str, Any]]:
            await connection.execute(SQL["walk_queues_in_order"])  # see the SQL
            return await (await connection.execute(SQL["unplanned"], {"limit": limit})).fetchall()

        return [_notification_from_row(row) for row in await self._transaction(read)]

    async def plan_jobs(self, plans: Sequence[JobPlan], now: datetime) -> None:
        if plans:
            await self._transaction(lambda c: _plan_jobs(c, plans, now))
            self._work_arrived()

    async def claim_jobs(
        self,
        worker: str,
        handlers: Collection[str],
        limit: int,
        now: datetime,
        lease_until: datetime,
    ) -> list[ClaimedJob]:
        if limit < 1 or not handlers:
            return []
        params = {
            "worker": worker,
            "handlers": sorted(handlers),
            "limit": limit,
            "now": now,
            "until": lease_until,
        }
        return await self._transaction(lambda c: _claim_jobs(c, params))

    async def complete_job(
        self, job_id: int, worker: str, now: datetime, outcome: AttemptOutcome
    ) -> bool:
        status = JobStatus.UNHANDLED if outcome is AttemptOutcome.UNHANDLED else JobStatus.DONE
        ending = _JobEnding(
            job_id, worker, now, status, finished_at=now, outcome=outcome, retry_at=None
        )
        done = await self._end_job(ending)
        if done:
            self._work_arrived()
        return done

    async def fail_job(self, job_id: int, worker: str, now: datetime, failure: JobFailure) -> bool:
        dead = failure.retry_at is None
        ending = _JobEnding(
            job_id,
            worker,
            now,
            JobStatus.DEAD if dead else JobStatus.QUEUED,
            finished_at=now if dead else None,
            outcome=AttemptOutcome.FAILED,
            retry_at=failure.retry_at,
            error=failure.error,
            traceback=failure.traceback,
        )
        failed = await self._end_job(ending)
        if failed and dead:
            self._work_arrived()  # a dead job releases its lane
        return failed

    async def _end_job(self, ending: _JobEnding) -> bool:
        """One call of ``ymnotify_end_job`` (migration 0003), a transaction of its own."""
        params = {
            "id": ending.job_id,
            "worker": ending.worker,
            "now": ending.now,
            "status": ending.status.value,
            "retry_at": ending.retry_at,
            "finished_at": ending.finished_at,
            "error": ending.error,
            "traceback": ending.traceback,
            "outcome": ending.outcome.value,
        }
        row = await self._alone(SQL["end_job"], params)
        return bool(row["ended"])

    async def renew_leases(
        self, worker: str, job_ids: Collection[int], until: datetime
    ) -> set[int]:
        if not job_ids:
            return set()
        params = {"worker": worker, "until": until, "ids": list(job_ids)}
        return {row["id"] for row in await self._fetch(SQL["renew_leases"], params)}

    async def release_leases(
        self, worker: str, now: datetime, job_ids: Collection[int] | None = None
    ) -> int:
        chosen = None if job_ids is None else list(job_ids)
        released = await self._transaction(lambda c: _release(c, worker, now, chosen))
        if released:
            self._work_arrived()
        return released

    async def jobs_for(self, notification_id: int) -> list[JobRecord]:
        async def gather(
            connection: Connection,
        ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
            key = {"id": notification_id}
            jobs = await (await connection.execute(SQL["jobs_for"], key)).fetchall()
            attempts = await (await connection.execute(SQL["attempts_for"], key)).fetchall()
            return jobs, attempts

        jobs, attempts = await self._transaction(gather)
        history: dict[int, list[AttemptRecord]] = {}
        for row in attempts:
            history.setdefault(row["job_id"], []).append(_attempt_from_row(row))
        return [_job_from_row(row, history.get(row["id"], [])) for row in jobs]

    async def requeue_dead(self, notification_id: int, now: datetime) -> int:
        async def requeue(connection: Connection) -> int:
            ids = {"ids": [notification_id]}
            await connection.execute(SQL["lock_jobs_of_notifications"], ids)  # before the row
            await connection.execute(SQL["lock_notifications"], ids)
            cursor = await connection.execute(
                SQL["requeue_dead"], {"id": notification_id, "now": now}
            )
            if cursor.rowcount:
                await _refresh_statuses(connection, [notification_id])
            return cursor.rowcount

        count = await self._transaction(requeue)
        if count:
            self._work_arrived()
        return count

    async def replan(self, notification_id: int) -> bool:
        async def replan(connection: Connection) -> bool:
            cursor = await connection.execute(SQL["replan"], {"id": notification_id})
            return cursor.rowcount > 0

        changed = await self._transaction(replan)
        if changed:
            self._work_arrived()
        return changed

    async def requalify(self, notification_id: int, classification: Classification) -> Accepted:
        accepted = await self._transaction(lambda c: _requalify(c, notification_id, classification))
        self._work_arrived()
        return accepted

    async def requarantine(self, notification_id: int, reason: str) -> None:
        async def update(connection: Connection) -> None:
            cursor = await connection.execute(
                SQL["requarantine"], {"id": notification_id, "reason": reason}
            )
            if not cursor.rowcount:
                raise NotFound(f"notification {notification_id} is not quarantined")

        await self._transaction(update)

    # -- retention -----------------------------------------------------------------------------

    async def count_prunable(self, selection: PruneSelection) -> dict[NotificationStatus, int]:
        rows = await self._fetch(SQL["count_prunable"], _prune_params(selection))
        return {NotificationStatus(row["status"]): row["n"] for row in rows}

    async def prune(self, selection: PruneSelection, limit: int) -> dict[NotificationStatus, int]:
        params = {**_prune_params(selection), "limit": limit}

        async def delete(connection: Connection) -> dict[NotificationStatus, int]:
            cursor = await connection.execute(SQL["lock_prunable"], params)
            doomed = await cursor.fetchall()
            ids = {"ids": [row["id"] for row in doomed]}
            for query in ("prune_attempts", "prune_jobs", "prune_notifications"):
                await connection.execute(SQL[query], ids)
            counts: dict[NotificationStatus, int] = {}
            for row in doomed:
                status = NotificationStatus(row["status"])
                counts[status] = counts.get(status, 0) + 1
            return counts

        return await self._transaction(delete)


def _prune_params(selection: PruneSelection) -> dict[str, Any]:
    return {
        "before": selection.received_before,
        "statuses": sorted(status.value for status in selection.statuses),
    }


async def _check_connection(connection: Connection) -> None:
    """The pool's check of a connection it hands out.

    Asking the server every time (a round trip per accept) cost ~10 % of the receiver's CPU per
    request. An idle connection has nothing to read; a backend that was terminated, or a server
    that went away, shows as something to read on its socket (the server's last error, or the end
    of the stream). So only then is the server asked, and a dead connection is replaced before a
    request uses it, as before."""
    if connection.closed or connection.broken or _has_input(connection.fileno()):
        await AsyncConnectionPool.check_connection(connection)


def _has_input(descriptor: int) -> bool:
    poller = select.poll()
    poller.register(descriptor, select.POLLIN)
    return bool(poller.poll(0))  # a hang-up or an error counts too


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


async def _read_schema_version(connection: Connection) -> int:
    """The schema version, 0 where no migration ever ran. Reads only: processes may run as a
    role with rights on the tables alone, and a mistyped --db must not get a table of ours."""
    cursor = await connection.execute("SELECT to_regclass('ymnotify_schema') IS NOT NULL AS ours")
    found = await cursor.fetchone()
    if found is None or not found["ours"]:
        return 0
    row = await (await connection.execute("SELECT version FROM ymnotify_schema")).fetchone()
    return 0 if row is None else int(row["version"])


async def _schema_version(connection: Connection) -> int:
    row = await (await connection.execute("SELECT version FROM ymnotify_schema")).fetchone()
    assert row is not None
    return int(row["version"])


def _accept_params(incoming: Incoming) -> dict[str, Any]:
    """The arguments of ``ymnotify_accept`` (migration 0004) for ``incoming``."""
    status = NotificationStatus.QUARANTINED if incoming.quarantined else NotificationStatus.PENDING
    return {
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
        **_state_arrays(incoming.state_changes),
    }


def _state_arrays(changes: Sequence[StateChange]) -> dict[str, list[Any]]:
    """State changes as the slot, value and time arrays of ``ymnotify_put_state``."""
    return {
        "slots": [change.slot for change in changes],
        "values": [json.dumps(change.value, sort_keys=True) for change in changes],
        "times": [change.at for change in changes],
    }


async def _plan_jobs(connection: Connection, plans: Sequence[JobPlan], now: datetime) -> None:
    """Plan a batch in a few statements whatever its size: the worker's loop plans and claims
    in turn, so a statement per notification here was a round trip the claims waited for."""
    ids = [plan.notification_id for plan in plans]
    await connection.execute(SQL["lock_jobs_of_notifications"], {"ids": ids})  # see the SQL
    # In id order, before the batch UPDATE below takes them in whatever order it scans them.
    await connection.execute(SQL["lock_notifications"], {"ids": ids})
    for plan in plans:
        if plan.problem is not None:  # rare: a body that no longer parses, a filter that raised
            await connection.execute(
                SQL["quarantine_unparseable"], {"id": plan.notification_id, "reason": plan.problem}
            )
    to_plan = [plan for plan in plans if plan.problem is None]
    if not to_plan:
        return
    marked = await connection.execute(
        SQL["mark_planned"], {"ids": [plan.notification_id for plan in to_plan]}
    )
    # Not marked: planned already (by another worker), or no longer pending.
    entity_of = {row["id"]: row["entity"] for row in await marked.fetchall()}
    jobs = [
        (plan.notification_id, handler, entity_of[plan.notification_id])
        for plan in to_plan
        if plan.notification_id in entity_of
        for handler in dict.fromkeys(plan.handlers)  # one job per handler name
    ]
    if jobs:
        notification_ids, handlers, entities = (list(column) for column in zip(*jobs, strict=True))
        await connection.execute(
            SQL["plan_jobs"],
            {
                "notification_ids": notification_ids,
                "handlers": handlers,
                "entities": entities,
                "now": now,
            },
        )
    await _refresh_statuses(connection, list(entity_of))


async def _refresh_statuses(connection: Connection, notification_ids: Collection[int]) -> None:
    """Derive each planned notification's status from its jobs (in SQL, ``ymnotify_status_of``):
    two statements for any number of notifications, the second reading the jobs after the
    first has locked the notifications."""
    ids = sorted(set(notification_ids))
    if ids:
        await connection.execute(SQL["lock_notifications"], {"ids": ids})
        await connection.execute(SQL["refresh_statuses"], {"ids": ids})


async def _claim_jobs(connection: Connection, params: dict[str, Any]) -> list[ClaimedJob]:
    """Claim in a fixed number of statements whatever the number of jobs."""
    now = params["now"]
    await connection.execute(SQL["walk_queues_in_order"])  # see the SQL
    expired = await (await connection.execute(SQL["expired_leases"], {"now": now})).fetchall()
    for job in sorted(expired, key=lambda j: j["notification_id"]):
        await connection.execute(
            SQL["lose_attempt"], {"job_id": job["id"], "now": now, "worker": job["locked_by"]}
        )
        await connection.execute(
            SQL["expire_lease"], {"id": job["id"], "error": lost_attempt_error(job["attempts"])}
        )
    await _refresh_statuses(connection, [job["notification_id"] for job in expired])
    claimed = await (await connection.execute(SQL["claim_jobs"], params)).fetchall()
    # No status to refresh: queued and running are both unfinished and the lease keeps the
    # last error, so ``derive_status`` gives each notification what it had.
    claimed.sort(key=lambda row: (row["id"], row["job_id"]))  # notification order, then job
    return [
        ClaimedJob(
            id=row["job_id"],
            handler=row["handler"],
            attempt=row["attempts"],
            lease_until=params["until"],
            notification=_notification_from_row(row),
        )
        for row in claimed
    ]


async def _release(
    connection: Connection, worker: str, now: datetime, job_ids: list[int] | None
) -> int:
    if job_ids is None:
        leased = await connection.execute(SQL["jobs_leased_by"], {"worker": worker})
        job_ids = [row["id"] for row in await leased.fetchall()]
    released: list[int] = []  # their notifications
    for job_id in job_ids:
        row = await (
            await connection.execute(
                SQL["release_job"], {"id": job_id, "worker": worker, "now": now}
            )
        ).fetchone()
        if row is None:
            continue
        await connection.execute(
            SQL["finish_attempt"],
            {
                "job_id": job_id,
                "now": now,
                "outcome": AttemptOutcome.RELEASED.value,
                "error": "released at shutdown; not counted",
                "traceback": None,
            },
        )
        released.append(row["notification_id"])
    await _refresh_statuses(connection, released)
    return len(released)


async def _requalify(
    connection: Connection, notification_id: int, classification: Classification
) -> Accepted:
    cursor = await connection.execute(
        SQL["requalify"],
        {
            "id": notification_id,
            "notification_type": classification.notification_type,
            "entity": classification.entity,
            "event_time": classification.event_time,
        },
    )
    if not cursor.rowcount:
        raise NotFound(f"notification {notification_id} is not quarantined")
    params = {
        "entity": classification.entity,
        "id": notification_id,
        **_state_arrays(classification.state_changes),
    }
    row = await (await connection.execute(SQL["put_state"], params)).fetchone()
    assert row is not None  # the statement returns one row by construction
    return Accepted(notification_id, duplicate=False, stale=row["stale"])


def _job_from_row(row: dict[str, Any], history: list[AttemptRecord]) -> JobRecord:
    return JobRecord(
        id=row["id"],
        notification_id=row["notification_id"],
        handler=row["handler"],
        entity=row["entity"],
        status=JobStatus(row["status"]),
        attempts=row["attempts"],
        run_at=row["run_at"],
        locked_by=row["locked_by"],
        locked_until=row["locked_until"],
        finished_at=row["finished_at"],
        error=row["error"],
        traceback=row["traceback"],
        history=tuple(history),
    )


def _attempt_from_row(row: dict[str, Any]) -> AttemptRecord:
    return AttemptRecord(
        attempt=row["attempt"],
        worker=row["worker"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        outcome=None if row["outcome"] is None else AttemptOutcome(row["outcome"]),
        error=row["error"],
        traceback=row["traceback"],
    )


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
