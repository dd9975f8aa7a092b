"""What the two writers of a SQLite file share: whose turn it is, how a failure reads, how a
waiting request is told.

``GroupCommitWriter`` (a thread, for job bookkeeping, PINGs, prune) and ``LoopWriter`` (the event
loop's thread, for accepts) write the same file from one process; see their modules.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from ymnotify.errors import StoreUnavailable


class WriteTurn:
    """Which of one process's two writers of a SQLite file may open a transaction.

    The group-commit writer thread waits for its turn (``held``); the loop writer only takes a
    free turn nobody is waiting for (``try_take``), so a steady stream of accepts cannot starve
    job bookkeeping.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._wanted = False  # set by the one thread that waits; read by the loop

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        self._wanted = True
        self._lock.acquire()
        self._wanted = False
        try:
            yield
        finally:
            self._lock.release()

    def try_take(self) -> bool:
        return not self._wanted and self._lock.acquire(blocking=False)

    def give_back(self) -> None:
        self._lock.release()


def write_failure(exc: sqlite3.Error) -> StoreUnavailable:
    """A SQLite error as the store's error, with SQLite's as its cause."""
    failure = StoreUnavailable(f"SQLite write failed: {exc}")
    failure.__cause__ = exc
    return failure


def failure_of(exc: Exception) -> Exception:
    """What a waiter is told when its operation raised: SQLite errors become store errors,
    anything else (a bug in the operation) is passed on as it is."""
    return write_failure(exc) if isinstance(exc, sqlite3.Error) else exc


def settle(future: asyncio.Future[Any], ok: bool, value: Any) -> None:
    """Give a waiter its result or exception, unless it stopped waiting."""
    if future.done():  # the waiter was cancelled (client gone); the write stands regardless
        return
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)


def rerun_isolated(
    connection: sqlite3.Connection, operations: Sequence[Callable[[sqlite3.Connection], Any]]
) -> list[tuple[bool, Any]]:
    """After one of ``operations`` raised in the open transaction: roll it back, begin again and
    run them each inside its own savepoint, so that one that raises leaves no trace and spoils
    none of the others; ``(ok, result or failure)`` each. ``sqlite3.Error`` when the transaction
    itself fails.

    Both writers first run a batch without savepoints (two statements more per operation, and
    the pages each changes copied into a statement journal) and only after a failure come here:
    every operation must be safe to run twice.
    """
    connection.execute("ROLLBACK")
    connection.execute("BEGIN IMMEDIATE")
    outcomes: list[tuple[bool, Any]] = []
    for operation in operations:
        connection.execute("SAVEPOINT op")
        try:
            outcomes.append((True, operation(connection)))
        except Exception as exc:
            connection.execute("ROLLBACK TO op")
            outcomes.append((False, failure_of(exc)))
        connection.execute("RELEASE op")
    return outcomes
