"""Group commit for SQLite: one writer thread, many waiting requests, one fsync per batch.

SQLite allows one writer at a time, and a durable commit costs an fsync. Committing each accept
alone would cap throughput at the disk's fsync rate; instead every operation queued while the
previous batch was committing is run in the next transaction, and all of them learn their
result only after the single ``COMMIT`` returned. When one operation raises, the batch is rolled
back and run again with a savepoint around each (``sqlitewrites.rerun_isolated``), so one failing
operation cannot spoil the others. Nobody is told "stored" before the commit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from ymnotify.errors import StoreUnavailable
from ymnotify.store.sqlitewrites import WriteTurn, failure_of, rerun_isolated, settle

logger = logging.getLogger("ymnotify.store")

T = TypeVar("T")
Operation = Callable[[sqlite3.Connection], T]


@dataclass(slots=True)
class _Request(Generic[T]):
    operation: Operation[T]
    future: asyncio.Future[T] | None  # None: nobody waits (fire and forget)
    loop: asyncio.AbstractEventLoop | None


_STOP = object()


class GroupCommitWriter:
    """Runs write operations on one connection in batched, durable transactions."""

    def __init__(
        self,
        connect: Callable[[], sqlite3.Connection],
        *,
        max_batch: int = 512,
        turn: WriteTurn | None = None,
    ):
        self._connect = connect
        # Shared with this process's LoopWriter of the same file, if there is one.
        self._turn = turn or WriteTurn()
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread = threading.Thread(
            target=self._run, name="ymnotify-sqlite-writer", daemon=True
        )
        self._started = threading.Event()
        self._startup_error: BaseException | None = None
        self._committed_batches = 0
        # Guards the queue's end of life: once the writer has stopped, nothing more is queued
        # (it would never be answered).
        self._accepting = threading.Lock()
        self._stopped = False

    def start(self) -> None:
        self._thread.start()
        self._started.wait()
        if self._startup_error is not None:
            raise StoreUnavailable(f"cannot open the SQLite writer: {self._startup_error}") from (
                self._startup_error
            )

    def stop(self) -> None:
        """Finish everything queued, then close the connection."""
        if self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    @property
    def committed_batches(self) -> int:
        """How many transactions this writer has committed: how well requests are grouped."""
        return self._committed_batches

    def submit(self, operation: Operation[T]) -> asyncio.Future[T]:
        """Queue ``operation``; the future resolves after the batch holding it is committed."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        with self._accepting:
            if self._stopped or not self._thread.is_alive():
                raise StoreUnavailable("the SQLite writer is not running")
            self._queue.put(_Request(operation, future, loop))
        return future

    def submit_nowait(self, operation: Operation[Any]) -> None:
        """Queue ``operation`` without waiting for it; a failure is only lost, never raised."""
        with self._accepting:
            if not self._stopped and self._thread.is_alive():
                self._queue.put(_Request(operation, None, None))

    def _run(self) -> None:
        try:
            connection = self._connect()
        except BaseException as exc:  # reported to start(); the thread ends
            self._startup_error = exc
            self._started.set()
            return
        self._started.set()
        try:
            self._serve(connection)
        except BaseException:
            logger.critical("the SQLite writer stopped on an unexpected error", exc_info=True)
        finally:
            connection.close()
            self._fail_leftovers()

    def _serve(self, connection: sqlite3.Connection) -> None:
        while True:
            first = self._queue.get()
            if first is _STOP:
                return
            batch: list[_Request[Any]] = [first]
            stop_after = False
            while len(batch) < self._max_batch:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    stop_after = True
                    break
                batch.append(item)
            try:
                self._commit_batch(connection, batch)
            except BaseException as exc:
                for request in batch:
                    _answer(request, False, _stopped(exc))
                raise
            if stop_after:
                return

    def _fail_leftovers(self) -> None:
        # Requests queued as the writer stopped (or failed) get an answer: nobody waits forever.
        with self._accepting:
            self._stopped = True
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if item is not _STOP:
                _answer(item, False, StoreUnavailable("the SQLite writer has stopped"))

    def _commit_batch(self, connection: sqlite3.Connection, batch: list[_Request[Any]]) -> None:
        with self._turn.held():
            outcomes = self._run_transaction(connection, batch)
        _answer_all(batch, outcomes)

    def _run_transaction(
        self, connection: sqlite3.Connection, batch: list[_Request[Any]]
    ) -> list[tuple[bool, Any]]:
        outcomes: list[tuple[bool, Any]]
        try:
            connection.execute("BEGIN IMMEDIATE")
            try:
                outcomes = [(True, request.operation(connection)) for request in batch]
            except Exception:  # one failed: the batch again, each operation on its own
                outcomes = rerun_isolated(connection, [request.operation for request in batch])
            connection.execute("COMMIT")
            self._committed_batches += 1  # only this thread writes it
        except sqlite3.Error as exc:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            outcomes = [(False, failure_of(exc)) for _ in batch]  # one exception per waiter
        return outcomes


def _answer_all(batch: list[_Request[Any]], outcomes: list[tuple[bool, Any]]) -> None:
    # One wake-up per event loop for the whole batch: call_soon_threadsafe writes to the loop's
    # self-pipe, and doing that per request cost a syscall and a GIL hand-off each.
    waiters: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], bool, Any]]] = {}
    for request, (ok, value) in zip(batch, outcomes, strict=True):
        if request.future is not None and request.loop is not None:
            waiters.setdefault(request.loop, []).append((request.future, ok, value))
    for loop, settlements in waiters.items():
        # A closed loop raises RuntimeError: its waiters are gone, nobody is left to tell.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(_settle_all, settlements)


def _answer(request: _Request[Any], ok: bool, value: Any) -> None:
    _answer_all([request], [(ok, value)])


def _stopped(exc: BaseException) -> StoreUnavailable:
    failure = StoreUnavailable(f"the SQLite writer stopped: {exc!r}")
    failure.__cause__ = exc
    return failure


def _settle_all(settlements: list[tuple[asyncio.Future[Any], bool, Any]]) -> None:
    for future, ok, value in settlements:
        settle(future, ok, value)
