"""The loop writer on a real SQLite file: batching, failures, locks, turns with the group writer."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Callable
from contextlib import closing
from pathlib import Path

import pytest

from ymnotify.errors import StoreUnavailable
from ymnotify.store.groupcommit import GroupCommitWriter
from ymnotify.store.loopwriter import SLICE, LoopWriter
from ymnotify.store.sqlitewrites import WriteTurn

Connect = Callable[[], sqlite3.Connection]


@pytest.fixture
def connect(tmp_path: Path) -> Connect:
    path = tmp_path / "writer.db"
    with closing(sqlite3.connect(path)) as setup:
        setup.execute("PRAGMA journal_mode=WAL")
        setup.execute("CREATE TABLE t (x INTEGER NOT NULL UNIQUE)")
        # A deferred foreign key is checked at COMMIT: the way to make a real commit fail.
        setup.execute("CREATE TABLE parent (id INTEGER PRIMARY KEY)")
        setup.execute(
            "CREATE TABLE child (parent_id INTEGER REFERENCES parent (id)"
            " DEFERRABLE INITIALLY DEFERRED)"
        )
        setup.commit()

    def connect() -> sqlite3.Connection:
        connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        connection.execute("PRAGMA foreign_keys=ON")
        return connection

    return connect


@pytest.fixture
async def writer(connect: Connect) -> AsyncIterator[LoopWriter]:
    opened = LoopWriter(connect, WriteTurn(), busy_timeout=0.3)
    await opened.open()
    yield opened
    await opened.close()


def _rows(connect: Connect, table: str = "t") -> list[int]:
    with closing(connect()) as connection:
        return [row[0] for row in connection.execute(f"SELECT * FROM {table} ORDER BY 1")]


def _insert(value: int) -> Callable[[sqlite3.Connection], int]:
    def run(connection: sqlite3.Connection) -> int:
        connection.execute("INSERT INTO t (x) VALUES (?)", (value,))
        return value

    return run


async def test_requests_of_one_loop_turn_share_one_commit(
    writer: LoopWriter, connect: Connect
) -> None:
    results = await asyncio.gather(*(writer.submit(_insert(n)) for n in range(300)))
    assert results == list(range(300))
    assert writer.committed_batches == 1
    assert _rows(connect) == list(range(300))


async def test_a_big_batch_lets_the_loop_run_between_its_slices(
    writer: LoopWriter, connect: Connect
) -> None:
    ran: list[int] = []
    seen_by_other_callbacks: list[int] = []

    def noting(value: int) -> Callable[[sqlite3.Connection], int]:
        insert = _insert(value)

        def run(connection: sqlite3.Connection) -> int:
            ran.append(value)
            return insert(connection)

        return run

    loop = asyncio.get_running_loop()
    futures = [writer.submit(noting(n)) for n in range(10 * SLICE)]
    for _ in range(5):  # callbacks queued now run while the batch is being worked through
        loop.call_soon(lambda: seen_by_other_callbacks.append(len(ran)))
    await asyncio.gather(*futures)
    assert writer.committed_batches == 1  # still one transaction
    assert seen_by_other_callbacks  # and the loop was not held for all of it
    assert min(seen_by_other_callbacks) < 10 * SLICE
    assert _rows(connect) == list(range(10 * SLICE))


async def test_requests_arriving_during_a_commit_form_the_next_batch(
    writer: LoopWriter, connect: Connect
) -> None:
    first = writer.submit(_insert(1))
    await asyncio.sleep(0)  # the first batch runs its statements and starts committing
    later = [writer.submit(_insert(n)) for n in range(2, 40)]
    await asyncio.gather(first, *later)
    assert writer.committed_batches == 2
    assert _rows(connect) == list(range(1, 40))


async def test_a_failing_operation_fails_alone_and_leaves_nothing(
    writer: LoopWriter, connect: Connect
) -> None:
    def half_done_then_broken(connection: sqlite3.Connection) -> None:
        connection.execute("INSERT INTO t (x) VALUES (1000)")
        raise ValueError("broken after a write")

    operations = [_insert(n) for n in range(10)] + [half_done_then_broken, _insert(5)]
    results = await asyncio.gather(
        *(writer.submit(op) for op in operations), return_exceptions=True
    )
    assert results[:10] == list(range(10))
    assert isinstance(results[10], ValueError)
    assert isinstance(results[11], StoreUnavailable)  # a duplicate of 5: SQLite refused it
    assert isinstance(results[11].__cause__, sqlite3.IntegrityError)
    assert _rows(connect) == list(range(10))  # no 1000: the broken one's write was undone


async def test_a_failing_commit_fails_its_whole_batch_and_the_next_batch_stands(
    writer: LoopWriter, connect: Connect
) -> None:
    def orphan(connection: sqlite3.Connection) -> None:
        connection.execute("INSERT INTO child (parent_id) VALUES (42)")

    results = await asyncio.gather(
        writer.submit(_insert(1)), writer.submit(orphan), return_exceptions=True
    )
    for result in results:
        assert isinstance(result, StoreUnavailable)
        assert "FOREIGN KEY" in str(result)
    assert _rows(connect) == []
    assert _rows(connect, "child") == []
    assert await writer.submit(_insert(2)) == 2
    assert _rows(connect) == [2]


async def test_a_file_locked_by_another_process_is_waited_for_without_blocking_the_loop(
    writer: LoopWriter, connect: Connect
) -> None:
    with closing(connect()) as other:
        other.execute("BEGIN IMMEDIATE")
        pending = writer.submit(_insert(7))
        ticks = 0
        for _ in range(20):  # the loop goes on while the write waits for the lock
            await asyncio.sleep(0.001)
            ticks += 1
        assert not pending.done()
        other.execute("COMMIT")
    assert await pending == 7
    assert ticks == 20


async def test_a_lock_held_past_the_busy_timeout_fails_the_waiting_writes(
    writer: LoopWriter, connect: Connect
) -> None:
    with closing(connect()) as other:
        other.execute("BEGIN IMMEDIATE")
        try:
            with pytest.raises(StoreUnavailable, match="locked") as caught:
                await writer.submit(_insert(7))
            assert isinstance(caught.value.__cause__, sqlite3.OperationalError)
        finally:
            other.execute("ROLLBACK")
    assert await writer.submit(_insert(8)) == 8
    assert _rows(connect) == [8]


async def test_the_group_writer_gets_its_turn_while_the_loop_writer_is_saturated(
    connect: Connect,
) -> None:
    turn = WriteTurn()
    loop_writer = LoopWriter(connect, turn)
    group_writer = GroupCommitWriter(connect, turn=turn)
    await loop_writer.open()
    group_writer.start()
    batches_when_done: list[int] = []
    try:
        stop = asyncio.Event()

        async def flood(start: int) -> None:
            value = start
            while not stop.is_set():
                await loop_writer.submit(_insert(value))
                value += 100

        flooders = [asyncio.create_task(flood(n)) for n in range(100)]
        for _ in range(5000):  # until the flood has committed a few batches
            if loop_writer.committed_batches >= 3:
                break
            await asyncio.sleep(0.001)
        assert loop_writer.committed_batches >= 3
        await group_writer.submit(_insert(-1))
        batches_when_done.append(loop_writer.committed_batches)
        stop.set()
        await asyncio.gather(*flooders)
    finally:
        group_writer.stop()
        await loop_writer.close()
    # The group writer waited for at most the batch in flight and the one after, never for
    # the flood to end.
    assert batches_when_done[0] <= 3 + 2 + 1
    assert -1 in _rows(connect)


async def test_close_commits_everything_submitted(connect: Connect) -> None:
    writer = LoopWriter(connect, WriteTurn())
    await writer.open()
    futures = [writer.submit(_insert(n)) for n in range(50)]
    await writer.close()
    assert [future.result() for future in futures] == list(range(50))
    assert _rows(connect) == list(range(50))
    with pytest.raises(StoreUnavailable, match="not open"):
        writer.submit(_insert(99))


async def test_a_waiter_that_goes_away_does_not_undo_its_write(
    writer: LoopWriter, connect: Connect
) -> None:
    gone = writer.submit(_insert(1))
    staying = writer.submit(_insert(2))
    gone.cancel()  # the client hung up before the commit
    assert await staying == 2
    assert _rows(connect) == [1, 2]  # stored all the same: Market will send it again, dedup holds
