"""Replay: which notifications a selection names, and what replaying each one does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import click
import pytest

from tests.dispatch.conftest import accept
from ymnotify.cli.options import Moment
from ymnotify.dispatch.replay import ReplayAction, ReplaySelection, replay_one, select
from ymnotify.protocol.samples import sample
from ymnotify.store import NotificationStatus, Store
from ymnotify.store.base import AttemptOutcome, JobPlan

NOW = datetime(2026, 9, 20, 12, 0, tzinfo=UTC)


async def test_a_selection_narrows_by_ids_type_status_and_time(store: Store) -> None:
    created = await accept(store, sample("ORDER_CREATED"))
    chat = await accept(store, sample("CHAT_MESSAGE_SENT"))
    other = await accept(store, sample("ORDER_CREATED", orderId=2))
    assert ReplaySelection().is_empty
    assert await select(store, ReplaySelection(notification_type="ORDER_CREATED")) == [
        created,
        other,
    ]
    assert await select(store, ReplaySelection(ids=(chat, other, 999))) == [chat, other]
    assert await select(store, ReplaySelection(status=NotificationStatus.DEAD)) == []
    later = datetime.now(UTC) + timedelta(hours=1)
    assert await select(store, ReplaySelection(since=later)) == []
    assert await select(store, ReplaySelection(until=later)) == [created, chat, other]


async def test_each_notification_is_replayed_by_its_status(store: Store) -> None:
    done = await accept(store, sample("ORDER_CREATED", orderId=1))
    in_progress = await accept(store, sample("ORDER_CREATED", orderId=2))
    await store.plan_jobs([JobPlan(done, ("h",)), JobPlan(in_progress, ("h",))], NOW)
    (job, _) = await store.claim_jobs("w", ["h"], 2, NOW, NOW + timedelta(seconds=30))
    assert job.notification.id == done
    await store.complete_job(job.id, "w", NOW, AttemptOutcome.DONE)

    skipped = await replay_one(store, in_progress, dead_jobs_only=False, now=NOW)
    assert (skipped.action, skipped.detail) == (ReplayAction.SKIPPED, "in progress (pending)")
    no_dead = await replay_one(store, done, dead_jobs_only=True, now=NOW)
    assert (no_dead.action, no_dead.detail) == (ReplayAction.SKIPPED, "no dead job")
    replanned = await replay_one(store, done, dead_jobs_only=False, now=NOW)
    assert replanned.action is ReplayAction.REPLANNED
    assert [row.id for row in await store.unplanned(10)] == [done]
    missing = await replay_one(store, 999, dead_jobs_only=False, now=NOW)
    assert missing.action is ReplayAction.NOT_FOUND


@pytest.mark.parametrize(
    ("text", "moment"),
    [
        ("2026-09-20T09:15:00Z", datetime(2026, 9, 20, 9, 15, tzinfo=UTC)),
        ("2026-09-20T12:15:00+03:00", datetime(2026, 9, 20, 9, 15, tzinfo=UTC)),
        ("2026-09-20", datetime(2026, 9, 20, tzinfo=UTC)),
        ("24h", NOW - timedelta(hours=24)),
        ("90m", NOW - timedelta(minutes=90)),
    ],
)
def test_replay_times_are_rfc3339_dates_or_durations_ago(text: str, moment: datetime) -> None:
    assert Moment(now=lambda: NOW).convert(text, None, None) == moment


def test_a_time_that_is_none_of_those_is_refused() -> None:
    with pytest.raises(click.BadParameter, match="not a time"):
        Moment(now=lambda: NOW).convert("yesterday", None, None)
