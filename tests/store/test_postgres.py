"""What only the PostgreSQL store does: explicit migrations, schema checks, reconnection."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg
import pytest

from tests import postgres
from tests.processes import run_cli
from ymnotify.errors import SchemaMismatch, StoreUnavailable
from ymnotify.protocol import parse_payload, wire
from ymnotify.protocol.samples import sample
from ymnotify.store.base import Incoming
from ymnotify.store.postgres import PostgresStore


async def test_a_database_behind_is_refused_until_migrated(postgres_template: None) -> None:
    with postgres.fresh_database(migrated=False) as url:
        store = PostgresStore(url)
        with pytest.raises(SchemaMismatch, match="ymnotify db migrate") as refused:
            await store.open()
        assert (refused.value.found, refused.value.expected) == (0, 1)
        migrated = run_cli(["db", "migrate", "--db", url])
        assert migrated.returncode == 0, migrated.stderr
        assert "from version 0 to 1" in migrated.stdout
        again = run_cli(["db", "migrate", "--db", url])
        assert "already at version 1" in again.stdout
        store = PostgresStore(url)
        await store.open()
        await store.check()
        await store.close()


async def test_unreachable_server_is_a_store_error() -> None:
    store = PostgresStore("postgresql://postgres@127.0.0.1:1/nothing", acquire_timeout=1)
    with pytest.raises(StoreUnavailable, match="cannot connect"):
        await store.open()


async def test_terminated_connections_fail_then_recover(postgres_url: str) -> None:

    store = PostgresStore(postgres_url, max_connections=2, acquire_timeout=2)
    await store.open()
    try:
        body = sample("ORDER_CREATED")
        notification = parse_payload(body)
        incoming = Incoming(
            dedup_key=wire.dedup_key(body),
            body=b"{}",
            headers=(),
            source="127.0.0.1",
            received_at=datetime.now(UTC),
            notification_type=notification.notification_type,
            entity=notification.entity,
        )
        first = await store.accept(incoming)
        dbname = postgres_url.rsplit("/", 1)[1]
        with psycopg.connect(postgres.server_url(), autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                (dbname,),
            )
        # The pool checks connections before handing them out, so the next call reconnects.
        again = await store.accept(incoming)
        assert again.notification_id == first.notification_id
        assert again.duplicate
    finally:
        await store.close()
