"""The checker's judgements on single answers (pure; answers built by hand)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ymnotify.check import points, report
from ymnotify.check.points import Level, OurLabel, Point
from ymnotify.check.runner import CheckReport, selected_types
from ymnotify.delivery.client import Attempt
from ymnotify.delivery.outcome import TransportFailure, classify_failure, classify_response
from ymnotify.errors import ConfigError

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
    # This point wants a 400, not the 200 Market's classifier (and its hint) expect.
    assert crashed.detail == "status 500, expected 400"
    assert crashed.hint.startswith("answer 400 WRONG_EVENT_FORMAT")


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
    assert "--allow-network 10.1.2.3/32" in point.detail
    v6 = answer(403, b'{"error":{"type":"UNKNOWN","message":"source ::1 is not allowed"}}')
    v6_point = points.source_filter_point([v6])
    assert v6_point is not None
    assert "--allow-network ::1/128" in v6_point.detail
    other = points.source_filter_point([answer(403, b"<html>Forbidden</html>", "text/html")])
    assert other is not None
    assert "this machine's public address" in other.detail
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


def no_answer(failure: TransportFailure, detail: str = "why") -> Attempt:
    return Attempt(
        url="https://shop.example/notification",
        traceparent="00-" + "1" * 32 + "-" + "2" * 16 + "-01",
        request_body=b"{}",
        started_at=datetime.now(UTC),
        latency=0.01,
        outcome=classify_failure(failure, detail),
    )


def test_ping_answered_400_fails_under_markets_class_with_its_own_hint() -> None:
    point = points.judge_ping(answer(400, b'{"error":{"type":"WRONG_EVENT_FORMAT"}}'))
    assert (point.level, point.label) == (Level.FAIL, "CANT_GET_RESPONSE/HTTP")
    assert point.detail == "status 400, expected 200"
    assert "PING" in point.hint
    assert "lost" not in point.hint  # not the hint of a valid notification answered 400


def test_a_connection_lost_after_connecting_is_no_unreachable_endpoint() -> None:
    lost = no_answer(TransportFailure.CONNECTION_LOST)
    assert not points.unreachable(lost)
    ping = points.judge_ping(lost)
    assert (ping.level, ping.label) == (Level.FAIL, "CANT_GET_RESPONSE/CONNECTION_REFUSED")
    assert ping.hint == points.CONNECTION_LOST_HINT
    assert points.judge_transport("https", lost).level is Level.PASS  # TLS was done by then
    for failure in (
        TransportFailure.CONNECTION_REFUSED,
        TransportFailure.CONNECT_TIMEOUT,
        TransportFailure.TLS,
    ):
        assert points.unreachable(no_answer(failure)), failure
    assert not points.unreachable(no_answer(TransportFailure.READ_TIMEOUT))
    refused = points.judge_ping(no_answer(TransportFailure.CONNECTION_REFUSED))
    assert refused.hint.startswith("nothing accepts connections")
    assert points.judge_transport(
        "https", no_answer(TransportFailure.CONNECTION_REFUSED)
    ).level is (Level.NOT_CHECKED)


def test_a_report_with_points_not_checked_is_not_ok() -> None:
    filtered = CheckReport(url="u", target="u/notification")
    filtered.points += [
        Point("source filter", Level.PASS, OurLabel.SOURCE_FILTER),
        Point("PING", Level.NOT_CHECKED, "-"),
    ]
    assert not filtered.ok
    assert report.summary_line(filtered).endswith(
        "Not verified: what Market requires was not checked (see above)."
    )
    warned = CheckReport(url="u", target="u/notification")
    warned.points += [Point("PING", Level.WARN, OurLabel.SLOW), Point("X", Level.PASS, "OK")]
    assert warned.ok
    assert report.summary_line(warned).endswith("Market would accept this endpoint.")
    warned.points.append(Point("Y", Level.FAIL, "CANT_GET_RESPONSE/HTTP"))
    assert report.summary_line(warned).endswith("Market would NOT accept this endpoint.")


def test_report_lines_keep_their_columns() -> None:
    longest = Point(
        "PING", Level.FAIL, "CANT_GET_RESPONSE/UNSUPPORTED_MEDIA_TYPE", "two\nlines", 0.01
    )
    short = Point("PING", Level.PASS, "OK", "200, valid body", 0.01)
    first, second = report.point_line(longest), report.point_line(short)
    assert first.index("two") == second.index("200, valid body")
    assert first.splitlines()[0].endswith("two lines")


def test_selected_types() -> None:
    assert selected_types(["ORDER_CREATED", "PING", "ORDER_CREATED", "CHAT_CREATED"]) == [
        "ORDER_CREATED",
        "CHAT_CREATED",
    ]
    assert "PING" not in selected_types([])
    with pytest.raises(ConfigError, match="PING is always sent"):
        selected_types(["PING"])
    with pytest.raises(ConfigError, match="unknown type"):
        selected_types(["NOPE"])
