"""The Market sandbox's SQLite file: migrations, cheap claims, leases."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ymnotify.clock import utc_text
from ymnotify.delivery.client import Attempt
from ymnotify.delivery.outcome import classify_response
from ymnotify.errors import StoreUnavailable
from ymnotify.market import rules
from ymnotify.market.records import Business, Claimed, NewSubscription, User
from ymnotify.market.store import SQL, MarketStore
from ymnotify.store import queries

T0 = datetime(2026, 6, 1, tzinfo=UTC)


async def _store_with_deliveries(path: Path, count: int) -> MarketStore:
    store = MarketStore(path)
    await store.open()
    await store.create_business(Business(1, "b", (1001,), (User("u", "owner"),), T0))
    settings = rules.created("s", ("ORDER_CREATED",), "https://a.example", T0, timedelta(0))
    await store.insert_subscription(NewSubscription(rules.Scope(1, 1001), settings, T0))
    body = b'{"notificationType":"ORDER_CREATED","campaignId":1001}'
    payload = {"notificationType": "ORDER_CREATED", "campaignId": 1001}
    for index in range(count):  # one delivery due every second from T0
        await store.publish([("ORDER_CREATED", body, payload)], T0 + timedelta(seconds=index))
    return store


async def _claim(
    store: MarketStore,
    now: datetime,
    limit: int = 100,
    *,
    wall: datetime = T0,
    owner: str = "a",
    **share: Any,
) -> list[Claimed]:
    """``store.claim_due`` with a lease of an hour from ``wall``."""
    lease_until = wall + timedelta(hours=1)
    return await store.claim_due(
        now, wall=wall, lease_until=lease_until, owner=owner, limit=limit, **share
    )


async def test_claims_read_the_due_indexes_only(tmp_path: Path) -> None:
    store = await _store_with_deliveries(tmp_path / "m.db", 50)
    try:
        connection = sqlite3.connect(tmp_path / "m.db")
        params = {
            "now": utc_text(T0),
            "wall": utc_text(T0),
            "subscription_id": 1,
            "limit": 10,
        }
        for name, index in [
            ("settings_with_due", "deliveries_due_by_subscription"),
            ("due_of_subscription", "deliveries_due_by_subscription"),
            ("due_now", "deliveries_due"),
            ("next_run_after", "deliveries_due"),
        ]:
            explained = connection.execute("EXPLAIN QUERY PLAN " + SQL[name], params).fetchall()
            plan = " ".join(row[3] for row in explained)
            assert index in plan, (name, plan)
            assert "SCAN d " not in plan, (name, plan)
            assert "SCAN deliveries" not in plan, (name, plan)
            assert "deliveries_by_subscription" not in plan, (name, plan)  # every delivered row
        connection.close()
        claimed = await _claim(store, T0 + timedelta(seconds=9))
        assert [c.run_at for c in claimed] == [T0 + timedelta(seconds=i) for i in range(10)]
        again = await _claim(store, T0 + timedelta(seconds=9), owner="b")
        assert again == []  # leased: nobody takes them twice
        moments = await store.next_moments(T0 + timedelta(seconds=9))
        assert not moments.due  # all ten are taken
        assert moments.next_run_at == T0 + timedelta(seconds=10)
    finally:
        await store.close()
    # A new process releases the previous one's leases.
    reopened = MarketStore(tmp_path / "m.db")
    async with reopened:
        assert (await reopened.next_moments(T0)).due
        taken = await _claim(reopened, T0 + timedelta(seconds=9), owner="c")
        assert len(taken) == 10


async def _two_settings(path: Path, backlog: int, later: int) -> MarketStore:
    """Setting 1 with ``backlog`` deliveries due from T0, setting 2 with ``later`` due after
    them all."""
    store = MarketStore(path)
    await store.open()
    await store.create_business(Business(1, "b", (1001, 1002), (User("u", "owner"),), T0))
    for campaign in (1001, 1002):
        settings = rules.created("s", ("ORDER_CREATED",), "https://a.example", T0, timedelta(0))
        await store.insert_subscription(NewSubscription(rules.Scope(1, campaign), settings, T0))
    for index in range(backlog + later):
        campaign = 1001 if index < backlog else 1002
        body = f'{{"notificationType":"ORDER_CREATED","campaignId":{campaign}}}'.encode()
        payload = {"notificationType": "ORDER_CREATED", "campaignId": campaign}
        await store.publish([("ORDER_CREATED", body, payload)], T0 + timedelta(seconds=index))
    return store


async def test_settings_take_turns_within_their_share(tmp_path: Path) -> None:
    store = await _two_settings(tmp_path / "m.db", backlog=30, later=3)
    now = T0 + timedelta(hours=1)

    async def claim(limit: int, **share: Any) -> list[tuple[int, datetime]]:
        return [(c.subscription_id, c.run_at) for c in await _claim(store, now, limit, **share)]

    try:
        # The backlog's setting has 2 in flight already: 2 more fill its share of 4; the later
        # setting is not behind it in the queue.
        assert await claim(10, per_setting=4, in_flight={1: 2}) == sorted(
            [(1, T0), (1, T0 + timedelta(seconds=1))]
            + [(2, T0 + timedelta(seconds=30 + i)) for i in range(3)],
            key=lambda pair: pair[1],
        )
        # The overall limit holds too, the setting waiting longest served first.
        assert await claim(3, per_setting=4, in_flight={}) == [
            (1, T0 + timedelta(seconds=2 + i)) for i in range(3)
        ]
        # Without a share, one setting may take the whole limit.
        assert [setting for setting, _ in await claim(100)] == [1] * 25
    finally:
        await store.close()


async def test_a_freed_place_goes_to_the_setting_with_fewest_in_flight(tmp_path: Path) -> None:
    store = await _two_settings(tmp_path / "m.db", backlog=30, later=3)
    try:
        taken = await _claim(store, T0 + timedelta(hours=1), 1, per_setting=64, in_flight={1: 63})
        # Not the older backlog's next one (T0): the setting with nothing in flight.
        assert [(c.subscription_id, c.run_at) for c in taken] == [(2, T0 + timedelta(seconds=30))]
    finally:
        await store.close()


async def test_among_settings_with_as_many_in_flight_the_last_served_waits(
    tmp_path: Path,
) -> None:
    store = await _two_settings(tmp_path / "m.db", backlog=30, later=3)
    try:
        # Neither has anything in flight. The older backlog just had its turn (its attempts
        # all ended at once): the setting that has not had one goes first.
        taken = await _claim(store, T0 + timedelta(hours=1), 1, per_setting=64, last_turns={1: 7})
        assert [c.subscription_id for c in taken] == [2]
        # With no turns known, the one waiting longest.
        taken = await _claim(store, T0 + timedelta(hours=1), 1, per_setting=64)
        assert [c.subscription_id for c in taken] == [1]
        # A per-setting share bounds the setting it names only.
        taken = await _claim(
            store, T0 + timedelta(hours=1), 10, per_setting=2, shares={1: 5}, in_flight={1: 1}
        )
        assert sorted(c.subscription_id for c in taken) == [1, 1, 1, 1, 2, 2]
    finally:
        await store.close()


async def test_migrations_are_versioned_and_idempotent(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    for _ in range(2):
        async with MarketStore(path):
            pass
    connection = sqlite3.connect(path)
    version = connection.execute("PRAGMA user_version").fetchone()[0]
    tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
    connection.close()
    assert version == queries.migrations("sqlite", "ymnotify.market")[-1][0]
    assert {"businesses", "subscriptions", "deliveries", "request_log", "clock"} <= tables


async def test_a_claim_carries_its_settings(tmp_path: Path) -> None:
    # The engine reads a claimed delivery's settings from the claim: no read per setting.
    store = await _store_with_deliveries(tmp_path / "m.db", 3)
    try:
        claimed = await _claim(store, T0 + timedelta(seconds=2))
        settings = (await store.subscription(1)).settings
        assert [c.settings for c in claimed] == [settings] * 3
    finally:
        await store.close()


async def test_one_process_per_file(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    first = MarketStore(path)
    await first.open()
    try:
        # A second opener would give back the first one's leases: deliveries in flight twice.
        with pytest.raises(StoreUnavailable, match="another `ymnotify market serve` is using"):
            await MarketStore(path).open()
    finally:
        await first.close()
    async with MarketStore(path):  # free again once the first is closed
        pass


def _next_runs(path: Path) -> list[tuple[int, str | None, str | None]]:
    """Each setting's kept next_run_at beside the earliest pending delivery's time."""
    connection = sqlite3.connect(path)
    try:
        return connection.execute(
            "SELECT s.id, s.next_run_at, (SELECT min(run_at) FROM deliveries AS d"
            " WHERE d.state = 'pending' AND d.subscription_id = s.id) FROM subscriptions AS s"
        ).fetchall()
    finally:
        connection.close()


def _attempt(verdict_status: int) -> Attempt:
    outcome = classify_response(
        verdict_status,
        "application/json",
        b'{"version":"1","name":"s","time":"2026-06-01T00:00:00Z"}',
    )
    return Attempt("https://a.example/notification", "tp", b"{}", T0, 0.01, outcome, verdict_status)


async def test_each_settings_next_run_is_never_later_than_its_deliveries(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    store = await _two_settings(path, backlog=4, later=2)

    async def claim(at: datetime) -> list[Claimed]:
        return await _claim(store, at, wall=at)

    def never_later() -> None:
        for setting, kept, earliest in _next_runs(path):
            if earliest is not None:
                assert kept is not None, setting
                assert kept <= earliest, setting

    try:
        runs = _next_runs(path)
        assert [kept for _, kept, _ in runs] == [utc_text(T0), utc_text(T0 + timedelta(seconds=4))]
        one_hour = T0 + timedelta(hours=1)
        claimed = await claim(one_hour)
        by_setting = {c.subscription_id: c for c in reversed(claimed)}  # each one's oldest
        for item in claimed:
            # Setting 1's all delivered; setting 2's first fails (a retry a minute on), its
            # second is cancelled.
            if item.subscription_id == 1:
                await store.finish_attempt(item, _attempt(200), one_hour)
            elif item is by_setting[2]:
                await store.finish_attempt(item, _attempt(500), one_hour)
            else:
                await store.cancel_delivery(item.delivery_id, "disabled", one_hour)
        never_later()
        # Nothing is due until the retry: a claim finds nothing and moves each setting on.
        assert await claim(one_hour + timedelta(seconds=1)) == []
        runs = _next_runs(path)
        assert [(kept, earliest) for _, kept, earliest in runs] == [
            (None, None),
            (utc_text(one_hour + timedelta(minutes=1)),) * 2,
        ]
        # A setting's earlier delivery moves it back.
        await store.publish(
            [("ORDER_CREATED", b"{}", {"notificationType": "ORDER_CREATED", "campaignId": 1002})],
            one_hour + timedelta(seconds=2),
        )
        assert _next_runs(path)[1][1] == utc_text(one_hour + timedelta(seconds=2))
        await store.remove_subscription(2, one_hour + timedelta(seconds=3))
        never_later()
        assert await claim(one_hour + timedelta(minutes=5)) == []
        assert [(kept, earliest) for _, kept, earliest in _next_runs(path)] == [(None, None)] * 2
    finally:
        await store.close()


async def test_an_older_file_gets_its_settings_next_runs(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    store = await _two_settings(path, backlog=3, later=1)
    await store.close()
    connection = sqlite3.connect(path)  # back to version 1, as files written before it
    for statement in (
        "DROP TRIGGER next_run_after_insert",
        "DROP TRIGGER next_run_after_retry",
        "DROP INDEX subscriptions_by_next_run",
        "DROP INDEX deliveries_due_by_subscription",
        "ALTER TABLE subscriptions DROP COLUMN next_run_at",
        "PRAGMA user_version = 1",
    ):
        connection.execute(statement)
    connection.commit()
    connection.close()
    async with MarketStore(path):
        pass
    runs = _next_runs(path)
    assert [kept for _, kept, _ in runs] == [utc_text(T0), utc_text(T0 + timedelta(seconds=3))]
