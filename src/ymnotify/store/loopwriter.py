"""Short writes run on the event loop's own thread, batched, one durable commit per batch.

The receiver's accepts are many and small. Run on the group-commit writer thread, each of their
statements hands the GIL between that thread and the busy event loop twice (SQLite releases it
while it works): under load those hand-offs cost more CPU than the statements
(``bench/analysis.md``). Here the statements of a batch run on the loop's thread, where the
requests were parsed, and only the ``COMMIT`` (the fsync) goes to a thread: one hand-off per
batch. Requests arriving while a batch commits form the next batch, so commits still group.

A statement on the loop's thread must never wait for a lock: the connection's busy timeout is
zero, and a batch that finds the file locked is retried a millisecond later (the group-commit
writer of this process gets priority through ``WriteTurn``; other processes through SQLite's
lock). Nobody is told "stored" before the ``COMMIT`` returned.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from ymnotify.errors import StoreUnavailable
from ymnotify.store.sqlitewrites import WriteTurn, rerun_isolated, settle, write_failure

logger = logging.getLogger("ymnotify.store")

T = TypeVar("T")
Operation = Callable[[sqlite3.Connection], T]

RETRY_LOCKED = 0.001  # seconds between tries while the file is locked by another writer
# Operations run between two turns of the loop (an accept takes 50-100 µs): a batch of hundreds
# must not hold the loop for tens of milliseconds, PINGs and other requests go in between. Since
# a turn runs its polled reads first (receiver/reads_first.py), a PING waits for the turn in
# progress, so a slice is part of its wait: 8 gave lower PING p99 than 16 (bench/analysis.md).
SLICE = 8


@dataclass(slots=True)
class _Request(Generic[T]):
    operation: Operation[T]
    future: asyncio.Future[T]


class LoopWriter:
    """Runs short write operations on the event loop's thread in batched, durable commits."""

    def __init__(
        self,
        connect: Callable[[], sqlite3.Connection],
        turn: WriteTurn,
        *,
        busy_timeout: float = 5.0,
        max_batch: int = 512,
    ) -> None:
        self._connect = connect
        self._turn = turn
        self._busy_timeout = busy_timeout
        self._max_batch = max_batch
        self._connection: sqlite3.Connection | None = None
        self._committer: ThreadPoolExecutor | None = None
        self._pending: list[_Request[Any]] = []
        self._flush_scheduled = False
        self._committing = False
        # The open transaction's operations and their outcomes so far (None: no transaction).
        self._batch: list[_Request[Any]] | None = None
        self._outcomes: list[tuple[bool, Any]] = []
        self._locked_since: float | None = None  # when the first try at the waiting batch failed
        self._lock_error: sqlite3.Error | None = None  # SQLite's answer to the last try
        self._idle = asyncio.Event()
        self._idle.set()
        self.committed_batches = 0

    async def open(self) -> None:
        connection = await asyncio.to_thread(self._connect)
        connection.execute("PRAGMA busy_timeout = 0")  # never wait on the loop's thread
        self._connection = connection
        self._committer = ThreadPoolExecutor(1, thread_name_prefix="ymnotify-sqlite-commit")

    async def close(self) -> None:
        """Commit everything submitted, then close the connection."""
        await self._idle.wait()
        connection, self._connection = self._connection, None
        committer, self._committer = self._committer, None
        if committer is not None:
            committer.shutdown(wait=True)
        if connection is not None:
            await asyncio.to_thread(connection.close)

    def submit(self, operation: Operation[T]) -> asyncio.Future[T]:
        """Queue ``operation``; the future resolves once the batch holding it is committed."""
        if self._connection is None:
            raise StoreUnavailable("the SQLite file is not open")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._pending.append(_Request(operation, future))
        self._idle.clear()
        if not self._committing and self._batch is None and not self._flush_scheduled:
            self._flush_scheduled = True
            # call_soon, not now: every request parsed in this turn of the loop joins the batch.
            loop.call_soon(self._flush, loop)
        return future

    # -- one batch -----------------------------------------------------------------------------

    def _flush(self, loop: asyncio.AbstractEventLoop) -> None:
        self._flush_scheduled = False
        connection = self._connection
        if self._committing or self._batch is not None or not self._pending:
            return
        if connection is None:
            self._fail(self._take_all(), StoreUnavailable("the SQLite store was closed"))
            return
        if not self._begin(connection):
            self._retry_later(loop)
            return
        self._locked_since = None
        self._batch, self._outcomes = [], []
        self._run_slice(loop)

    def _run_slice(self, loop: asyncio.AbstractEventLoop) -> None:
        """Run the next few waiting operations in the open transaction, then yield to the loop
        (more come) or commit (none left, or the batch is full)."""
        connection, batch = self._connection, self._batch
        assert connection is not None
        assert batch is not None
        piece = self._pending[: min(SLICE, self._max_batch - len(batch))]
        del self._pending[: len(piece)]
        batch.extend(piece)
        try:
            results = [(True, request.operation(connection)) for request in piece]
        except Exception:  # one failed: redo the whole batch, each operation on its own
            outcomes = _run_one_by_one(connection, batch)
            if outcomes is None:  # the transaction itself failed and was rolled back
                self._batch, self._outcomes = None, []
                self._turn.give_back()
                self._fail(batch, StoreUnavailable("SQLite write failed: the transaction was lost"))
                self._flush_soon(loop)
                return
            self._outcomes = outcomes
        else:
            self._outcomes.extend(results)
        if self._pending and len(batch) < self._max_batch:
            loop.call_soon(self._run_slice, loop)  # PINGs and other requests go in between
            return
        self._start_commit(loop)

    def _start_commit(self, loop: asyncio.AbstractEventLoop) -> None:
        connection, batch, outcomes = self._connection, self._batch, self._outcomes
        assert connection is not None
        assert batch is not None
        assert self._committer is not None
        self._batch, self._outcomes = None, []
        self._committing = True
        committed = loop.run_in_executor(self._committer, _commit, connection)
        committed.add_done_callback(lambda done: self._finish(loop, batch, outcomes, done))

    def _begin(self, connection: sqlite3.Connection) -> bool:
        """Open the batch's transaction; ``False`` when another writer has the file now."""
        if not self._turn.try_take():
            return False
        try:
            connection.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            self._turn.give_back()
            if exc.sqlite_errorcode in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
                self._lock_error = exc
                return False
            self._fail(self._take_all(), write_failure(exc))
            return False
        return True

    def _retry_later(self, loop: asyncio.AbstractEventLoop) -> None:
        if not self._pending:
            self._settle_idle()
            return
        now = time.monotonic()
        if self._locked_since is None:
            self._locked_since = now
        elif now - self._locked_since >= self._busy_timeout:
            self._locked_since = None
            message = f"the database stayed locked for {self._busy_timeout:g}s"
            failure = StoreUnavailable(f"SQLite write failed: {message}")
            failure.__cause__ = self._lock_error  # None: this process's other writer held it
            self._fail(self._take_all(), failure)
            return
        self._flush_scheduled = True
        loop.call_later(RETRY_LOCKED, self._flush, loop)

    def _finish(
        self,
        loop: asyncio.AbstractEventLoop,
        batch: list[_Request[Any]],
        outcomes: list[tuple[bool, Any]],
        committed: asyncio.Future[None],
    ) -> None:
        self._turn.give_back()
        self._committing = False
        failure: BaseException | None
        if committed.cancelled():
            failure = StoreUnavailable("the commit was cancelled")
        else:
            failure = committed.exception()
        if failure is None:
            self.committed_batches += 1
            for request, (ok, value) in zip(batch, outcomes, strict=True):
                settle(request.future, ok, value)
        else:
            self._fail(batch, failure)
        self._flush_soon(loop)
        self._settle_idle()

    def _flush_soon(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._pending and not self._flush_scheduled:
            self._flush_scheduled = True
            loop.call_soon(self._flush, loop)

    def _take_all(self) -> list[_Request[Any]]:
        taken, self._pending = self._pending, []
        return taken

    def _fail(self, batch: list[_Request[Any]], failure: BaseException) -> None:
        for request in batch:
            settle(request.future, False, failure)
        self._settle_idle()

    def _settle_idle(self) -> None:
        idle = not (self._pending or self._committing or self._flush_scheduled)
        if idle and self._batch is None:
            self._idle.set()


def _run_one_by_one(
    connection: sqlite3.Connection, batch: list[_Request[Any]]
) -> list[tuple[bool, Any]] | None:
    """After an operation failed: roll the transaction back and run the batch again with a
    savepoint around each operation, so the failing one cannot spoil the others.

    The first run has no savepoints: a savepoint open over a batch makes SQLite copy every page
    it changes into a statement journal (it doubled the cost of an accept), and one per
    operation costs two statements each. ``None``: the transaction failed as a whole (rolled
    back; for instance another process took the file between the rollback and the new one).
    """
    try:
        return rerun_isolated(connection, [request.operation for request in batch])
    except sqlite3.Error:
        logger.warning("a SQLite batch failed as a whole; its writes fail", exc_info=True)
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        return None


def _commit(connection: sqlite3.Connection) -> None:
    # On the committer thread: SQLite releases the GIL for the fsync.
    try:
        connection.execute("COMMIT")
    except sqlite3.Error as exc:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise write_failure(exc) from exc
