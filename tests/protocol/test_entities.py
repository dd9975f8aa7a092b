"""Each type's entity (its lane), event time and the state it reports, per PRODUCT.md's table."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from ymnotify.protocol import StateChange, parse_body
from ymnotify.protocol.entities import ENTITY_KINDS, entity_problem
from ymnotify.protocol.samples import SAMPLE_ID_BASE, all_types, sample

AT = datetime(2026, 9, 20, 9, 15, 42, 318000, UTC)
ORDER = SAMPLE_ID_BASE + 51234567
RETURN = SAMPLE_ID_BASE + 7781234
CHAT = SAMPLE_ID_BASE + 33445

# PRODUCT.md: "Entities and staleness"; PROTOCOL.md §2.2: the event-time field of each type.
ENTITY_AND_TIME: dict[str, tuple[str | None, str | None]] = {
    "PING": (None, "time"),
    "ORDER_CREATED": (f"order:{ORDER}", "createdAt"),
    "ORDER_CANCELLED": (f"order:{ORDER}", "cancelledAt"),
    "ORDER_STATUS_UPDATED": (f"order:{ORDER}", "updatedAt"),
    "ORDER_CANCELLATION_REQUEST": (f"order:{ORDER}", "requestedAt"),
    "ORDER_RETURN_CREATED": (f"order:{ORDER}", "createdAt"),
    "ORDER_RETURN_STATUS_UPDATED": (f"order:{ORDER}", "updatedAt"),
    "ORDER_UPDATED": (f"order:{ORDER}", "updatedAt"),
    "ORDER_LINE_SERVICE_STATUS_UPDATED": (f"order:{ORDER}", "updatedAt"),
    "GOODS_FEEDBACK_CREATED": (f"feedback:{SAMPLE_ID_BASE + 98765}", "createdAt"),
    "GOODS_FEEDBACK_COMMENT_CREATED": (f"feedback-comment:{SAMPLE_ID_BASE + 55501}", "createdAt"),
    "CHAT_CREATED": (f"chat:{CHAT}", "createdAt"),
    "CHAT_MESSAGE_SENT": (f"chat:{CHAT}", "sentAt"),
    "CHAT_ARBITRAGE_STARTED": (f"chat:{CHAT}", "startedAt"),
    "CHAT_ARBITRAGE_FINISHED": (f"chat:{CHAT}", "finishedAt"),
    "QUESTION_CREATED": (f"question:{SAMPLE_ID_BASE + 44556}", "createdAt"),
    "QUESTION_ANSWER_CREATED": (f"answer:{SAMPLE_ID_BASE + 77889}", "createdAt"),
    "QUESTION_COMMENT_CREATED": (f"answer:{SAMPLE_ID_BASE + 77889}", "createdAt"),
}

STATELESS = [
    "PING",
    "ORDER_CREATED",
    "ORDER_CANCELLATION_REQUEST",
    "ORDER_RETURN_CREATED",
    "GOODS_FEEDBACK_CREATED",
    "GOODS_FEEDBACK_COMMENT_CREATED",
    "CHAT_CREATED",
    "CHAT_MESSAGE_SENT",
    "QUESTION_CREATED",
    "QUESTION_ANSWER_CREATED",
    "QUESTION_COMMENT_CREATED",
]


def _parsed(kind: str, **overrides: Any) -> Any:
    return parse_body(json.dumps(sample(kind, at=AT, **overrides)).encode())


def test_the_table_covers_every_type() -> None:
    assert set(ENTITY_AND_TIME) == set(all_types())


@pytest.mark.parametrize("kind", sorted(ENTITY_AND_TIME))
def test_entity_and_event_time_of_each_type(kind: str) -> None:
    entity, time_field = ENTITY_AND_TIME[kind]
    moment = "2026-09-21T07:05:10.123456789+03:00"
    parsed = _parsed(kind, **({time_field: moment} if time_field else {}))
    assert parsed.notification.entity == entity
    assert parsed.entity == entity
    assert parsed.notification.event_time == datetime(2026, 9, 21, 4, 5, 10, 123456, UTC)


def test_goods_feedback_event_time_is_when_it_was_written_not_published() -> None:
    parsed = _parsed("GOODS_FEEDBACK_CREATED", publishedAt="2026-09-25T00:00:00Z")
    assert parsed.notification.event_time == AT


def test_an_unknown_type_gets_a_lane_of_its_own_by_dedup_key() -> None:
    parsed = _parsed("ORDER_TELEPORTED", orderId=ORDER)
    assert parsed.notification.entity is None
    assert parsed.entity == f"unknown:{parsed.dedup_key}"
    other = _parsed("ORDER_TELEPORTED", orderId=ORDER + 1)
    assert other.entity != parsed.entity
    assert parsed.notification.state_changes() == ()


@pytest.mark.parametrize("kind", STATELESS)
def test_types_that_carry_no_state_report_none(kind: str) -> None:
    assert _parsed(kind).notification.state_changes() == ()


def test_status_updates_and_cancellations_share_the_order_status_slot() -> None:
    updated = _parsed("ORDER_STATUS_UPDATED", status="PROCESSING", substatus="READY_TO_SHIP")
    assert updated.notification.state_changes() == (
        StateChange(
            slot="status", value={"status": "PROCESSING", "substatus": "READY_TO_SHIP"}, at=AT
        ),
    )
    no_substatus = _parsed("ORDER_STATUS_UPDATED", status="DELIVERED", substatus=None)
    assert no_substatus.notification.state_changes()[0].value == {
        "status": "DELIVERED",
        "substatus": None,
    }
    unknown = _parsed("ORDER_STATUS_UPDATED", status="TELEPORTED", substatus="BY_DRONE")
    assert unknown.notification.state_changes()[0].value == {
        "status": "TELEPORTED",
        "substatus": "BY_DRONE",
    }
    cancelled = _parsed("ORDER_CANCELLED")
    assert cancelled.notification.state_changes() == (
        StateChange(slot="status", value={"status": "CANCELLED", "substatus": None}, at=AT),
    )


@pytest.mark.parametrize(
    ("statuses", "slots"),
    [
        ({"refundStatus": "REFUNDED"}, {"refundStatus": "REFUNDED"}),
        ({"shipmentStatus": "PICKED"}, {"shipmentStatus": "PICKED"}),
        (
            {"refundStatus": "REFUNDED", "shipmentStatus": "PICKED"},
            {"refundStatus": "REFUNDED", "shipmentStatus": "PICKED"},
        ),
        ({"refundStatus": "NEW_REFUND_STATE"}, {"refundStatus": "NEW_REFUND_STATE"}),
        ({}, {}),
    ],
)
def test_each_return_status_is_a_slot_of_its_own(
    statuses: dict[str, str], slots: dict[str, str]
) -> None:
    changes = _parsed("ORDER_RETURN_STATUS_UPDATED", statuses=statuses).notification.state_changes()
    assert changes == tuple(
        StateChange(slot=f"return:{RETURN}/{name}", value={name: value}, at=AT)
        for name, value in slots.items()
    )


def test_order_updates_keep_one_slot_per_update_type() -> None:
    for update_type in ("SHIPMENT_DATE_UPDATED", "DELIVERY_DATE_UPDATED", "SOMETHING_NEW"):
        changes = _parsed("ORDER_UPDATED", updateType=update_type).notification.state_changes()
        assert changes == (
            StateChange(slot=f"update:{update_type}", value={"updateType": update_type}, at=AT),
        )


def test_a_line_service_reports_its_status_breakdown_under_its_item_and_article() -> None:
    statuses = [{"status": "PROVIDED", "count": 1}, {"status": "CANCELLED", "count": 2}]
    parsed = _parsed(
        "ORDER_LINE_SERVICE_STATUS_UPDATED",
        itemId=112233445,
        serviceArticle="INSTALL-01",
        statuses=statuses,
        cancelReason="USER_REQUESTED",
    )
    assert parsed.notification.state_changes() == (
        StateChange(
            slot="service:112233445/INSTALL-01",
            value={"statuses": statuses, "cancelReason": "USER_REQUESTED"},
            at=AT,
        ),
    )
    without_reason = _parsed("ORDER_LINE_SERVICE_STATUS_UPDATED").notification.state_changes()
    assert without_reason[0].value["cancelReason"] is None


def test_chat_arbitrage_start_and_finish_share_one_slot() -> None:
    started = _parsed("CHAT_ARBITRAGE_STARTED").notification.state_changes()
    finished = _parsed("CHAT_ARBITRAGE_FINISHED").notification.state_changes()
    assert started == (StateChange(slot="arbitrage", value={"arbitrage": "STARTED"}, at=AT),)
    assert finished == (StateChange(slot="arbitrage", value={"arbitrage": "FINISHED"}, at=AT),)


@pytest.mark.parametrize("kind", sorted(set(all_types()) - set(STATELESS)))
def test_state_is_dated_by_the_event_time(kind: str) -> None:
    notification = _parsed(kind).notification
    changes = notification.state_changes()
    assert changes
    assert all(change.at == notification.event_time for change in changes)
    json.dumps([change.value for change in changes])  # stores keep values as JSON


def test_every_entity_kind_a_notification_can_have_is_listed() -> None:
    kinds = {entity.split(":", 1)[0] for entity, _ in ENTITY_AND_TIME.values() if entity}
    unknown = parse_body(json.dumps(sample("A_TYPE_MARKET_ADDS_LATER")).encode()).entity
    assert unknown is not None
    kinds.add(unknown.split(":", 1)[0])
    assert kinds == set(ENTITY_KINDS)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("order:51234567890", None),
        ("feedback-comment:7", None),
        ("unknown:ab12", None),
        ("order", "expected KIND:ID"),
        ("order:", "expected KIND:ID"),
        ("ORDER:5", "'ORDER' is not one of"),
        ("planet:1", "'planet' is not one of"),
        ("order: 5", "spaces"),
    ],
)
def test_entity_problem(text: str, problem: str | None) -> None:
    found = entity_problem(text)
    assert found is None if problem is None else (found is not None and problem in found)
