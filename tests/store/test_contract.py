"""The storage contract, held against every backend (see ``conftest.BACKENDS``)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from datetime import UTC, timedelta, timezone
from typing import Any

import pytest

from tests.store.incoming import HEADERS, MARKET_SOURCE, T0, at, notification, quarantined
from ymnotify.errors import StoreUnavailable
from ymnotify.store import (
    EntityState,
    Incoming,
    NotificationFilter,
    NotificationStatus,
    PingRecord,
    Store,
    StoredNotification,
)

ORDER = 51234567890
ENTITY = f"order:{ORDER}"


async def _only(store: Store, notification_id: int) -> StoredNotification:
    stored = await store.get_notification(notification_id)
    assert stored is not None
    return stored


async def _slots(store: Store, entity: str = ENTITY) -> dict[str, EntityState]:
    return {state.slot: state for state in await store.entity_states(entity)}


async def _status(store: Store, kind: str, minutes: float, status: str, substatus: str) -> int:
    incoming = notification(
        kind, event=at(minutes), orderId=ORDER, status=status, substatus=substatus
    )
    return (await store.accept(incoming)).notification_id


# -- accept ------------------------------------------------------------------------------------


async def test_accept_returns_a_new_id_and_keeps_everything_received(store: Store) -> None:
    received = T0.astimezone(timezone(timedelta(hours=3)))
    incoming = notification("ORDER_CREATED", received=received, orderId=ORDER)
    accepted = await store.accept(incoming)
    assert (accepted.duplicate, accepted.stale) == (False, False)
    stored = await _only(store, accepted.notification_id)
    assert stored.id == accepted.notification_id
    assert stored.dedup_key == incoming.dedup_key
    assert stored.notification_type == "ORDER_CREATED"
    assert stored.status is NotificationStatus.PENDING
    assert stored.entity == ENTITY
    assert stored.event_time == T0
    assert (stored.stale, stored.duplicates, stored.error) == (False, 0, None)
    assert stored.received_at == T0  # same instant; microseconds kept
    assert stored.last_received_at == T0
    assert stored.source == MARKET_SOURCE
    assert stored.headers == HEADERS
    assert stored.body == incoming.body


async def test_ids_are_distinct_and_increase(store: Store) -> None:
    ids = [
        (await store.accept(notification("CHAT_CREATED", chatId=chat))).notification_id
        for chat in range(1, 6)
    ]
    assert ids == sorted(ids)
    assert len(set(ids)) == 5


async def test_headers_keep_order_repeats_and_latin1_text(store: Store) -> None:
    headers = (("x-a", "1"), ("x-forwarded-for", "1.2.3.4"), ("x-forwarded-for", "ÿé"))
    incoming = replace(notification("PING"), headers=headers)
    stored = await _only(store, (await store.accept(incoming)).notification_id)
    assert stored.headers == headers


async def test_get_of_an_unknown_id_is_none(store: Store) -> None:
    assert await store.get_notification(424242) is None


# -- duplicates --------------------------------------------------------------------------------


async def test_a_duplicate_is_stored_once_and_counted(store: Store) -> None:
    first = notification("ORDER_CREATED", orderId=ORDER)
    original = await store.accept(first)
    repeats = [await store.accept(replace(first, received_at=at(m))) for m in (1, 2)]
    assert {r.notification_id for r in repeats} == {original.notification_id}
    assert all(r.duplicate for r in repeats)
    rows = await store.list_notifications(NotificationFilter())
    assert [row.id for row in rows] == [original.notification_id]
    assert rows[0].duplicates == 2
    assert rows[0].received_at == T0
    assert rows[0].last_received_at == at(2)
    stats = await store.stats()
    assert (stats.total, stats.duplicates) == (1, 2)


async def test_concurrent_copies_of_one_notification_are_stored_once(store: Store) -> None:
    incoming = notification("CHAT_MESSAGE_SENT")
    results = await asyncio.gather(*(store.accept(incoming) for _ in range(20)))
    assert len({r.notification_id for r in results}) == 1
    assert sum(not r.duplicate for r in results) == 1
    assert (await _only(store, results[0].notification_id)).duplicates == 19


async def test_payloads_that_differ_in_any_field_are_different_notifications(store: Store) -> None:
    when = at(5)
    refund = notification("ORDER_RETURN_STATUS_UPDATED", event=when)
    shipment = notification(
        "ORDER_RETURN_STATUS_UPDATED", event=when, statuses={"shipmentStatus": "IN_TRANSIT"}
    )
    ids = {(await store.accept(n)).notification_id for n in (refund, shipment)}
    assert len(ids) == 2


# -- staleness and entity state ----------------------------------------------------------------


async def test_an_older_status_after_a_newer_one_is_stale_and_the_state_keeps_the_newer(
    store: Store,
) -> None:
    newer = await _status(store, "ORDER_STATUS_UPDATED", 10, "PROCESSING", "READY_TO_SHIP")
    older = await store.accept(
        notification(
            "ORDER_STATUS_UPDATED",
            event=at(5),
            orderId=ORDER,
            status="PROCESSING",
            substatus="STARTED",
        )
    )
    assert older.stale
    assert not older.duplicate
    assert (await _only(store, older.notification_id)).stale
    assert not (await _only(store, newer)).stale
    state = (await _slots(store))["status"]
    assert state.value == {"status": "PROCESSING", "substatus": "READY_TO_SHIP"}
    assert (state.event_time, state.notification_id, state.entity) == (at(10), newer, ENTITY)
    assert (await store.stats()).stale == 1
    repeat = await store.accept(
        notification(
            "ORDER_STATUS_UPDATED",
            event=at(5),
            orderId=ORDER,
            status="PROCESSING",
            substatus="STARTED",
        )
    )
    assert (repeat.duplicate, repeat.stale) == (True, True)


async def test_a_newer_status_replaces_the_state(store: Store) -> None:
    await _status(store, "ORDER_STATUS_UPDATED", 5, "PROCESSING", "STARTED")
    newer = await _status(store, "ORDER_STATUS_UPDATED", 10, "DELIVERY", "SHIPPED")
    state = (await _slots(store))["status"]
    assert state.value == {"status": "DELIVERY", "substatus": "SHIPPED"}
    assert state.notification_id == newer
    assert (await store.stats()).stale == 0


async def test_equal_event_times_are_not_stale_and_the_later_arrival_wins(store: Store) -> None:
    await _status(store, "ORDER_STATUS_UPDATED", 5, "PROCESSING", "STARTED")
    second = await store.accept(
        notification(
            "ORDER_STATUS_UPDATED",
            event=at(5),
            orderId=ORDER,
            status="PROCESSING",
            substatus="READY_TO_SHIP",
        )
    )
    assert not second.stale
    state = (await _slots(store))["status"]
    assert state.value["substatus"] == "READY_TO_SHIP"
    assert state.notification_id == second.notification_id


async def test_a_cancellation_and_status_updates_share_the_status(store: Store) -> None:
    cancelled = await store.accept(notification("ORDER_CANCELLED", event=at(10), orderId=ORDER))
    late = await store.accept(
        notification(
            "ORDER_STATUS_UPDATED",
            event=at(5),
            orderId=ORDER,
            status="PROCESSING",
            substatus="STARTED",
        )
    )
    assert late.stale
    state = (await _slots(store))["status"]
    assert state.value == {"status": "CANCELLED", "substatus": None}
    assert state.notification_id == cancelled.notification_id


async def test_refund_and_shipment_statuses_of_a_return_are_judged_apart(store: Store) -> None:
    def update(minutes: float, return_id: int, **statuses: str) -> Incoming:
        return notification(
            "ORDER_RETURN_STATUS_UPDATED",
            event=at(minutes),
            orderId=ORDER,
            returnId=return_id,
            statuses=statuses,
        )

    refund = await store.accept(update(10, 7, refundStatus="REFUND_IN_PROGRESS"))
    shipment = await store.accept(update(5, 7, shipmentStatus="IN_TRANSIT"))
    other_return = await store.accept(update(1, 8, refundStatus="REFUNDED"))
    assert [refund.stale, shipment.stale, other_return.stale] == [False, False, False]
    late_refund = await store.accept(update(7, 7, refundStatus="STARTED_BY_USER"))
    assert late_refund.stale
    slots = await _slots(store)
    assert set(slots) == {
        "return:7/refundStatus",
        "return:7/shipmentStatus",
        "return:8/refundStatus",
    }
    assert slots["return:7/refundStatus"].value == {"refundStatus": "REFUND_IN_PROGRESS"}
    assert slots["return:7/shipmentStatus"].value == {"shipmentStatus": "IN_TRANSIT"}
    mixed = await store.accept(update(8, 7, refundStatus="REFUNDED", shipmentStatus="PICKED"))
    assert mixed.stale  # its refund status is older than the one known
    slots = await _slots(store)
    assert slots["return:7/refundStatus"].notification_id == refund.notification_id
    assert slots["return:7/shipmentStatus"].value == {"shipmentStatus": "PICKED"}
    assert slots["return:7/shipmentStatus"].notification_id == mixed.notification_id


async def test_chat_arbitrage_start_and_finish_are_one_state(store: Store) -> None:
    chat = "chat:33445"
    started = await store.accept(notification("CHAT_ARBITRAGE_STARTED", event=at(10), chatId=33445))
    finished = await store.accept(
        notification("CHAT_ARBITRAGE_FINISHED", event=at(5), chatId=33445)
    )
    assert finished.stale
    state = (await _slots(store, chat))["arbitrage"]
    assert state.value == {"arbitrage": "STARTED"}
    assert state.notification_id == started.notification_id
    later = await store.accept(notification("CHAT_ARBITRAGE_FINISHED", event=at(20), chatId=33445))
    assert not later.stale
    assert (await _slots(store, chat))["arbitrage"].value == {"arbitrage": "FINISHED"}


async def test_notifications_without_state_are_never_stale(store: Store) -> None:
    await _status(store, "ORDER_STATUS_UPDATED", 10, "PROCESSING", "STARTED")
    for kind in ("ORDER_CREATED", "ORDER_CANCELLATION_REQUEST", "ORDER_RETURN_CREATED"):
        accepted = await store.accept(notification(kind, event=at(1), orderId=ORDER))
        assert not accepted.stale, kind
    assert set(await _slots(store)) == {"status"}


async def test_entities_and_their_states_are_separate(store: Store) -> None:
    await store.accept(
        notification(
            "ORDER_STATUS_UPDATED", event=at(10), orderId=1, status="PROCESSING", substatus="X"
        )
    )
    accepted = await store.accept(
        notification(
            "ORDER_STATUS_UPDATED", event=at(5), orderId=2, status="DELIVERED", substatus="Y"
        )
    )
    assert not accepted.stale
    assert (await _slots(store, "order:2"))["status"].value["status"] == "DELIVERED"
    assert await store.entity_states("order:3") == []


async def test_entity_states_are_listed_by_slot(store: Store) -> None:
    await store.accept(notification("ORDER_UPDATED", updateType="SHIPMENT_DATE_UPDATED"))
    await store.accept(notification("ORDER_CANCELLED"))
    await store.accept(notification("ORDER_UPDATED", updateType="DELIVERY_DATE_UPDATED"))
    entity = notification("ORDER_CANCELLED").entity
    assert entity is not None
    slots = [state.slot for state in await store.entity_states(entity)]
    assert slots == sorted(slots)
    assert slots == ["status", "update:DELIVERY_DATE_UPDATED", "update:SHIPMENT_DATE_UPDATED"]


# -- quarantine --------------------------------------------------------------------------------


async def test_a_quarantined_body_is_kept_byte_for_byte_with_its_reason(store: Store) -> None:
    body = b'{"notificationType": "ORDER_CREATED", "orderId": "\xff\xfe"'
    accepted = await store.accept(quarantined(body, "body is not UTF-8 (byte 49)"))
    assert (accepted.duplicate, accepted.stale) == (False, False)
    stored = await _only(store, accepted.notification_id)
    assert stored.status is NotificationStatus.QUARANTINED
    assert stored.body == body
    assert stored.error == "body is not UTF-8 (byte 49)"
    assert (stored.entity, stored.event_time, stored.notification_type) == (None, None, None)
    again = await store.accept(quarantined(body, "body is not UTF-8 (byte 49)", received=at(1)))
    assert (again.notification_id, again.duplicate) == (accepted.notification_id, True)
    stats = await store.stats()
    assert stats.by_status == {"quarantined": 1}
    assert stats.by_type == {"": 1}


async def test_quarantined_bodies_are_listed_with_their_declared_type(store: Store) -> None:
    await store.accept(notification("ORDER_CREATED"))
    bad = await store.accept(
        quarantined(
            b'{"notificationType":"ORDER_CREATED"}',
            "createdAt: Field required",
            kind="ORDER_CREATED",
        )
    )
    rows = await store.list_notifications(NotificationFilter(status=NotificationStatus.QUARANTINED))
    assert [row.id for row in rows] == [bad.notification_id]
    assert rows[0].notification_type == "ORDER_CREATED"
    by_type = await store.list_notifications(NotificationFilter(notification_type="ORDER_CREATED"))
    assert len(by_type) == 2


# -- listing -----------------------------------------------------------------------------------


async def _fill(store: Store) -> dict[str, int]:
    """Six rows: three orders' statuses, a chat, a quarantined body, an unknown type."""
    ids: dict[str, int] = {}
    for index, order in enumerate((1, 2, 1)):
        incoming = notification(
            "ORDER_STATUS_UPDATED",
            received=at(index),
            event=at(index),
            orderId=order,
            status="PROCESSING",
            substatus=f"S{index}",
        )
        ids[f"status{index}"] = (await store.accept(incoming)).notification_id
    ids["chat"] = (await store.accept(notification("CHAT_CREATED", received=at(3)))).notification_id
    ids["bad"] = (await store.accept(quarantined(b"{", "not JSON", received=at(4)))).notification_id
    unknown = notification("ORDER_TELEPORTED", received=at(5))
    ids["unknown"] = (await store.accept(unknown)).notification_id
    return ids


async def _listed(store: Store, **filters: Any) -> list[int]:
    rows = await store.list_notifications(NotificationFilter(**filters))
    return [row.id for row in rows]


async def test_listing_is_newest_first_unless_asked(store: Store) -> None:
    ids = await _fill(store)
    everything = sorted(ids.values())
    assert await _listed(store) == everything[::-1]
    assert await _listed(store, newest_first=False) == everything
    assert await _listed(store, limit=2) == everything[::-1][:2]
    assert await _listed(store, limit=2, newest_first=False) == everything[:2]


async def test_listing_filters_by_type_status_and_entity(store: Store) -> None:
    ids = await _fill(store)
    statuses = [ids["status2"], ids["status1"], ids["status0"]]
    assert await _listed(store, notification_type="ORDER_STATUS_UPDATED") == statuses
    assert await _listed(store, notification_type="ORDER_TELEPORTED") == [ids["unknown"]]
    assert await _listed(store, notification_type="NOTHING") == []
    assert await _listed(store, status=NotificationStatus.QUARANTINED) == [ids["bad"]]
    pending = await _listed(store, status=NotificationStatus.PENDING)
    assert sorted(pending) == sorted(set(ids.values()) - {ids["bad"]})
    assert await _listed(store, status=NotificationStatus.DONE) == []
    assert await _listed(store, entity="order:1") == [ids["status2"], ids["status0"]]
    unknown_entity = (await _only(store, ids["unknown"])).entity
    assert unknown_entity is not None
    assert unknown_entity.startswith("unknown:")
    assert await _listed(store, entity=unknown_entity) == [ids["unknown"]]
    assert await _listed(store, entity="order:1", notification_type="CHAT_CREATED") == []


async def test_listing_by_receive_time_is_since_inclusive_until_exclusive(store: Store) -> None:
    ids = await _fill(store)
    assert await _listed(store, received_since=at(3)) == [ids["unknown"], ids["bad"], ids["chat"]]
    assert await _listed(store, received_until=at(1)) == [ids["status0"]]
    window = await _listed(store, received_since=at(1), received_until=at(3))
    assert window == [ids["status2"], ids["status1"]]
    shifted = at(1).astimezone(timezone(timedelta(hours=-5)))
    assert await _listed(store, received_since=shifted, received_until=at(3)) == window


async def test_paging_with_before_id_visits_every_row_once(store: Store) -> None:
    ids = await _fill(store)
    seen: list[int] = []
    before: int | None = None
    for _ in range(10):
        page = await _listed(store, limit=4, before_id=before)
        if not page:
            break
        seen.extend(page)
        before = page[-1]
    assert seen == sorted(ids.values(), reverse=True)


async def test_listing_by_ids(store: Store) -> None:
    ids = await _fill(store)
    wanted = (ids["chat"], ids["status0"], 999_999)
    assert await _listed(store, ids=wanted) == [ids["chat"], ids["status0"]]
    assert await _listed(store, ids=wanted, newest_first=False) == [ids["status0"], ids["chat"]]
    assert await _listed(store, ids=(ids["chat"],), status=NotificationStatus.QUARANTINED) == []


# -- stats and PING ----------------------------------------------------------------------------


async def test_stats_of_an_empty_store(store: Store) -> None:
    stats = await store.stats()
    assert (stats.total, stats.duplicates, stats.stale) == (0, 0, 0)
    assert (stats.by_status, stats.by_type) == ({}, {})
    assert (stats.last_ping, stats.last_received_at) == (None, None)


async def test_stats_count_by_status_and_type(store: Store) -> None:
    ids = await _fill(store)
    await store.accept(notification("CHAT_CREATED", received=at(9)))  # a duplicate of "chat"
    stats = await store.stats()
    assert stats.total == len(ids)
    assert stats.by_status == {"pending": 5, "quarantined": 1}
    assert stats.by_type == {
        "ORDER_STATUS_UPDATED": 3,
        "CHAT_CREATED": 1,
        "": 1,
        "ORDER_TELEPORTED": 1,
    }
    assert stats.duplicates == 1
    assert stats.stale == 0
    assert stats.last_received_at == at(9)


async def _ping_seen(store: Store, count: int) -> PingRecord:
    # record_ping does not wait for its write: poll, with a deadline, until it shows.
    deadline = time.monotonic() + 5
    while True:
        ping = (await store.stats()).last_ping
        if ping is not None and ping.count >= count:
            return ping
        assert time.monotonic() < deadline, f"PING #{count} not recorded within 5 s: {ping}"
        await asyncio.sleep(0.01)


async def test_record_ping_notes_the_last_ping_without_waiting(store: Store) -> None:
    store.record_ping("5.45.207.1", at(1))
    store.record_ping("141.8.142.7", at(2))
    ping = await _ping_seen(store, 2)
    assert ping == PingRecord(received_at=at(2), source="141.8.142.7", count=2)
    assert (await store.stats()).total == 0  # a PING is not a stored notification


# -- availability ------------------------------------------------------------------------------


async def test_check_passes_while_open_and_fails_once_closed(store: Store) -> None:
    await store.check()
    await store.close()
    with pytest.raises(StoreUnavailable):
        await store.check()
    with pytest.raises(StoreUnavailable):
        await store.accept(notification("ORDER_CREATED"))


async def test_times_round_trip_as_the_same_instant_in_utc(store: Store) -> None:
    moment = T0.replace(microsecond=1).astimezone(timezone(timedelta(hours=5, minutes=30)))
    accepted = await store.accept(notification("CHAT_CREATED", received=moment, event=moment))
    stored = await _only(store, accepted.notification_id)
    assert stored.received_at == moment
    assert stored.event_time == moment
    assert stored.received_at.astimezone(UTC).microsecond == 1


async def test_times_before_the_year_1000_keep_their_order_and_read_back(store: Store) -> None:
    ancient = T0.replace(year=999)
    newer = await _status(store, "ORDER_STATUS_UPDATED", 0, "PROCESSING", "STARTED")
    older = await store.accept(
        notification(
            "ORDER_STATUS_UPDATED",
            event=ancient,
            received=ancient,
            orderId=ORDER,
            status="PENDING",
            substatus="AWAIT_CONFIRMATION",
        )
    )
    assert older.stale
    assert (await _slots(store))["status"].notification_id == newer
    stored = await _only(store, older.notification_id)
    assert (stored.event_time, stored.received_at) == (ancient, ancient)
    assert await _listed(store, received_until=T0) == [older.notification_id]
