"""The ``store`` fixture: an opened store of every backend, for the one contract suite.

To hold another backend to the contract, add a factory to ``BACKENDS``. A factory gets the
test's ``request`` (to ask for fixtures such as ``tmp_path`` or ``postgres_url``) and returns a
store that is not yet opened. ``postgres_url`` skips with the reason when no server is reachable,
and fails instead under ``YMNOTIFY_REQUIRE_POSTGRES=1`` or ``CI=true``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from ymnotify.store import Store
from ymnotify.store.memory import MemoryStore
from ymnotify.store.postgres import PostgresStore
from ymnotify.store.sqlite import SqliteStore

BACKENDS: dict[str, Callable[[pytest.FixtureRequest], Store]] = {
    "sqlite": lambda request: SqliteStore(request.getfixturevalue("tmp_path") / "inbox.db"),
    "memory": lambda request: MemoryStore(),
    "postgres": lambda request: PostgresStore(request.getfixturevalue("postgres_url")),
}


@pytest.fixture(params=sorted(BACKENDS))
def backend_store(request: pytest.FixtureRequest) -> Store:
    """A store of each backend in turn, not yet opened.

    A plain fixture, so that the fixtures a backend asks for are set up outside the event loop.
    """
    return BACKENDS[request.param](request)


@pytest.fixture
async def store(backend_store: Store) -> AsyncIterator[Store]:
    """An opened store of each backend in turn, closed after the test."""
    await backend_store.open()
    try:
        yield backend_store
    finally:
        await backend_store.close()
