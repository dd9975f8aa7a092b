"""Market's verdict on an answer or a network failure, as a pure table."""

from __future__ import annotations

import json

import pytest

from ymnotify.delivery.outcome import (
    FailureSubtype,
    FailureType,
    TransportFailure,
    Verdict,
    classify_failure,
    classify_response,
    media_type,
)

VALID = json.dumps({"version": "1.0.0", "name": "shop", "time": "2025-01-16T10:09:49.759084017Z"})
J = "application/json"
T = '"time":"2025-01-01T00:00:00Z"'
BAD = FailureSubtype.INVALID_DATA

RESPONSES = [
    (200, J, VALID, Verdict.DELIVERED, None),
    (200, "Application/JSON; charset=UTF-8", VALID, Verdict.DELIVERED, None),
    (400, J, "{}", Verdict.REJECTED, FailureSubtype.HTTP),
    (400, "text/html", "<h1>bad</h1>", Verdict.REJECTED, FailureSubtype.HTTP),
    (500, J, VALID, Verdict.FAILED, FailureSubtype.HTTP),
    (503, None, "", Verdict.FAILED, FailureSubtype.HTTP),
    (204, None, "", Verdict.FAILED, FailureSubtype.HTTP),
    (301, None, "", Verdict.FAILED, FailureSubtype.HTTP),
    (404, J, VALID, Verdict.FAILED, FailureSubtype.HTTP),
    (200, "text/json", VALID, Verdict.FAILED, FailureSubtype.UNSUPPORTED_MEDIA_TYPE),
    (200, "application/problem+json", VALID, Verdict.FAILED, FailureSubtype.UNSUPPORTED_MEDIA_TYPE),
    (200, None, VALID, Verdict.FAILED, FailureSubtype.UNSUPPORTED_MEDIA_TYPE),
    (200, J, "", Verdict.FAILED, FailureSubtype.CANT_PARSE_RESPONSE),
    (200, J, "{", Verdict.FAILED, FailureSubtype.CANT_PARSE_RESPONSE),
    (200, J, "NaN", Verdict.FAILED, FailureSubtype.CANT_PARSE_RESPONSE),
    (200, J, "[]", Verdict.FAILED, FailureSubtype.INVALID_DATA),
    (200, J, '{"name":"s",' + T + "}", Verdict.FAILED, BAD),
    (200, J, '{"version":"1",' + T + "}", Verdict.FAILED, BAD),
    (200, J, '{"version":"1","name":"s"}', Verdict.FAILED, BAD),
    (200, J, '{"version":"","name":"s",' + T + "}", Verdict.FAILED, BAD),
    (200, J, '{"version":"1","name":"' + "x" * 101 + '",' + T + "}", Verdict.FAILED, BAD),
    (200, J, '{"version":1,"name":"s",' + T + "}", Verdict.FAILED, BAD),
    (200, J, '{"version":"1","name":"s","time":"yesterday"}', Verdict.FAILED, BAD),
]  # fmt: skip


@pytest.mark.parametrize(("status", "content_type", "body", "verdict", "subtype"), RESPONSES)
def test_responses(
    status: int,
    content_type: str | None,
    body: str,
    verdict: Verdict,
    subtype: FailureSubtype | None,
) -> None:
    outcome = classify_response(status, content_type, body.encode())
    assert outcome.verdict is verdict
    assert outcome.subtype is subtype
    assert (outcome.detail == "") is (verdict is Verdict.DELIVERED)


def test_a_cut_off_200_body_cannot_be_parsed() -> None:
    outcome = classify_response(200, J, VALID.encode(), body_cut_at=10)
    assert outcome.subtype is FailureSubtype.CANT_PARSE_RESPONSE


TRANSPORT = [
    (TransportFailure.CONNECTION_REFUSED, FailureSubtype.CONNECTION_REFUSED),
    (TransportFailure.CONNECTION_LOST, FailureSubtype.CONNECTION_REFUSED),
    (TransportFailure.TARGET_REFUSED, FailureSubtype.CONNECTION_REFUSED),
    (TransportFailure.CONNECT_TIMEOUT, FailureSubtype.CONNECTION_TIMED_OUT),
    (TransportFailure.READ_TIMEOUT, FailureSubtype.READ_TIMED_OUT),
    (TransportFailure.TLS, FailureSubtype.SSL_ERROR),
    (TransportFailure.PROTOCOL, FailureSubtype.HTTP),
]


@pytest.mark.parametrize(("failure", "subtype"), TRANSPORT)
def test_transport_failures(failure: TransportFailure, subtype: FailureSubtype) -> None:
    outcome = classify_failure(failure, "why")
    assert outcome.verdict is Verdict.FAILED
    assert outcome.subtype is subtype
    assert outcome.failure_type is FailureType.CANT_GET_RESPONSE
    assert outcome.label() == f"CANT_GET_RESPONSE/{subtype}"
    assert outcome.transport is failure  # kept: a lost connection and a refused one share a label
    assert not outcome.answered


def test_every_transport_failure_has_a_class() -> None:
    assert {failure for failure, _ in TRANSPORT} == set(TransportFailure)


def test_types_of_the_invalid_response_family() -> None:
    for subtype in (FailureSubtype.CANT_PARSE_RESPONSE, FailureSubtype.INVALID_DATA):
        body = b"{" if subtype is FailureSubtype.CANT_PARSE_RESPONSE else b"{}"
        outcome = classify_response(200, J, body)
        assert outcome.subtype is subtype
        assert outcome.failure_type is FailureType.INVALID_RESPONSE


def test_answered_means_200_or_400() -> None:
    assert classify_response(200, J, VALID.encode()).answered
    assert classify_response(400, J, b"").answered
    assert not classify_response(500, J, b"").answered


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, ""),
        ("", ""),
        ("application/json", "application/json"),
        (" Application/Json ;charset=utf-8", "application/json"),
    ],
)
def test_media_type(header: str | None, expected: str) -> None:
    assert media_type(header) == expected
