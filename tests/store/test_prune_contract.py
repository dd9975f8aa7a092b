"""Retention on every backend: ``count_prunable`` and ``prune`` delete only finished, old
notifications (with their jobs and attempts), in batches, and nothing else."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.store.incoming import notification, quarantined
from ymnotify.store import NotificationStatus, Store
from ymnotify.store.base import (
    AttemptOutcome,
    Incoming,
    JobFailure,
    JobPlan,
    PruneSelection,
)

OLD = datetime(2026, 8, 1, 12, 0, tzinfo=UTC)
NEW = datetime(2026, 9, 20, 12, 0, tzinfo=UTC)
CUTOFF = datetime(2026, 9, 1, tzinfo=UTC)
LEASE = timedelta(seconds=30)
S = NotificationStatus
EVERY_FINISHED = frozenset({S.DONE, S.UNHANDLED, S.DEAD, S.QUARANTINED})


def order(order_id: int, received: datetime) -> Incoming:
    return notification(
        "ORDER_STATUS_UPDATED",
        received=received,
        orderId=order_id,
        status="PROCESSING",
        updatedAt="2026-07-20T09:00:00Z",
    )


async def accept(store: Store, item: Incoming) -> int:
    return (await store.accept(item)).notification_id


async def run_jobs(
    store: Store, handlers: tuple[str, ...], outcomes: dict[str, JobFailure | None]
) -> None:
    """Claim every due job once; finish it as ``outcomes`` says (missing: left running)."""
    jobs = await store.claim_jobs("w1", handlers, limit=100, now=OLD, lease_until=OLD + LEASE)
    for job in jobs:
        if job.handler not in outcomes:
            continue
        failure = outcomes[job.handler]
        if failure is None:
            await store.complete_job(job.id, "w1", OLD, AttemptOutcome.DONE)
        else:
            await store.fail_job(job.id, "w1", OLD, failure)


async def scene(store: Store) -> dict[str, int]:
    """One old notification in every status, plus recent ones, and their jobs."""
    ids = {
        "done": await accept(store, order(1, OLD)),
        "unhandled": await accept(store, order(2, OLD)),
        "dead": await accept(store, order(3, OLD)),
        "dead_but_busy": await accept(store, order(4, OLD)),
        "retrying": await accept(store, order(5, OLD)),
        "pending": await accept(store, order(6, OLD)),
        "quarantined": await accept(store, quarantined(b"{", "not JSON", received=OLD)),
        "repeated_lately": await accept(store, order(7, OLD)),
        "recent": await accept(store, order(8, NEW)),
    }
    await accept(store, order(7, NEW))  # Market sent it again lately: keep its dedup key
    plans = [
        JobPlan(ids["done"], ("a",)),
        JobPlan(ids["unhandled"], ()),
        JobPlan(ids["dead"], ("b",)),
        JobPlan(ids["dead_but_busy"], ("b", "c")),
        JobPlan(ids["retrying"], ("d",)),
        JobPlan(ids["repeated_lately"], ("a",)),
        JobPlan(ids["recent"], ("a",)),
    ]
    await store.plan_jobs(plans, now=OLD)
    dead = JobFailure("RuntimeError: boom", "Traceback", retry_at=None)
    retry = JobFailure("RuntimeError: boom", "Traceback", retry_at=NEW)
    # "c" stays running: its notification is dead (another job died) but not finished.
    await run_jobs(store, ("a", "b", "c", "d"), {"a": None, "b": dead, "d": retry})
    return ids


async def test_count_and_prune_only_old_finished_notifications(store: Store) -> None:
    ids = await scene(store)
    statuses = {name: (await store.get_notification(i)) for name, i in ids.items()}
    assert statuses["dead_but_busy"] is not None
    assert statuses["dead_but_busy"].status is S.DEAD
    default = PruneSelection(CUTOFF)
    assert await store.count_prunable(default) == {S.DONE: 1, S.UNHANDLED: 1}
    everything = PruneSelection(CUTOFF, EVERY_FINISHED)
    assert await store.count_prunable(everything) == {
        S.DONE: 1,
        S.UNHANDLED: 1,
        S.DEAD: 1,
        S.QUARANTINED: 1,
    }

    assert await store.prune(default, limit=100) == {S.DONE: 1, S.UNHANDLED: 1}
    assert await store.get_notification(ids["done"]) is None
    assert await store.jobs_for(ids["done"]) == []
    assert await store.get_notification(ids["unhandled"]) is None
    assert await store.count_prunable(default) == {}
    assert await store.prune(default, limit=100) == {}

    assert await store.prune(everything, limit=100) == {S.DEAD: 1, S.QUARANTINED: 1}
    kept = {name for name, i in ids.items() if await store.get_notification(i) is not None}
    assert kept == {"dead_but_busy", "retrying", "pending", "repeated_lately", "recent"}
    stats = await store.stats()
    assert stats.total == len(kept)
    # The entity's latest state is kept, and ids are not reused.
    assert [s.slot for s in await store.entity_states("order:1")] == ["status"]
    assert await accept(store, order(9, NEW)) > max(ids.values())


async def test_prune_deletes_in_batches_oldest_first(store: Store) -> None:
    ids = [await accept(store, order(n, OLD + timedelta(minutes=10 - n))) for n in range(1, 8)]
    await store.plan_jobs([JobPlan(i, ()) for i in ids], now=OLD)  # all unhandled
    selection = PruneSelection(CUTOFF)
    batches = []
    for _ in range(10):  # bounded: 7 rows in batches of 3 need 3 calls
        batch = await store.prune(selection, limit=3)
        batches.append(batch.get(S.UNHANDLED, 0))
        if sum(batch.values()) < 3:
            break
    assert batches == [3, 3, 0]  # the newest one is kept
    assert await store.get_notification(ids[0]) is None
    assert [r is None for r in [await store.get_notification(i) for i in ids]] == [True] * 6 + [
        False
    ]


async def test_a_duplicate_of_a_pruned_notification_is_a_new_one(store: Store) -> None:
    first = await accept(store, order(1, OLD))
    newest = await accept(store, order(2, OLD))
    await store.plan_jobs([JobPlan(first, ()), JobPlan(newest, ())], now=OLD)
    assert await store.prune(PruneSelection(CUTOFF), limit=10) == {S.UNHANDLED: 1}
    assert await store.get_notification(newest) is not None
    again = await store.accept(order(1, NEW))
    assert (again.duplicate, again.notification_id > newest) == (False, True)


def test_unfinished_statuses_cannot_be_selected() -> None:
    with pytest.raises(ValueError, match="pending, retrying notifications are not finished"):
        PruneSelection(CUTOFF, frozenset({S.PENDING, S.RETRYING, S.DONE}))
