"""The worker in-process over each store backend: delivery, retries, dead letters, lanes, leases."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import threading
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.dispatch.conftest import accept, eventually
from ymnotify.clock import ManualClock
from ymnotify.dispatch.meta import EventMeta
from ymnotify.dispatch.replay import ReplayAction, replay_one
from ymnotify.dispatch.retry import RetryPolicy
from ymnotify.dispatch.router import Router
from ymnotify.dispatch.worker import Worker, WorkerSettings
from ymnotify.protocol import (
    ChatMessageSent,
    Notification,
    OrderCreated,
    OrderStatusUpdated,
    UnknownNotification,
)
from ymnotify.protocol.samples import all_types, sample
from ymnotify.store import NotificationFilter, NotificationStatus, Store
from ymnotify.store.base import AttemptOutcome, JobPlan, JobStatus

FAST = WorkerSettings(
    concurrency=4,
    retry=RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=0.05),
    handler_timeout=5,
    lease=5,
    poll_interval=0.02,
    shutdown_grace=0.2,
)


async def status(store: Store, notification_id: int) -> NotificationStatus:
    row = await store.get_notification(notification_id)
    assert row is not None
    return row.status


async def all_settled(store: Store, ids: list[int]) -> bool:
    unsettled = (NotificationStatus.PENDING, NotificationStatus.RETRYING)
    return all([await status(store, i) not in unsettled for i in ids])


async def test_every_stored_notification_reaches_its_handlers(store: Store) -> None:
    router = Router()
    seen: list[tuple[str, int]] = []

    @router.on(Notification, name="audit")
    async def audit(event: Notification, meta: EventMeta) -> None:
        seen.append(("audit", meta.notification_id))

    @router.on(OrderCreated, name="orders")
    async def orders(event: OrderCreated, meta: EventMeta) -> None:
        seen.append(("orders", meta.notification_id))

    @router.on(UnknownNotification, name="unknown")
    def unknown(event: UnknownNotification, meta: EventMeta) -> None:  # sync, in a thread
        seen.append(("unknown", meta.notification_id))

    kinds = [kind for kind in all_types() if kind != "PING"] + ["ORDER_SPLIT"]
    ids = {}
    for round_number in range(3):
        for kind in kinds:
            body = (
                sample(kind, campaignId=round_number + 1)
                if kind.startswith("ORDER")
                else (sample(kind, businessId=round_number + 1))
            )
            ids[(kind, round_number)] = await accept(store, body)
    async with worker_running(store, router):
        await eventually(lambda: all_settled(store, list(ids.values())), what="all handled")
    expected = {("audit", i) for i in ids.values()}
    expected |= {("orders", i) for (kind, _), i in ids.items() if kind == "ORDER_CREATED"}
    expected |= {("unknown", i) for (kind, _), i in ids.items() if kind == "ORDER_SPLIT"}
    assert sorted(seen) == sorted(expected)  # each exactly once
    assert {await status(store, i) for i in ids.values()} == {NotificationStatus.DONE}


async def test_a_handler_failing_twice_succeeds_on_the_third_attempt(store: Store) -> None:
    clock = ManualClock()
    router = Router()
    attempts: list[int] = []

    @router.on(OrderCreated, name="flaky")
    async def flaky(event: OrderCreated, meta: EventMeta) -> None:
        attempts.append(meta.attempt)
        if meta.attempt < 3:
            raise ConnectionError(f"ERP unreachable (attempt {meta.attempt})")

    # Backoff of a minute and more, in virtual time: nothing sleeps that long.
    settings = WorkerSettings(
        retry=RetryPolicy(max_attempts=5, base_delay=60, max_delay=600),
        poll_interval=0.02,
        lease=30,
    )
    notification = await accept(store, sample("ORDER_CREATED"))
    async with worker_running(store, router, settings, clock=clock):
        await eventually(lambda: has_attempts(store, notification, 1), what="first attempt")
        assert await status(store, notification) is NotificationStatus.RETRYING
        (job,) = await store.jobs_for(notification)
        delay = (job.run_at - clock.now()).total_seconds()
        assert 30 <= delay <= 60  # equal jitter of a 60 s nominal delay
        await asyncio.sleep(0.1)
        assert attempts == [1]  # not due yet: no retry before its time
        clock.advance(60)
        await eventually(lambda: has_attempts(store, notification, 2), what="second attempt")
        clock.advance(120)
        await eventually(lambda: all_settled(store, [notification]), what="third attempt")
    assert attempts == [1, 2, 3]
    (job,) = await store.jobs_for(notification)
    assert job.status is JobStatus.DONE
    assert [(a.attempt, a.outcome, a.error) for a in job.history] == [
        (1, AttemptOutcome.FAILED, "ConnectionError: ERP unreachable (attempt 1)"),
        (2, AttemptOutcome.FAILED, "ConnectionError: ERP unreachable (attempt 2)"),
        (3, AttemptOutcome.DONE, None),
    ]
    assert await status(store, notification) is NotificationStatus.DONE


async def has_attempts(store: Store, notification_id: int, count: int) -> bool:
    jobs = await store.jobs_for(notification_id)
    finished = [a for job in jobs for a in job.history if a.outcome is not None]
    return len(finished) >= count


async def test_an_always_failing_handler_is_dead_lettered_and_replay_reruns_it(
    store: Store,
) -> None:
    router = Router()
    fixed = False
    ran: list[str] = []

    @router.on(OrderCreated, name="broken")
    async def broken(event: OrderCreated) -> None:
        ran.append("broken")
        if not fixed:
            raise KeyError("warehouse")

    @router.on(OrderCreated, name="healthy")
    async def healthy(event: OrderCreated) -> None:
        ran.append("healthy")

    notification = await accept(store, sample("ORDER_CREATED"))
    async with worker_running(store, router):
        await eventually(lambda: all_settled(store, [notification]), what="dead letter")
        assert await status(store, notification) is NotificationStatus.DEAD
        jobs = {job.handler: job for job in await store.jobs_for(notification)}
        dead = jobs["broken"]
        assert (dead.status, dead.attempts, dead.error) == (
            JobStatus.DEAD,
            3,
            "KeyError: 'warehouse'",
        )
        assert dead.traceback is not None
        assert 'raise KeyError("warehouse")' in dead.traceback
        assert ran.count("broken") == 3
        assert ran.count("healthy") == 1

        fixed = True
        replayed = await replay_one(store, notification, dead_jobs_only=True, now=datetime.now(UTC))
        assert replayed.action is ReplayAction.REQUEUED
        await eventually(lambda: all_settled(store, [notification]), what="replayed")
    assert await status(store, notification) is NotificationStatus.DONE
    assert ran.count("broken") == 4
    assert ran.count("healthy") == 1  # the handler that had succeeded did not run again


async def test_one_entity_is_handled_one_at_a_time_in_arrival_order(store: Store) -> None:
    router = Router()
    spans: list[tuple[str, int, float, float, bool]] = []

    @router.on(OrderStatusUpdated, name="track")
    async def track(event: OrderStatusUpdated, meta: EventMeta) -> None:
        start = time.monotonic()
        await asyncio.sleep(0.01)
        spans.append((meta.entity, meta.notification_id, start, time.monotonic(), meta.stale))

    ids: dict[str, list[int]] = {"order:1": [], "order:2": []}
    for minute in range(8):
        for order in (1, 2):
            # Every second notification of an order goes back in time: it arrives stale.
            stamp = f"2026-09-20T10:{[10, 5, 20, 15, 30, 25, 40, 35][minute]:02d}:00Z"
            body = sample(
                "ORDER_STATUS_UPDATED", orderId=order, status="PROCESSING", updatedAt=stamp
            )
            ids[f"order:{order}"].append(await accept(store, body))
    async with worker_running(store, router):
        all_ids = ids["order:1"] + ids["order:2"]
        await eventually(lambda: all_settled(store, all_ids), what="all handled")
    for entity, entity_ids in ids.items():
        mine = [span for span in spans if span[0] == entity]
        assert [span[1] for span in mine] == entity_ids  # arrival order
        for earlier, later in itertools.pairwise(mine):
            assert earlier[3] <= later[2], f"{entity}: handlers overlapped"
    first, second = (
        [span for span in spans if span[0] == entity] for entity in ("order:1", "order:2")
    )
    # The two orders did run side by side: lanes hold back one entity, not the worker.
    assert any(a[2] < b[3] and b[2] < a[3] for a in first for b in second)
    stale = {span[1] for span in spans if span[4]}
    assert stale == {i for e in ids.values() for i in e[1::2]}  # the ones going back in time


async def test_handlers_see_the_stale_flag_and_the_state_keeps_the_later_status(
    store: Store,
) -> None:
    router = Router()
    seen: list[tuple[str, bool]] = []

    @router.on(OrderStatusUpdated, name="status")
    async def on_status(event: OrderStatusUpdated, meta: EventMeta) -> None:
        seen.append((str(event.status), meta.stale))

    newer = sample(
        "ORDER_STATUS_UPDATED", orderId=5, status="DELIVERY", updatedAt="2026-09-20T10:05:00Z"
    )
    older = sample(
        "ORDER_STATUS_UPDATED", orderId=5, status="PROCESSING", updatedAt="2026-09-20T10:01:00Z"
    )
    ids = [await accept(store, newer), await accept(store, older)]
    async with worker_running(store, router):
        await eventually(lambda: all_settled(store, ids), what="handled")
    assert seen == [("DELIVERY", False), ("PROCESSING", True)]
    (state,) = await store.entity_states("order:5")
    assert state.value == {"status": "DELIVERY", "substatus": "STARTED"}
    assert state.notification_id == ids[0]


async def test_an_expired_lease_of_a_vanished_worker_is_run_again(store: Store) -> None:
    router = Router()
    ran: list[int] = []

    @router.on(ChatMessageSent, name="log_chat")
    async def log_chat(event: ChatMessageSent, meta: EventMeta) -> None:
        ran.append(meta.attempt)

    notification = await accept(store, sample("CHAT_MESSAGE_SENT"))
    clock = ManualClock()
    # Planned and claimed by a worker that then vanished without a trace.
    await store.plan_jobs([JobPlan(notification, ("log_chat",))], clock.now())
    claimed = await store.claim_jobs(
        "vanished", ["log_chat"], 1, clock.now(), clock.now() + timedelta(seconds=5)
    )
    assert len(claimed) == 1
    async with worker_running(store, router, clock=clock):
        await asyncio.sleep(0.1)
        assert ran == []  # the lease still holds
        clock.advance(6)
        await eventually(lambda: all_settled(store, [notification]), what="re-run")
    assert ran == [2]
    (job,) = await store.jobs_for(notification)
    assert (job.history[0].worker, job.history[0].outcome) == ("vanished", AttemptOutcome.LOST)


async def test_a_long_handler_renews_its_lease_so_no_one_else_runs_it(store: Store) -> None:
    router = Router()
    runs: list[str] = []

    @router.on(OrderCreated, name="long")
    async def long(event: OrderCreated, meta: EventMeta) -> None:
        runs.append(meta.handler)
        await asyncio.sleep(0.6)  # twice the lease

    settings = WorkerSettings(lease=0.3, poll_interval=0.02, handler_timeout=5)
    notification = await accept(store, sample("ORDER_CREATED"))
    async with worker_running(store, router, settings), worker_running(store, router, settings):
        await eventually(lambda: all_settled(store, [notification]), what="long handler done")
    assert runs == ["long"]
    (job,) = await store.jobs_for(notification)
    assert [a.outcome for a in job.history] == [AttemptOutcome.DONE]


async def test_stopping_gives_unfinished_jobs_back_without_using_an_attempt(store: Store) -> None:
    router = Router()
    started = asyncio.Event()
    never = asyncio.Event()

    @router.on(OrderCreated, name="slow")
    async def slow(event: OrderCreated) -> None:
        started.set()
        await never.wait()

    notification = await accept(store, sample("ORDER_CREATED"))
    async with worker_running(store, router):
        await asyncio.wait_for(started.wait(), 10)
    (job,) = await store.jobs_for(notification)
    assert (job.status, job.attempts, job.locked_by) == (JobStatus.QUEUED, 0, None)
    assert [a.outcome for a in job.history] == [AttemptOutcome.RELEASED]
    assert await status(store, notification) is NotificationStatus.PENDING
    never.set()
    async with worker_running(store, router):
        await eventually(lambda: all_settled(store, [notification]), what="finished elsewhere")
    (job,) = await store.jobs_for(notification)
    assert [(a.attempt, a.outcome) for a in job.history] == [
        (1, AttemptOutcome.RELEASED),
        (1, AttemptOutcome.DONE),
    ]


async def test_a_sync_handler_past_the_grace_keeps_its_job_and_its_outcome(store: Store) -> None:
    router = Router()
    started = threading.Event()
    finish = threading.Event()

    @router.on(OrderCreated, name="sync_slow")
    def sync_slow(event: OrderCreated) -> str:  # in a thread, which nothing can stop
        started.set()
        finish.wait(10)
        return "saved"

    notification = await accept(store, sample("ORDER_CREATED"))
    worker = Worker(store, router, FAST)  # grace 0.2 s
    await worker.start()
    await asyncio.to_thread(started.wait, 10)
    stopping = asyncio.create_task(worker.stop())
    await asyncio.sleep(FAST.shutdown_grace + 0.3)  # past the grace: still waiting for it
    assert not stopping.done()
    finish.set()
    await stopping
    (job,) = await store.jobs_for(notification)
    assert (job.status, [a.outcome for a in job.history]) == (JobStatus.DONE, [AttemptOutcome.DONE])
    assert await status(store, notification) is NotificationStatus.DONE


async def test_a_handler_over_its_time_limit_fails_with_a_timeout(store: Store) -> None:
    router = Router()

    @router.on(OrderCreated, name="hangs")
    async def hangs(event: OrderCreated) -> None:
        await asyncio.Event().wait()

    settings = WorkerSettings(
        retry=RetryPolicy(max_attempts=1), handler_timeout=0.05, poll_interval=0.02
    )
    notification = await accept(store, sample("ORDER_CREATED"))
    async with worker_running(store, router, settings):
        await eventually(lambda: all_settled(store, [notification]), what="timed out")
    (job,) = await store.jobs_for(notification)
    assert job.status is JobStatus.DEAD
    assert job.error == "HandlerTimeout: handler hangs did not finish within 0.05s"


async def test_a_filter_that_raises_quarantines_the_notification_visibly(store: Store) -> None:
    router = Router()

    def broken_filter(event: Notification) -> bool:
        raise LookupError("campaign table missing")

    router.register(lambda e: None, OrderCreated, broken_filter, name="filtered")
    notification = await accept(store, sample("ORDER_CREATED"))
    async with worker_running(store, router):
        await eventually(lambda: all_settled(store, [notification]), what="planned")
    row = await store.get_notification(notification)
    assert row is not None
    assert row.status is NotificationStatus.QUARANTINED
    assert row.error == "a handler filter raised LookupError: campaign table missing"
    listed = await store.list_notifications(
        NotificationFilter(status=NotificationStatus.QUARANTINED)
    )
    assert [r.id for r in listed] == [notification]


@contextlib.asynccontextmanager
async def worker_running(
    store: Store, router: Router, settings: WorkerSettings = FAST, **options: Any
) -> AsyncIterator[Worker]:
    """Run a worker for the duration of an ``async with`` block."""
    worker = Worker(store, router, settings, **options)
    await worker.start()
    try:
        yield worker
    finally:
        await worker.stop()


async def test_a_retry_runs_when_it_falls_due_not_at_the_next_poll(store: Store) -> None:
    router = Router()
    started: list[float] = []

    @router.on(OrderCreated, name="flaky")
    async def flaky(event: OrderCreated, meta: EventMeta) -> None:
        started.append(time.monotonic())
        if meta.attempt == 1:
            raise ConnectionError("ERP unreachable")

    # A poll every 60 s: the retry (0.1–0.2 s after the failure, with jitter) must not wait
    # for it. ``eventually`` gives up after 15 s, long before the first poll.
    settings = WorkerSettings(
        retry=RetryPolicy(max_attempts=3, base_delay=0.2, max_delay=0.2),
        poll_interval=60,
        lease=30,
    )
    async with worker_running(store, router, settings):
        notification = await accept(store, sample("ORDER_CREATED"))
        await eventually(lambda: has_attempts(store, notification, 2), what="the retry", within=15)
    assert len(started) == 2
    assert started[1] - started[0] >= 0.1  # it did wait for its time
    assert await status(store, notification) is NotificationStatus.DONE


async def test_a_worker_names_unfinished_jobs_of_handlers_its_router_lacks(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    first = await accept(store, sample("ORDER_CREATED"))
    await store.plan_jobs([JobPlan(first, ("shop.save_order",))], datetime.now(UTC))
    router = Router()  # the handler was renamed: its old jobs have nobody to run them

    @router.on(OrderCreated, name="shop.store_order")
    async def store_order(event: OrderCreated) -> None:
        return None

    with caplog.at_level(logging.WARNING, logger="ymnotify.worker"):
        async with worker_running(store, router):
            pass
    assert "handlers this router does not have: shop.save_order (1)" in caplog.text
    assert await status(store, first) is NotificationStatus.PENDING  # still waiting for it
