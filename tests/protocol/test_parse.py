"""From a body to a typed notification: every type, every tolerance, every malformation."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from ymnotify.protocol import (
    KNOWN_TYPES,
    MalformedNotification,
    OrderCreated,
    OrderLineServiceStatusUpdated,
    OrderReturnStatusUpdated,
    OrderStatus,
    OrderStatusUpdated,
    Ping,
    UnknownNotification,
    enums,
    parse_body,
    parse_payload,
)
from ymnotify.protocol.parse import parse_notification
from ymnotify.protocol.samples import all_types, sample
from ymnotify.protocol.wire import dedup_key, loads


def _encode(payload: Any) -> bytes:
    return json.dumps(payload, ensure_ascii=False).encode()


def _parse(kind: str, **overrides: Any) -> Any:
    return parse_body(_encode(sample(kind, **overrides))).notification


# -- every type --------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", all_types())
def test_every_type_parses_into_its_model_with_every_field_known(kind: str) -> None:
    body = sample(kind)
    parsed = parse_body(_encode(body))
    assert type(parsed.notification) is KNOWN_TYPES[kind]
    assert parsed.is_known
    assert parsed.payload == body
    assert parsed.dedup_key == dedup_key(loads(_encode(body)))
    assert parsed.notification.model_extra == {}, "a sample field the model does not know"
    wire_view = parsed.notification.model_dump(by_alias=True, mode="json", exclude_none=True)
    assert set(wire_view) == set(body)


def test_all_types_covers_every_known_model_ping_first() -> None:
    assert all_types()[0] == "PING"
    assert set(all_types()) == set(KNOWN_TYPES)


def test_an_unknown_type_is_kept_whole_as_unknown_notification() -> None:
    body = {"notificationType": "ORDER_TELEPORTED", "orderId": 2**63 - 1, "where": {"x": [1]}}
    parsed = parse_body(_encode(body))
    assert type(parsed.notification) is UnknownNotification
    assert not parsed.is_known
    assert parsed.notification.notification_type == "ORDER_TELEPORTED"
    assert parsed.notification.model_extra == {"orderId": 2**63 - 1, "where": {"x": [1]}}


# -- tolerance ---------------------------------------------------------------------------------


def test_extra_fields_are_kept_at_the_top_and_in_nested_objects() -> None:
    items = [{"offerId": "SKU-1", "count": 1, "price": 10.5, "gift": True}]
    event = _parse("ORDER_CREATED", items=items, buyerRegion={"id": 213})
    assert isinstance(event, OrderCreated)
    assert event.model_extra == {"buyerRegion": {"id": 213}}
    assert event.items[0].model_extra is not None
    assert event.items[0].model_extra["gift"] is True
    assert str(event.items[0].model_extra["price"]) == "10.5"


@pytest.mark.parametrize(
    ("kind", "overrides", "attribute"),
    [
        ("ORDER_STATUS_UPDATED", {"status": "TELEPORTED"}, "status"),
        ("ORDER_STATUS_UPDATED", {"substatus": "BY_DRONE"}, "substatus"),
        ("ORDER_UPDATED", {"updateType": "COLOUR_UPDATED"}, "update_type"),
        ("ORDER_RETURN_CREATED", {"returnType": "EXCHANGE"}, "return_type"),
        ("ORDER_LINE_SERVICE_STATUS_UPDATED", {"cancelReason": "RAIN"}, "cancel_reason"),
    ],
)
def test_unknown_enum_values_are_kept_as_plain_strings(
    kind: str, overrides: dict[str, str], attribute: str
) -> None:
    value = getattr(_parse(kind, **overrides), attribute)
    assert type(value) is str
    assert value == next(iter(overrides.values()))


def test_unknown_enum_values_in_nested_objects_are_kept() -> None:
    returned = _parse(
        "ORDER_RETURN_STATUS_UPDATED",
        statuses={"refundStatus": "REFUNDED_IN_CRYPTO", "shipmentStatus": "TELEPORTED"},
    )
    assert isinstance(returned, OrderReturnStatusUpdated)
    assert (returned.statuses.refund_status, returned.statuses.shipment_status) == (
        "REFUNDED_IN_CRYPTO",
        "TELEPORTED",
    )
    service = _parse("ORDER_LINE_SERVICE_STATUS_UPDATED", statuses=[{"status": "X", "count": 1}])
    assert isinstance(service, OrderLineServiceStatusUpdated)
    assert type(service.statuses[0].status) is str


def test_known_enum_values_become_enum_members() -> None:
    event = _parse("ORDER_STATUS_UPDATED", status="CANCELLED", substatus="USER_CHANGED_MIND")
    assert isinstance(event, OrderStatusUpdated)
    assert event.status is OrderStatus.CANCELLED
    assert event.substatus is enums.OrderSubstatus.USER_CHANGED_MIND
    doc_only = _parse("ORDER_STATUS_UPDATED", substatus="USER_IDENTIFICATION_MISMATCH")
    assert doc_only.substatus is enums.OrderSubstatus.USER_IDENTIFICATION_MISMATCH


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-01-16T10:09:49.759084017Z", datetime(2025, 1, 16, 10, 9, 49, 759084, UTC)),
        ("2026-09-20T12:15:42.318+03:00", datetime(2026, 9, 20, 9, 15, 42, 318000, UTC)),
        ("2026-09-20T04:15:42-05:00", datetime(2026, 9, 20, 9, 15, 42, tzinfo=UTC)),
        ("2017-11-21T00:00:00.213Z", datetime(2017, 11, 21, 0, 0, 0, 213000, UTC)),
        ("2025-01-01T00:00:00Z", datetime(2025, 1, 1, tzinfo=UTC)),
    ],
)
def test_times_take_nine_fraction_digits_and_any_offset(text: str, expected: datetime) -> None:
    event = _parse("ORDER_STATUS_UPDATED", updatedAt=text)
    assert event.updated_at == expected
    assert event.event_time == expected


def test_an_offset_is_kept_not_converted() -> None:
    event = _parse("ORDER_CREATED", createdAt="2026-09-20T12:15:42+03:00")
    assert event.created_at.utcoffset() == timedelta(hours=3)
    assert event.created_at.tzinfo == timezone(timedelta(hours=3))


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({}, None),
        ({"orderLineServices": None}, None),
        ({"orderLineServices": []}, 0),
        ({"orderLineServices": [{"itemId": 112233445, "serviceArticle": "INSTALL-01"}]}, 1),
    ],
)
def test_order_line_services_may_be_absent_null_empty_or_present(
    overrides: dict[str, Any], expected: int | None
) -> None:
    event = _parse("ORDER_CREATED", **overrides)
    assert isinstance(event, OrderCreated)
    services = event.order_line_services
    assert (None if services is None else len(services)) == expected
    if services:
        assert (services[0].item_id, services[0].service_article) == (112233445, "INSTALL-01")


@pytest.mark.parametrize(
    "statuses",
    [
        {"refundStatus": "REFUNDED"},
        {"shipmentStatus": "IN_TRANSIT"},
        {"refundStatus": "REFUNDED", "shipmentStatus": "PICKED"},
        {},
    ],
)
def test_return_statuses_carry_only_what_changed(statuses: dict[str, str]) -> None:
    event = _parse("ORDER_RETURN_STATUS_UPDATED", statuses=statuses)
    assert isinstance(event, OrderReturnStatusUpdated)
    assert event.statuses.refund_status == statuses.get("refundStatus")
    assert event.statuses.shipment_status == statuses.get("shipmentStatus")


def test_substatus_may_be_absent_or_null() -> None:
    absent = {k: v for k, v in sample("ORDER_STATUS_UPDATED").items() if k != "substatus"}
    assert parse_payload(absent).substatus is None  # type: ignore[attr-defined]
    assert _parse("ORDER_STATUS_UPDATED", substatus=None).substatus is None


def test_ping_with_and_without_time() -> None:
    assert isinstance(parse_body(b'{"notificationType": "PING"}').notification, Ping)
    timed = parse_body(b'{"notificationType":"PING","time":"2025-01-16T10:09:49.759084017Z"}')
    assert timed.notification.event_time == datetime(2025, 1, 16, 10, 9, 49, 759084, UTC)
    # A time that cannot be read is no reason to refuse a PING (that switches the integration
    # off); it is simply not known.
    for odd in (b'"bad"', b"12345", b"null", b'"2025-01-16T10:09:49"'):  # the last: no offset
        ping = parse_body(b'{"notificationType":"PING","time":' + odd + b"}").notification
        assert isinstance(ping, Ping)
        assert ping.event_time is None


def test_message_id_is_a_string() -> None:
    assert _parse("CHAT_MESSAGE_SENT", messageId="998877").message_id == "998877"


@pytest.mark.parametrize("number", [2**53 + 1, 2**63 - 1, 9_000_000_000_051_234_567])
def test_ids_beyond_2_to_the_53_are_exact(number: int) -> None:
    body = _encode(sample("ORDER_RETURN_CREATED", orderId=number, returnId=number))
    event = parse_body(body).notification
    assert event.order_id == number  # type: ignore[attr-defined]
    assert event.return_id == number  # type: ignore[attr-defined]
    assert event.entity == f"order:{number}"


# -- malformed ---------------------------------------------------------------------------------


def _malformed(kind: str, **overrides: Any) -> MalformedNotification:
    with pytest.raises(MalformedNotification) as caught:
        parse_body(_encode(sample(kind, **overrides)))
    return caught.value


def _without(kind: str, field: str) -> dict[str, Any]:
    return {key: value for key, value in sample(kind).items() if key != field}


@pytest.mark.parametrize(
    ("kind", "overrides", "path"),
    [
        ("ORDER_CREATED", {"items": [{"offerId": "A", "count": "2"}]}, "items[0].count"),
        ("ORDER_CREATED", {"items": [{"offerId": "A", "count": True}]}, "items[0].count"),
        (
            "ORDER_CREATED",
            {"items": [{"offerId": "A", "count": 1}, {"count": 1}]},
            "items[1].offerId",
        ),
        ("ORDER_CREATED", {"items": [{"offerId": "", "count": 1}]}, "items[0].offerId"),
        ("ORDER_CREATED", {"items": [{"offerId": "A" * 256, "count": 1}]}, "items[0].offerId"),
        ("ORDER_CREATED", {"items": {"offerId": "A", "count": 1}}, "items"),
        ("ORDER_CREATED", {"items": None}, "items"),
        (
            "ORDER_CREATED",
            {"orderLineServices": [{"itemId": 0, "serviceArticle": "X"}]},
            "orderLineServices[0].itemId",
        ),
        ("ORDER_CREATED", {"campaignId": 0}, "campaignId"),
        ("ORDER_CREATED", {"campaignId": -5}, "campaignId"),
        ("ORDER_CREATED", {"orderId": True}, "orderId"),
        ("ORDER_CREATED", {"orderId": "51234567890"}, "orderId"),
        ("ORDER_CREATED", {"orderId": 1.5}, "orderId"),
        ("ORDER_CREATED", {"orderId": 2**63}, "orderId"),
        ("ORDER_CREATED", {"orderId": None}, "orderId"),
        ("ORDER_CREATED", {"createdAt": "2026-09-20T09:15:42"}, "createdAt"),
        ("ORDER_CREATED", {"createdAt": "2026-09-20"}, "createdAt"),
        ("ORDER_CREATED", {"createdAt": 1758359742}, "createdAt"),
        ("ORDER_CREATED", {"createdAt": "yesterday"}, "createdAt"),
        ("ORDER_CREATED", {"createdAt": "0001-01-01T00:00:00+03:00"}, "createdAt"),
        ("ORDER_CREATED", {"createdAt": "9999-12-31T23:00:00-05:00"}, "createdAt"),
        ("ORDER_STATUS_UPDATED", {"status": 5}, "status"),
        ("ORDER_STATUS_UPDATED", {"status": None}, "status"),
        ("ORDER_STATUS_UPDATED", {"substatus": ["STARTED"]}, "substatus"),
        ("ORDER_RETURN_STATUS_UPDATED", {"statuses": {"refundStatus": 7}}, "statuses.refundStatus"),
        ("ORDER_RETURN_STATUS_UPDATED", {"statuses": "REFUNDED"}, "statuses"),
        ("ORDER_LINE_SERVICE_STATUS_UPDATED", {"statuses": []}, "statuses"),
        ("ORDER_LINE_SERVICE_STATUS_UPDATED", {"statuses": [{"count": 1}]}, "statuses[0].status"),
        (
            "ORDER_LINE_SERVICE_STATUS_UPDATED",
            {"statuses": [{"status": "PROVIDED", "count": 1}, {"status": 3, "count": 1}]},
            "statuses[1].status",
        ),
        ("ORDER_LINE_SERVICE_STATUS_UPDATED", {"itemId": 0}, "itemId"),
        ("CHAT_MESSAGE_SENT", {"messageId": 998877}, "messageId"),
        ("CHAT_CREATED", {"businessId": 0}, "businessId"),
        ("CHAT_CREATED", {"chatId": False}, "chatId"),
        ("GOODS_FEEDBACK_CREATED", {"publishedAt": "2026-09-19 06:45"}, "publishedAt"),
    ],
)
def test_each_malformed_field_is_named_by_its_wire_path(
    kind: str, overrides: dict[str, Any], path: str
) -> None:
    problem = _malformed(kind, **overrides)
    assert problem.path == path
    assert problem.reason
    assert str(problem) == f"{path}: {problem.reason}"


@pytest.mark.parametrize(
    ("kind", "field"),
    [
        ("ORDER_CREATED", "createdAt"),
        ("ORDER_CREATED", "items"),
        ("ORDER_CANCELLED", "cancelledAt"),
        ("ORDER_STATUS_UPDATED", "status"),
        ("ORDER_RETURN_CREATED", "returnType"),
        ("ORDER_RETURN_STATUS_UPDATED", "statuses"),
        ("ORDER_LINE_SERVICE_STATUS_UPDATED", "serviceArticle"),
        ("GOODS_FEEDBACK_CREATED", "publishedAt"),
        ("QUESTION_COMMENT_CREATED", "answerId"),
        ("CHAT_ARBITRAGE_FINISHED", "finishedAt"),
    ],
)
def test_a_missing_required_field_is_named(kind: str, field: str) -> None:
    with pytest.raises(MalformedNotification) as caught:
        parse_body(_encode(_without(kind, field)))
    assert caught.value.path == field
    assert caught.value.reason == "Field required"


def test_enum_type_errors_read_as_must_be_a_string() -> None:
    problem = _malformed("ORDER_STATUS_UPDATED", status=5)
    assert problem.reason == "Value error, must be a string"


def test_a_time_without_offset_says_so() -> None:
    assert "timezone" in _malformed("ORDER_CREATED", createdAt="2026-09-20T09:15:42").reason
    assert "RFC 3339" in _malformed("ORDER_CREATED", createdAt=1758359742).reason


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        (b"[]", "an array"),
        (b'[{"notificationType": "PING"}]', "an array"),
        (b'"PING"', "a string"),
        (b"42", "a number"),
        (b"4.2", "a number"),
        (b"null", "null"),
        (b"true", "a boolean"),
    ],
)
def test_a_body_that_is_not_an_object_is_refused(body: bytes, kind: str) -> None:
    with pytest.raises(MalformedNotification) as caught:
        parse_body(body)
    assert caught.value.path == ""
    assert caught.value.reason == f"body must be a JSON object, not {kind}"


@pytest.mark.parametrize("body", [b"{", b"\xff", b'{"a": NaN}', b"[" * 100_000 + b"]" * 100_000])
def test_json_errors_become_malformed_notifications_of_the_whole_body(body: bytes) -> None:
    with pytest.raises(MalformedNotification) as caught:
        parse_body(body)
    assert caught.value.path == ""
    assert caught.value.reason


def test_a_missing_notification_type_is_named() -> None:
    with pytest.raises(MalformedNotification) as caught:
        parse_body(b'{"orderId": 1}')
    assert (caught.value.path, caught.value.reason) == (
        "notificationType",
        "required field is missing",
    )


@pytest.mark.parametrize("value", [None, "", 5, True, ["PING"], {"type": "PING"}])
def test_a_notification_type_that_is_not_a_non_empty_string_is_refused(value: Any) -> None:
    with pytest.raises(MalformedNotification) as caught:
        parse_body(_encode({"notificationType": value}))
    assert (caught.value.path, caught.value.reason) == (
        "notificationType",
        "must be a non-empty string",
    )


def test_only_wire_names_count_snake_case_names_are_extra_fields() -> None:
    body = {key: value for key, value in sample("CHAT_CREATED").items() if key != "chatId"}
    with pytest.raises(MalformedNotification) as caught:
        parse_payload({**body, "chat_id": 5})
    assert caught.value.path == "chatId"
    items = [{"offer_id": "SKU-1", "count": 1}]
    with pytest.raises(MalformedNotification) as caught:
        parse_payload(sample("ORDER_CREATED", items=items))
    assert caught.value.path == "items[0].offerId"
    kept = parse_payload({**sample("CHAT_CREATED"), "chat_id": 5})
    assert kept.model_extra == {"chat_id": 5}


def test_a_known_type_is_never_parsed_as_unknown_when_malformed() -> None:
    # A broken ORDER_CREATED must be quarantined, not slip through as an unknown type.
    with pytest.raises(MalformedNotification):
        parse_body(_encode({"notificationType": "ORDER_CREATED"}))


@pytest.mark.parametrize("kind", [*KNOWN_TYPES, "ORDER_TELEPORTED"])
def test_a_stored_body_parses_to_what_the_receiver_parsed(kind: str) -> None:
    # Workers parse stored bodies without the dedup key; the notification must be the same.
    body = json.dumps(sample(kind) if kind in KNOWN_TYPES else {"notificationType": kind}).encode()
    assert parse_notification(body) == parse_body(body).notification


@pytest.mark.parametrize("body", [b"{", b"[]", b'{"notificationType": ""}'])
def test_a_stored_body_that_no_longer_parses_says_why(body: bytes) -> None:
    with pytest.raises(MalformedNotification):
        parse_notification(body)
