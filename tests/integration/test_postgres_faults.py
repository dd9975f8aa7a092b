"""PostgreSQL going away under load: never a 200 without a commit, nothing acked lost, recovery
without a restart of the receiver or the worker. Runs on a private throwaway cluster, never the
shared server.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.dispatch.apps import SPOOL_ENV, records
from tests.load import LoadLoop
from tests.pgcluster import PrivateCluster
from tests.processes import RunningServer, run_cli, start_server, start_worker
from ymnotify.protocol.samples import sample


@pytest.fixture
def cluster() -> Iterator[PrivateCluster]:
    private = PrivateCluster()
    try:
        private.start()
        yield private
    finally:
        private.destroy()


def _stored_order_ids(url: str) -> list[int]:
    with psycopg.connect(url) as connection:
        bodies = connection.execute("SELECT body FROM notifications").fetchall()
    return [json.loads(bytes(body))["orderId"] for (body,) in bodies]


def _serve(url: str, *flags: str) -> RunningServer:
    migrated = run_cli(["db", "migrate", "--db", url])
    assert migrated.returncode == 0, migrated.stderr
    return start_server(
        [
            "serve",
            "--port",
            "0",
            "--db",
            url,
            "--db-timeout",
            "1s",
            "--allow-network",
            "127.0.0.0/8",
            *flags,
        ]
    )


def _wait_for_acks(load: LoadLoop, count: int, deadline: float) -> None:
    target = len(load.acked()) + count
    while len(load.acked()) < target:
        assert time.monotonic() < deadline, "the receiver stopped acknowledging"
        time.sleep(0.05)


@pytest.mark.slow
def test_connections_terminated_and_server_restarted_under_load(cluster: PrivateCluster) -> None:
    server = _serve(cluster.url)
    load = LoadLoop(server.url, clients=4)
    deadline = time.monotonic() + 90
    try:
        load.start()
        _wait_for_acks(load, 50, deadline)

        # 1. Every connection of the receiver is terminated by the server.
        with psycopg.connect(cluster.url, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE pid <> pg_backend_pid() AND backend_type = 'client backend'"
            )
        terminated_at = time.monotonic()
        _wait_for_acks(load, 50, deadline)
        after_terminate = load.first_ack_after(terminated_at)

        # 2. The server crashes (immediate stop) and stays away for a while.
        cluster.stop("immediate")
        down_since = time.monotonic()
        time.sleep(2.5)
        up_again = time.monotonic()
        cluster.start()
        restarted_at = time.monotonic()
        _wait_for_acks(load, 50, deadline)
        recovered_at = load.first_ack_after(restarted_at)
    finally:
        load.stop()
        assert server.stop() == 0

    during_outage = [a for a in load.attempts if a.started >= down_since and a.finished <= up_again]
    assert during_outage, "no request was made while the database was away"
    assert all(a.status == 500 for a in during_outage), {a.status for a in during_outage}
    acked = load.acked()
    stored = _stored_order_ids(cluster.url)
    lost = acked - set(stored)
    assert after_terminate is not None
    assert recovered_at is not None
    duplicates = len(stored) - len(set(stored))
    # Not asserted (a dead connection may still meet one request); shown so that a change to how
    # the pool finds dead connections can be compared.
    failed_after_terminate = sum(
        1 for a in load.attempts if terminated_at <= a.started < down_since and a.status != 200
    )
    failed_after_restart = sum(
        1 for a in load.attempts if a.started >= restarted_at and a.status != 200
    )
    print(
        f"\nPostgreSQL faults: requests {len(load.attempts)}, acked {len(acked)},"
        f" stored {len(stored)}, lost {len(lost)}, duplicates stored {duplicates},"
        f" answered 500 while down {len(during_outage)}, not 200 after the terminate"
        f" {failed_after_terminate} and after the restart {failed_after_restart};"
        f" first ack after terminate {after_terminate - terminated_at:.3f}s,"
        f" recovery after restart {recovered_at - restarted_at:.3f}s"
    )
    assert not lost
    assert duplicates == 0


def _handled(spool: Path) -> set[str]:
    # By entity: ids are no help here, a crash makes the sequence skip ahead.
    return {r["entity"] for r in records(spool) if r["event"] == "finished"}


def _post_until_acked(url: str, body: dict[str, object], deadline: float) -> None:
    """POST ``body`` until a 200 (the receiver answers 500 while the database is away)."""
    while True:
        try:
            if httpx.post(f"{url}/notification", json=body, timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, "the receiver never acknowledged again"
        time.sleep(0.05)


@pytest.mark.slow
def test_a_worker_keeps_handling_after_the_database_restarts(
    cluster: PrivateCluster, tmp_path: Path
) -> None:
    spool = tmp_path / "spool"
    spool.mkdir()
    server = _serve(cluster.url, "--workers", "0")
    # A 30 s poll interval: within the deadlines below only the worker's own reconnection (its
    # pool, and its LISTEN connection waking it) can make it handle anything again.
    worker = start_worker(
        ["--db", cluster.url, "--app", "tests.integration.apps:orders", "--poll-interval", "30s"],
        env={SPOOL_ENV: str(spool)},
    )
    deadline = time.monotonic() + 20
    try:
        body = sample("ORDER_STATUS_UPDATED", orderId=1, status="PROCESSING", substatus=None)
        _post_until_acked(server.url, body, deadline)
        _wait(lambda: _handled(spool) == {"order:1"}, deadline, worker)

        cluster.stop("immediate")
        time.sleep(1.0)
        cluster.start()
        restarted_at = time.monotonic()
        later = sample("ORDER_STATUS_UPDATED", orderId=2, status="DELIVERY", substatus=None)
        _post_until_acked(server.url, later, deadline)
        acked_at = time.monotonic()
        _wait(lambda: _handled(spool) == {"order:1", "order:2"}, deadline, worker)
        handled_at = time.monotonic()
    finally:
        assert server.stop() == 0
        assert worker.stop() == 0
    output = "".join(worker.output)
    assert "lost the LISTEN connection" in output
    assert "listening for new work again" in output
    print(
        f"\nworker after a PostgreSQL crash-restart: receiver acked again after"
        f" {acked_at - restarted_at:.3f}s, the worker handled it {handled_at - restarted_at:.3f}s"
        " after the restart (poll interval 30 s)"
    )


def _wait(check: Callable[[], bool], deadline: float, worker: RunningServer) -> None:
    while not check():
        assert time.monotonic() < deadline, "not handled in time; the worker said:\n" + "".join(
            worker.output
        )
        time.sleep(0.02)
