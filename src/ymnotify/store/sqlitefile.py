"""One SQLite file, opened the way every ymnotify store needs it.

Both the receiver's store and the Market sandbox's store keep their data in a SQLite file used
by several threads (and often several processes): WAL mode, an explicit synchronous mode, writes
through one group-commit writer thread, reads on their own connection in a worker thread. This
class is that plumbing, once; the stores above it own the SQL and its meaning.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, TypeVar

from ymnotify.errors import ForeignFile, StoreUnavailable
from ymnotify.store.groupcommit import GroupCommitWriter
from ymnotify.store.loopwriter import LoopWriter
from ymnotify.store.migrate import FileKind, migrate_sqlite
from ymnotify.store.sqlitewrites import WriteTurn

T = TypeVar("T")
SynchronousMode = Literal["full", "normal"]
Migrations = list[tuple[int, str]]


class SqliteFile:
    """A SQLite file with a group-commit writer and a reader connection.

    ``label`` names the file in error messages ("SQLite store", "Market store");
    ``on_open`` runs on a fresh connection right after the migrations, before serving.
    ``loop_writer`` adds a ``LoopWriter`` for short, frequent writes (``write_on_loop``).
    """

    def __init__(
        self,
        path: str | Path,
        *,
        migrations: Migrations,
        kind: FileKind,
        label: str,
        synchronous: SynchronousMode = "full",
        busy_timeout: float = 5.0,
        on_open: Callable[[sqlite3.Connection], Any] | None = None,
        loop_writer: bool = False,
    ) -> None:
        self.path = Path(path)
        self.migrations = migrations
        self.kind = kind
        self.label = label
        self.synchronous = synchronous
        self.busy_timeout = busy_timeout
        self._on_open = on_open
        self._writer: GroupCommitWriter | None = None
        self._turn = WriteTurn()
        self._loop_writer = (
            LoopWriter(self.connect, self._turn, busy_timeout=busy_timeout) if loop_writer else None
        )
        self._reader: sqlite3.Connection | None = None
        self._reader_lock = threading.Lock()

    # -- lifecycle -----------------------------------------------------------------------------

    async def open(self) -> None:
        await asyncio.to_thread(self._open_sync)
        if self._loop_writer is not None:
            try:
                await self._loop_writer.open()
            except sqlite3.Error as exc:
                await self.close()
                raise StoreUnavailable(f"cannot open {self.label} {self.path}: {exc}") from exc

    def _open_sync(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            setup = self.connect()
            try:
                self._migrate(setup)
                if self._on_open is not None:
                    self._on_open(setup)
            finally:
                setup.close()
            self._reader = self.connect()
        except (sqlite3.Error, OSError) as exc:  # OSError: its directory cannot be made
            raise StoreUnavailable(f"cannot open {self.label} {self.path}: {exc}") from exc
        self._writer = GroupCommitWriter(self.connect, turn=self._turn)
        self._writer.start()

    async def migrate(self) -> tuple[int, int]:
        """Apply pending migrations without opening; return (version before, version after)."""

        def run() -> tuple[int, int]:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                connection = self.connect()
            except (sqlite3.Error, OSError) as exc:
                raise StoreUnavailable(f"cannot open {self.label} {self.path}: {exc}") from exc
            try:
                return self._migrate(connection)
            except sqlite3.Error as exc:
                raise StoreUnavailable(f"cannot migrate {self.label} {self.path}: {exc}") from exc
            finally:
                connection.close()

        return await asyncio.to_thread(run)

    def _migrate(self, connection: sqlite3.Connection) -> tuple[int, int]:
        try:
            return migrate_sqlite(connection, self.migrations, self.kind)
        except ForeignFile as exc:
            raise ForeignFile(f"{self.path}: {exc}") from None

    async def close(self) -> None:
        """Finish queued writes, then close the connections."""
        if self._loop_writer is not None:
            await self._loop_writer.close()
        writer, self._writer = self._writer, None
        if writer is not None:
            await asyncio.to_thread(writer.stop)
        if self._reader is not None:
            with self._reader_lock:
                self._reader.close()
            self._reader = None

    def connect(self) -> sqlite3.Connection:
        """A new connection: explicit transactions, rows by name, WAL, the synchronous mode."""
        connection = sqlite3.connect(
            self.path,
            isolation_level=None,  # transactions are explicit
            check_same_thread=False,
            timeout=self.busy_timeout,
        )
        try:
            connection.row_factory = sqlite3.Row
            _enable_wal(connection, self.busy_timeout)
            # FULL fsyncs the WAL on every commit: an acknowledged write survives power loss.
            # NORMAL (documented as weaker) survives a process crash but not an OS crash.
            connection.execute(f"PRAGMA synchronous={self.synchronous.upper()}")
            connection.execute("PRAGMA foreign_keys=ON")
        except BaseException:
            connection.close()
            raise
        return connection

    # -- use -----------------------------------------------------------------------------------

    @property
    def alive(self) -> bool:
        return self._writer is not None and self._writer.alive

    @property
    def committed_batches(self) -> int:
        """Transactions committed since ``open``; far fewer than writes under load."""
        batches = 0 if self._writer is None else self._writer.committed_batches
        if self._loop_writer is not None:
            batches += self._loop_writer.committed_batches
        return batches

    def writer(self) -> GroupCommitWriter:
        if self._writer is None:
            raise StoreUnavailable(f"the {self.label} is not open")
        return self._writer

    async def write(self, operation: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``operation`` in the next group commit; return once it is durable."""
        return await self.writer().submit(operation)

    async def write_on_loop(self, operation: Callable[[sqlite3.Connection], T]) -> T:
        """Run a short ``operation`` on the event loop's thread, batched with others; return
        once it is durable. Only for quick statements on indexed rows (see ``loopwriter``);
        needs ``loop_writer=True``. Raises ``StoreUnavailable`` when the file is not open."""
        if self._loop_writer is None:
            raise RuntimeError(f"the {self.label} was made without loop_writer=True")
        return await self._loop_writer.submit(operation)

    def write_nowait(self, operation: Callable[[sqlite3.Connection], Any]) -> None:
        """Queue ``operation`` without waiting; nothing happens when the file is not open."""
        if self._writer is not None:
            self._writer.submit_nowait(operation)

    async def read(self, query: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``query`` on the reader connection in a worker thread."""

        def run() -> T:
            if self._reader is None:
                raise StoreUnavailable(f"the {self.label} is not open")
            with self._reader_lock:
                try:
                    return query(self._reader)
                except sqlite3.Error as exc:
                    raise StoreUnavailable(f"SQLite read failed: {exc}") from exc

        return await asyncio.to_thread(run)


def _enable_wal(connection: sqlite3.Connection, timeout: float) -> None:
    # Turning a new file into WAL takes an exclusive lock, and SQLite answers "database is
    # locked" at once, without its busy handler, while another process does the same (serve and
    # worker starting together on a fresh file). Retry briefly, bounded by the busy timeout.
    deadline = time.monotonic() + timeout
    while True:
        try:
            connection.execute("PRAGMA journal_mode=WAL")
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode != sqlite3.SQLITE_BUSY or time.monotonic() >= deadline:
                raise
            time.sleep(0.005)
        else:
            return
