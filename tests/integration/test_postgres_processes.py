"""Many processes on one PostgreSQL database: receivers and workers as real subprocesses.

Two ``serve --workers 0`` receivers and two ``ymnotify worker`` processes share a fresh database;
handlers record every call in a spool file (``tests.integration.apps``). What must hold: each
notification stored once and handled once, one order's handlers never overlapping and running in
id order whichever worker runs them, a worker killed with -9 losing nothing (its job runs again
on the other worker after the lease), and an idle worker woken by LISTEN/NOTIFY, not by polling.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from tests.dispatch.apps import SPOOL_ENV, records
from tests.integration.apps import GATED_ORDER
from tests.processes import RunningServer, start_server, start_worker
from ymnotify.protocol.samples import sample
from ymnotify.store import NotificationFilter, NotificationStatus, Store, StoredNotification
from ymnotify.store.base import AttemptOutcome, JobRecord
from ymnotify.store.postgres import PostgresStore

REPO = Path(__file__).resolve().parents[2]
APP = "tests.integration.apps:orders"
T = TypeVar("T")


class Cluster:
    """Receivers and workers on one database, all stopped at the end of the test."""

    def __init__(self, db: str, spool: Path) -> None:
        self.db = db
        self.env = {SPOOL_ENV: str(spool)}
        self.processes: list[RunningServer] = []

    def receiver(self) -> RunningServer:
        args = ["serve", "--port", "0", "--db", self.db, "--workers", "0"]
        return self._keep(
            start_server([*args, "--allow-network", "127.0.0.0/8"], cwd=REPO, env=self.env)
        )

    def worker(self, *flags: str) -> RunningServer:
        args = ["--db", self.db, "--app", APP, "--shutdown-grace", "200ms", *flags]
        return self._keep(start_worker(args, cwd=REPO, env=self.env))

    def _keep(self, process: RunningServer) -> RunningServer:
        self.processes.append(process)
        return process

    def stop_all(self) -> None:
        for process in self.processes:
            process.stop()

    def notifications(self) -> list[StoredNotification]:
        return self._with_store(
            lambda s: s.list_notifications(NotificationFilter(limit=10_000, newest_first=False))
        )

    def jobs(self, notification_id: int) -> list[JobRecord]:
        return self._with_store(lambda s: s.jobs_for(notification_id))

    def _with_store(self, work: Callable[[Store], Awaitable[T]]) -> T:
        async def run() -> T:
            async with PostgresStore(self.db, max_connections=1) as store:
                return await work(store)

        return asyncio.run(run())


@pytest.fixture
def cluster(postgres_url: str, tmp_path: Path) -> Iterator[Cluster]:
    spool = tmp_path / "spool"
    spool.mkdir()
    running = Cluster(postgres_url, spool)
    try:
        yield running
    finally:
        running.stop_all()


def status_update(order_id: int, minute: int) -> dict[str, Any]:
    return sample(
        "ORDER_STATUS_UPDATED",
        orderId=order_id,
        status=f"STATUS_{minute}",
        substatus=None,
        updatedAt=f"2026-09-20T10:{minute:02d}:00Z",
    )


def post(url: str, body: dict[str, Any]) -> None:
    answer = httpx.post(f"{url}/notification", json=body, timeout=10)
    assert answer.status_code == 200, answer.text


def wait_until(check: Callable[[], bool], what: str, within: float = 20.0) -> float:
    """Poll ``check``; return the seconds it took, fail after ``within``."""
    started = time.monotonic()
    while time.monotonic() - started < within:
        if check():
            return time.monotonic() - started
        time.sleep(0.02)
    raise AssertionError(f"{what}: not within {within}s")


def finished(spool_records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in spool_records if r["event"] == "finished"]


def test_an_idle_worker_in_another_process_is_woken_by_notify_not_by_polling(
    cluster: Cluster, tmp_path: Path
) -> None:
    receiver = cluster.receiver()
    cluster.worker("--poll-interval", "30s")
    spool = tmp_path / "spool"
    post(receiver.url, status_update(1, 0))
    wait_until(lambda: len(finished(records(spool))) == 1, "the first notification handled")
    waits = []
    for minute in (1, 2, 3):
        handled = minute + 1
        # The worker is idle now, in a 30 s poll wait: only the NOTIFY can wake it in time.
        time.sleep(0.2)
        post(receiver.url, status_update(1, minute))
        waits.append(
            wait_until(
                lambda: len(finished(records(spool))) == handled,  # noqa: B023 (called at once)
                "an idle worker handling a new notification (poll interval 30 s)",
                within=5.0,
            )
        )
    print(
        "\nLISTEN/NOTIFY wake-up with a 30 s poll interval: handled after "
        + ", ".join(f"{w * 1000:.0f} ms" for w in waits)
    )


def test_two_receivers_and_two_workers_store_once_handle_once_and_survive_a_kill(
    cluster: Cluster, tmp_path: Path
) -> None:
    spool = tmp_path / "spool"
    receivers = [cluster.receiver(), cluster.receiver()]
    workers = [cluster.worker("--workers", "2", "--lease", "2s") for _ in range(2)]

    # 1. Six orders, four updates each, split over both receivers and posted from two clients
    #    at once; every fourth body is also sent to the other receiver (a Market retry).
    bodies = [status_update(order, minute) for minute in range(4) for order in range(1, 7)]
    repeats = bodies[::4]

    def client(index: int) -> None:
        for body in bodies[index::2]:
            post(receivers[index].url, body)
        for body in repeats[index::2]:
            post(receivers[1 - index].url, body)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    def all_done() -> bool:
        stored = cluster.notifications()
        return len(stored) == len(bodies) and {r.status for r in stored} == {
            NotificationStatus.DONE
        }

    # A handler records "finished" just before its worker records the job done: wait for both.
    wait_until(all_done, "every notification handled and recorded done")
    stored = cluster.notifications()
    assert len(stored) == len(bodies)
    assert sum(row.duplicates for row in stored) == len(repeats)
    calls = finished(records(spool))
    assert sorted(Counter(c["id"] for c in calls).values()) == [1] * len(bodies)
    by_worker = Counter(c["pid"] for c in calls)
    assert set(by_worker) == {w.process.pid for w in workers}, "both workers must take part"
    for entity in {c["entity"] for c in calls}:
        mine = sorted((c for c in calls if c["entity"] == entity), key=lambda c: c["start"])
        assert [c["id"] for c in mine] == sorted(c["id"] for c in mine), f"{entity}: order"
        for earlier, later in itertools.pairwise(mine):
            assert earlier["end"] <= later["start"], f"{entity}: two handlers overlapped"
    switches = sum(
        a["pid"] != b["pid"]
        for entity in {c["entity"] for c in calls}
        for a, b in itertools.pairwise(
            sorted((c for c in calls if c["entity"] == entity), key=lambda c: c["start"])
        )
    )

    # 2. A handler blocks on the gated order; kill -9 the worker running it. The next update of
    #    that order waits in its lane; the other worker re-runs the first after the lease.
    post(receivers[0].url, status_update(GATED_ORDER, 0))
    wait_until(lambda: any(r["entity"] == f"order:{GATED_ORDER}" for r in records(spool)), "gate")
    (started,) = [r for r in records(spool) if r["entity"] == f"order:{GATED_ORDER}"]
    post(receivers[1].url, status_update(GATED_ORDER, 1))
    (victim,) = [w for w in workers if w.process.pid == started["pid"]]
    (survivor,) = [w for w in workers if w is not victim]
    victim.kill()
    rerun = wait_until(
        lambda: any(
            r["event"] == "started"
            and r["pid"] == survivor.process.pid
            and r["id"] == started["id"]
            for r in records(spool)
        ),
        "the killed worker's job re-run on the other worker",
    )
    (spool / "release").touch()
    wait_until(
        lambda: {row.status for row in cluster.notifications()} == {NotificationStatus.DONE},
        "everything done after the kill",
    )
    gated = [c for c in finished(records(spool)) if c["entity"] == f"order:{GATED_ORDER}"]
    assert [c["id"] for c in gated] == [started["id"], started["id"] + 1]
    assert {c["pid"] for c in gated} == {survivor.process.pid}
    assert gated[0]["end"] <= gated[1]["start"]
    (job,) = cluster.jobs(started["id"])
    assert [(a.attempt, a.outcome) for a in job.history] == [
        (1, AttemptOutcome.LOST),
        (2, AttemptOutcome.DONE),
    ]
    assert len(cluster.notifications()) == len(bodies) + 2
    print(
        f"\n2 receivers + 2 workers on PostgreSQL: {len(bodies)} notifications"
        f" (+{len(repeats)} repeats stored as duplicates), each handled once;"
        f" handled per worker {sorted(by_worker.values())}, order lanes switching worker"
        f" {switches} times; after kill -9 (lease 2 s) the job re-ran on the other worker in"
        f" {rerun:.2f}s"
    )
