"""Storage: the contract (``base``) and its backends, chosen by URL."""

from __future__ import annotations

from ymnotify.errors import ConfigError
from ymnotify.store.base import (
    Accepted,
    EntityState,
    InboxStats,
    Incoming,
    NotificationFilter,
    NotificationStatus,
    PingRecord,
    Store,
    StoredNotification,
)

DEFAULT_DB_URL = "sqlite:///./ymnotify.db"

__all__ = [
    "DEFAULT_DB_URL",
    "Accepted",
    "EntityState",
    "InboxStats",
    "Incoming",
    "NotificationFilter",
    "NotificationStatus",
    "PingRecord",
    "Store",
    "StoredNotification",
    "store_from_url",
]


def store_from_url(url: str, *, sqlite_synchronous: str = "full") -> Store:
    """A (not yet opened) store for ``sqlite:///PATH``, ``memory://`` or ``postgresql://…``."""
    if url.startswith("sqlite:///"):
        from ymnotify.store.sqlite import SqliteStore

        path = url.removeprefix("sqlite:///")
        if not path or path == ":memory:":
            raise ConfigError("sqlite URL needs a file path, e.g. sqlite:///./ymnotify.db")
        if sqlite_synchronous not in ("full", "normal"):
            raise ConfigError("--sqlite-synchronous must be 'full' or 'normal'")
        return SqliteStore(path, synchronous=sqlite_synchronous)  # type: ignore[arg-type]
    if url.startswith("memory://"):
        from ymnotify.store.memory import MemoryStore

        return MemoryStore()
    if url.startswith(("postgresql://", "postgres://")):
        from ymnotify.store.postgres import PostgresStore

        return PostgresStore(url)
    raise ConfigError(
        f"unsupported --db URL {url!r}: use sqlite:///PATH or postgresql://user@host/dbname"
    )
