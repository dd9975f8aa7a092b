"""Fixtures shared by every test package."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from tests import postgres


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[None]:
    """Make sure a server is reachable and this run's migrated template exists (once per run)."""
    try:
        postgres.build_template()
    except psycopg.OperationalError as exc:
        postgres.skip_or_fail(f"cannot connect to {postgres.server_url()}: {exc}")
    yield
    postgres.drop_template()


@pytest.fixture
def postgres_url(postgres_template: None) -> Iterator[str]:
    """URL of a fresh, migrated PostgreSQL database for this test alone."""
    with postgres.fresh_database() as url:
        yield url
