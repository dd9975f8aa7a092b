"""``ymnotify inbox prune`` as a real subprocess, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.processes import run_cli
from tests.store.incoming import notification, quarantined
from ymnotify.store import NotificationStatus, Store, store_from_url
from ymnotify.store.base import AttemptOutcome, Incoming, JobFailure, JobPlan

NOW = datetime.now(UTC)
OLD = NOW - timedelta(days=60)


@pytest.fixture(params=["sqlite", "postgres"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'inbox.db'}"
    return str(request.getfixturevalue("postgres_url"))


def order(order_id: int, received: datetime) -> Incoming:
    return notification("ORDER_CREATED", received=received, orderId=order_id)


async def fill(store: Store) -> dict[str, int]:
    ids = {}
    for name, order_id in (("done", 1), ("unhandled", 2), ("dead", 3), ("pending", 4)):
        ids[name] = (await store.accept(order(order_id, OLD))).notification_id
    bad = quarantined(b"{", "not JSON", received=OLD)
    ids["quarantined"] = (await store.accept(bad)).notification_id
    ids["recent"] = (await store.accept(order(5, NOW))).notification_id
    plans = [
        JobPlan(ids["done"], ("h",)),
        JobPlan(ids["unhandled"], ()),
        JobPlan(ids["dead"], ("h",)),
    ]
    await store.plan_jobs(plans, now=OLD)
    jobs = await store.claim_jobs("w", {"h"}, 10, OLD, OLD + timedelta(minutes=1))
    for job in jobs:
        if job.notification.id == ids["done"]:
            await store.complete_job(job.id, "w", OLD, AttemptOutcome.DONE)
        else:
            await store.fail_job(job.id, "w", OLD, JobFailure("boom", "", retry_at=None))
    return ids


def remaining(db: str) -> set[NotificationStatus]:
    async def read() -> set[NotificationStatus]:
        async with store_from_url(db) as store:
            stats = await store.stats()
            return {NotificationStatus(status) for status in stats.by_status}

    return asyncio.run(read())


def prune(db: str, *flags: str) -> tuple[str, str]:
    done = run_cli(["inbox", "prune", "--db", db, *flags])
    assert done.returncode == 0, done.stderr
    return done.stdout, done.stderr


def test_prune_counts_then_deletes_finished_notifications_in_batches(db: str) -> None:
    async def prepare() -> dict[str, int]:
        async with store_from_url(db) as store:
            return await fill(store)

    asyncio.run(prepare())
    everything = set(NotificationStatus) - {NotificationStatus.RETRYING}
    assert remaining(db) == everything

    out, _ = prune(db, "--older-than", "30d", "--dry-run")
    assert out.startswith("would prune 2 notifications received before ")
    assert "(done 1, unhandled 1)" in out
    assert remaining(db) == everything

    out, err = prune(db, "--older-than", "30d", "--batch-size", "1")
    assert "pruned 2 notifications" in out
    assert "pruning" in err  # the progress bar
    assert remaining(db) == everything - {NotificationStatus.DONE, NotificationStatus.UNHANDLED}

    out, err = prune(db, "--older-than", "7d", "--include-dead", "--include-quarantined")
    assert "(dead 1, quarantined 1)" in out
    assert "Market may resend a notification for up to 14 days" in err
    assert remaining(db) == {NotificationStatus.PENDING}


def test_prune_refuses_a_bad_duration_without_a_traceback(tmp_path: Path) -> None:
    done = run_cli(
        ["inbox", "prune", "--db", f"sqlite:///{tmp_path / 'x.db'}", "--older-than", "a month"]
    )
    assert done.returncode == 2
    assert "'a month' is not a duration" in done.stderr
    assert "Traceback" not in done.stderr
