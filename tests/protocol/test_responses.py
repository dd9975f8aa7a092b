"""The answers a receiver gives, and the check Market applies to a 200's body."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ymnotify.protocol import ErrorType
from ymnotify.protocol.responses import (
    NAME_MAX_LENGTH,
    SuccessBodies,
    error_body,
    integration_name_problem,
    rfc3339,
    success_body,
    success_body_problem,
)

VALID = {"version": "1.0.0", "name": "shop", "time": "2025-01-16T10:09:49.759084017Z"}


def test_success_body_is_valid_compact_json_with_utc_time() -> None:
    moment = datetime(2026, 9, 20, 12, 15, 42, 318000, timezone(timedelta(hours=3)))
    body = success_body(name="ymnotify", version="0.1.0", time=moment)
    assert body == b'{"version":"0.1.0","name":"ymnotify","time":"2026-09-20T09:15:42.318000Z"}'
    assert success_body_problem(json.loads(body)) is None


@given(
    name=st.text(max_size=20),
    version=st.text(max_size=20),
    moment=st.datetimes(timezones=st.just(UTC)),
)
def test_prebuilt_success_bodies_are_the_same_bytes(
    name: str, version: str, moment: datetime
) -> None:
    expected = success_body(name=name, version=version, time=moment)
    assert SuccessBodies(name=name, version=version).body(moment) == expected


def test_rfc3339_is_utc_with_microseconds_and_z() -> None:
    assert rfc3339(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)) == "2026-01-02T03:04:05.000000Z"


@pytest.mark.parametrize(
    "document",
    [
        VALID,
        {**VALID, "time": "2025-01-01T00:00:00Z"},
        {**VALID, "time": "2025-01-01T03:00:00+03:00"},
        {**VALID, "time": "2025-01-16T10:09:49.759084017Z"},  # nine digits, as Market sends
        {**VALID, "time": "2017-11-21T00:00:00.213Z"},
        {**VALID, "time": "2025-01-01t00:00:00z"},  # RFC 3339 allows either case
        {**VALID, "time": "2025-01-01T00:00:00-00:30"},
        {**VALID, "name": "n" * NAME_MAX_LENGTH, "version": "v" * 100},
        {**VALID, "extra": "ignored"},
    ],
)
def test_bodies_market_accepts(document: dict[str, Any]) -> None:
    assert success_body_problem(document) is None


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        ([VALID], "body is not a JSON object"),
        ("ok", "body is not a JSON object"),
        (None, "body is not a JSON object"),
        ({"name": "shop", "time": VALID["time"]}, "version is missing or not a string"),
        ({**VALID, "version": 1}, "version is missing or not a string"),
        ({**VALID, "version": ""}, "version must be 1–100 characters"),
        ({**VALID, "version": "v" * 101}, "version must be 1–100 characters"),
        ({"version": "1", "time": VALID["time"]}, "name is missing or not a string"),
        ({**VALID, "name": None}, "name is missing or not a string"),
        ({**VALID, "name": ""}, "name must be 1–100 characters"),
        ({**VALID, "name": "n" * 101}, "name must be 1–100 characters"),
        ({**VALID, "name": "магазин"}, "name must be ASCII only"),
        ({**VALID, "name": "shop™"}, "name must be ASCII only"),
        ({"version": "1", "name": "shop"}, "time is missing or not a string"),
        ({**VALID, "time": 1700000000}, "time is missing or not a string"),
        ({**VALID, "time": "yesterday"}, "time 'yesterday' is not an RFC 3339 date-time"),
        ({**VALID, "time": "2025-01-16T10:09:49"}, "time '2025-01-16T10:09:49' has no UTC offset"),
    ],
)
def test_bodies_market_refuses_with_the_reason(document: Any, problem: str) -> None:
    assert success_body_problem(document) == problem


@pytest.mark.parametrize(
    "time",
    [
        "2025-01-01 00:00:00Z",  # a space for the T
        "20250101T000000Z",  # ISO 8601 basic format
        "2025-W01-3T00:00:00Z",  # week date
        "2025-01-01T00:00Z",  # no seconds
        "2025-01-01T00:00:00+0300",  # offset without a colon
        "2025-01-01T00:00:00,5Z",  # decimal comma
        "2025-01-01T00:00:00.Z",  # a point without digits
        "2025-13-01T00:00:00Z",  # month 13
        "2025-02-30T00:00:00Z",  # no such day
        "2025-01-01T24:00:01Z",
        " 2025-01-01T00:00:00Z",
    ],
)
def test_times_python_would_read_but_rfc3339_does_not_are_refused(time: str) -> None:
    assert success_body_problem({**VALID, "time": time}) == (
        f"time {time!r} is not an RFC 3339 date-time"
    )


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("ymnotify", None),
        ("My Shop / CRM 2.0", None),
        ("n" * 100, None),
        ("", "name must be 1–100 characters, got 0"),
        ("n" * 101, "name must be 1–100 characters, got 101"),
        ("Магазин", "name must be ASCII only"),
    ],
)
def test_integration_name_rules(name: str, problem: str | None) -> None:
    assert integration_name_problem(name) == problem


@pytest.mark.parametrize("error_type", list(ErrorType))
def test_error_body_carries_type_and_message_in_utf8(error_type: ErrorType) -> None:
    body = error_body(error_type, "items[0].count: поле обязательно")
    assert json.loads(body) == {
        "error": {"type": error_type.value, "message": "items[0].count: поле обязательно"}
    }
    assert "поле".encode() in body
