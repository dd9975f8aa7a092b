"""Handlers in real processes: ``ymnotify serve --app``, ``ymnotify worker``, ``inbox`` commands.

Each test runs the CLI as a subprocess on a SQLite file, posts over real HTTP on loopback, and
reads outcomes through the store API and the CLI. Leases, backoff and poll intervals are made
short with flags so nothing waits long.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import signal
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from tests.dispatch.apps import SPOOL_ENV, records
from tests.dispatch.conftest import accept
from tests.metrics import metric_samples
from tests.processes import RunningServer, run_cli, start_server, start_worker
from ymnotify.protocol.samples import sample
from ymnotify.store import NotificationFilter, NotificationStatus, Store, store_from_url
from ymnotify.store.base import AttemptOutcome, Incoming, JobPlan, JobRecord, JobStatus

REPO = Path(__file__).resolve().parents[2]
T = TypeVar("T")
FAST_FLAGS = ["--poll-interval", "50ms", "--shutdown-grace", "200ms"]


class Scene:
    """A store file and a spool directory shared by the test and the processes it starts."""

    def __init__(self, tmp_path: Path, db: str | None = None) -> None:
        self.db = db or f"sqlite:///{tmp_path / 'inbox.db'}"
        self.spool = tmp_path / "spool"
        self.spool.mkdir()
        self.env = {SPOOL_ENV: str(self.spool)}

    def with_store(self, work: Callable[[Store], Awaitable[T]]) -> T:
        async def run() -> T:
            async with store_from_url(self.db) as store:
                return await work(store)

        return asyncio.run(run())

    def statuses(self) -> dict[int, NotificationStatus]:
        rows = self.with_store(
            lambda s: s.list_notifications(NotificationFilter(limit=10_000, newest_first=False))
        )
        return {row.id: row.status for row in rows}

    def jobs(self, notification_id: int) -> list[JobRecord]:
        return self.with_store(lambda s: s.jobs_for(notification_id))

    def accept(self, *bodies: dict[str, Any]) -> list[int]:
        async def work(store: Store) -> list[int]:
            return [await accept(store, body) for body in bodies]

        return self.with_store(work)

    def serve(self, app: str, *flags: str) -> RunningServer:
        args = ["serve", "--port", "0", "--db", self.db, "--allow-network", "127.0.0.0/8"]
        return start_server([*args, "--app", app, *FAST_FLAGS, *flags], cwd=REPO, env=self.env)

    def worker(self, app: str, *flags: str) -> RunningServer:
        args = ["--db", self.db, "--app", app, *FAST_FLAGS, *flags]
        return start_worker(args, cwd=REPO, env=self.env)

    def cli(self, *args: str) -> str:
        done = run_cli([*args, "--db", self.db], cwd=REPO, env=self.env)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout + done.stderr


def wait_until(check: Callable[[], bool], what: str, within: float = 20.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"{what}: not within {within}s")


def post(url: str, body: dict[str, Any]) -> float:
    """POST a notification; returns the seconds until the 200 arrived."""
    started = time.perf_counter()
    answer = httpx.post(f"{url}/notification", json=body, timeout=10)
    took = time.perf_counter() - started
    assert answer.status_code == 200, answer.text
    return took


def order_created(order_id: int) -> dict[str, Any]:
    return sample("ORDER_CREATED", orderId=order_id)


def test_a_slow_handler_does_not_hold_back_the_200(tmp_path: Path) -> None:
    scene = Scene(tmp_path)
    server = scene.serve("tests.dispatch.apps:gated", "--workers", "2")
    try:
        # No handler takes chat messages here: these acks are made with no handler running.
        post(server.url, sample("CHAT_MESSAGE_SENT", messageId="warm-up"))
        idle_ack = post(server.url, sample("CHAT_MESSAGE_SENT", messageId="baseline"))
        post(server.url, order_created(1))
        wait_until(lambda: len(records(scene.spool)) == 1, "first handler started")
        busy_ack = post(server.url, order_created(2))
        # The 200 came while the first handler still blocks (it waits for a flag not yet set).
        assert [r["event"] for r in records(scene.spool) if r["id"] == 3] == ["started"]
        print(f"ack latency: {idle_ack * 1000:.1f} ms idle, {busy_ack * 1000:.1f} ms busy")
        (scene.spool / "release").touch()
        settled = {NotificationStatus.DONE, NotificationStatus.UNHANDLED}
        wait_until(lambda: set(scene.statuses().values()) == settled, "all handled")
    finally:
        assert server.stop() == 0
    finished = {r["id"] for r in records(scene.spool) if r["event"] == "finished"}
    assert finished == {3, 4}


def test_out_of_order_statuses_are_flagged_stale_and_an_order_is_never_handled_twice_at_once(
    tmp_path: Path,
) -> None:
    scene = Scene(tmp_path)
    minutes = [10, 5, 20, 15, 30, 25]  # every second one is older than the one before
    server = scene.serve("tests.dispatch.apps:statuses", "--workers", "4")
    try:
        for index, minute in enumerate(minutes):
            for order in (101, 202):
                body = sample(
                    "ORDER_STATUS_UPDATED",
                    orderId=order,
                    status=f"STATUS_{index}",
                    substatus=None,
                    updatedAt=f"2026-09-20T10:{minute:02d}:00Z",
                )
                post(server.url, body)
        wait_until(lambda: len(records(scene.spool)) == 12, "every status handled")
    finally:
        assert server.stop() == 0
    calls = records(scene.spool)
    for entity in ("order:101", "order:202"):
        mine = sorted((c for c in calls if c["entity"] == entity), key=lambda c: c["start"])
        assert [c["id"] for c in mine] == sorted(c["id"] for c in mine)  # arrival order
        for earlier, later in itertools.pairwise(mine):
            assert earlier["end"] <= later["start"], f"{entity}: two handlers overlapped"
        assert [c["stale"] for c in mine] == [False, True] * 3
    listed = [
        json.loads(line)
        for line in scene.cli("inbox", "list", "--entity", "order:101", "--json").splitlines()
    ]
    assert [row["stale"] for row in reversed(listed)] == [False, True] * 3
    state = scene.cli("inbox", "state", "order:101")
    assert "STATUS_4" in state  # 10:30, the latest time, although STATUS_5 arrived after it
    assert "2026-09-20T10:30:00" in state
    state_lines = scene.cli("inbox", "state", "order:101", "--json").splitlines()
    (slot,) = [json.loads(line) for line in state_lines]
    assert slot["value"] == {"status": "STATUS_4", "substatus": None}


def test_an_always_failing_handler_is_dead_lettered_shown_and_replayed(tmp_path: Path) -> None:
    scene = Scene(tmp_path)
    server = scene.serve(
        "tests.dispatch.apps:fragile",
        "--retry-max-attempts",
        "3",
        "--retry-base-delay",
        "20ms",
        "--retry-max-delay",
        "50ms",
    )
    try:
        post(server.url, order_created(7))
        wait_until(lambda: scene.statuses() == {1: NotificationStatus.DEAD}, "dead letter")
        (job,) = scene.jobs(1)
        assert (job.status, job.attempts) == (JobStatus.DEAD, 3)
        assert job.error == "WarehouseDown: warehouse API refused order 7"
        shown = scene.cli("inbox", "show", "1")
        assert "reserve_stock: dead, 3 attempt(s)" in shown
        assert "#3 " in shown
        assert "Traceback (most recent call last)" in shown
        assert "WarehouseDown: warehouse API refused order 7" in shown
        dead = scene.cli("inbox", "list", "--status", "dead", "--json")
        assert [json.loads(line)["id"] for line in dead.splitlines()] == [1]

        (scene.spool / "fixed").touch()
        replayed = scene.cli("inbox", "replay", "--status", "dead")
        assert "requeued" in replayed
        wait_until(lambda: scene.statuses() == {1: NotificationStatus.DONE}, "replayed")
    finally:
        assert server.stop() == 0
    assert [r["attempt"] for r in records(scene.spool)] == [1, 2, 3, 1]


@pytest.fixture(params=["sqlite", "postgres"])
def shared_db(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A store several processes share: a SQLite file, or a PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'inbox.db'}"
    return str(request.getfixturevalue("postgres_url"))


def test_a_killed_worker_loses_nothing_its_jobs_run_again_after_the_lease(
    tmp_path: Path, shared_db: str
) -> None:
    scene = Scene(tmp_path, shared_db)
    ids = scene.accept(order_created(1), order_created(2), order_created(3))
    first = scene.worker("tests.dispatch.apps:gated", "--workers", "3", "--lease", "1s")
    try:
        wait_until(lambda: len(records(scene.spool)) == 3, "three handlers started")
    finally:
        first.kill()  # kill -9 in the middle of all three handlers
    killed_pid = first.process.pid
    second = scene.worker("tests.dispatch.apps:gated", "--workers", "3", "--lease", "1s")
    try:
        wait_until(
            lambda: sum(r["event"] == "started" for r in records(scene.spool)) == 6,
            "handlers restarted after the lease expired",
        )
        (scene.spool / "release").touch()
        wait_until(lambda: set(scene.statuses().values()) == {NotificationStatus.DONE}, "all done")
    finally:
        assert second.stop() == 0
    runs = records(scene.spool)
    assert {r["id"] for r in runs if r["event"] == "finished"} == set(ids)
    assert all(r["pid"] != killed_pid for r in runs if r["event"] == "finished")
    for notification_id in ids:
        (job,) = scene.jobs(notification_id)
        assert [(a.attempt, a.outcome) for a in job.history] == [
            (1, AttemptOutcome.LOST),
            (2, AttemptOutcome.DONE),
        ]


def test_sigterm_gives_running_jobs_back(tmp_path: Path) -> None:
    scene = Scene(tmp_path)
    (notification,) = scene.accept(order_created(1))
    worker = scene.worker("tests.dispatch.apps:gated", "--workers", "1")
    try:
        wait_until(lambda: len(records(scene.spool)) == 1, "handler started")
    finally:
        assert worker.stop(signal.SIGTERM) == 0
    assert "stopped" in "".join(worker.output)
    (job,) = scene.jobs(notification)
    assert (job.status, job.attempts, job.locked_by) == (JobStatus.QUEUED, 0, None)
    assert [a.outcome for a in job.history] == [AttemptOutcome.RELEASED]
    assert scene.statuses() == {notification: NotificationStatus.PENDING}


def test_replay_requalifies_quarantined_bodies_and_shows_progress_when_long(
    tmp_path: Path,
) -> None:
    scene = Scene(tmp_path)
    unhandled = scene.accept(*(order_created(n) for n in range(1, 26)))

    async def prepare(store: Store) -> list[int]:
        await store.plan_jobs([JobPlan(i, ()) for i in unhandled], now=_now())
        ids: list[int] = []
        for body, reason in (
            (json.dumps(order_created(900)).encode(), "items: required (under older models)"),
            (b'{"notificationType": "ORDER_CREATED", "orderId": "x"}', "orderId: not int"),
        ):
            accepted = await store.accept(
                Incoming(
                    dedup_key=f"raw:{len(ids)}",
                    body=body,
                    headers=(),
                    source="127.0.0.1",
                    received_at=_now(),
                    notification_type="ORDER_CREATED",
                    quarantine_reason=reason,
                )
            )
            ids.append(accepted.notification_id)
        return ids

    valid_now, still_bad = scene.with_store(prepare)
    output = scene.cli("inbox", "replay", "--quarantined")
    assert f"{valid_now:>7}  requalified" in output
    assert f"{still_bad:>7}  still malformed (orderId: Input should be a valid integer)" in output
    statuses = scene.statuses()
    assert statuses[valid_now] is NotificationStatus.PENDING
    assert statuses[still_bad] is NotificationStatus.QUARANTINED

    many = run_cli(["inbox", "replay", "--status", "unhandled", "--db", scene.db], cwd=REPO)
    assert many.returncode == 0, many.stderr
    assert "replaying" in many.stderr  # the progress bar, on stderr
    assert "replayed: 25 replanned" in many.stdout
    pending = scene.with_store(lambda s: s.unplanned(limit=100))
    assert [row.id for row in pending] == [*unhandled, valid_now]


def test_bad_app_and_nothing_to_replay_are_clear_errors(tmp_path: Path) -> None:
    scene = Scene(tmp_path)
    missing = run_cli(["worker", "--db", scene.db, "--app", "tests.dispatch.nope:router"], cwd=REPO)
    assert missing.returncode == 2
    assert "no module named 'tests.dispatch.nope'" in missing.stderr
    assert "Traceback" not in missing.stderr
    nothing = run_cli(["inbox", "replay", "--db", scene.db], cwd=REPO)
    assert nothing.returncode == 2
    assert "name the notifications" in nothing.stderr


def test_a_worker_says_when_it_created_the_store_it_works_on(tmp_path: Path) -> None:
    scene = Scene(tmp_path)
    typo = tmp_path / "inbx.db"
    fresh = start_worker(
        ["--db", f"sqlite:///{typo}", "--app", "tests.dispatch.apps:fragile"],
        cwd=REPO,
        env=scene.env,
    )
    try:
        said = fresh.wait_for_output("created an empty one")
    finally:
        assert fresh.stop() == 0
    assert f"no store was at {typo}" in said
    assert typo.exists()
    # the scene's own store exists: nothing to say
    scene.accept(sample("ORDER_CREATED", orderId=4402))
    known = scene.worker("tests.dispatch.apps:fragile")
    assert known.stop() == 0
    assert "created an empty one" not in "".join(known.output)


def _now() -> datetime:
    return datetime.now(UTC)


def test_a_worker_process_serves_its_handler_metrics(tmp_path: Path) -> None:
    scene = Scene(tmp_path)
    (order,) = scene.accept(sample("ORDER_CREATED", orderId=4401))
    worker = scene.worker(
        "tests.dispatch.apps:fragile",
        *("--metrics-port", "0", "--retry-max-attempts", "2", "--retry-base-delay", "10ms"),
    )
    try:
        printed = worker.wait_for_output("/metrics")
        url = printed.split("ymnotify worker metrics on ", 1)[1].split()[0]
        assert url.startswith("http://127.0.0.1:")
        wait_until(lambda: scene.statuses()[order] is NotificationStatus.DEAD, "dead letter")
        text = httpx.get(url, timeout=10).text
    finally:
        assert worker.stop() == 0
    samples = metric_samples(text)
    handler = (("handler", "reserve_stock"),)
    assert samples[("ymnotify_handler_failures_total", handler)] == 2
    assert samples[("ymnotify_handler_retries_total", handler)] == 1
    assert samples[("ymnotify_handler_dead_letters_total", handler)] == 1
    assert "travels" not in "".join(worker.output)
