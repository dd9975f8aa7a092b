"""The worker: turns stored notifications into jobs and runs the seller's handlers on them.

One loop per worker, repeated until stopped:

1. *plan*: take pending notifications nobody has planned yet (oldest first), match each against
   the router, and store one job per matching handler (or mark it unhandled);
2. *claim*: lease as many due jobs as there are free slots (``concurrency``); the store hands
   out only jobs whose lane (handler, entity) is free, so one entity's notifications reach a
   handler one at a time, in arrival order, across every worker and process;
3. *run* each job in its own task: parse, call through middlewares with injected dependencies
   and a timeout, then record done / unhandled, or a failure that the retry policy turns into a
   later retry or a dead letter;
4. *sleep* until this process adds work (the store tells its listeners), a job finishes, a
   retry this worker scheduled falls due, or the poll interval passes (work added by other
   processes, and leases that expired, are found by polling).

A heartbeat renews the leases of running jobs every third of the lease. A job whose lease was
lost (this process froze past it and another worker took the job) is cancelled here. ``stop``
stops claiming, gives running handlers ``shutdown_grace`` seconds, then cancels the rest and
gives their jobs back (released leases are re-run at once elsewhere, without using an attempt).
A worker killed outright leaves leases that expire, after which other workers re-run the jobs.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
import os
import random
import socket
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ymnotify.clock import Clock, SystemClock
from ymnotify.dispatch.execution import execute
from ymnotify.dispatch.meta import EventMeta
from ymnotify.dispatch.observe import JobObserver
from ymnotify.dispatch.retry import RetryAt, RetryPolicy
from ymnotify.dispatch.router import RESERVED_NAMES, Router
from ymnotify.errors import ConfigError, NotFound, StoreError
from ymnotify.protocol.parse import MalformedNotification, parse_notification
from ymnotify.store.base import AttemptOutcome, ClaimedJob, JobFailure, JobPlan, Store

logger = logging.getLogger("ymnotify.worker")


@dataclass(frozen=True)
class WorkerSettings:
    """How a worker runs handlers; built once from flags (see ``ymnotify worker --help``)."""

    concurrency: int = 4
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    handler_timeout: float = 60.0
    lease: float = 30.0
    poll_interval: float = 1.0
    shutdown_grace: float = 10.0
    plan_batch: int = 100

    def __post_init__(self) -> None:
        if self.concurrency < 1:
            raise ConfigError("--workers must be at least 1 for a worker")
        if self.handler_timeout <= 0:
            raise ConfigError("--handler-timeout must be positive")
        if self.lease <= 0:
            raise ConfigError("--lease must be positive")
        if self.poll_interval <= 0:
            raise ConfigError("--poll-interval must be positive")
        if self.shutdown_grace < 0:
            raise ConfigError("--shutdown-grace must not be negative")
        if self.plan_batch < 1:
            raise ConfigError("the planning batch must be at least 1")


def new_worker_id() -> str:
    """host:pid:random, so leases name who holds them and never collide across restarts."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Worker:
    """Runs ``router``'s handlers on the notifications in ``store``; a receiver ``Service``."""

    def __init__(
        self,
        store: Store,
        router: Router,
        settings: WorkerSettings | None = None,
        *,
        dependencies: Mapping[str, Any] | None = None,
        clock: Clock | None = None,
        worker_id: str | None = None,
        draw: Callable[[], float] | None = None,
        observers: Sequence[JobObserver] = (),
    ) -> None:
        self.store = store
        self.router = router
        self.settings = settings or WorkerSettings()
        self.worker_id = worker_id or new_worker_id()
        self._given_dependencies = dict(dependencies or {})
        reserved = RESERVED_NAMES.intersection(self._given_dependencies)
        if reserved:
            raise ConfigError(f"dependency names {sorted(reserved)} are reserved by ymnotify")
        self._clock = clock or SystemClock()
        self._draw = draw or random.Random().random
        self._observers = tuple(observers)
        self._dependencies: dict[str, Any] = {}
        self._handler_names = frozenset(spec.name for spec in router.handlers())
        # Handlers run in a thread: at shutdown their jobs are waited for, not cancelled.
        self._sync_handlers = frozenset(
            spec.name for spec in router.handlers() if not spec.is_async
        )
        self._running: dict[int, asyncio.Task[None]] = {}
        self._in_threads: set[int] = set()  # running jobs whose (sync) handler has a thread
        self._lost: set[int] = set()
        self._wake = asyncio.Event()
        # When the retries this worker scheduled fall due (a heap): it wakes for them instead
        # of finding them at its next poll. Retries scheduled elsewhere and expired leases are
        # still found by polling.
        self._retries_due: list[datetime] = []
        self._stopping = asyncio.Event()
        self._loop_task: asyncio.Task[None] | None = None
        self._heartbeat_task: asyncio.Task[None] | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._resources: contextlib.AsyncExitStack | None = None

    # -- lifecycle -----------------------------------------------------------------------------

    async def _name_orphaned_jobs(self) -> None:
        """Warn of unfinished jobs whose handler this router does not have (renamed or removed):
        this worker never runs them, and their notifications stay in progress until one does."""
        try:
            unfinished = await self.store.unfinished_jobs_by_handler()
        except StoreError:
            return  # the loop reports an unavailable store; this is only a diagnosis
        orphaned = {name: n for name, n in unfinished.items() if name not in self._handler_names}
        if orphaned:
            logger.warning(
                "unfinished jobs wait for handlers this router does not have: %s; only a worker"
                " with a handler of that name runs them (a renamed handler keeps its old jobs"
                " with name='old.name')",
                ", ".join(f"{name} ({count})" for name, count in sorted(orphaned.items())),
            )

    async def start(self) -> None:
        """Enter the router's lifespans and start the loop and the heartbeat."""
        if not self._handler_names:
            raise ConfigError(f"{self.router!r} has no handlers; a worker would mark all unhandled")
        self._resources = contextlib.AsyncExitStack()
        provided = await self._resources.enter_async_context(self.router.resources())
        self._dependencies = {**provided, **self._given_dependencies}
        available = set(self._dependencies) | {"meta"}
        for handler, names in self.router.missing_dependencies(available).items():
            logger.warning(
                "handler %s asks for %s, which no dependency provides (a middleware must)",
                handler,
                ", ".join(names),
            )
        await self._name_orphaned_jobs()
        self._executor = ThreadPoolExecutor(
            max_workers=self.settings.concurrency, thread_name_prefix="ymnotify-handler"
        )
        self._resources.callback(self.store.subscribe_work(self._wake.set))
        self._loop_task = asyncio.create_task(self._loop(), name=f"worker {self.worker_id}")
        self._heartbeat_task = asyncio.create_task(self._heartbeat(), name="worker heartbeat")
        logger.info(
            "worker %s: %d handlers, concurrency %d",
            self.worker_id,
            len(self._handler_names),
            self.settings.concurrency,
        )

    async def stop(self) -> None:
        """Stop claiming, let running handlers finish within the grace, give back the rest."""
        self._stopping.set()
        self._wake.set()
        if self._loop_task is not None:
            await self._loop_task
        running = list(self._running.values())
        if running:
            _, late = await asyncio.wait(running, timeout=self.settings.shutdown_grace)
            # A thread cannot be stopped, and the process waits for it before it exits anyway:
            # a sync handler keeps its job (its lease renewed) and its outcome is recorded.
            in_threads = {self._running.get(job_id) for job_id in self._in_threads}
            for task in late - in_threads:
                task.cancel()
            if late & in_threads:
                logger.warning(
                    "waiting for %d sync handler(s) past --shutdown-grace: a thread cannot be"
                    " stopped; their outcome is recorded when they return",
                    len(late & in_threads),
                )
            await asyncio.gather(*running, return_exceptions=True)
        if self._heartbeat_task is not None:
            self._heartbeat_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._heartbeat_task
        if self._executor is not None:
            self._executor.shutdown(wait=False)
        if self._resources is not None:
            await self._resources.aclose()
        logger.info("worker %s stopped", self.worker_id)

    async def run_until(self, stop: asyncio.Event) -> None:
        """Start, run until ``stop`` is set, then stop gracefully."""
        await self.start()
        try:
            await stop.wait()
        finally:
            await self.stop()

    @property
    def running_jobs(self) -> int:
        """How many handlers are running right now."""
        return len(self._running)

    # -- the loop ------------------------------------------------------------------------------

    async def _loop(self) -> None:
        while not self._stopping.is_set():
            # A store that never suspends (the memory one) must not starve the running jobs.
            await asyncio.sleep(0)
            self._wake.clear()
            looked_at = self._clock.now()
            try:
                planned = await self._plan()
                claimed = await self._claim()
            except StoreError as exc:
                logger.warning("store unavailable, trying again shortly: %s", exc)
                planned = claimed = False
            except Exception:
                # A bug must not end the workers of a running receiver; say it loudly, go on.
                logger.exception("worker loop failed; trying again shortly")
                planned = claimed = False
            if not (planned or claimed):
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._pause(looked_at)):
                        await self._wake.wait()

    def _pause(self, looked_at: datetime) -> float:
        """Seconds to wait for a wake-up: the poll interval, or less when a retry this worker
        scheduled falls due sooner. Retries due by ``looked_at`` were there for the last claim."""
        due = self._retries_due
        while due and due[0] <= looked_at:
            heapq.heappop(due)
        pause = self.settings.poll_interval
        if due:
            pause = min(pause, (due[0] - self._clock.now()).total_seconds())
        return max(pause, 0.0)

    async def _plan(self) -> bool:
        rows = await self.store.unplanned(self.settings.plan_batch)
        plans = []
        for row in rows:
            try:
                event = parse_notification(row.body)
            except MalformedNotification as exc:
                plans.append(JobPlan(row.id, problem=f"stored body no longer parses: {exc}"))
                continue
            try:
                specs = await self.router.match(event)
            except Exception as exc:
                # Quarantine makes it visible and replayable once the filter is fixed.
                problem = f"a handler filter raised {type(exc).__name__}: {exc}"
                logger.error("notification %d: %s", row.id, problem)
                plans.append(JobPlan(row.id, problem=problem))
                continue
            plans.append(JobPlan(row.id, tuple(spec.name for spec in specs)))
        await self.store.plan_jobs(plans, self._clock.now())
        return bool(rows)

    async def _claim(self) -> bool:
        free = self.settings.concurrency - len(self._running)
        if free <= 0 or self._stopping.is_set():
            return False
        now = self._clock.now()
        jobs = await self.store.claim_jobs(
            self.worker_id,
            self._handler_names,
            free,
            now,
            now + timedelta(seconds=self.settings.lease),
        )
        for job in jobs:
            if job.handler in self._sync_handlers:
                self._in_threads.add(job.id)
            self._running[job.id] = asyncio.create_task(
                self._run_job(job), name=f"job {job.id} ({job.handler})"
            )
        return bool(jobs)

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(self.settings.lease / 3)
            ids = list(self._running)
            if not ids:
                continue
            until = self._clock.now() + timedelta(seconds=self.settings.lease)
            try:
                held = await self.store.renew_leases(self.worker_id, ids, until)
            except StoreError as exc:
                logger.warning("could not renew leases: %s", exc)
                continue
            for job_id in set(ids) - held:
                task = self._running.get(job_id)
                if task is not None and not task.done():
                    logger.warning("job %d: lease lost to another worker; stopping it here", job_id)
                    self._lost.add(job_id)
                    task.cancel()

    # -- one job -------------------------------------------------------------------------------

    async def _run_job(self, job: ClaimedJob) -> None:
        try:
            await self._attempt(job)
        except asyncio.CancelledError:
            if job.id not in self._lost:
                with contextlib.suppress(StoreError):
                    await self.store.release_leases(self.worker_id, self._clock.now(), [job.id])
            raise
        except StoreError as exc:
            # The result is not recorded; the lease will expire and the job run again.
            logger.error("job %d: could not record the outcome: %s", job.id, exc)
        finally:
            self._running.pop(job.id, None)
            self._in_threads.discard(job.id)
            self._lost.discard(job.id)
            self._wake.set()

    async def _attempt(self, job: ClaimedJob) -> None:
        policy = self.settings.retry
        if job.attempt > policy.max_attempts:  # earlier attempts were lost with their workers
            await self._fail(
                job,
                f"attempt {job.attempt - 1} was lost with its worker and no attempts are left",
                "",
            )
            return
        try:
            spec = self.router.handler(job.handler)
            event = parse_notification(job.notification.body)
        except (NotFound, MalformedNotification) as exc:
            await self._fail(job, f"{type(exc).__name__}: {exc}", "")
            return
        row = job.notification
        meta = EventMeta(
            notification_id=row.id,
            notification_type=row.notification_type or event.notification_type,
            handler=job.handler,
            entity=row.entity or "",
            stale=row.stale,
            attempt=job.attempt,
            max_attempts=policy.max_attempts,
            received_at=row.received_at,
            event_time=row.event_time,
            duplicates=row.duplicates,
        )
        started = time.perf_counter()
        execution = await execute(
            self.router,
            spec,
            event,
            meta,
            self._dependencies,
            time_limit=self.settings.handler_timeout,
            executor=self._executor,
        )
        for observer in self._observers:
            observer.attempt_finished(job.handler, execution.outcome, time.perf_counter() - started)
        if execution.outcome is AttemptOutcome.FAILED:
            await self._fail(job, execution.error_text, execution.traceback_text)
            return
        if not await self.store.complete_job(
            job.id, self.worker_id, self._clock.now(), execution.outcome
        ):
            logger.warning("job %d finished after its lease was lost; not recorded here", job.id)

    async def _fail(self, job: ClaimedJob, error: str, traceback: str) -> None:
        now = self._clock.now()
        decision = self.settings.retry.decide(job.attempt, now, self._draw())
        retry_at = decision.when if isinstance(decision, RetryAt) else None
        failure = JobFailure(error=error, traceback=traceback, retry_at=retry_at)
        if not await self.store.fail_job(job.id, self.worker_id, now, failure):
            logger.warning("job %d failed after its lease was lost; not recorded here", job.id)
        elif retry_at is None:
            for observer in self._observers:
                observer.dead_lettered(job.handler)
            logger.error(
                "notification %d, handler %s: dead after %d attempts: %s",
                job.notification.id,
                job.handler,
                job.attempt,
                error,
            )
        else:
            heapq.heappush(self._retries_due, retry_at)
            for observer in self._observers:
                observer.retry_scheduled(job.handler)
            logger.warning(
                "notification %d, handler %s: attempt %d failed (%s); retry in %.2fs",
                job.notification.id,
                job.handler,
                job.attempt,
                error,
                (retry_at - now).total_seconds(),
            )
