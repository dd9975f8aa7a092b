"""What only the SQLite store has: its file, migrations, group commit and locks."""

from __future__ import annotations

import asyncio
import re
import sqlite3
import time
from contextlib import closing
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from tests.store.incoming import at, notification
from ymnotify.errors import (
    ConfigError,
    ForeignFile,
    SchemaMismatch,
    StoreUnavailable,
    YmnotifyError,
)
from ymnotify.market.store import MarketStore
from ymnotify.protocol import StateChange
from ymnotify.store import NotificationFilter, queries, store_from_url
from ymnotify.store.memory import MemoryStore
from ymnotify.store.migrate import MARKET_FILE, RECEIVER_FILE, ownership_problem
from ymnotify.store.sqlite import SqliteStore

LATEST = queries.migrations("sqlite")[-1][0]
TABLES = {"notifications", "entity_state", "last_ping", "jobs", "job_attempts"}


def _pragma(path: Path, name: str) -> Any:
    with closing(sqlite3.connect(path)) as connection:
        return connection.execute(f"PRAGMA {name}").fetchone()[0]


def _tables(path: Path) -> set[str]:
    with closing(sqlite3.connect(path)) as connection:
        rows = connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        return {row[0] for row in rows}


# -- the file and its schema -------------------------------------------------------------------


@pytest.mark.parametrize("start", ["absent", "zero-bytes", "in-missing-folder"])
async def test_an_empty_file_is_migrated_to_the_latest_version(tmp_path: Path, start: str) -> None:
    path = tmp_path / ("sub/dir/inbox.db" if start == "in-missing-folder" else "inbox.db")
    if start == "zero-bytes":
        path.touch()
    async with SqliteStore(path):
        pass
    assert _pragma(path, "user_version") == LATEST
    assert _tables(path) == TABLES
    assert _pragma(path, "journal_mode") == "wal"
    assert _pragma(path, "application_id") == RECEIVER_FILE.application_id


async def test_migrations_are_numbered_from_one_without_gaps() -> None:
    versions = [version for version, _ in queries.migrations("sqlite")]
    assert versions == list(range(1, LATEST + 1))


async def test_a_newer_schema_is_refused_and_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "future.db"
    with closing(sqlite3.connect(path)) as connection:  # as a later ymnotify would leave it
        connection.execute(f"PRAGMA application_id = {RECEIVER_FILE.application_id}")
        connection.execute(f"PRAGMA user_version = {LATEST + 1}")
    store = SqliteStore(path)
    with pytest.raises(SchemaMismatch, match="upgrade ymnotify") as caught:
        await store.open()
    assert (caught.value.found, caught.value.expected) == (LATEST + 1, LATEST)
    assert isinstance(caught.value, YmnotifyError)
    assert _pragma(path, "user_version") == LATEST + 1
    assert _tables(path) == set()
    with pytest.raises(StoreUnavailable):
        await store.check()


@pytest.mark.parametrize(
    ("found_id", "version", "tables", "refused_because"),
    [
        (RECEIVER_FILE.application_id, 2, {"notifications"}, None),
        (0, 0, set(), None),  # new
        (0, 2, {"notifications", "jobs"}, None),  # ours, from before application ids
        (MARKET_FILE.application_id, 1, {"subscriptions"}, "it is a ymnotify Market store"),
        (0x12345678, 0, set(), "another program (application id 0x12345678)"),
        (0, 0, {"customers"}, "tables that are not"),  # somebody's database
        (0, 3, {"subscriptions"}, "tables that are not"),  # a Market file from before the ids
    ],
)
def test_whose_file_it_is(
    found_id: int, version: int, tables: set[str], refused_because: str | None
) -> None:
    problem = ownership_problem(RECEIVER_FILE, found_id, version, tables)
    if refused_because is None:
        assert problem is None
    else:
        assert problem is not None
        assert refused_because in problem


def test_a_market_file_from_before_application_ids_is_the_markets() -> None:
    tables = {"businesses", "subscriptions", "deliveries", "request_log"}
    assert ownership_problem(MARKET_FILE, 0, 1, tables) is None
    assert ownership_problem(MARKET_FILE, 0, 2, {"notifications", "jobs"}) is not None


async def test_another_programs_database_is_refused_and_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "crm.db"
    with closing(sqlite3.connect(path)) as connection:
        connection.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY)")
    with pytest.raises(ForeignFile, match=f"{path}: it holds tables that are not"):
        await SqliteStore(path).open()
    with pytest.raises(ForeignFile):
        await SqliteStore(path).migrate()
    assert _tables(path) == {"customers"}
    assert (_pragma(path, "user_version"), _pragma(path, "application_id")) == (0, 0)


async def test_the_market_and_the_receiver_never_open_each_others_files(tmp_path: Path) -> None:
    receiver_file, market_file = tmp_path / "inbox.db", tmp_path / "market.db"
    async with SqliteStore(receiver_file):
        pass
    async with MarketStore(market_file):
        pass
    with pytest.raises(ForeignFile, match="it is a ymnotify Market store"):
        await SqliteStore(market_file).open()
    with pytest.raises(ForeignFile, match="it is a ymnotify receiver store"):
        await MarketStore(receiver_file).open()


async def test_a_file_from_before_application_ids_is_ours(tmp_path: Path) -> None:
    path = tmp_path / "inbox.db"
    async with SqliteStore(path) as store:
        await store.accept(notification("ORDER_CREATED"))
    with closing(sqlite3.connect(path)) as connection:
        connection.execute("PRAGMA application_id = 0")  # as earlier versions wrote it
    async with SqliteStore(path) as store:
        assert (await store.stats()).total == 1
    assert _pragma(path, "application_id") == RECEIVER_FILE.application_id


async def test_stores_opening_one_new_file_at_once_all_work(tmp_path: Path) -> None:
    # serve, worker and the CLI may start together on a fresh file; the race on turning it into
    # WAL is short, so it is run many times over.
    for round_number in range(30):
        path = tmp_path / f"shared-{round_number}.db"
        stores = [SqliteStore(path) for _ in range(3)]
        await asyncio.gather(*(store.open() for store in stores))
        try:
            accepted = await stores[0].accept(notification("CHAT_CREATED"))
            again = await stores[-1].accept(notification("CHAT_CREATED"))
            assert (again.notification_id, again.duplicate) == (accepted.notification_id, True)
        finally:
            for store in stores:
                await store.close()
        assert _pragma(path, "user_version") == LATEST


async def test_reopening_keeps_notifications_state_and_pings(tmp_path: Path) -> None:
    path = tmp_path / "inbox.db"
    status = notification("ORDER_STATUS_UPDATED", event=at(10), status="DELIVERY", substatus="X")
    async with SqliteStore(path) as store:
        first = await store.accept(notification("ORDER_CREATED"))
        second = await store.accept(status)
        store.record_ping("5.45.207.1", at(3))
        entity = status.entity
        assert entity is not None
        states_before = await store.entity_states(entity)
    async with SqliteStore(path) as store:  # close flushed the fire-and-forget PING
        rows = await store.list_notifications(NotificationFilter(newest_first=False))
        assert [row.id for row in rows] == [first.notification_id, second.notification_id]
        assert rows[1].body == status.body
        assert await store.entity_states(entity) == states_before
        stats = await store.stats()
        assert stats.last_ping is not None
        assert (stats.last_ping.received_at, stats.last_ping.count) == (at(3), 1)
        repeat = await store.accept(status)
        assert (repeat.notification_id, repeat.duplicate) == (second.notification_id, True)
        older = notification(
            "ORDER_STATUS_UPDATED", event=at(5), status="PROCESSING", substatus="Y"
        )
        assert (await store.accept(older)).stale


# -- group commit ------------------------------------------------------------------------------


async def test_many_concurrent_accepts_all_land_in_few_transactions(tmp_path: Path) -> None:
    count = 500
    incoming = [notification("CHAT_MESSAGE_SENT", messageId=f"m-{n}") for n in range(count)]
    async with SqliteStore(tmp_path / "inbox.db") as store:
        assert isinstance(store, SqliteStore)
        before = store.committed_batches
        started = time.perf_counter()
        results = await asyncio.gather(*(store.accept(one) for one in incoming))
        elapsed = time.perf_counter() - started
        batches = store.committed_batches - before
        print(f"\n{count} concurrent accepts: {batches} transactions, {elapsed * 1000:.0f} ms")
        assert len({result.notification_id for result in results}) == count
        assert not any(result.duplicate for result in results)
        assert (await store.stats()).total == count
        assert 1 <= batches <= count // 10


async def test_a_failing_accept_fails_alone_and_leaves_nothing_behind(tmp_path: Path) -> None:
    good = [notification("CHAT_MESSAGE_SENT", messageId=f"m-{n}") for n in range(30)]
    # A state value that cannot become JSON fails after the row was inserted: the row must go.
    unserializable = StateChange(slot="status", value={"status": object()}, at=at(0))
    bad = replace(notification("ORDER_STATUS_UPDATED", orderId=77), state_changes=(unserializable,))
    async with SqliteStore(tmp_path / "inbox.db") as store:
        results = await asyncio.gather(
            *(store.accept(one) for one in [*good[:15], bad, *good[15:]]), return_exceptions=True
        )
        failures = [result for result in results if isinstance(result, BaseException)]
        assert len(failures) == 1
        assert isinstance(failures[0], TypeError)
        assert results[15] is failures[0]
        rows = await store.list_notifications(NotificationFilter(limit=100))
        assert {row.dedup_key for row in rows} == {one.dedup_key for one in good}
        assert await store.entity_states("order:77") == []


async def test_a_locked_database_makes_accept_unavailable_until_released(tmp_path: Path) -> None:
    path = tmp_path / "inbox.db"
    incoming = notification("ORDER_CREATED")
    async with SqliteStore(path, busy_timeout=0.2) as store:
        with closing(sqlite3.connect(path, isolation_level=None, timeout=0)) as other:
            other.execute("BEGIN EXCLUSIVE")
            try:
                with pytest.raises(StoreUnavailable, match="locked") as caught:
                    await store.accept(incoming)
                assert isinstance(caught.value.__cause__, sqlite3.OperationalError)
                await store.check()  # reads go on under WAL
            finally:
                other.execute("ROLLBACK")
        accepted = await store.accept(incoming)
        assert not accepted.duplicate  # the refused attempt stored nothing
        assert (await store.stats()).total == 1


# -- choosing a store by URL -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "synchronous", "message"),
    [
        ("sqlite:///", "full", "sqlite URL needs a file path"),
        ("sqlite:///:memory:", "full", "sqlite URL needs a file path"),
        ("sqlite:///inbox.db", "off", "--sqlite-synchronous"),
        ("sqlite:///inbox.db", "FULL", "--sqlite-synchronous"),
        ("mysql://user@host/db", "full", "unsupported --db URL 'mysql://user@host/db'"),
        ("./ymnotify.db", "full", "unsupported --db URL"),
        ("sqlite://inbox.db", "full", "unsupported --db URL"),
    ],
)
def test_store_from_url_refuses_what_it_cannot_open(
    url: str, synchronous: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        store_from_url(url, sqlite_synchronous=synchronous)


def test_store_from_url_builds_each_backend(tmp_path: Path) -> None:
    absolute = store_from_url(f"sqlite:///{tmp_path / 'a.db'}")
    assert isinstance(absolute, SqliteStore)
    assert absolute.path == tmp_path / "a.db"
    assert absolute.synchronous == "full"
    relative = store_from_url("sqlite:///./data/b.db", sqlite_synchronous="normal")
    assert isinstance(relative, SqliteStore)
    assert relative.path == Path("data/b.db")
    assert relative.synchronous == "normal"
    assert isinstance(store_from_url("memory://"), MemoryStore)
