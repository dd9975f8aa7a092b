"""What only the PostgreSQL store does: explicit migrations, schema checks, reconnection."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
from psycopg_pool import AsyncConnectionPool

from tests import postgres
from tests.processes import run_cli
from tests.store.incoming import notification
from ymnotify.errors import SchemaMismatch, StoreUnavailable
from ymnotify.protocol import parse_payload, wire
from ymnotify.protocol.samples import sample
from ymnotify.store import queries
from ymnotify.store.base import (
    AttemptOutcome,
    Incoming,
    JobFailure,
    JobPlan,
    JobStatus,
    NotificationStatus,
    derive_status,
)
from ymnotify.store.postgres import _NOTIFY, WORK_CHANNEL, PostgresStore


async def test_a_database_behind_is_refused_until_migrated(postgres_template: None) -> None:
    with postgres.fresh_database(migrated=False) as url:
        store = PostgresStore(url)
        with pytest.raises(SchemaMismatch, match="ymnotify db migrate") as refused:
            await store.open()
        latest = queries.migrations("postgresql")[-1][0]
        assert (refused.value.found, refused.value.expected) == (0, latest)
        migrated = run_cli(["db", "migrate", "--db", url])
        assert migrated.returncode == 0, migrated.stderr
        assert f"from version 0 to {latest}" in migrated.stdout
        again = run_cli(["db", "migrate", "--db", url])
        assert f"already at version {latest}" in again.stdout
        store = PostgresStore(url)
        await store.open()
        await store.check()
        await store.close()


async def test_opening_only_reads_the_schema_version(postgres_template: None) -> None:
    # A role with rights on the tables alone cannot create one: opening must not try to.
    with postgres.fresh_database(migrated=False) as url:
        read_only = url + "?options=-c%20default_transaction_read_only%3Don"
        with pytest.raises(SchemaMismatch, match="ymnotify db migrate"):
            await PostgresStore(read_only).open()  # behind, said without writing anything
        async with await psycopg.AsyncConnection.connect(url) as connection:
            cursor = await connection.execute("SELECT to_regclass('ymnotify_schema')")
            assert (await cursor.fetchone()) == (None,)  # no table of ours left behind
        assert run_cli(["db", "migrate", "--db", url]).returncode == 0
        async with PostgresStore(read_only) as store:
            await store.check()
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as connection:
            await connection.execute("UPDATE ymnotify_schema SET version = version + 1")
        with pytest.raises(SchemaMismatch, match="ahead of this ymnotify") as ahead:
            await PostgresStore(url).open()
        assert str(ahead.value).endswith("upgrade ymnotify")  # migrate would change nothing


async def test_unreachable_server_is_a_store_error() -> None:
    store = PostgresStore("postgresql://postgres@127.0.0.1:1/nothing", acquire_timeout=1)
    with pytest.raises(StoreUnavailable, match="cannot connect"):
        await store.open()


async def test_terminated_connections_fail_then_recover(postgres_url: str) -> None:

    store = PostgresStore(postgres_url, max_connections=2, acquire_timeout=2)
    await store.open()
    try:
        body = sample("ORDER_CREATED")
        notification = parse_payload(body)
        incoming = Incoming(
            dedup_key=wire.dedup_key(body),
            body=b"{}",
            headers=(),
            source="127.0.0.1",
            received_at=datetime.now(UTC),
            notification_type=notification.notification_type,
            entity=notification.entity,
        )
        first = await store.accept(incoming)
        _terminate_backends(postgres_url)
        # The pool checks connections before handing them out, so the next call reconnects.
        again = await store.accept(incoming)
        assert again.notification_id == first.notification_id
        assert again.duplicate
    finally:
        await store.close()


def _terminate_backends(url: str) -> None:
    """End every server process of ``url``'s database, waiting (up to 5 s each) until it is gone."""
    dbname = url.rsplit("/", 1)[1]
    with psycopg.connect(postgres.server_url(), autocommit=True) as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE datname = %s",
            (dbname,),
        )


async def test_the_server_is_asked_about_a_pooled_connection_only_when_it_signalled(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[object] = []
    ask = AsyncConnectionPool.check_connection

    async def counting(connection: psycopg.AsyncConnection[Any]) -> None:
        asked.append(connection)
        await ask(connection)

    monkeypatch.setattr(AsyncConnectionPool, "check_connection", counting)
    store = PostgresStore(postgres_url, min_connections=1, max_connections=1, acquire_timeout=2)
    await store.open()
    try:
        for order in range(10):  # a healthy idle connection has nothing to read: no round trip
            await store.accept(notification("ORDER_CREATED", orderId=100 + order))
        assert asked == []
        _terminate_backends(postgres_url)  # the server's goodbye is waiting on the socket
        accepted = await store.accept(notification("ORDER_CREATED", orderId=200))
        assert not accepted.duplicate
        assert len(asked) == 1  # asked once, found dead, replaced before the accept used it
    finally:
        await store.close()


def _order(kind: str, minute: int) -> Incoming:
    if kind == "ORDER_CREATED":
        return notification(kind, orderId=1, createdAt=f"2026-09-20T09:{minute:02d}:00Z")
    return notification(
        kind, orderId=1, status="PROCESSING", updatedAt=f"2026-09-20T09:{minute:02d}:00Z"
    )


async def _sessions_waiting_on_locks(admin: psycopg.AsyncConnection[Any], dbname: str) -> int:
    cursor = await admin.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND wait_event_type = 'Lock'",
        (dbname,),
    )
    row = await cursor.fetchone()
    assert row is not None
    return int(row[0])


async def _until(check: Callable[[], Awaitable[bool]], what: str, within: float = 10) -> None:
    deadline = time.monotonic() + within
    while not await check():
        assert time.monotonic() < deadline, f"{what}: not within {within}s"
        await asyncio.sleep(0.02)


async def test_accepts_of_one_entity_commit_in_id_order_across_receivers(
    postgres_url: str,
) -> None:
    first_receiver = PostgresStore(postgres_url, max_connections=2)
    second_receiver = PostgresStore(postgres_url, max_connections=2)
    dbname = postgres_url.rsplit("/", 1)[1]
    async with (
        first_receiver,
        second_receiver,
        await psycopg.AsyncConnection.connect(postgres_url, autocommit=True) as admin,
        await psycopg.AsyncConnection.connect(postgres_url) as blocker,
    ):
        await first_receiver.accept(_order("ORDER_STATUS_UPDATED", 1))
        # Hold the order's state row: the next status accept draws its id, then waits here.
        await blocker.execute("SELECT * FROM entity_state WHERE entity = 'order:1' FOR UPDATE")
        earlier = asyncio.create_task(first_receiver.accept(_order("ORDER_STATUS_UPDATED", 2)))
        await _until(
            lambda: _has_waiters(admin, dbname, 1), "the first accept waiting on the state row"
        )
        # ORDER_CREATED touches no state row: only the entity lock can make it wait its turn.
        later = asyncio.create_task(second_receiver.accept(_order("ORDER_CREATED", 3)))

        async def later_done_or_waiting() -> bool:
            return later.done() or await _has_waiters(admin, dbname, 2)

        await _until(later_done_or_waiting, "the second accept waiting on the entity")
        assert not later.done(), "a later accept of the order committed before an earlier one"
        await blocker.rollback()
        first, second = await asyncio.gather(earlier, later)
    assert first.notification_id < second.notification_id


async def test_an_accept_waits_for_its_entity_before_drawing_its_id(postgres_url: str) -> None:
    # An id drawn before the wait would let an accept that started later commit a smaller id
    # after a worker has already seen the larger one.
    waiting_receiver = PostgresStore(postgres_url, max_connections=1)
    other_receiver = PostgresStore(postgres_url, max_connections=1)
    dbname = postgres_url.rsplit("/", 1)[1]
    async with (
        waiting_receiver,
        other_receiver,
        await psycopg.AsyncConnection.connect(postgres_url, autocommit=True) as admin,
        await psycopg.AsyncConnection.connect(postgres_url) as holder,
    ):
        for order_id in range(10, 20):  # past psycopg's prepare threshold: a prepared plan too
            await waiting_receiver.accept(notification("ORDER_CREATED", orderId=order_id))
        # What an accept of order 1 in progress holds until it commits.
        await holder.execute("SELECT pg_advisory_xact_lock(7276, hashtext('order:1'))")
        waiting = asyncio.create_task(waiting_receiver.accept(_order("ORDER_CREATED", 1)))
        await _until(lambda: _has_waiters(admin, dbname, 1), "the accept waiting for order 1")
        meanwhile = await other_receiver.accept(notification("ORDER_CREATED", orderId=2))
        await holder.rollback()
        waited = await waiting
    assert waited.notification_id > meanwhile.notification_id


async def test_an_accept_held_up_by_a_lock_fails_within_the_timeout(postgres_url: str) -> None:
    store = PostgresStore(postgres_url, max_connections=2, acquire_timeout=0.5)
    async with (
        store,
        await psycopg.AsyncConnection.connect(postgres_url) as migration,
    ):
        await store.accept(notification("ORDER_CREATED", orderId=31))
        # What a schema change takes: no insert gets past it until it commits.
        await migration.execute("LOCK TABLE notifications IN ACCESS EXCLUSIVE MODE")
        # The lock is released only after this returns: waiting for it would never end.
        with pytest.raises(StoreUnavailable, match=r"within 0\.5s"):
            await store.accept(notification("ORDER_CREATED", orderId=32))
        await migration.rollback()
        again = await store.accept(notification("ORDER_CREATED", orderId=32))  # a retry lands
    assert again.notification_id > 0


async def _has_waiters(admin: psycopg.AsyncConnection[Any], dbname: str, count: int) -> bool:
    return await _sessions_waiting_on_locks(admin, dbname) >= count


async def test_work_added_in_one_process_wakes_another_also_after_its_listener_is_cut(
    postgres_url: str,
) -> None:
    receiver = PostgresStore(postgres_url, max_connections=2)
    worker = PostgresStore(postgres_url, max_connections=2)
    wakes: list[float] = []
    dbname = postgres_url.rsplit("/", 1)[1]
    async with receiver, worker:
        unsubscribe = worker.subscribe_work(lambda: wakes.append(time.monotonic()))
        await _until(_returns(lambda: worker.listener_connects == 1), "listening")
        before = len(wakes)
        await receiver.accept(_order("ORDER_STATUS_UPDATED", 1))
        await _until(_returns(lambda: len(wakes) > before), "woken by the other store's NOTIFY")

        async with await psycopg.AsyncConnection.connect(postgres_url, autocommit=True) as admin:
            await admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = %s AND query LIKE 'LISTEN%%'",
                (dbname,),
            )
        await _until(_returns(lambda: worker.listener_connects == 2), "listening again")
        before = len(wakes)
        await receiver.accept(_order("ORDER_STATUS_UPDATED", 2))
        await _until(_returns(lambda: len(wakes) > before), "woken after reconnecting")
        unsubscribe()


async def test_an_announcement_does_not_wait_for_its_wal_flush(postgres_url: str) -> None:
    # A NOTIFY only wakes other workers early (they poll anyway): its commit need not be durable.
    # It is one statement in autocommit, so its own transaction: the setting it makes holds
    # until that transaction's commit, and not for the next statement on the connection.
    store = PostgresStore(postgres_url, max_connections=1)
    await store.open()
    try:
        announced = await store._alone(_NOTIFY, {"channel": WORK_CHANNEL, "token": "t"})
        assert announced["sync"] == "off"
        assert await store._transaction(_synchronous_commit) == "on"  # SET LOCAL: that one only
    finally:
        await store.close()


async def _synchronous_commit(connection: Any) -> Any:
    row = await (await connection.execute("SHOW synchronous_commit")).fetchone()
    return row["synchronous_commit"]


def _returns(check: Callable[[], bool]) -> Callable[[], Awaitable[bool]]:
    async def run() -> bool:
        return check()

    return run


async def test_planning_again_waits_for_a_claim_holding_one_of_its_jobs_without_deadlock(
    postgres_url: str,
) -> None:
    """A replayed notification is planned again while a claim holds one of its jobs and then
    locks the notification to refresh its status. Planning takes job rows before the
    notification row, so it waits for the claim; taking them the other way round, PostgreSQL
    found a deadlock and aborted one of the two."""
    now = datetime(2026, 9, 20, 9, 0, tzinfo=UTC)
    later = datetime(2026, 9, 20, 10, 0, tzinfo=UTC)
    handlers = ("shop.save", "shop.alert")
    async with PostgresStore(postgres_url) as store:
        item = notification("ORDER_CREATED", orderId=77)
        notification_id = (await store.accept(item)).notification_id
        await store.plan_jobs([JobPlan(notification_id, handlers)], now)
        (alert,) = await store.claim_jobs("w1", ["shop.alert"], 1, now, later)
        failure = JobFailure(error="boom", traceback="", retry_at=None)
        assert await store.fail_job(alert.id, "w1", now, failure)  # dead: so is the notification
        assert await store.replan(notification_id)
        save = next(j.id for j in await store.jobs_for(notification_id) if j.handler == "shop.save")

        claim = await psycopg.AsyncConnection.connect(postgres_url)
        try:
            # What a claim holds between leasing a job and refreshing its notification.
            await claim.execute("SELECT id FROM jobs WHERE id = %s FOR UPDATE", (save,))
            planning = asyncio.create_task(
                store.plan_jobs([JobPlan(notification_id, handlers)], later)
            )
            await asyncio.sleep(0.3)  # planning is now waiting for the claim's job row
            assert not planning.done()
            await claim.execute("SET lock_timeout = '5s'")
            await claim.execute(
                "SELECT planned FROM notifications WHERE id = %s FOR UPDATE", (notification_id,)
            )  # raised DeadlockDetected (or LockNotAvailable) when planning held this row
            await claim.commit()
        finally:
            await claim.close()
        await asyncio.wait_for(planning, 10)  # and planning went on after the claim
        jobs = {j.handler: j.status for j in await store.jobs_for(notification_id)}
        assert jobs == {"shop.save": JobStatus.QUEUED, "shop.alert": JobStatus.QUEUED}


async def test_queues_are_walked_in_index_order_even_without_statistics(postgres_url: str) -> None:
    # Right after a burst the statistics still describe a table with few queued rows; a claim
    # and a planning read must stop at their limit, not fetch and sort every queued row.
    sql = queries.load("postgresql")
    async with await psycopg.AsyncConnection.connect(postgres_url, autocommit=True) as connection:
        await connection.execute(
            "INSERT INTO notifications (dedup_key, notification_type, status, entity,"
            " received_at, last_received_at, source, headers, body)"
            " SELECT 'key' || n, 'ORDER_CREATED', 'pending', 'order:' || n, now(), now(),"
            " '127.0.0.1', '[]', '{}' FROM generate_series(1, 6000) AS n"
        )
        await connection.execute(  # half of them planned, each with a queued job
            "WITH planned AS (UPDATE notifications SET planned = TRUE WHERE id % 2 = 0"
            " RETURNING id, entity) INSERT INTO jobs (notification_id, handler, entity, status,"
            " attempts, run_at, created_at) SELECT id, 'shop.save', entity, 'queued', 0, now(),"
            " now() FROM planned"
        )
        # query: (the queue's index, parameters)
        reads: dict[str, tuple[str, dict[str, Any]]] = {
            "claim_jobs": (
                "jobs_queued",
                {
                    "now": datetime.now(UTC),
                    "handlers": ["shop.save"],
                    "limit": 8,
                    "worker": "w1",
                    "until": datetime.now(UTC),
                },
            ),
            "unplanned": ("notifications_unplanned", {"limit": 100}),
        }
        for name, (queue_index, params) in reads.items():
            async with connection.transaction():
                await connection.execute(sql["walk_queues_in_order"])
                explained = await connection.execute("EXPLAIN (FORMAT JSON) " + sql[name], params)
                row = await explained.fetchone()
            assert row is not None
            nodes = list(_plan_nodes(row[0][0]["Plan"]))
            assert "Sort" not in [node["Node Type"] for node in nodes], (name, nodes)
            assert queue_index in [node.get("Index Name") for node in nodes], (name, nodes)


def _plan_nodes(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in node.get("Plans", []):
        yield from _plan_nodes(child)


def test_the_status_derivation_in_sql_is_derive_status(postgres_url: str) -> None:
    # Ending a job derives its notification's status inside PostgreSQL (migration 0003); it
    # must agree with derive_status, which the other stores use, on every mix of job states.
    states = [(status, failed) for status in JobStatus for failed in (False, True)]
    mixes = [
        mix for size in range(4) for mix in itertools.combinations_with_replacement(states, size)
    ]
    with psycopg.connect(postgres_url) as connection:
        for mix in mixes:
            (derived,) = connection.execute(
                "SELECT ymnotify_status_of(%s::text[], %s::boolean[])",
                ([status.value for status, _ in mix], [failed for _, failed in mix]),
            ).fetchone() or (None,)
            assert derived == derive_status(mix).value, mix
    assert len(mixes) == 286


async def test_two_jobs_of_one_notification_ending_at_once_leave_its_status_right(
    postgres_url: str,
) -> None:
    """Each ending reads the jobs after it has locked the notification: the second to get the
    lock sees the first one's job finished. Reading before the lock, both saw the other's job
    still running, and the notification stayed pending with every job done."""
    now = datetime(2026, 9, 20, 9, 0, tzinfo=UTC)
    later = datetime(2026, 9, 20, 10, 0, tzinfo=UTC)
    handlers = ("shop.save", "shop.alert")
    async with PostgresStore(postgres_url) as store:
        accepted = await store.accept(notification("ORDER_CREATED", orderId=78))
        notification_id = accepted.notification_id
        await store.plan_jobs([JobPlan(notification_id, handlers)], now)
        jobs = await store.claim_jobs("w1", list(handlers), 2, now, later)
        assert len(jobs) == 2
        holder = await psycopg.AsyncConnection.connect(postgres_url)
        try:
            await holder.execute(
                "SELECT 1 FROM notifications WHERE id = %s FOR UPDATE", (notification_id,)
            )
            endings = [
                asyncio.create_task(store.complete_job(job.id, "w1", now, AttemptOutcome.DONE))
                for job in jobs
            ]
            await _until_waiting_for_locks(postgres_url, 2)
            await holder.commit()
        finally:
            await holder.close()
        assert await asyncio.wait_for(asyncio.gather(*endings), 10) == [True, True]
        stored = await store.get_notification(notification_id)
        assert stored is not None
        assert stored.status is NotificationStatus.DONE


async def _until_waiting_for_locks(url: str, count: int) -> None:
    """Wait (10 s at most) until ``count`` sessions of ``url``'s database wait for a lock."""
    dbname = url.rsplit("/", 1)[1]
    server = postgres.server_url()
    async with await psycopg.AsyncConnection.connect(server, autocommit=True) as admin:
        for _ in range(200):
            cursor = await admin.execute(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = %s AND wait_event_type = 'Lock'",
                (dbname,),
            )
            if (await cursor.fetchone() or (0,))[0] >= count:
                return
            await asyncio.sleep(0.05)
    raise AssertionError(f"{count} sessions never waited for a lock")


async def test_a_statement_alone_cancelled_twice_stays_a_cancellation(postgres_url: str) -> None:
    # The second cancel makes psycopg give up waiting for the server and close the connection;
    # restoring its autocommit then raised "the connection is closed", which turned a worker's
    # cancellation into a store failure (its lease was then never released at a stop).
    store = PostgresStore(postgres_url)
    await store.open()
    try:
        for ticks in (1, 5, 20):
            statement = asyncio.create_task(store._alone("SELECT pg_sleep(3) AS slept", {}))
            await asyncio.sleep(0.2)  # the statement is running on the server
            statement.cancel()
            for _ in range(ticks):
                await asyncio.sleep(0)
            statement.cancel()
            with pytest.raises(asyncio.CancelledError):
                await statement
        after = await store._alone("SELECT current_setting('transaction_isolation') AS x", {})
        assert after["x"]  # the pool still hands out working connections
        async with store._pool.connection() as connection:
            assert not connection.autocommit
    finally:
        await store.close()
