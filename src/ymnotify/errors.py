"""Exceptions raised by ymnotify.

YmnotifyError
├── ConfigError            bad flags, environment or arguments
│   └── MissingDependency  a handler asks for a parameter nothing provides
├── HandlerTimeout         a handler ran longer than --handler-timeout
├── StoreError             the store could not do what was asked
│   ├── StoreUnavailable   the store cannot be reached or written now (retry later)
│   └── SchemaMismatch     the store's schema is not the one this version runs on
├── NotFound               an id or name that does not exist
└── MarketRefusal          the Market sandbox refuses a request (tree in ymnotify.market.errors)

Errors from drivers and libraries are translated at the boundary, with the cause chained.
"""

from __future__ import annotations


class YmnotifyError(Exception):
    """Root of every exception ymnotify raises on purpose."""


class ConfigError(YmnotifyError):
    """A flag, environment variable or argument is not usable."""


class MissingDependency(ConfigError):
    """A handler (or error observer) has a parameter no dependency or middleware provides."""

    def __init__(self, handler: str, names: list[str], *, kind: str = "handler") -> None:
        super().__init__(
            f"{kind} {handler} asks for {', '.join(map(repr, names))}, which no dependency or"
            " middleware provides"
        )
        self.handler = handler  # the handler's (or error observer's) name
        self.names = names


class HandlerTimeout(YmnotifyError):
    """A handler did not finish within its time limit; the attempt counts as failed."""

    def __init__(self, handler: str, seconds: float) -> None:
        super().__init__(f"handler {handler} did not finish within {seconds:g}s")
        self.handler = handler
        self.seconds = seconds


class StoreError(YmnotifyError):
    """The store failed."""


class StoreUnavailable(StoreError):
    """The store cannot be reached or written right now; the operation may succeed later."""


class SchemaMismatch(StoreError):
    """The store's schema version differs from the one this version of ymnotify expects."""

    def __init__(self, message: str, *, found: int, expected: int) -> None:
        super().__init__(message)
        self.found = found
        self.expected = expected


class ForeignFile(StoreError):
    """The SQLite file holds another program's data (or the other kind of ymnotify store):
    ymnotify will not add its tables to it."""


class NotFound(YmnotifyError):
    """Nothing exists under the given id."""
