"""Group commit on a real SQLite file: batching, isolation of failures, shutdown."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path

import pytest

from ymnotify.errors import StoreUnavailable
from ymnotify.store.groupcommit import GroupCommitWriter


@pytest.fixture
def connect(tmp_path: Path) -> Callable[[], sqlite3.Connection]:
    path = tmp_path / "writer.db"
    with closing(sqlite3.connect(path)) as setup:
        setup.execute("CREATE TABLE t (x INTEGER NOT NULL UNIQUE)")
        setup.commit()

    def connect() -> sqlite3.Connection:
        return sqlite3.connect(path, isolation_level=None, check_same_thread=False)

    return connect


@pytest.fixture
def writer(connect: Callable[[], sqlite3.Connection]) -> Iterator[GroupCommitWriter]:
    started = GroupCommitWriter(connect)
    started.start()
    yield started
    started.stop()


def _rows(connect: Callable[[], sqlite3.Connection]) -> list[int]:
    with closing(connect()) as connection:
        return [row[0] for row in connection.execute("SELECT x FROM t ORDER BY x")]


def _insert(value: int) -> Callable[[sqlite3.Connection], int]:
    def run(connection: sqlite3.Connection) -> int:
        connection.execute("INSERT INTO t (x) VALUES (?)", (value,))
        return value

    return run


class _Gate:
    """An operation that holds its batch open until the test has queued the next batch."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()

    def __call__(self, connection: sqlite3.Connection) -> None:
        self.entered.set()
        self.release.wait(10)

    async def hold(self, writer: GroupCommitWriter) -> asyncio.Future[None]:
        future = writer.submit(self)
        await asyncio.to_thread(self.entered.wait, 10)
        assert self.entered.is_set()
        return future


async def test_operations_queued_during_a_commit_share_the_next_one(
    writer: GroupCommitWriter, connect: Callable[[], sqlite3.Connection]
) -> None:
    gate = _Gate()
    held = await gate.hold(writer)
    futures = [writer.submit(_insert(value)) for value in range(200)]
    gate.release.set()
    await held
    assert await asyncio.gather(*futures) == list(range(200))
    assert writer.committed_batches == 2
    assert _rows(connect) == list(range(200))


async def test_a_failing_operation_does_not_spoil_its_batch(
    writer: GroupCommitWriter, connect: Callable[[], sqlite3.Connection]
) -> None:
    def insert_then_fail(connection: sqlite3.Connection) -> None:
        connection.execute("INSERT INTO t (x) VALUES (1000)")
        raise ValueError("handler bug")

    gate = _Gate()
    held = await gate.hold(writer)
    good = [writer.submit(_insert(value)) for value in range(10)]
    failing = writer.submit(insert_then_fail)
    conflicting = writer.submit(_insert(3))  # violates UNIQUE against a row of this batch
    more = [writer.submit(_insert(value)) for value in range(10, 20)]
    gate.release.set()
    await held
    assert await asyncio.gather(*good, *more) == list(range(20))
    with pytest.raises(ValueError, match="handler bug"):
        await failing
    with pytest.raises(StoreUnavailable, match="UNIQUE") as caught:
        await conflicting
    assert isinstance(caught.value.__cause__, sqlite3.IntegrityError)
    assert writer.committed_batches == 2  # one batch held all 22, and it committed
    assert _rows(connect) == list(range(20))  # the failing insert was rolled back alone


async def test_savepoints_only_after_a_failure_so_operations_may_run_twice(
    writer: GroupCommitWriter, connect: Callable[[], sqlite3.Connection]
) -> None:
    runs: list[str] = []
    statements: list[str] = []

    def counted(name: str, fail: bool = False) -> Callable[[sqlite3.Connection], str]:
        def operation(connection: sqlite3.Connection) -> str:
            runs.append(name)
            connection.set_trace_callback(statements.append)
            if fail:
                raise ValueError(name)
            return name

        return operation

    gate = _Gate()
    held = await gate.hold(writer)
    clean = [writer.submit(counted(name)) for name in ("a", "b")]
    gate.release.set()
    await held
    assert await asyncio.gather(*clean) == ["a", "b"]
    assert runs == ["a", "b"]  # a batch that succeeds runs each operation once
    assert not any("SAVEPOINT" in sql for sql in statements)

    runs.clear()
    gate = _Gate()
    held = await gate.hold(writer)
    mixed = [writer.submit(counted("c")), writer.submit(counted("d", fail=True))]
    gate.release.set()
    await held
    assert await mixed[0] == "c"
    with pytest.raises(ValueError, match="d"):
        await mixed[1]
    assert runs == ["c", "d", "c", "d"]  # rolled back, then each on its own
    assert any("SAVEPOINT" in sql for sql in statements)


async def test_a_cancelled_waiter_does_not_undo_the_write(
    writer: GroupCommitWriter, connect: Callable[[], sqlite3.Connection]
) -> None:
    gate = _Gate()
    held = await gate.hold(writer)
    abandoned = writer.submit(_insert(7))
    abandoned.cancel()  # the HTTP client went away
    after = writer.submit(_insert(8))
    gate.release.set()
    await held
    assert await after == 8
    assert _rows(connect) == [7, 8]
    assert writer.alive


async def test_fire_and_forget_failures_are_dropped_quietly(
    writer: GroupCommitWriter, connect: Callable[[], sqlite3.Connection]
) -> None:
    def broken(connection: sqlite3.Connection) -> None:
        raise RuntimeError("lost on purpose")

    writer.submit_nowait(broken)
    writer.submit_nowait(_insert(1))
    assert await writer.submit(_insert(2)) == 2
    assert _rows(connect) == [1, 2]
    assert writer.alive


async def test_stop_finishes_what_was_queued_then_refuses_more(
    connect: Callable[[], sqlite3.Connection],
) -> None:
    writer = GroupCommitWriter(connect)
    writer.start()
    futures = [writer.submit(_insert(value)) for value in range(50)]
    await asyncio.to_thread(writer.stop)
    assert await asyncio.gather(*futures) == list(range(50))
    assert not writer.alive
    with pytest.raises(StoreUnavailable, match="not running"):
        writer.submit(_insert(99))
    writer.submit_nowait(_insert(100))  # ignored, not raised
    assert _rows(connect) == list(range(50))


class _Fatal(BaseException):
    """Something no operation should raise: the writer cannot go on after it."""


async def test_a_writer_that_dies_answers_every_waiter(
    connect: Callable[[], sqlite3.Connection], caplog: pytest.LogCaptureFixture
) -> None:
    def fatal(connection: sqlite3.Connection) -> None:
        raise _Fatal("unrecoverable")

    writer = GroupCommitWriter(connect, max_batch=1)
    writer.start()
    gate = _Gate()
    held = await gate.hold(writer)
    doomed = writer.submit(fatal)
    queued = writer.submit(_insert(1))  # still in the queue when the writer dies
    gate.release.set()
    await held
    with pytest.raises(StoreUnavailable, match="writer stopped: _Fatal") as caught:
        await doomed
    assert isinstance(caught.value.__cause__, _Fatal)
    with pytest.raises(StoreUnavailable, match="writer has stopped"):
        await queued
    await asyncio.to_thread(writer.stop)
    assert not writer.alive
    with pytest.raises(StoreUnavailable, match="not running"):
        writer.submit(_insert(2))
    assert "the SQLite writer stopped on an unexpected error" in caplog.text
    assert _rows(connect) == []


def test_a_writer_that_cannot_connect_says_why(tmp_path: Path) -> None:
    def connect() -> sqlite3.Connection:
        return sqlite3.connect(tmp_path / "missing-folder" / "x.db", check_same_thread=False)

    writer = GroupCommitWriter(connect)
    with pytest.raises(StoreUnavailable, match="cannot open the SQLite writer") as caught:
        writer.start()
    assert isinstance(caught.value.__cause__, sqlite3.OperationalError)
    assert not writer.alive
