"""Exceptions raised by ymnotify.

YmnotifyError
├── ConfigError            bad flags, environment or arguments
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


class NotFound(YmnotifyError):
    """Nothing exists under the given id."""
