"""Issue 2, "Must show": every kind of malformed input answered 400 ``WRONG_EVENT_FORMAT`` with
the field path, never 500, and its raw body kept in quarantine (``inbox list --status
quarantined``), nothing lost.
"""

from __future__ import annotations

import base64
import json
from decimal import Decimal
from typing import Any

import httpx

from tests.acceptance.answers import error_message, error_problem, exactly_equal
from tests.acceptance.bodies import MALFORMED, Malformed
from tests.acceptance.receivers import Receivers

JSON = {"content-type": "application/json"}


def _raw_body(row: dict[str, Any]) -> bytes | None:
    """The body a listed row says was received, when it was not JSON (else ``None``)."""
    if "rawBodyBase64" in row:
        return base64.b64decode(row["rawBodyBase64"])
    if "rawBody" in row:
        raw: str = row["rawBody"]
        return raw.encode()
    return None


def _is_row_of(row: dict[str, Any], case: Malformed) -> bool:
    raw = _raw_body(row)
    if raw is not None:
        return raw == case.body
    try:
        sent = json.loads(case.body, parse_float=Decimal)
    except (ValueError, RecursionError):  # not JSON, or too deep for Python's parser
        return False
    return exactly_equal(row["payload"], sent)


def test_every_malformed_input_gets_400_with_the_field_path_and_is_quarantined(
    receivers: Receivers,
) -> None:
    receiver = receivers.start()
    messages: dict[str, str] = {}
    problems = []
    with httpx.Client(timeout=10) as client:
        for case in MALFORMED:
            answer = client.post(f"{receiver.url}/notification", content=case.body, headers=JSON)
            problem = error_problem(answer, 400, "WRONG_EVENT_FORMAT")
            if problem:
                problems.append(f"{case.name}: {problem}")
                continue
            messages[case.name] = error_message(answer)
            if case.path and not messages[case.name].startswith(f"{case.path}: "):
                problems.append(
                    f"{case.name}: message {messages[case.name]!r} names no {case.path}"
                )
    assert problems == []

    quarantined = receiver.inbox("--status", "quarantined")
    for case in MALFORMED:
        rows = [row for row in quarantined if _is_row_of(row, case)]
        if len(rows) != 1:
            problems.append(f"{case.name}: quarantined {len(rows)} times")
            continue
        (row,) = rows
        if row["error"] != messages[case.name]:
            problems.append(f"{case.name}: kept reason {row['error']!r}")
        if row["notificationType"] != case.declared_type:
            problems.append(f"{case.name}: listed as type {row['notificationType']!r}")
    assert problems == []
    assert len(quarantined) == len(MALFORMED)
    assert receiver.inbox("--status", "pending") == []


def test_raw_body_of_a_quarantined_notification_is_shown_as_received(
    receivers: Receivers,
) -> None:
    receiver = receivers.start()
    body = b'{"notificationType":"ORDER_CREATED", "orderId": "oops",\r\n "x": 1.10}'
    answer = httpx.post(f"{receiver.url}/", content=body, headers=JSON)
    assert error_problem(answer, 400, "WRONG_EVENT_FORMAT") is None

    (row,) = receiver.inbox("--status", "quarantined", "--type", "ORDER_CREATED")
    shown = receiver.show(row["id"])
    assert b"quarantined because: " + error_message(answer).encode() in shown
    assert shown.endswith(b"body:\n" + body + b"\n")


def test_a_repeated_malformed_body_is_quarantined_once_and_counted(
    receivers: Receivers,
) -> None:
    receiver = receivers.start()
    with httpx.Client(timeout=10) as client:
        for _ in range(3):
            answer = client.post(f"{receiver.url}/notification", content=b"{oops", headers=JSON)
            assert error_problem(answer, 400, "WRONG_EVENT_FORMAT") is None

    (row,) = receiver.inbox("--status", "quarantined")
    assert row["rawBody"] == "{oops"
    assert row["duplicates"] == 2


def test_a_body_that_is_not_utf8_is_kept_exactly(receivers: Receivers) -> None:
    receiver = receivers.start()
    body = b'{"notificationType":"CHAT_CREATED","note":"caf\xe9"}'  # Latin-1, not UTF-8
    answer = httpx.post(f"{receiver.url}/notification", content=body, headers=JSON)
    assert error_problem(answer, 400, "WRONG_EVENT_FORMAT") is None
    assert "UTF-8" in error_message(answer)

    (row,) = receiver.inbox("--status", "quarantined")
    assert base64.b64decode(row["rawBodyBase64"]) == body
    shown = receiver.show(row["id"])
    assert shown.endswith(b"body (not UTF-8, base64):\n" + base64.b64encode(body) + b"\n")
