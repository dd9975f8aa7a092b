"""An in-memory store with the same behaviour as the others, for tests and for trying things.

It keeps nothing across restarts, so it never backs a real receiver; it passes the same contract
suite as the durable backends.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from ymnotify.errors import NotFound, StoreUnavailable
from ymnotify.protocol.models import StateChange
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

_FINISHED_NOTIFICATION = (
    NotificationStatus.DONE,
    NotificationStatus.DEAD,
    NotificationStatus.UNHANDLED,
)


@dataclass(slots=True)
class _Job:
    """A job as the memory store keeps it (mutable; copied out as ``JobRecord``)."""

    id: int
    notification_id: int
    handler: str
    entity: str
    status: JobStatus
    run_at: datetime
    attempts: int = 0
    locked_by: str | None = None
    locked_until: datetime | None = None
    finished_at: datetime | None = None
    error: str | None = None
    traceback: str | None = None
    history: list[AttemptRecord] = field(default_factory=list)

    def record(self) -> JobRecord:
        return JobRecord(
            id=self.id,
            notification_id=self.notification_id,
            handler=self.handler,
            entity=self.entity,
            status=self.status,
            attempts=self.attempts,
            run_at=self.run_at,
            locked_by=self.locked_by,
            locked_until=self.locked_until,
            finished_at=self.finished_at,
            error=self.error,
            traceback=self.traceback,
            history=tuple(self.history),
        )

    def end_attempt(
        self,
        now: datetime,
        outcome: AttemptOutcome,
        error: str | None = None,
        traceback: str | None = None,
    ) -> None:
        if self.history and self.history[-1].outcome is None:
            self.history[-1] = replace(
                self.history[-1], finished_at=now, outcome=outcome, error=error, traceback=traceback
            )


class MemoryStore(Store):
    """A store in this process's memory."""

    def __init__(self) -> None:
        super().__init__()
        self._open = False
        self._lock = asyncio.Lock()
        self._rows: dict[int, StoredNotification] = {}
        self._by_key: dict[str, int] = {}
        self._state: dict[tuple[str, str], EntityState] = {}
        self._ping: PingRecord | None = None
        self._planned: set[int] = set()
        self._jobs: dict[int, _Job] = {}
        # Ids are never reused, also after a prune (as the SQL stores' sequences).
        self._last_notification_id = 0
        self._last_job_id = 0

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
            self._last_notification_id += 1
            notification_id = self._last_notification_id
            stale = self._apply_state(incoming.entity, incoming.state_changes, notification_id)
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
        self._work_arrived()
        return Accepted(notification_id, duplicate=False, stale=stale)

    def _apply_state(
        self, entity: str | None, state_changes: Sequence[StateChange], notification_id: int
    ) -> bool:
        stale = False
        if entity is None:
            return stale
        for change in state_changes:
            key = (entity, change.slot)
            known = self._state.get(key)
            if known is not None and known.event_time > change.at:
                stale = True
                continue
            self._state[key] = EntityState(
                entity,
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

    # -- jobs ----------------------------------------------------------------------------------

    async def unplanned(self, limit: int) -> list[StoredNotification]:
        await self.check()
        rows = sorted(
            (row for row in self._rows.values() if self._is_unplanned(row)), key=lambda r: r.id
        )
        return rows[:limit]

    def _is_unplanned(self, row: StoredNotification) -> bool:
        return row.status is NotificationStatus.PENDING and row.id not in self._planned

    async def plan_jobs(self, plans: Sequence[JobPlan], now: datetime) -> None:
        await self.check()
        if not plans:
            return
        async with self._lock:
            for plan in plans:
                row = self._rows.get(plan.notification_id)
                if row is None or not self._is_unplanned(row):
                    continue
                self._planned.add(row.id)
                if plan.problem is not None:
                    self._rows[row.id] = replace(
                        row, status=NotificationStatus.QUARANTINED, error=plan.problem
                    )
                    continue
                assert row.entity is not None  # every accepted notification has one
                for handler in plan.handlers:
                    self._plan_job(row.id, row.entity, handler, now)
                self._refresh_status(row.id)
        self._work_arrived()

    def _plan_job(self, notification_id: int, entity: str, handler: str, now: datetime) -> None:
        existing = next(
            (
                job
                for job in self._jobs.values()
                if job.notification_id == notification_id and job.handler == handler
            ),
            None,
        )
        if existing is None:
            self._last_job_id += 1
            job_id = self._last_job_id
            self._jobs[job_id] = _Job(
                job_id, notification_id, handler, entity, JobStatus.QUEUED, now
            )
        elif existing.status.finished:
            existing.status = JobStatus.QUEUED
            existing.attempts = 0
            existing.run_at = now
            existing.finished_at = existing.error = existing.traceback = None

    def _refresh_status(self, notification_id: int) -> None:
        if notification_id not in self._planned:
            return
        jobs = [
            (job.status, job.error is not None)
            for job in self._jobs.values()
            if job.notification_id == notification_id
        ]
        row = self._rows[notification_id]
        self._rows[notification_id] = replace(row, status=derive_status(jobs))

    async def claim_jobs(
        self,
        worker: str,
        handlers: Collection[str],
        limit: int,
        now: datetime,
        lease_until: datetime,
    ) -> list[ClaimedJob]:
        await self.check()
        async with self._lock:
            self._expire_leases(now)
            lanes: dict[tuple[str, str], list[_Job]] = {}
            for job in self._jobs.values():
                lanes.setdefault((job.handler, job.entity), []).append(job)
            first_unplanned: dict[str, int] = {}
            for row in self._rows.values():
                if row.entity is not None and self._is_unplanned(row):
                    first_unplanned[row.entity] = min(
                        row.id, first_unplanned.get(row.entity, row.id)
                    )
            candidates = [
                job
                for job in sorted(self._jobs.values(), key=lambda j: (j.notification_id, j.id))
                if job.handler in handlers
                and _claimable(job, lanes[(job.handler, job.entity)], now)
                and job.notification_id <= first_unplanned.get(job.entity, job.notification_id)
            ][: max(limit, 0)]
            claimed = []
            for job in candidates:
                job.status = JobStatus.RUNNING
                job.attempts += 1
                job.locked_by = worker
                job.locked_until = lease_until
                job.history.append(AttemptRecord(job.attempts, worker, now, None, None, None, None))
                # No status to refresh: leasing cannot change ``derive_status``.
                notification = self._rows[job.notification_id]
                claimed.append(
                    ClaimedJob(job.id, job.handler, job.attempts, lease_until, notification)
                )
            return claimed

    def _expire_leases(self, now: datetime) -> None:
        """Queue again the jobs whose workers stopped renewing their leases; the attempt is lost."""
        for job in self._jobs.values():
            if (
                job.status is JobStatus.RUNNING
                and job.locked_until is not None
                and (job.locked_until <= now)
            ):
                job.end_attempt(
                    now,
                    AttemptOutcome.LOST,
                    f"lease expired: worker {job.locked_by} stopped renewing it"
                    " (killed or cut off)",
                )
                job.status = JobStatus.QUEUED
                job.locked_by = job.locked_until = None
                job.error = lost_attempt_error(job.attempts)
                self._refresh_status(job.notification_id)

    def _held(self, job_id: int, worker: str) -> _Job | None:
        job = self._jobs.get(job_id)
        if job is None or job.status is not JobStatus.RUNNING or job.locked_by != worker:
            return None
        return job

    async def complete_job(
        self, job_id: int, worker: str, now: datetime, outcome: AttemptOutcome
    ) -> bool:
        await self.check()
        async with self._lock:
            job = self._held(job_id, worker)
            if job is None:
                return False
            job.status = (
                JobStatus.UNHANDLED if outcome is AttemptOutcome.UNHANDLED else JobStatus.DONE
            )
            job.locked_by = job.locked_until = None
            job.finished_at = now
            job.error = job.traceback = None
            job.end_attempt(now, outcome)
            self._refresh_status(job.notification_id)
        self._work_arrived()
        return True

    async def fail_job(self, job_id: int, worker: str, now: datetime, failure: JobFailure) -> bool:
        await self.check()
        async with self._lock:
            job = self._held(job_id, worker)
            if job is None:
                return False
            dead = failure.retry_at is None
            job.status = JobStatus.DEAD if dead else JobStatus.QUEUED
            job.locked_by = job.locked_until = None
            if failure.retry_at is not None:
                job.run_at = failure.retry_at
            job.finished_at = now if dead else None
            job.error = failure.error
            job.traceback = failure.traceback
            job.end_attempt(now, AttemptOutcome.FAILED, failure.error, failure.traceback)
            self._refresh_status(job.notification_id)
        if dead:
            self._work_arrived()
        return True

    async def renew_leases(
        self, worker: str, job_ids: Collection[int], until: datetime
    ) -> set[int]:
        await self.check()
        async with self._lock:
            held = set()
            for job_id in job_ids:
                job = self._held(job_id, worker)
                if job is not None:
                    job.locked_until = until
                    held.add(job_id)
            return held

    async def release_leases(
        self, worker: str, now: datetime, job_ids: Collection[int] | None = None
    ) -> int:
        await self.check()
        async with self._lock:
            chosen = list(self._jobs) if job_ids is None else list(job_ids)
            released = 0
            for job_id in chosen:
                job = self._held(job_id, worker)
                if job is None:
                    continue
                job.status = JobStatus.QUEUED
                job.attempts -= 1
                job.locked_by = job.locked_until = None
                job.run_at = now
                job.end_attempt(now, AttemptOutcome.RELEASED, "released at shutdown; not counted")
                self._refresh_status(job.notification_id)
                released += 1
        if released:
            self._work_arrived()
        return released

    async def jobs_for(self, notification_id: int) -> list[JobRecord]:
        await self.check()
        return [
            job.record()
            for job in sorted(self._jobs.values(), key=lambda j: j.id)
            if job.notification_id == notification_id
        ]

    async def requeue_dead(self, notification_id: int, now: datetime) -> int:
        await self.check()
        async with self._lock:
            count = 0
            for job in self._jobs.values():
                if job.notification_id == notification_id and job.status is JobStatus.DEAD:
                    job.status = JobStatus.QUEUED
                    job.attempts = 0
                    job.run_at = now
                    job.finished_at = job.error = job.traceback = None
                    count += 1
            if count:
                self._refresh_status(notification_id)
        if count:
            self._work_arrived()
        return count

    async def replan(self, notification_id: int) -> bool:
        await self.check()
        async with self._lock:
            row = self._rows.get(notification_id)
            if row is None or row.status not in _FINISHED_NOTIFICATION:
                return False
            self._planned.discard(notification_id)
            self._rows[notification_id] = replace(row, status=NotificationStatus.PENDING)
        self._work_arrived()
        return True

    async def requalify(self, notification_id: int, classification: Classification) -> Accepted:
        await self.check()
        async with self._lock:
            row = self._quarantined(notification_id)
            stale = self._apply_state(
                classification.entity, classification.state_changes, notification_id
            )
            self._planned.discard(notification_id)
            self._rows[notification_id] = replace(
                row,
                notification_type=classification.notification_type,
                entity=classification.entity,
                event_time=classification.event_time,
                status=NotificationStatus.PENDING,
                stale=row.stale or stale,
                error=None,
            )
        self._work_arrived()
        return Accepted(notification_id, duplicate=False, stale=stale)

    async def requarantine(self, notification_id: int, reason: str) -> None:
        await self.check()
        async with self._lock:
            row = self._quarantined(notification_id)
            self._rows[notification_id] = replace(row, error=reason)

    def _quarantined(self, notification_id: int) -> StoredNotification:
        row = self._rows.get(notification_id)
        if row is None or row.status is not NotificationStatus.QUARANTINED:
            raise NotFound(f"notification {notification_id} is not quarantined")
        return row

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

    async def job_counts(self) -> dict[JobStatus, int]:
        await self.check()
        counts: dict[JobStatus, int] = {}
        for job in self._jobs.values():
            counts[job.status] = counts.get(job.status, 0) + 1
        return counts

    async def unfinished_jobs_by_handler(self) -> dict[str, int]:
        await self.check()
        counts: dict[str, int] = {}
        for job in self._jobs.values():
            if job.status in (JobStatus.QUEUED, JobStatus.RUNNING):
                counts[job.handler] = counts.get(job.handler, 0) + 1
        return counts

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

    # -- retention -----------------------------------------------------------------------------

    def _prunable(self, selection: PruneSelection) -> list[StoredNotification]:
        busy = {job.notification_id for job in self._jobs.values() if not job.status.finished}
        busy.add(max(self._rows, default=0))  # the newest is kept, as in the SQL stores
        return sorted(
            (
                row
                for row in self._rows.values()
                if row.received_at < selection.received_before
                and row.last_received_at < selection.received_before
                and row.status in selection.statuses
                and row.id not in busy
            ),
            key=lambda row: (row.received_at, row.id),
        )

    async def count_prunable(self, selection: PruneSelection) -> dict[NotificationStatus, int]:
        await self.check()
        counts: dict[NotificationStatus, int] = {}
        for row in self._prunable(selection):
            counts[row.status] = counts.get(row.status, 0) + 1
        return counts

    async def prune(self, selection: PruneSelection, limit: int) -> dict[NotificationStatus, int]:
        await self.check()
        async with self._lock:
            doomed = self._prunable(selection)[:limit]
            counts: dict[NotificationStatus, int] = {}
            for row in doomed:
                counts[row.status] = counts.get(row.status, 0) + 1
                del self._rows[row.id]
                del self._by_key[row.dedup_key]
                self._planned.discard(row.id)
            gone = {row.id for row in doomed}
            for job_id in [j.id for j in self._jobs.values() if j.notification_id in gone]:
                del self._jobs[job_id]
            return counts


def _claimable(job: _Job, lane: list[_Job], now: datetime) -> bool:
    """Queued and due, nothing earlier in its lane unfinished, nothing in its lane running."""
    if job.status is not JobStatus.QUEUED or job.run_at > now:
        return False
    for other in lane:
        if other.id == job.id:
            continue
        earlier_queued = (
            other.notification_id < job.notification_id and other.status is JobStatus.QUEUED
        )
        if earlier_queued or other.status is JobStatus.RUNNING:
            return False
    return True


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
