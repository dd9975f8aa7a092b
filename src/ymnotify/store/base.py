"""The storage contract of the receiver, and the records it deals in.

A store keeps every notification the receiver accepted (raw body, headers, source, times), the
malformed ones in quarantine, the latest known state of each entity, the last PING, and the jobs
that run the seller's handlers on each notification (see "Jobs" below). Backends
(``sqlite``, ``memory``, later ``postgres``) differ only in how; the contract suite in
``tests/store`` holds each of them to the same behaviour.

The one promise everything rests on: when ``accept`` returns, the notification is durable.

Jobs. A worker *plans* each pending notification once, in id order: one job per matching handler
(``plan_jobs``), or none (the notification becomes ``unhandled``). A job's *lane* is (handler,
entity): ``claim_jobs`` hands out a job only when no earlier job of its lane is unfinished, no
later one is running, and no earlier notification of its entity is still unplanned, so the jobs
of one lane run one at a time in notification-id order across every worker and process. A claim
is a lease: the worker renews it while the handler runs; an expired lease makes the job
claimable again (its attempt recorded as lost). A job waiting for a retry keeps its lane; a dead
job releases it. The notification's status is derived from its jobs (``derive_status``).
"""

from __future__ import annotations

import abc
import enum
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
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


class JobStatus(enum.StrEnum):
    """Where one handler's job for one notification stands."""

    QUEUED = "queued"  # waits for its run time (a retry has an error and a later run time)
    RUNNING = "running"  # leased by a worker
    DONE = "done"  # the handler returned
    UNHANDLED = "unhandled"  # the handler (or a middleware) declined it with UNHANDLED
    DEAD = "dead"  # failed on its last attempt; kept with its error until replayed

    @property
    def finished(self) -> bool:
        return self in (JobStatus.DONE, JobStatus.UNHANDLED, JobStatus.DEAD)


class AttemptOutcome(enum.StrEnum):
    """How one attempt of a job ended."""

    DONE = "done"
    UNHANDLED = "unhandled"
    FAILED = "failed"  # raised or timed out
    LOST = "lost"  # its worker stopped renewing the lease (killed, frozen, cut off)
    RELEASED = "released"  # its worker shut down and gave the job back; not counted


def derive_status(jobs: Iterable[tuple[JobStatus, bool]]) -> NotificationStatus:
    """A planned notification's status from its jobs' ``(status, last attempt failed)``.

    Dead wins (someone must look), then a pending retry, then work still to do; a notification
    whose every job declined (or that has no job) is unhandled.
    """
    statuses = [(status, failed) for status, failed in jobs]
    if any(status is JobStatus.DEAD for status, _ in statuses):
        return NotificationStatus.DEAD
    unfinished = [failed for status, failed in statuses if not status.finished]
    if any(unfinished):
        return NotificationStatus.RETRYING
    if unfinished:
        return NotificationStatus.PENDING
    if any(status is JobStatus.DONE for status, _ in statuses):
        return NotificationStatus.DONE
    return NotificationStatus.UNHANDLED


def lost_attempt_error(attempt: int) -> str:
    """The error a job keeps when attempt ``attempt`` was lost with its worker."""
    return f"attempt {attempt} lost: its worker stopped renewing the lease"


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


PRUNABLE_STATUSES = frozenset(
    {
        NotificationStatus.DONE,
        NotificationStatus.UNHANDLED,
        NotificationStatus.DEAD,
        NotificationStatus.QUARANTINED,
    }
)


@dataclass(frozen=True, slots=True)
class PruneSelection:
    """What ``prune`` deletes: notifications received, and last received again, before
    ``received_before``, in one of ``statuses``, with no job still queued or running. The
    newest notification is always kept: SQLite numbers a new row after the highest id left, and
    a reused id would name two notifications to handlers that key on it.

    Only finished statuses may be named: pending and retrying notifications are never pruned.
    """

    received_before: datetime
    statuses: frozenset[NotificationStatus] = frozenset(
        {NotificationStatus.DONE, NotificationStatus.UNHANDLED}
    )

    def __post_init__(self) -> None:
        unfinished = self.statuses - PRUNABLE_STATUSES
        if unfinished:
            names = ", ".join(sorted(status.value for status in unfinished))
            raise ValueError(f"prune: {names} notifications are not finished; never pruned")


@dataclass(frozen=True, slots=True)
class Classification:
    """What parsing a body tells the store: type, entity (lane), event time, state reported."""

    notification_type: str
    entity: str
    event_time: datetime | None
    state_changes: tuple[StateChange, ...] = ()


@dataclass(frozen=True, slots=True)
class JobPlan:
    """The jobs of one notification: one per matching handler name (none: unhandled).

    ``problem`` set means the stored body no longer parses; the notification is quarantined
    with that reason instead.
    """

    notification_id: int
    handlers: tuple[str, ...] = ()
    problem: str | None = None


@dataclass(frozen=True, slots=True)
class ClaimedJob:
    """A job leased to a worker, with the notification it is for."""

    id: int
    handler: str
    attempt: int  # 1 for the first run; counts lost attempts, not released ones
    lease_until: datetime
    notification: StoredNotification


@dataclass(frozen=True, slots=True)
class JobFailure:
    """A failed attempt: what went wrong, and when to try again (``None``: dead-letter it)."""

    error: str
    traceback: str
    retry_at: datetime | None


@dataclass(frozen=True, slots=True)
class AttemptRecord:
    """One attempt of a job, as the store keeps it for ``inbox show``."""

    attempt: int
    worker: str
    started_at: datetime
    finished_at: datetime | None
    outcome: AttemptOutcome | None  # None: running now
    error: str | None
    traceback: str | None


@dataclass(frozen=True, slots=True)
class JobRecord:
    """One handler's job for one notification, with its attempts."""

    id: int
    notification_id: int
    handler: str
    entity: str
    status: JobStatus
    attempts: int
    run_at: datetime
    locked_by: str | None
    locked_until: datetime | None
    finished_at: datetime | None
    error: str | None
    traceback: str | None
    history: tuple[AttemptRecord, ...]


class Store(abc.ABC):
    """The storage contract. All methods are coroutines; ``open`` must be awaited first."""

    def __init__(self) -> None:
        self._work_listeners: list[Callable[[], None]] = []

    def subscribe_work(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call ``listener`` whenever this process adds work (an accept, a replay, a finished
        job that may unblock its lane); returns the function that unsubscribes it.

        Work added by other processes is found by polling (SQLite) or by a notification channel
        in backends that have one.
        """
        self._work_listeners.append(listener)
        return lambda: self._work_listeners.remove(listener)

    def _work_arrived(self) -> None:
        for listener in list(self._work_listeners):
            listener()

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

    # -- jobs ----------------------------------------------------------------------------------

    @abc.abstractmethod
    async def unplanned(self, limit: int) -> list[StoredNotification]:
        """Pending notifications that have no jobs planned yet, oldest first."""

    @abc.abstractmethod
    async def plan_jobs(self, plans: Sequence[JobPlan], now: datetime) -> None:
        """Create the jobs of each notification (idempotent: a notification already planned is
        left alone, so two workers planning at once create each job once). Re-planning after
        ``replan`` re-queues the matching jobs that had finished and adds missing ones."""

    @abc.abstractmethod
    async def claim_jobs(
        self,
        worker: str,
        handlers: Collection[str],
        limit: int,
        now: datetime,
        lease_until: datetime,
    ) -> list[ClaimedJob]:
        """Lease up to ``limit`` due jobs of ``handlers`` to ``worker``, respecting lanes.

        Due: queued with ``run_at <= now``, or running under an expired lease (that attempt is
        recorded as lost and counts). Oldest notifications first.
        """

    @abc.abstractmethod
    async def complete_job(
        self, job_id: int, worker: str, now: datetime, outcome: AttemptOutcome
    ) -> bool:
        """Record success (``DONE``) or a decline (``UNHANDLED``). ``False``: ``worker`` no longer
        holds the job (its lease expired and another worker took it); nothing is changed."""

    @abc.abstractmethod
    async def fail_job(self, job_id: int, worker: str, now: datetime, failure: JobFailure) -> bool:
        """Record a failed attempt: queue the job for ``failure.retry_at`` or dead-letter it.
        ``False`` as for ``complete_job``."""

    @abc.abstractmethod
    async def renew_leases(
        self, worker: str, job_ids: Collection[int], until: datetime
    ) -> set[int]:
        """Extend ``worker``'s leases; returns the ids it still holds (the others were lost)."""

    @abc.abstractmethod
    async def release_leases(
        self, worker: str, now: datetime, job_ids: Collection[int] | None = None
    ) -> int:
        """Give jobs back (all of ``worker``'s, or ``job_ids``): queued again for ``now``, the
        interrupted attempt not counted. Returns how many were released."""

    @abc.abstractmethod
    async def jobs_for(self, notification_id: int) -> list[JobRecord]:
        """A notification's jobs with their attempt history, in planning order."""

    @abc.abstractmethod
    async def requeue_dead(self, notification_id: int, now: datetime) -> int:
        """Queue the notification's dead jobs again with fresh attempts (the handlers that
        succeeded are not re-run). Returns how many were re-queued."""

    @abc.abstractmethod
    async def replan(self, notification_id: int) -> bool:
        """Make a finished (done, dead or unhandled) notification pending and unplanned, so
        workers match it against their current router and run every matching handler again.
        ``False`` when it is not finished (in progress or quarantined)."""

    @abc.abstractmethod
    async def requalify(self, notification_id: int, classification: Classification) -> Accepted:
        """A quarantined body that now parses becomes a pending notification: its state is
        applied and staleness decided as at accept. Raises ``NotFound`` if it is not
        quarantined."""

    @abc.abstractmethod
    async def requarantine(self, notification_id: int, reason: str) -> None:
        """A quarantined body still does not parse: keep it, with the current reason."""

    @abc.abstractmethod
    async def backlog(self) -> Backlog:
        """Pending and quarantined counts and the oldest pending receive time (index-only)."""

    @abc.abstractmethod
    async def job_counts(self) -> dict[JobStatus, int]:
        """How many jobs are in each status (statuses with none are left out)."""

    @abc.abstractmethod
    async def unfinished_jobs_by_handler(self) -> dict[str, int]:
        """How many queued or running jobs each handler name has (names with none left out):
        a worker names those its router lacks, which nobody else may run."""

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

    # -- retention -----------------------------------------------------------------------------

    @abc.abstractmethod
    async def count_prunable(self, selection: PruneSelection) -> dict[NotificationStatus, int]:
        """How many notifications ``prune`` would delete now, per status (none: left out)."""

    @abc.abstractmethod
    async def prune(self, selection: PruneSelection, limit: int) -> dict[NotificationStatus, int]:
        """Delete up to ``limit`` of the oldest notifications ``selection`` names, with their jobs
        and attempts, in one short transaction; return how many per status. Call again until
        it deletes fewer than ``limit``. Entity state is kept: it is the latest known state,
        and it still decides staleness."""

    async def __aenter__(self) -> Store:
        await self.open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()
