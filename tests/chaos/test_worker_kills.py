"""Issue 8, crashes: ``ymnotify worker`` killed with SIGKILL in the middle of handlers, again and
again. Every job still finishes, each exactly once to the end; every interrupted run is a lost
attempt that was run again. The re-runs are counted and printed.

``YMNOTIFY_WORKER_KILLS`` sets the number of kills (``make chaos``: more).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.chaos.budget import count
from tests.dispatch.apps import records
from tests.dispatch.test_acceptance import Scene, order_created, shared_db, wait_until
from ymnotify.store.base import AttemptOutcome, NotificationStatus

KILLS = count("YMNOTIFY_WORKER_KILLS", quick=2, chaos=20)
NOTIFICATIONS = 6
APP = "tests.chaos.apps:slow"
# Lost attempts count against the retry budget; many kills must not dead-letter a job here.
WORKER_FLAGS = ("--workers", "3", "--lease", "1s", "--retry-max-attempts", "1000")

__all__ = ["shared_db"]  # the fixture: SQLite, and PostgreSQL when a server is there


def _starts(scene: Scene) -> int:
    return sum(r["event"] == "started" for r in records(scene.spool))


@pytest.mark.slow
def test_workers_killed_mid_handler_lose_no_job(tmp_path: Path, shared_db: str) -> None:
    scene = Scene(tmp_path, shared_db)
    ids = scene.accept(*(order_created(n) for n in range(1, NOTIFICATIONS + 1)))
    kills = 0
    for _ in range(KILLS):
        started_before = _starts(scene)
        finished_before = sum(r["event"] == "finished" for r in records(scene.spool))
        if finished_before >= NOTIFICATIONS:
            break  # all done before the planned kills ran out
        worker = scene.worker(APP, *WORKER_FLAGS)
        try:
            wait_until(lambda: _starts(scene) > started_before, "a handler started")  # noqa: B023
        finally:
            worker.kill()  # SIGKILL while that handler (at least) is in its sleep
        kills += 1
    final = scene.worker(APP, *WORKER_FLAGS)
    try:
        wait_until(
            lambda: set(scene.statuses().values()) == {NotificationStatus.DONE},
            "every notification done",
            within=60,
        )
    finally:
        assert final.stop() == 0
    runs = records(scene.spool)
    finished = [r["id"] for r in runs if r["event"] == "finished"]
    started = [r for r in runs if r["event"] == "started"]
    lost = 0
    for notification_id in ids:
        (job,) = scene.jobs(notification_id)
        outcomes = [attempt.outcome for attempt in job.history]
        assert outcomes[-1] is AttemptOutcome.DONE
        assert set(outcomes[:-1]) <= {AttemptOutcome.LOST, AttemptOutcome.RELEASED}
        assert job.attempts == sum(o is not AttemptOutcome.RELEASED for o in outcomes)
        lost += outcomes.count(AttemptOutcome.LOST)
    reruns = len(started) - len(ids)
    print(
        f"\nworker kill -9 ({shared_db.split(':')[0]}): {kills} kills, {len(ids)} jobs all done,"
        f" {len(started)} handler starts, re-runs {reruns}, lost attempts recorded {lost}"
    )
    assert kills >= 1
    assert sorted(set(finished)) == sorted(ids)  # every job ran to its end
    # A job interrupted by a kill never records "finished"; so each id finishes at most once,
    # unless a kill landed between its "finished" line and the store's commit.
    assert len(finished) - len(set(finished)) <= kills
    assert reruns >= lost  # every lost attempt was run again
    assert lost >= 1  # the kills did land mid-handler
