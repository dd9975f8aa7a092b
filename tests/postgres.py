"""A fresh PostgreSQL database per test, cloned from a migrated template.

The server is ``YMNOTIFY_TEST_DATABASE_URL`` (default: the local server as ``postgres``). Without
a reachable server the tests skip with the reason — unless ``YMNOTIFY_REQUIRE_POSTGRES=1`` or
``CI=true``, where a skip would hide a broken setup, so they fail instead.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest

from ymnotify.store.postgres import PostgresStore

DEFAULT_SERVER_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
# One template per test run: several runs (other worktrees, CI jobs) may share the server, and a
# run rebuilding a shared template would drop it under the others' feet.
TEMPLATE = f"ymnotify_test_template_{os.getpid()}_{uuid.uuid4().hex[:6]}"


def server_url() -> str:
    return os.environ.get("YMNOTIFY_TEST_DATABASE_URL", DEFAULT_SERVER_URL)


def postgres_required() -> bool:
    return os.environ.get("YMNOTIFY_REQUIRE_POSTGRES") == "1" or os.environ.get("CI") == "true"


def database_url(name: str) -> str:
    info = psycopg.conninfo.conninfo_to_dict(server_url())
    info["dbname"] = name
    user = info.get("user", "postgres")
    password = f":{info['password']}" if info.get("password") else ""
    host = info.get("host", "127.0.0.1")
    port = info.get("port", 5432)
    return f"postgresql://{user}{password}@{host}:{port}/{name}"


def _admin() -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(server_url(), autocommit=True, connect_timeout=3)


def skip_or_fail(reason: str) -> None:
    if postgres_required():
        pytest.fail(f"PostgreSQL is required here but {reason}")
    pytest.skip(f"no PostgreSQL server: {reason} (set YMNOTIFY_TEST_DATABASE_URL)")


def build_template() -> None:
    """(Re)create the migrated template database."""
    with _admin() as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{TEMPLATE}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{TEMPLATE}"')

    async def migrate() -> None:
        store = PostgresStore(database_url(TEMPLATE), max_connections=1)
        try:
            await store.migrate()
        finally:
            await store.close()

    try:
        asyncio.run(migrate())
    except BaseException:
        drop_template()  # a failed migration left it behind on the server for good
        raise


def drop_template() -> None:
    """Drop this run's template database."""
    with _admin() as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{TEMPLATE}" WITH (FORCE)')


@contextmanager
def fresh_database(*, migrated: bool = True) -> Iterator[str]:
    """A new database (a copy of the migrated template, or empty); dropped afterwards."""
    name = f"ymnotify_test_{uuid.uuid4().hex[:12]}"
    with _admin() as admin:
        if migrated:
            admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{TEMPLATE}"')
        else:
            admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield database_url(name)
    finally:
        with _admin() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
