"""Fixtures shared by every test package."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

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


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Under ``YMNOTIFY_REQUIRE_POSTGRES=1`` (or ``CI=true``) a PostgreSQL test never skips,
    whatever made it skip: in CI a skip would hide a broken setup as a green run."""
    outcome: Any = yield
    report: pytest.TestReport = outcome.get_result()
    needs_postgres = "postgres_template" in getattr(item, "fixturenames", ())
    if report.skipped and needs_postgres and postgres.postgres_required():
        report.outcome = "failed"
        report.longrepr = (
            f"a PostgreSQL test skipped, but PostgreSQL is required: {report.longrepr}"
        )
