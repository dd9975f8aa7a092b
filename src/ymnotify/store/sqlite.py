"""The SQLite store: one file, WAL, durable group commits, usable by several local processes.

Accepts are written on the event loop's thread in grouped, durable commits (``LoopWriter``);
other writes go through one ``GroupCommitWriter`` thread per process; reads use their own
connection in a worker thread. Several processes (``serve``, ``worker``, the CLI) may share the
file: WAL lets readers run beside the writer and ``busy_timeout`` makes writers of different
processes wait for each other instead of failing.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Collection, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from ymnotify.clock import parse_utc_text, utc_text
from ymnotify.errors import NotFound, StoreUnavailable
from ymnotify.protocol.models import StateChange
from ymnotify.store import queries
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
    derive_status,
    lost_attempt_error,
)
from ymnotify.store.listing import listing_sql
from ymnotify.store.migrate import RECEIVER_FILE
from ymnotify.store.sqlitefile import SqliteFile, SynchronousMode

T = TypeVar("T")
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
        super().__init__()
        self.file = SqliteFile(
            path,
            migrations=queries.migrations("sqlite"),
            kind=RECEIVER_FILE,
            label="SQLite store",
            synchronous=synchronous,
            busy_timeout=busy_timeout,
            loop_writer=True,  # accepts: see ``store.loopwriter``
        )

    @property
    def path(self) -> Path:
        return self.file.path

    @property
    def synchronous(self) -> SynchronousMode:
        return self.file.synchronous

    # -- lifecycle -----------------------------------------------------------------------------

    async def open(self) -> None:
        await self.file.open()

    async def migrate(self) -> tuple[int, int]:
        return await self.file.migrate()

    async def close(self) -> None:
        await self.file.close()

    @property
    def committed_batches(self) -> int:
        """Transactions committed since ``open``; far fewer than accepts under load."""
        return self.file.committed_batches

    async def check(self) -> None:
        if not self.file.alive:
            raise StoreUnavailable("the SQLite store is not open")
        await self._read(lambda c: c.execute("SELECT 1").fetchone())

    # -- writes --------------------------------------------------------------------------------

    async def accept(self, incoming: Incoming) -> Accepted:
        accepted = await self.file.write_on_loop(lambda c: _accept(c, incoming))
        self._work_arrived()
        return accepted

    def record_ping(self, source: str, received_at: datetime) -> None:
        params = {"source": source, "received_at": utc_text(received_at)}
        self.file.write_nowait(lambda c: c.execute(SQL["record_ping"], params))

    async def _write(self, operation: Callable[[sqlite3.Connection], T]) -> T:
        return await self.file.write(operation)

    # -- reads ---------------------------------------------------------------------------------

    async def _read(self, query: Callable[[sqlite3.Connection], T]) -> T:
        return await self.file.read(query)

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

    # -- jobs ----------------------------------------------------------------------------------

    async def unplanned(self, limit: int) -> list[StoredNotification]:
        rows = await self._read(lambda c: c.execute(SQL["unplanned"], {"limit": limit}).fetchall())
        return [_notification_from_row(row) for row in rows]

    async def plan_jobs(self, plans: Sequence[JobPlan], now: datetime) -> None:
        if plans:
            await self._write(lambda c: _plan_jobs(c, plans, utc_text(now)))
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
            "handlers": json.dumps(sorted(handlers)),
            "limit": limit,
            "now": utc_text(now),
            "until": utc_text(lease_until),
        }
        return await self._write(lambda c: _claim_jobs(c, params, lease_until))

    async def complete_job(
        self, job_id: int, worker: str, now: datetime, outcome: AttemptOutcome
    ) -> bool:
        status = JobStatus.UNHANDLED if outcome is AttemptOutcome.UNHANDLED else JobStatus.DONE
        params = {"id": job_id, "worker": worker, "now": utc_text(now), "status": status.value}
        done = await self._write(lambda c: _finish_job(c, params, outcome))
        if done:
            self._work_arrived()
        return done

    async def fail_job(self, job_id: int, worker: str, now: datetime, failure: JobFailure) -> bool:
        dead = failure.retry_at is None
        params = {
            "id": job_id,
            "worker": worker,
            "now": utc_text(now),
            "status": (JobStatus.DEAD if dead else JobStatus.QUEUED).value,
            "retry_at": None if failure.retry_at is None else utc_text(failure.retry_at),
            "finished_at": utc_text(now) if dead else None,
            "error": failure.error,
            "traceback": failure.traceback,
        }
        failed = await self._write(lambda c: _fail_job(c, params))
        if failed and dead:
            self._work_arrived()  # a dead job releases its lane
        return failed

    async def renew_leases(
        self, worker: str, job_ids: Collection[int], until: datetime
    ) -> set[int]:
        if not job_ids:
            return set()
        ids = list(job_ids)
        params = {"worker": worker, "until": utc_text(until)}

        def renew(c: sqlite3.Connection) -> set[int]:
            held = set()
            for job_id in ids:
                if c.execute(SQL["renew_lease"], {**params, "id": job_id}).fetchone():
                    held.add(job_id)
            return held

        return await self._write(renew)

    async def release_leases(
        self, worker: str, now: datetime, job_ids: Collection[int] | None = None
    ) -> int:
        chosen = None if job_ids is None else list(job_ids)
        released = await self._write(lambda c: _release(c, worker, utc_text(now), chosen))
        if released:
            self._work_arrived()
        return released

    async def jobs_for(self, notification_id: int) -> list[JobRecord]:
        def gather(c: sqlite3.Connection) -> tuple[list[sqlite3.Row], list[sqlite3.Row]]:
            key = {"id": notification_id}
            return (
                c.execute(SQL["jobs_for"], key).fetchall(),
                c.execute(SQL["attempts_for"], key).fetchall(),
            )

        jobs, attempts = await self._read(gather)
        history: dict[int, list[AttemptRecord]] = {}
        for row in attempts:
            history.setdefault(row["job_id"], []).append(_attempt_from_row(row))
        return [_job_from_row(row, history.get(row["id"], [])) for row in jobs]

    async def requeue_dead(self, notification_id: int, now: datetime) -> int:
        def requeue(c: sqlite3.Connection) -> int:
            count = c.execute(
                SQL["requeue_dead"], {"id": notification_id, "now": utc_text(now)}
            ).rowcount
            if count:
                _refresh_status(c, notification_id)
            return count

        count = await self._write(requeue)
        if count:
            self._work_arrived()
        return count

    async def replan(self, notification_id: int) -> bool:
        changed = await self._write(
            lambda c: c.execute(SQL["replan"], {"id": notification_id}).rowcount > 0
        )
        if changed:
            self._work_arrived()
        return changed

    async def requalify(self, notification_id: int, classification: Classification) -> Accepted:
        accepted = await self._write(lambda c: _requalify(c, notification_id, classification))
        self._work_arrived()
        return accepted

    async def requarantine(self, notification_id: int, reason: str) -> None:
        def update(c: sqlite3.Connection) -> None:
            if not c.execute(
                SQL["requarantine"], {"id": notification_id, "reason": reason}
            ).rowcount:
                raise NotFound(f"notification {notification_id} is not quarantined")

        await self._write(update)

    async def backlog(self) -> Backlog:
        def gather(c: sqlite3.Connection) -> Backlog:
            oldest = c.execute(SQL["oldest_pending"]).fetchone()
            return Backlog(
                pending=c.execute(SQL["count_pending"]).fetchone()["n"],
                oldest_pending_at=None if oldest is None else parse_utc_text(oldest[0]),
                quarantined=c.execute(SQL["count_quarantined"]).fetchone()["n"],
            )

        return await self._read(gather)

    async def job_counts(self) -> dict[JobStatus, int]:
        rows = await self._read(lambda c: c.execute(SQL["job_counts"]).fetchall())
        return {JobStatus(row["status"]): row["n"] for row in rows}

    async def unfinished_jobs_by_handler(self) -> dict[str, int]:
        rows = await self._read(lambda c: c.execute(SQL["unfinished_jobs_by_handler"]).fetchall())
        return {row["handler"]: row["n"] for row in rows}

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

    # -- retention -----------------------------------------------------------------------------

    async def count_prunable(self, selection: PruneSelection) -> dict[NotificationStatus, int]:
        params = _prune_params(selection)
        rows = await self._read(lambda c: c.execute(SQL["count_prunable"], params).fetchall())
        return {NotificationStatus(row["status"]): row["n"] for row in rows}

    async def prune(self, selection: PruneSelection, limit: int) -> dict[NotificationStatus, int]:
        params = {**_prune_params(selection), "limit": limit}

        def delete(c: sqlite3.Connection) -> dict[NotificationStatus, int]:
            doomed = c.execute(SQL["select_prunable"], params).fetchall()
            ids = {"ids": json.dumps([row["id"] for row in doomed])}
            for query in ("prune_attempts", "prune_jobs", "prune_notifications"):
                c.execute(SQL[query], ids)
            counts: dict[NotificationStatus, int] = {}
            for row in doomed:
                status = NotificationStatus(row["status"])
                counts[status] = counts.get(status, 0) + 1
            return counts

        return await self._write(delete)


def _prune_params(selection: PruneSelection) -> dict[str, Any]:
    return {
        "before": utc_text(selection.received_before),
        "statuses": json.dumps(sorted(status.value for status in selection.statuses)),
    }


# -- pure helpers, run on the writer or reader thread ------------------------------------------

# Built once: ``json.dumps`` with options builds an encoder per call, twice per accept.
_HEADERS_JSON = json.JSONEncoder()
_STATE_JSON = json.JSONEncoder(sort_keys=True)


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
            "headers": _HEADERS_JSON.encode(list(incoming.headers)),
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
    stale = _apply_state(connection, incoming.entity, incoming.state_changes, notification_id)
    return Accepted(notification_id, duplicate=False, stale=stale)


def _apply_state(
    connection: sqlite3.Connection,
    entity: str | None,
    state_changes: Sequence[StateChange],
    notification_id: int,
) -> bool:
    """Record the state a new notification reports; return whether any of it is stale."""
    stale = False
    if entity is None:
        return stale
    for change in state_changes:
        changed = connection.execute(
            SQL["put_entity_state_slot"],
            {
                "entity": entity,
                "slot": change.slot,
                "value": _STATE_JSON.encode(change.value),
                "event_time": utc_text(change.at),
                "notification_id": notification_id,
            },
        ).fetchone()
        if changed is None:
            stale = True  # Market: the later event time wins; this one lost
    if stale:
        connection.execute(SQL["mark_stale"], {"id": notification_id})
    return stale


def _plan_jobs(connection: sqlite3.Connection, plans: Sequence[JobPlan], now: str) -> None:
    for plan in plans:
        if plan.problem is not None:
            connection.execute(
                SQL["quarantine_unparseable"], {"id": plan.notification_id, "reason": plan.problem}
            )
            continue
        row = connection.execute(SQL["mark_planned"], {"id": plan.notification_id}).fetchone()
        if row is None:
            continue  # planned already (by another worker), or no longer pending
        for handler in plan.handlers:
            connection.execute(
                SQL["plan_job"],
                {
                    "notification_id": plan.notification_id,
                    "handler": handler,
                    "entity": row["entity"],
                    "now": now,
                },
            )
        _refresh_status(connection, plan.notification_id)


def _refresh_status(connection: sqlite3.Connection, notification_id: int) -> None:
    rows = connection.execute(
        SQL["job_statuses_of_notification"], {"id": notification_id}
    ).fetchall()
    if not rows or not rows[0]["planned"]:
        return  # not planned (yet, or again): it stays pending
    jobs = [(JobStatus(r["status"]), bool(r["failed"])) for r in rows if r["status"] is not None]
    status = derive_status(jobs)
    connection.execute(
        SQL["set_notification_status"], {"id": notification_id, "status": status.value}
    )


def _claim_jobs(
    connection: sqlite3.Connection, params: dict[str, Any], lease_until: datetime
) -> list[ClaimedJob]:
    _expire_leases(connection, params["now"])
    candidates = connection.execute(SQL["claimable_jobs"], params).fetchall()
    claimed = []
    for candidate in candidates:
        leased = connection.execute(
            SQL["lease_job"],
            {"id": candidate["id"], "worker": params["worker"], "until": params["until"]},
        ).fetchone()
        connection.execute(
            SQL["start_attempt"],
            {
                "job_id": leased["id"],
                "attempt": leased["attempts"],
                "worker": params["worker"],
                "now": params["now"],
            },
        )
        # No status to refresh: leasing cannot change ``derive_status`` (queued and running
        # are both unfinished; the last error stays).
        notification = connection.execute(
            SQL["get_notification"], {"id": leased["notification_id"]}
        ).fetchone()
        claimed.append(
            ClaimedJob(
                id=leased["id"],
                handler=leased["handler"],
                attempt=leased["attempts"],
                lease_until=lease_until,
                notification=_notification_from_row(notification),
            )
        )
    return claimed


def _expire_leases(connection: sqlite3.Connection, now: str) -> None:
    """Queue again the jobs whose workers stopped renewing their leases; the attempt is lost."""
    for job in connection.execute(SQL["expired_leases"], {"now": now}).fetchall():
        connection.execute(
            SQL["lose_attempt"], {"job_id": job["id"], "now": now, "worker": job["locked_by"]}
        )
        connection.execute(
            SQL["expire_lease"],
            {"id": job["id"], "error": lost_attempt_error(job["attempts"])},
        )
        _refresh_status(connection, job["notification_id"])


def _finish_job(
    connection: sqlite3.Connection, params: dict[str, Any], outcome: AttemptOutcome
) -> bool:
    row = connection.execute(SQL["finish_job"], params).fetchone()
    if row is None:
        return False
    connection.execute(
        SQL["finish_attempt"],
        {
            "job_id": params["id"],
            "now": params["now"],
            "outcome": outcome.value,
            "error": None,
            "traceback": None,
        },
    )
    _refresh_status(connection, row["notification_id"])
    return True


def _fail_job(connection: sqlite3.Connection, params: dict[str, Any]) -> bool:
    row = connection.execute(SQL["fail_job"], params).fetchone()
    if row is None:
        return False
    connection.execute(
        SQL["finish_attempt"],
        {
            "job_id": params["id"],
            "now": params["now"],
            "outcome": AttemptOutcome.FAILED.value,
            "error": params["error"],
            "traceback": params["traceback"],
        },
    )
    _refresh_status(connection, row["notification_id"])
    return True


def _release(
    connection: sqlite3.Connection, worker: str, now: str, job_ids: list[int] | None
) -> int:
    if job_ids is None:
        job_ids = [r["id"] for r in connection.execute(SQL["jobs_leased_by"], {"worker": worker})]
    released = 0
    for job_id in job_ids:
        row = connection.execute(
            SQL["release_job"], {"id": job_id, "worker": worker, "now": now}
        ).fetchone()
        if row is None:
            continue
        connection.execute(
            SQL["finish_attempt"],
            {
                "job_id": job_id,
                "now": now,
                "outcome": AttemptOutcome.RELEASED.value,
                "error": "released at shutdown; not counted",
                "traceback": None,
            },
        )
        _refresh_status(connection, row["notification_id"])
        released += 1
    return released


def _requalify(
    connection: sqlite3.Connection, notification_id: int, classification: Classification
) -> Accepted:
    event_time = classification.event_time
    updated = connection.execute(
        SQL["requalify"],
        {
            "id": notification_id,
            "notification_type": classification.notification_type,
            "entity": classification.entity,
            "event_time": None if event_time is None else utc_text(event_time),
        },
    ).rowcount
    if not updated:
        raise NotFound(f"notification {notification_id} is not quarantined")
    stale = _apply_state(
        connection, classification.entity, classification.state_changes, notification_id
    )
    return Accepted(notification_id, duplicate=False, stale=stale)


def _job_from_row(row: sqlite3.Row, history: list[AttemptRecord]) -> JobRecord:
    return JobRecord(
        id=row["id"],
        notification_id=row["notification_id"],
        handler=row["handler"],
        entity=row["entity"],
        status=JobStatus(row["status"]),
        attempts=row["attempts"],
        run_at=parse_utc_text(row["run_at"]),
        locked_by=row["locked_by"],
        locked_until=_optional_time(row["locked_until"]),
        finished_at=_optional_time(row["finished_at"]),
        error=row["error"],
        traceback=row["traceback"],
        history=tuple(history),
    )


def _attempt_from_row(row: sqlite3.Row) -> AttemptRecord:
    return AttemptRecord(
        attempt=row["attempt"],
        worker=row["worker"],
        started_at=parse_utc_text(row["started_at"]),
        finished_at=_optional_time(row["finished_at"]),
        outcome=None if row["outcome"] is None else AttemptOutcome(row["outcome"]),
        error=row["error"],
        traceback=row["traceback"],
    )


def _optional_time(text: str | None) -> datetime | None:
    return None if text is None else parse_utc_text(text)


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
