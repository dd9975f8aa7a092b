"""Issue 8: a Hypothesis stateful model of the job queue, run against every store backend.

Hypothesis plays random sequences of: accept (with repeats of earlier bodies), plan and claim,
complete, fail (under a retry policy), time passing on a virtual clock (so leases expire),
worker crashes (the worker forgets its jobs; a restarted worker has a new id), graceful
release, replay of dead jobs, and a drain (much later, one worker runs all that is left:
every job must finish). After every step the store is checked against the model:

- no notification and no job lost or doubled (each planned notification has one job per
  handler, every completed job stays done);
- at most one running job per lane (handler, entity), hence at most one live lease per job;
- attempts count as the model says (a lost lease counts, a release does not, a replay starts
  afresh) and a job dies only when the retry policy gives up;
- every planned notification's status is ``derive_status`` of its jobs.

``YMNOTIFY_QUEUE_EXAMPLES`` / ``YMNOTIFY_QUEUE_STEPS`` size the run (``make chaos``: larger).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from tests import postgres
from tests.chaos.budget import count
from ymnotify.dispatch.retry import GiveUp, RetryPolicy
from ymnotify.protocol import samples
from ymnotify.protocol.parse import parse_body
from ymnotify.store import Store
from ymnotify.store.base import (
    AttemptOutcome,
    Incoming,
    JobFailure,
    JobPlan,
    JobRecord,
    JobStatus,
    NotificationStatus,
    derive_status,
)
from ymnotify.store.memory import MemoryStore
from ymnotify.store.postgres import PostgresStore
from ymnotify.store.sqlite import SqliteStore

EXAMPLES = count("YMNOTIFY_QUEUE_EXAMPLES", quick=15, chaos=60)
STEPS = count("YMNOTIFY_QUEUE_STEPS", quick=30, chaos=50)
HANDLERS = ("audit", "ship")
ORDERS = (1, 2, 3)  # few entities, so lanes collide
WORKERS = ("w1", "w2")
LEASE = timedelta(seconds=30)
POLICY = RetryPolicy(max_attempts=2, base_delay=5.0, max_delay=20.0)
START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
T = TypeVar("T")


def _incoming(body: bytes, at: datetime) -> Incoming:
    """What the receiver hands the store for ``body`` (as ``ReceiverApp`` builds it)."""
    parsed = parse_body(body)
    notification = parsed.notification
    return Incoming(
        dedup_key=parsed.dedup_key,
        body=body,
        headers=(("content-type", "application/json"),),
        source="127.0.0.1",
        received_at=at,
        notification_type=notification.notification_type,
        entity=parsed.entity,
        event_time=notification.event_time,
        state_changes=notification.state_changes(),
    )


StoreFactory = Callable[[contextlib.ExitStack], Store]


def queue_machine(make_store: StoreFactory, tally: dict[str, int]) -> type[RuleBasedStateMachine]:
    """The model, bound to a way of making a fresh store for each example; ``tally`` counts
    what the runs did (claims, completions, failures, deaths, lost leases, releases, replays)."""

    def counted(what: str, n: int = 1) -> None:
        tally[what] = tally.get(what, 0) + n

    class QueueModel(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.exits = contextlib.ExitStack()
            self.runner = self.exits.enter_context(asyncio.Runner())
            self.store = make_store(self.exits)
            self.run(self.store.open())
            self.now = START
            self.generation = dict.fromkeys(WORKERS, 0)  # bumped by a crash: a new worker id
            self.bodies: list[bytes] = []
            self.ids: dict[str, int] = {}  # dedup key -> notification id
            self.repeats: dict[int, int] = {}  # notification id -> repeats accepted
            self.planned: set[int] = set()
            self.attempts: dict[int, int] = {}  # job id -> attempts the store must show
            self.holder: dict[int, str] = {}  # job id -> worker id the store leased it to
            self.lease_until: dict[int, datetime] = {}
            self.notification_of: dict[int, int] = {}  # job id -> notification id
            self.done: set[int] = set()
            self.dead: set[int] = set()

        def run(self, work: Coroutine[Any, Any, T]) -> T:
            return self.runner.run(work)

        def teardown(self) -> None:
            try:
                self.run(self.store.close())
            finally:
                self.exits.close()

        def worker_id(self, name: str) -> str:
            return f"{name}#{self.generation[name]}"

        @initialize()
        def start(self) -> None:
            self.now = START

        # -- rules ---------------------------------------------------------------------------

        @rule(order=st.sampled_from(ORDERS), repeat=st.booleans(), pick=st.integers(0, 10**6))
        def accept(self, order: int, repeat: bool, pick: int) -> None:
            if repeat and self.bodies:
                body = self.bodies[pick % len(self.bodies)]
            else:
                document = samples.sample("ORDER_CREATED", at=self.now, orderId=order, n=pick)
                body = json.dumps(document).encode()
            incoming = _incoming(body, self.now)
            accepted = self.run(self.store.accept(incoming))
            counted("accepted")
            known = self.ids.get(incoming.dedup_key)
            if known is None:
                assert not accepted.duplicate
                self.ids[incoming.dedup_key] = accepted.notification_id
                self.repeats[accepted.notification_id] = 0
                self.bodies.append(body)
            else:
                assert accepted.duplicate
                assert accepted.notification_id == known
                self.repeats[known] += 1

        def plan(self) -> None:
            """What a worker does before claiming: plan the jobs of new notifications."""
            unplanned = self.run(self.store.unplanned(100))
            assert {row.id for row in unplanned} == set(self.ids.values()) - self.planned
            plans = [JobPlan(row.id, HANDLERS) for row in unplanned]
            self.run(self.store.plan_jobs(plans, self.now))
            counted("planned", len(plans))
            for row in unplanned:
                self.planned.add(row.id)
                for job in self.run(self.store.jobs_for(row.id)):
                    self.attempts[job.id] = 0
                    self.notification_of[job.id] = row.id

        @rule(
            name=st.sampled_from(WORKERS),
            handlers=st.sampled_from([HANDLERS, HANDLERS[:1], HANDLERS[1:]]),
            limit=st.integers(1, 4),
        )
        def claim(self, name: str, handlers: tuple[str, ...], limit: int) -> None:
            self.plan()
            worker = self.worker_id(name)
            claimed = self.run(
                self.store.claim_jobs(worker, handlers, limit, self.now, self.now + LEASE)
            )
            assert len(claimed) <= limit
            for job in claimed:
                assert job.handler in handlers
                assert job.id in self.attempts, "claimed a job nobody planned"
                assert job.id not in self.done
                assert job.id not in self.dead
                # Counted: a lost lease of an earlier holder counts, so +1 on the model's count.
                assert job.attempt == self.attempts[job.id] + 1, (job.attempt, self.attempts)
                if job.id in self.holder:
                    counted("lost leases retaken")
                self.attempts[job.id] = job.attempt
                self.holder[job.id] = worker
                self.lease_until[job.id] = self.now + LEASE
                counted("claims")

        def _pick(self, name: str, pick: int, stranger: bool) -> tuple[int, str]:
            """A leased job, and its holder (if still running) or, as a ``stranger``, the
            current worker ``name`` (which may or may not hold it)."""
            job_id = sorted(self.holder)[pick % len(self.holder)]
            holder = self.holder[job_id]
            running = holder in {self.worker_id(other) for other in WORKERS}
            return job_id, holder if running and not stranger else self.worker_id(name)

        def _live(self, job_id: int) -> bool:
            return job_id in self.holder and self.lease_until[job_id] > self.now

        def _check_held(self, job_id: int, worker: str, held: bool) -> None:
            """A live lease must be honoured and someone else's refused. An expired one may go
            either way: backends expire leases lazily, and not all at the same moment."""
            if self.holder.get(job_id) != worker:
                assert not held, f"job {job_id} accepted from {worker}, leased to another"
            elif self._live(job_id):
                assert held, f"job {job_id}: {worker}'s live lease was not honoured"
            elif not held:
                del self.holder[job_id]  # the store expired it: queued again, attempt counted

        def _held_by(self, name: str) -> list[int]:
            worker = self.worker_id(name)
            return sorted(job for job, holder in self.holder.items() if holder == worker)

        @precondition(lambda self: bool(self.holder))
        @rule(
            name=st.sampled_from(WORKERS),
            pick=st.integers(0, 10**6),
            declined=st.booleans(),
            stranger=st.booleans(),
        )
        def complete(self, name: str, pick: int, declined: bool, stranger: bool) -> None:
            job_id, worker = self._pick(name, pick, stranger)
            outcome = AttemptOutcome.UNHANDLED if declined else AttemptOutcome.DONE
            held = self.run(self.store.complete_job(job_id, worker, self.now, outcome))
            self._check_held(job_id, worker, held)
            counted("completions" if held else "stale completions refused")
            if held:
                del self.holder[job_id]
                self.done.add(job_id)

        @precondition(lambda self: bool(self.holder))
        @rule(name=st.sampled_from(WORKERS), pick=st.integers(0, 10**6), stranger=st.booleans())
        def fail(self, name: str, pick: int, stranger: bool) -> None:
            job_id, worker = self._pick(name, pick, stranger)
            decision = POLICY.decide(self.attempts[job_id], self.now, 0.5)
            retry_at = None if isinstance(decision, GiveUp) else decision.when
            failure = JobFailure(f"boom {self.attempts[job_id]}", "Traceback: boom", retry_at)
            held = self.run(self.store.fail_job(job_id, worker, self.now, failure))
            self._check_held(job_id, worker, held)
            counted("failures" if held else "stale failures refused")
            if held:
                del self.holder[job_id]
                if retry_at is None:
                    self.dead.add(job_id)
                    counted("dead-lettered")

        @rule(seconds=st.sampled_from([1, 5, 31]))
        def tick(self, seconds: int) -> None:
            self.now += timedelta(seconds=seconds)

        @precondition(lambda self: bool(self.holder))
        @rule(name=st.sampled_from(WORKERS), graceful=st.booleans())
        def stop(self, name: str, graceful: bool) -> None:
            """kill -9 (the worker's leases stay in the store until they expire) or a graceful
            stop (it gives its jobs back, those attempts not counted); it restarts with a new id.
            """
            if graceful:
                self._release(name)
            self.generation[name] += 1
            counted("graceful stops" if graceful else "crashes")

        def _release(self, name: str) -> None:
            held = self._held_by(name)
            live = [job_id for job_id in held if self._live(job_id)]
            released = self.run(self.store.release_leases(self.worker_id(name), self.now))
            assert len(live) <= released <= len(held)
            counted("released", released)
            for job_id in held:
                del self.holder[job_id]
                job = self._record(job_id)
                assert job.status is JobStatus.QUEUED
                if job.attempts == self.attempts[job_id] - 1:  # released, not counted
                    self.attempts[job_id] -= 1
                else:  # its lease had expired and the store took it back first (counted)
                    assert job_id not in live

        def _record(self, job_id: int) -> JobRecord:
            jobs = self.run(self.store.jobs_for(self.notification_of[job_id]))
            return next(job for job in jobs if job.id == job_id)

        def _unfinished_in_model(self) -> bool:
            return any(job not in self.done and job not in self.dead for job in self.attempts)

        @precondition(lambda self: self._unfinished_in_model())
        @rule()
        def drain(self) -> None:
            """Much later, a fresh worker runs everything that is left: every job finishes."""
            self.now += timedelta(hours=1)  # past every lease and every retry delay
            self.generation["w1"] += 1
            worker = self.worker_id("w1")
            for _ in range(200):  # each round finishes at least the head of every lane
                self.plan()
                claimed = self.run(
                    self.store.claim_jobs(worker, HANDLERS, 100, self.now, self.now + LEASE)
                )
                if not claimed:
                    break
                for job in claimed:
                    assert job.attempt == self.attempts[job.id] + 1
                    self.attempts[job.id] = job.attempt
                    self.holder.pop(job.id, None)
                    done = AttemptOutcome.DONE
                    assert self.run(self.store.complete_job(job.id, worker, self.now, done))
                    self.done.add(job.id)
            unfinished = [
                job
                for notification_id in self.planned
                for job in self.run(self.store.jobs_for(notification_id))
                if not job.status.finished
            ]
            assert unfinished == [], "jobs left unfinished after the drain"
            counted("drains")

        @precondition(lambda self: bool(self.dead))
        @rule(pick=st.integers(0, 10**6))
        def replay(self, pick: int) -> None:
            job_id = sorted(self.dead)[pick % len(self.dead)]
            notification_id = self.notification_of[job_id]
            jobs = self.run(self.store.jobs_for(notification_id))
            dead_here = {job.id for job in jobs if job.id in self.dead}
            assert self.run(self.store.requeue_dead(notification_id, self.now)) == len(dead_here)
            for dead_id in dead_here:
                self.dead.discard(dead_id)
                self.attempts[dead_id] = 0
                counted("replayed")

        # -- invariants ----------------------------------------------------------------------

        @invariant()
        def store_matches_model(self) -> None:
            lanes: dict[tuple[str, str], int] = {}
            for notification_id in self.ids.values():
                row = self.run(self.store.get_notification(notification_id))
                assert row is not None, f"notification {notification_id} lost"
                assert row.duplicates == self.repeats[notification_id]
                jobs = self.run(self.store.jobs_for(notification_id))
                if notification_id not in self.planned:
                    assert jobs == []
                    assert row.status is NotificationStatus.PENDING
                    continue
                assert sorted(job.handler for job in jobs) == sorted(HANDLERS), "job lost/doubled"
                for job in jobs:
                    assert job.attempts == self.attempts[job.id], (job, self.attempts[job.id])
                    if job.id in self.done:
                        assert job.status in (JobStatus.DONE, JobStatus.UNHANDLED)
                    if job.id in self.dead:
                        assert job.status is JobStatus.DEAD
                        assert job.attempts >= POLICY.max_attempts
                    if job.status is JobStatus.DEAD:
                        assert job.id in self.dead
                    if job.status is JobStatus.RUNNING:
                        lane = (job.handler, job.entity)
                        lanes[lane] = lanes.get(lane, 0) + 1
                        assert job.locked_by == self.holder.get(job.id)
                    elif job.id in self.holder:
                        # The store took an expired lease back (lazily, at some claim).
                        assert not self._live(job.id), f"live lease of job {job.id} dropped"
                        del self.holder[job.id]
                derived = derive_status((job.status, job.error is not None) for job in jobs)
                assert row.status is derived, (row.status, derived, jobs)
            assert all(n <= 1 for n in lanes.values()), f"two running jobs in a lane: {lanes}"

    return QueueModel


def _memory(_exits: contextlib.ExitStack) -> Store:
    return MemoryStore()


def _sqlite(folder: Path) -> StoreFactory:
    counter = iter(range(10**9))

    def make(_exits: contextlib.ExitStack) -> Store:
        return SqliteStore(folder / f"queue-{next(counter)}.db")

    return make


def _postgres(exits: contextlib.ExitStack) -> Store:
    return PostgresStore(exits.enter_context(postgres.fresh_database()), max_connections=2)


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_factory(request: pytest.FixtureRequest, tmp_path: Path) -> StoreFactory:
    if request.param == "memory":
        return _memory
    if request.param == "sqlite":
        return _sqlite(tmp_path)
    request.getfixturevalue("postgres_template")
    return _postgres


def test_the_job_queue_keeps_its_promises(store_factory: StoreFactory) -> None:
    tally: dict[str, int] = {}
    machine = queue_machine(store_factory, tally)
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=STEPS,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
    print(f"\njob queue model: {EXAMPLES} runs of up to {STEPS} steps, invariants held; {tally}")
    assert tally.get("claims", 0) > 0  # the model exercised the queue at all
