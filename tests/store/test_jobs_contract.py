"""The job contract of every store backend: planning, lanes, leases, retries, dead letters, replay.

Each test runs against every backend (the ``store`` fixture of ``tests/store/conftest.py``:
memory, SQLite, and PostgreSQL in a fresh database per test). Times are explicit arguments, so
no test sleeps.
"""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.store.incoming import notification, quarantined
from ymnotify.errors import NotFound
from ymnotify.store import NotificationFilter, NotificationStatus, Store, queries, store_from_url
from ymnotify.store.base import (
    AttemptOutcome,
    Classification,
    Incoming,
    JobFailure,
    JobPlan,
    JobStatus,
)
from ymnotify.store.sqlite import SqliteStore

T0 = datetime(2026, 9, 20, 9, 0, tzinfo=UTC)
LEASE = timedelta(seconds=30)
HANDLERS = ("shop.save", "shop.alert")


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def order_status(order_id: int, status: str, minute: int) -> Incoming:
    return notification(
        "ORDER_STATUS_UPDATED",
        orderId=order_id,
        status=status,
        updatedAt=f"2026-09-20T09:{minute:02d}:00Z",
    )


async def accept(store: Store, item: Incoming) -> int:
    return (await store.accept(item)).notification_id


async def plan_all(store: Store, handlers: tuple[str, ...] = HANDLERS) -> list[int]:
    pending = await store.unplanned(limit=1000)
    await store.plan_jobs([JobPlan(row.id, handlers) for row in pending], now=T0)
    return [row.id for row in pending]


async def claim(
    store: Store, now: datetime = T0, worker: str = "w1", handlers: tuple[str, ...] = HANDLERS
) -> list[tuple[int, str]]:
    jobs = await store.claim_jobs(worker, handlers, limit=100, now=now, lease_until=now + LEASE)
    return [(job.notification.id, job.handler) for job in jobs]


async def job_id(store: Store, notification_id: int, handler: str) -> int:
    return next(j.id for j in await store.jobs_for(notification_id) if j.handler == handler)


async def status_of(store: Store, notification_id: int) -> NotificationStatus:
    row = await store.get_notification(notification_id)
    assert row is not None
    return row.status


def failure(retry_at: datetime | None, error: str = "RuntimeError: boom") -> JobFailure:
    return JobFailure(error=error, traceback=f"Traceback...\n{error}\n", retry_at=retry_at)


async def test_planning_creates_one_job_per_handler_once(store: Store) -> None:
    first = await accept(store, order_status(1, "PROCESSING", 1))
    pending = await store.unplanned(limit=10)
    assert [row.id for row in pending] == [first]
    plan = [JobPlan(first, HANDLERS)]
    await store.plan_jobs(plan, now=T0)
    await store.plan_jobs(plan, now=T0)  # a second worker planning the same row changes nothing
    jobs = await store.jobs_for(first)
    assert [(j.handler, j.status, j.attempts) for j in jobs] == [
        ("shop.save", JobStatus.QUEUED, 0),
        ("shop.alert", JobStatus.QUEUED, 0),
    ]
    assert {j.entity for j in jobs} == {"order:1"}
    assert await store.unplanned(limit=10) == []
    assert await status_of(store, first) is NotificationStatus.PENDING


async def test_a_notification_no_handler_matches_is_unhandled(store: Store) -> None:
    first = await accept(store, order_status(1, "PROCESSING", 1))
    await store.plan_jobs([JobPlan(first, ())], now=T0)
    assert await status_of(store, first) is NotificationStatus.UNHANDLED
    assert await store.jobs_for(first) == []


async def test_unplanned_is_pending_rows_in_id_order_without_quarantined(store: Store) -> None:
    ids = [await accept(store, order_status(n, "PROCESSING", 1)) for n in (3, 1, 2)]
    await store.accept(quarantined(b"{", "not JSON"))
    assert [row.id for row in await store.unplanned(limit=10)] == ids
    assert [row.id for row in await store.unplanned(limit=2)] == ids[:2]


async def test_a_plan_with_a_problem_quarantines_the_notification(store: Store) -> None:
    first = await accept(store, order_status(1, "PROCESSING", 1))
    await store.plan_jobs([JobPlan(first, problem="status: no longer valid")], now=T0)
    row = await store.get_notification(first)
    assert row is not None
    assert row.status is NotificationStatus.QUARANTINED
    assert row.error == "status: no longer valid"


async def test_one_plan_of_many_notifications_treats_each_as_planned_alone(store: Store) -> None:
    ids = [await accept(store, order_status(n, "PROCESSING", 1)) for n in (1, 2, 3, 4)]
    await store.plan_jobs([JobPlan(ids[1], ("shop.save",))], now=T0)  # planned before
    await store.plan_jobs(
        [
            JobPlan(ids[0], HANDLERS),
            JobPlan(ids[1], HANDLERS),  # planned already: no new job
            JobPlan(ids[2], problem="status: no longer valid"),
            JobPlan(ids[3], ()),
        ],
        now=T0,
    )
    assert [j.handler for j in await store.jobs_for(ids[0])] == list(HANDLERS)
    assert [j.handler for j in await store.jobs_for(ids[1])] == ["shop.save"]
    assert await store.jobs_for(ids[2]) == []
    assert [await status_of(store, i) for i in ids] == [
        NotificationStatus.PENDING,
        NotificationStatus.PENDING,
        NotificationStatus.QUARANTINED,
        NotificationStatus.UNHANDLED,
    ]
    # Jobs are claimed in notification order, then in the order the plan named the handlers.
    jobs = await store.claim_jobs("w1", HANDLERS, limit=10, now=T0, lease_until=T0 + LEASE)
    assert [(j.notification.id, j.handler) for j in jobs] == [
        (ids[0], "shop.save"),
        (ids[0], "shop.alert"),
        (ids[1], "shop.save"),
    ]


async def test_claims_respect_handlers_limit_and_run_time(store: Store) -> None:
    ids = [await accept(store, order_status(n, "PROCESSING", 1)) for n in (1, 2, 3)]
    await store.plan_jobs([JobPlan(i, ("shop.save",)) for i in ids], now=at(10))
    assert await claim(store, now=at(5)) == []  # not due before its run time
    assert await claim(store, now=at(10), handlers=("other.handler",)) == []
    jobs = await store.claim_jobs("w1", ["shop.save"], limit=2, now=at(10), lease_until=at(40))
    assert [(j.notification.id, j.attempt, j.lease_until) for j in jobs] == [
        (ids[0], 1, at(40)),
        (ids[1], 1, at(40)),
    ]
    assert jobs[0].notification.body == order_status(1, "PROCESSING", 1).body
    assert await claim(store, now=at(10)) == [(ids[2], "shop.save")]
    assert await claim(store, now=at(10)) == []  # everything is leased


async def test_a_lane_runs_one_job_at_a_time_in_notification_order(store: Store) -> None:
    ids = [await accept(store, order_status(7, status, m)) for m, status in enumerate("ABC")]
    await plan_all(store, ("shop.save",))
    assert await claim(store) == [(ids[0], "shop.save")]
    assert await claim(store) == []  # the next job of order:7 waits for the first
    await store.complete_job(
        await job_id(store, ids[0], "shop.save"), "w1", T0, AttemptOutcome.DONE
    )
    assert await claim(store, worker="w2") == [(ids[1], "shop.save")]


async def test_other_handlers_and_other_entities_do_not_wait(store: Store) -> None:
    first = await accept(store, order_status(1, "PROCESSING", 1))
    second = await accept(store, order_status(1, "DELIVERY", 2))
    other = await accept(store, order_status(2, "PROCESSING", 1))
    await plan_all(store)
    assert sorted(await claim(store)) == sorted(
        [(first, "shop.save"), (first, "shop.alert"), (other, "shop.save"), (other, "shop.alert")]
    )
    # The alert lane of order:1 finishing lets its next alert job run; the save lane still waits.
    await store.complete_job(
        await job_id(store, first, "shop.alert"), "w1", T0, AttemptOutcome.DONE
    )
    assert await claim(store) == [(second, "shop.alert")]


async def test_an_earlier_unplanned_notification_holds_its_entity_back(store: Store) -> None:
    first = await accept(store, order_status(1, "PROCESSING", 1))
    await plan_all(store)
    later = await accept(store, order_status(1, "DELIVERY", 2))
    assert not await store.replan(first)  # refused: first is still in progress
    assert {n for n, _ in await claim(store)} == {first}
    for handler in HANDLERS:
        await store.complete_job(await job_id(store, first, handler), "w1", T0, AttemptOutcome.DONE)
    # Re-planning the finished first makes it unplanned again: the later one must wait for it.
    await store.plan_jobs([JobPlan(later, HANDLERS)], now=T0)
    assert await store.replan(first)
    assert await claim(store) == []
    await plan_all(store)
    assert {n for n, _ in await claim(store)} == {first}


async def test_a_retry_keeps_the_lane_and_a_dead_job_releases_it(store: Store) -> None:
    first = await accept(store, order_status(1, "PROCESSING", 1))
    second = await accept(store, order_status(1, "DELIVERY", 2))
    await plan_all(store, ("shop.save",))
    assert await claim(store) == [(first, "shop.save")]
    failing = await job_id(store, first, "shop.save")
    assert await store.fail_job(failing, "w1", at(1), failure(retry_at=at(60)))
    assert await status_of(store, first) is NotificationStatus.RETRYING
    assert await claim(store, now=at(30)) == []  # the retry is not due; second must not pass it
    assert await claim(store, now=at(60)) == [(first, "shop.save")]
    assert await store.fail_job(failing, "w1", at(61), failure(retry_at=None))
    assert await status_of(store, first) is NotificationStatus.DEAD
    assert await claim(store, now=at(61)) == [(second, "shop.save")]


async def test_the_status_follows_the_jobs(store: Store) -> None:
    first = await accept(store, order_status(1, "PROCESSING", 1))
    await plan_all(store)
    save, alert = [await job_id(store, first, h) for h in HANDLERS]
    await claim(store)
    assert await status_of(store, first) is NotificationStatus.PENDING
    await store.fail_job(save, "w1", at(1), failure(retry_at=at(2)))
    assert await status_of(store, first) is NotificationStatus.RETRYING
    await claim(store, now=at(2))
    assert await status_of(store, first) is NotificationStatus.RETRYING  # a retry is running
    await store.complete_job(save, "w1", at(3), AttemptOutcome.DONE)
    assert await status_of(store, first) is NotificationStatus.PENDING  # alert still runs
    await store.complete_job(alert, "w1", at(3), AttemptOutcome.UNHANDLED)
    assert await status_of(store, first) is NotificationStatus.DONE
    statuses = {j.handler: j.status for j in await store.jobs_for(first)}
    assert statuses == {"shop.save": JobStatus.DONE, "shop.alert": JobStatus.UNHANDLED}

    declined = await accept(store, order_status(2, "PROCESSING", 1))
    await plan_all(store, ("shop.save",))
    await claim(store, now=at(4))
    await store.complete_job(
        await job_id(store, declined, "shop.save"), "w1", at(4), AttemptOutcome.UNHANDLED
    )
    assert await status_of(store, declined) is NotificationStatus.UNHANDLED


async def test_an_expired_lease_is_claimed_again_and_the_attempt_counted_lost(store: Store) -> None:
    first = await accept(store, order_status(1, "PROCESSING", 1))
    await plan_all(store, ("shop.save",))
    assert await claim(store, worker="killed") == [(first, "shop.save")]
    assert await claim(store, now=at(29), worker="w2") == []  # the lease still holds
    again = await store.claim_jobs("w2", ["shop.save"], 10, now=at(30), lease_until=at(60))
    assert [(j.notification.id, j.attempt) for j in again] == [(first, 2)]
    assert await status_of(store, first) is NotificationStatus.RETRYING  # the lost attempt failed
    # The killed worker coming back cannot finish a job it no longer holds.
    job = again[0].id
    assert not await store.complete_job(job, "killed", at(31), AttemptOutcome.DONE)
    assert await store.complete_job(job, "w2", at(31), AttemptOutcome.DONE)
    assert await status_of(store, first) is NotificationStatus.DONE
    (record,) = await store.jobs_for(first)
    assert record.status is JobStatus.DONE
    assert [(a.attempt, a.worker, a.outcome) for a in record.history] == [
        (1, "killed", AttemptOutcome.LOST),
        (2, "w2", AttemptOutcome.DONE),
    ]
    assert "stopped renewing" in (record.history[0].error or "")


async def test_only_the_holder_renews_and_a_renewed_lease_is_not_taken(store: Store) -> None:
    first = await accept(store, order_status(1, "PROCESSING", 1))
    await plan_all(store, ("shop.save",))
    await claim(store)
    job = await job_id(store, first, "shop.save")
    assert await store.renew_leases("w1", [job], until=at(90)) == {job}
    assert await store.renew_leases("w2", [job], until=at(900)) == set()
    assert await claim(store, now=at(60), worker="w2") == []
    assert await claim(store, now=at(90), worker="w2") == [(first, "shop.save")]
    assert await store.renew_leases("w1", [job], until=at(120)) == set()  # lost it
    assert not await store.fail_job(job, "w1", at(91), failure(retry_at=at(92)))


async def test_released_leases_run_again_at_once_without_using_an_attempt(store: Store) -> None:
    ids = [await accept(store, order_status(n, "PROCESSING", 1)) for n in (1, 2)]
    await plan_all(store, ("shop.save",))
    await claim(store, worker="stopping")
    assert await store.release_leases("other", at(1)) == 0
    assert await store.release_leases("stopping", at(1)) == 2
    again = await store.claim_jobs("w2", ["shop.save"], 10, now=at(1), lease_until=at(31))
    assert sorted((j.notification.id, j.attempt) for j in again) == [(ids[0], 1), (ids[1], 1)]
    (record,) = await store.jobs_for(ids[0])
    assert [a.outcome for a in record.history] == [AttemptOutcome.RELEASED, None]
    assert await store.release_leases("w2", at(2), job_ids=[again[0].id]) == 1


async def test_a_dead_job_keeps_its_error_and_traceback_and_requeue_reruns_only_it(
    store: Store,
) -> None:
    first = await accept(store, order_status(1, "PROCESSING", 1))
    await plan_all(store)
    save, alert = [await job_id(store, first, h) for h in HANDLERS]
    await claim(store)
    await store.complete_job(save, "w1", at(1), AttemptOutcome.DONE)
    await store.fail_job(alert, "w1", at(1), failure(None, "ValueError: no SMTP"))
    records = {j.handler: j for j in await store.jobs_for(first)}
    dead = records["shop.alert"]
    assert dead.status is JobStatus.DEAD
    assert dead.error == "ValueError: no SMTP"
    assert dead.traceback is not None
    assert "Traceback" in dead.traceback
    assert dead.history[-1].traceback == dead.traceback
    dead_rows = await store.list_notifications(NotificationFilter(status=NotificationStatus.DEAD))
    assert [row.id for row in dead_rows] == [first]
    assert await store.requeue_dead(first, at(2)) == 1
    assert await store.requeue_dead(first, at(2)) == 0
    records = {j.handler: j for j in await store.jobs_for(first)}
    assert (records["shop.alert"].status, records["shop.alert"].attempts) == (JobStatus.QUEUED, 0)
    assert records["shop.save"].status is JobStatus.DONE  # the handler that succeeded stays done
    assert await status_of(store, first) is NotificationStatus.PENDING
    assert await claim(store, now=at(2)) == [(first, "shop.alert")]


async def test_job_counts_give_each_status_with_jobs(store: Store) -> None:
    assert await store.job_counts() == {}
    first = await accept(store, order_status(1, "PROCESSING", 1))
    await accept(store, order_status(2, "PROCESSING", 1))
    await plan_all(store)
    assert await store.job_counts() == {JobStatus.QUEUED: 4}
    save, alert = [await job_id(store, first, h) for h in HANDLERS]
    await claim(store)
    await store.complete_job(save, "w1", at(1), AttemptOutcome.DONE)
    await store.fail_job(alert, "w1", at(1), failure(None))
    assert await store.job_counts() == {
        JobStatus.DONE: 1,
        JobStatus.DEAD: 1,
        JobStatus.RUNNING: 2,
    }


async def test_unfinished_jobs_are_counted_by_handler(store: Store) -> None:
    assert await store.unfinished_jobs_by_handler() == {}
    first = await accept(store, order_status(1, "PROCESSING", 1))
    await accept(store, order_status(2, "PROCESSING", 1))
    await plan_all(store)
    save = await job_id(store, first, "shop.save")
    [running] = await store.claim_jobs("w1", HANDLERS, limit=1, now=T0, lease_until=T0 + LEASE)
    assert running.id == save  # one running, the rest queued: both count as unfinished
    assert await store.unfinished_jobs_by_handler() == {"shop.save": 2, "shop.alert": 2}
    await store.complete_job(save, "w1", at(1), AttemptOutcome.DONE)
    assert await store.unfinished_jobs_by_handler() == {"shop.save": 1, "shop.alert": 2}


async def test_replan_runs_every_current_handler_again(store: Store) -> None:
    first = await accept(store, order_status(1, "PROCESSING", 1))
    await plan_all(store, ("shop.save",))
    await claim(store)
    await store.complete_job(await job_id(store, first, "shop.save"), "w1", T0, AttemptOutcome.DONE)
    assert await store.replan(first)
    assert not await store.replan(first)  # pending now: not finished
    assert await status_of(store, first) is NotificationStatus.PENDING
    await plan_all(store, HANDLERS)  # the router has a new handler since
    jobs = {j.handler: (j.status, j.attempts) for j in await store.jobs_for(first)}
    assert jobs == {"shop.save": (JobStatus.QUEUED, 0), "shop.alert": (JobStatus.QUEUED, 0)}
    assert sorted(await claim(store)) == sorted([(first, "shop.save"), (first, "shop.alert")])


async def test_a_replayed_earlier_job_waits_for_the_running_later_one(store: Store) -> None:
    first = await accept(store, order_status(1, "PROCESSING", 1))
    second = await accept(store, order_status(1, "DELIVERY", 2))
    await plan_all(store, ("shop.save",))
    await claim(store)
    await store.fail_job(await job_id(store, first, "shop.save"), "w1", T0, failure(None))
    assert await claim(store) == [(second, "shop.save")]
    assert await store.requeue_dead(first, at(1)) == 1
    assert await claim(store, now=at(1)) == []  # second still runs: the lane is busy
    await store.complete_job(
        await job_id(store, second, "shop.save"), "w1", at(2), AttemptOutcome.DONE
    )
    assert await claim(store, now=at(2)) == [(first, "shop.save")]


async def test_requalify_turns_a_quarantined_body_into_a_pending_notification(store: Store) -> None:
    newer = await accept(store, order_status(5, "DELIVERY", 30))
    parsed = order_status(5, "PROCESSING", 10)
    kept = (
        await store.accept(
            quarantined(parsed.body, "status: unknown value", kind="ORDER_STATUS_UPDATED")
        )
    ).notification_id
    with pytest.raises(NotFound):
        await store.requarantine(newer, "x")
    await store.requarantine(kept, "status: still unknown")
    row = await store.get_notification(kept)
    assert row is not None
    assert row.error == "status: still unknown"
    assert parsed.entity is not None
    classification = Classification(
        "ORDER_STATUS_UPDATED", parsed.entity, parsed.event_time, parsed.state_changes
    )
    accepted = await store.requalify(kept, classification)
    assert accepted.stale  # updated at 09:10, the state already says 09:30
    row = await store.get_notification(kept)
    assert row is not None
    assert (row.status, row.entity, row.error) == (NotificationStatus.PENDING, "order:5", None)
    assert [r.id for r in await store.unplanned(limit=10)] == [newer, kept]
    (state,) = await store.entity_states("order:5")
    assert state.value["status"] == "DELIVERY"
    with pytest.raises(NotFound):
        await store.requalify(kept, classification)


async def test_listeners_hear_of_new_and_unblocked_work(store: Store) -> None:
    heard: list[str] = []
    unsubscribe = store.subscribe_work(lambda: heard.append("work"))
    first = await accept(store, order_status(1, "PROCESSING", 1))
    assert heard
    heard.clear()
    await plan_all(store, ("shop.save",))
    await claim(store)
    await store.complete_job(await job_id(store, first, "shop.save"), "w1", T0, AttemptOutcome.DONE)
    assert heard
    unsubscribe()
    heard.clear()
    await accept(store, order_status(2, "PROCESSING", 1))
    assert heard == []


@pytest.fixture(params=["sqlite", "postgres"])
def shared_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database several processes can share."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'shared.db'}"
    return str(request.getfixturevalue("postgres_url"))


async def test_racing_claimers_never_share_a_job_nor_a_lane(shared_url: str) -> None:
    async with store_from_url(shared_url) as one, store_from_url(shared_url) as two:
        for step in range(4):  # 6 orders x 4 notifications: 6 lanes of 4 jobs
            for order in range(6):
                await accept(one, order_status(order, f"S{step}", step))
        await plan_all(two, ("shop.save",))
        order_of = {
            row.id: row.entity or ""
            for row in await one.list_notifications(NotificationFilter(limit=100))
        }
        ran: dict[str, list[int]] = {}
        for round_number in range(40):
            now = at(round_number)
            batches = await asyncio.gather(
                one.claim_jobs("a", ["shop.save"], 4, now, now + LEASE),
                two.claim_jobs("b", ["shop.save"], 4, now, now + LEASE),
            )
            claimed = [
                (job, worker) for batch, worker in zip(batches, "ab", strict=True) for job in batch
            ]
            if not claimed and sum(map(len, ran.values())) == 24:
                break
            entities = [order_of[job.notification.id] for job, _ in claimed]
            assert len(set(entities)) == len(entities), "two jobs of one lane ran at once"
            assert len({job.id for job, _ in claimed}) == len(claimed)
            for job, worker in claimed:
                ran.setdefault(order_of[job.notification.id], []).append(job.notification.id)
                store = one if worker == "a" else two
                assert await store.complete_job(job.id, worker, now, AttemptOutcome.DONE)
        assert sorted(map(len, ran.values())) == [4] * 6  # every job ran exactly once
        assert all(ids == sorted(ids) for ids in ran.values())  # in arrival order per lane


async def test_a_store_from_before_jobs_migrates_and_its_pending_rows_get_planned(
    tmp_path: Path,
) -> None:
    path = tmp_path / "old.db"
    (version, script), *_ = queries.migrations("sqlite")
    assert version == 1
    old = sqlite3.connect(path)
    old.executescript(script)
    old.execute(
        "INSERT INTO notifications (dedup_key, notification_type, status, entity, received_at,"
        " last_received_at, source, headers, body) VALUES ('k', 'ORDER_CREATED', 'pending',"
        " 'order:1', '2026-09-20T09:00:00.000000Z', '2026-09-20T09:00:00.000000Z', '127.0.0.1',"
        " '[]', x'7b7d')"
    )
    old.execute("PRAGMA user_version = 1")
    old.commit()
    old.close()
    async with SqliteStore(path) as store:
        assert [row.id for row in await store.unplanned(limit=10)] == [1]
        await store.plan_jobs([JobPlan(1, ("shop.save",))], now=T0)
        assert await claim(store) == [(1, "shop.save")]
