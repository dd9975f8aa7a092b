"""The checker's judgements on single answers (pure; answers built by hand)."""

from __future__ import annotations

from datetime import UTC, datetime

from ymnotify.check import points
from ymnotify.check.points import Level, OurLabel
from ymnotify.delivery.client import Attempt
from ymnotify.delivery.outcome import classify_response

VALID = b'{"version":"1","name":"shop","time":"2026-01-01T00:00:00Z"}'


def answer(
    status: int, body: bytes, content_type: str = "application/json", latency: float = 0.01
) -> Attempt:
    return Attempt(
        url="https://shop.example/notification",
        traceparent="00-" + "1" * 32 + "-" + "2" * 16 + "-01",
        request_body=b"{}",
        started_at=datetime.now(UTC),
        latency=latency,
        outcome=classify_response(status, content_type, body),
        status=status,
        content_type=content_type,
        response_body=body,
    )


def test_a_timely_valid_answer_passes_and_a_slow_one_warns() -> None:
    assert points.judge_ping(answer(200, VALID)).level is Level.PASS
    slow = points.judge_ping(answer(200, VALID, latency=0.8))
    assert (slow.level, slow.label) == (Level.WARN, OurLabel.SLOW)
    assert slow.hint
    assert (
        points.judge_notification("ORDER_CREATED", answer(200, VALID, latency=6)).level
        is Level.WARN
    )


def test_a_valid_notification_answered_400_fails_because_market_never_retries_it() -> None:
    point = points.judge_notification("ORDER_CREATED", answer(400, b"{}"))
    assert (point.level, point.label) == (Level.FAIL, OurLabel.VALID_REJECTED)


def test_a_duplicate_answered_400_only_warns() -> None:
    point = points.judge_duplicate(answer(400, b'{"error":{"type":"DUPLICATED_EVENT"}}'))
    assert (point.level, point.label) == (Level.WARN, OurLabel.DUPLICATE_REJECTED)


def test_malformed_answers() -> None:
    good = answer(400, b'{"error":{"type":"WRONG_EVENT_FORMAT","message":"orderId: missing"}}')
    assert points.judge_malformed(good).level is Level.PASS
    not_json = points.judge_malformed(answer(400, b"bad request", "text/plain"))
    assert (not_json.level, not_json.label) == (Level.WARN, OurLabel.INVALID_ERROR_BODY)
    odd_type = points.judge_malformed(answer(400, b'{"error":{"type":"NOPE"}}'))
    assert "NOPE" in odd_type.detail
    accepted = points.judge_malformed(answer(200, VALID))
    assert (accepted.level, accepted.label) == (Level.FAIL, OurLabel.MALFORMED_ACCEPTED)
    crashed = points.judge_malformed(answer(500, b"{}"))
    assert (crashed.level, crashed.label) == (Level.FAIL, "CANT_GET_RESPONSE/HTTP")


def test_unknown_type_answers() -> None:
    assert points.judge_unknown_type(answer(200, VALID)).level is Level.PASS
    assert points.judge_unknown_type(answer(400, b"{}")).level is Level.WARN
    assert points.judge_unknown_type(answer(503, b"")).level is Level.FAIL


def test_source_filter_needs_every_answer_to_be_403() -> None:
    refused = answer(
        403,
        b'{"error":{"type":"UNKNOWN","message":"source 10.1.2.3 is not in an allowed network"}}',
    )
    point = points.source_filter_point([refused, refused])
    assert point is not None
    assert "10.1.2.3" in point.detail
    assert points.source_filter_point([refused, answer(200, VALID)]) is None
    assert points.source_filter_point([]) is None


def test_a_404_at_a_doubled_notification_path_is_explained() -> None:
    target = "https://shop.example/market/notification/notification"
    point = points.path_twice_point(
        "https://shop.example/market/notification", target, answer(404, b"")
    )
    assert point is not None
    assert (point.level, point.label, point.status) == (Level.WARN, OurLabel.PATH_TWICE, 404)
    assert target in point.detail
    assert "without it" in point.hint


def test_no_path_warning_when_the_path_is_single_or_the_answer_is_not_404() -> None:
    single = "https://shop.example/market/notification"
    doubled = single + "/notification"
    assert points.path_twice_point("https://shop.example/market", single, answer(404, b"")) is None
    assert points.path_twice_point(single, doubled, answer(200, VALID)) is None
    assert points.path_twice_point(single, doubled, answer(500, b"")) is None
