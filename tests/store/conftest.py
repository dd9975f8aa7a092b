"""The ``store`` fixture: an opened store of every backend, for the one contract suite.

To hold another backend to the contract, add a factory to ``BACKENDS``. A factory gets the
test's ``tmp_path`` and returns a store that is not yet opened; it may ``pytest.skip`` with a
reason when its server is not reachable (e.g. ``postgres`` without a database), which
``YMNOTIFY_REQUIRE_POSTGRES=1`` turns into a failure.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from ymnotify.store import Store
from ymnotify.store.memory import MemoryStore
from ymnotify.store.sqlite import SqliteStore

BACKENDS: dict[str, Callable[[Path], Store]] = {
    "sqlite": lambda tmp_path: SqliteStore(tmp_path / "inbox.db"),
    "memory": lambda tmp_path: MemoryStore(),
}


@pytest.fixture(params=sorted(BACKENDS))
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    """An opened store of each backend in turn, closed after the test."""
    opened = BACKENDS[request.param](tmp_path)
    await opened.open()
    try:
        yield opened
    finally:
        await opened.close()
