"""PostgreSQL going away under load: never a 200 without a commit, nothing acked lost, recovery
without a restart of the receiver. Runs on a private throwaway cluster, never the shared server.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import psycopg
import pytest

from tests.load import LoadLoop
from tests.pgcluster import PrivateCluster
from tests.processes import RunningServer, run_cli, start_server


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


def _serve(url: str) -> RunningServer:
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
    print(
        f"\nPostgreSQL faults: requests {len(load.attempts)}, acked {len(acked)},"
        f" stored {len(stored)}, lost {len(lost)}, duplicates stored {duplicates},"
        f" answered 500 while down {len(during_outage)};"
        f" first ack after terminate {after_terminate - terminated_at:.3f}s,"
        f" recovery after restart {recovered_at - restarted_at:.3f}s"
    )
    assert not lost
    assert duplicates == 0
