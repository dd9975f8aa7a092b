"""Storage: the contract (``base``) and its backends, chosen by URL."""

from __future__ import annotations

import re
from pathlib import Path

from ymnotify.errors import ConfigError
from ymnotify.store.base import (
    Accepted,
    Backlog,
    EntityState,
    InboxStats,
    Incoming,
    NotificationFilter,
    NotificationStatus,
    PingRecord,
    Store,
    StoredNotification,
    TypeCount,
)

DEFAULT_DB_URL = "sqlite:///./ymnotify.db"

__all__ = [
    "DEFAULT_DB_TIMEOUT",
    "DEFAULT_DB_URL",
    "Accepted",
    "Backlog",
    "EntityState",
    "InboxStats",
    "Incoming",
    "NotificationFilter",
    "NotificationStatus",
    "PingRecord",
    "Store",
    "StoredNotification",
    "TypeCount",
    "redacted_url",
    "sqlite_path",
    "store_from_url",
]


DEFAULT_DB_TIMEOUT = 5.0


_PASSWORD_IN_URL = re.compile(r"(://[^:/@]+:)[^@]*@")


def redacted_url(url: str) -> str:
    """The store URL without its password, for logs and messages."""
    return _PASSWORD_IN_URL.sub(r"\1***@", url)


def sqlite_path(url: str) -> Path | None:
    """The file of a ``sqlite:///PATH`` URL; ``None`` for a URL of another store."""
    if not url.startswith("sqlite:///"):
        return None
    path = url.removeprefix("sqlite:///")
    if not path or path == ":memory:":
        raise ConfigError("sqlite URL needs a file path, e.g. sqlite:///./ymnotify.db")
    return Path(path)


def store_from_url(
    url: str, *, sqlite_synchronous: str = "full", timeout: float = DEFAULT_DB_TIMEOUT
) -> Store:
    """A (not yet opened) store for ``sqlite:///PATH``, ``memory://`` or ``postgresql://…``.

    ``timeout`` bounds how long one operation waits for the database: SQLite's busy timeout
    (another process holds the write lock), PostgreSQL's wait for a pooled connection.
    """
    path = sqlite_path(url)
    if path is not None:
        from ymnotify.store.sqlite import SqliteStore

        if sqlite_synchronous not in ("full", "normal"):
            raise ConfigError("--sqlite-synchronous must be 'full' or 'normal'")
        return SqliteStore(
            path,
            synchronous=sqlite_synchronous,  # type: ignore[arg-type]
            busy_timeout=timeout,
        )
    if url.startswith("memory://"):
        from ymnotify.store.memory import MemoryStore

        return MemoryStore()
    if url.startswith(("postgresql://", "postgres://")):
        from ymnotify.store.postgres import PostgresStore

        return PostgresStore(url, acquire_timeout=timeout)
    raise ConfigError(
        f"unsupported --db URL {url!r}: use sqlite:///PATH or postgresql://user@host/dbname"
    )
