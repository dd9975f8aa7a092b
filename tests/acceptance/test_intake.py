"""Issue 2, "Must show": every type and tolerant variant answered 200 and stored exactly once,
unchanged; PING answered but not stored; unknown types stored; duplicates counted.

Against the real ``ymnotify serve`` subprocess over real HTTP on loopback; the store is read
back only through the ``ymnotify inbox`` CLI.
"""

from __future__ import annotations

import json
import time
from decimal import Decimal
from typing import Any

import httpx

from tests.acceptance.answers import assert_success, exactly_equal, success_problem
from tests.acceptance.bodies import TOLERANT
from tests.acceptance.receivers import Receiver, Receivers
from ymnotify.protocol import samples

JSON = {"content-type": "application/json"}


def _parse(body: bytes) -> Any:
    return json.loads(body, parse_float=Decimal)


def _post_all(url: str, bodies: dict[str, bytes]) -> list[str]:
    """POST each body; the problems of answers that are not Market's valid 200."""
    problems = []
    with httpx.Client(timeout=10) as client:
        for name, body in bodies.items():
            problem = success_problem(client.post(url, content=body, headers=JSON))
            if problem:
                problems.append(f"{name}: {problem}")
    return problems


def _stored_once_unchanged(receiver: Receiver, bodies: dict[str, bytes]) -> list[str]:
    """Problems with how ``bodies`` (each sent once) are stored: missing, twice, changed."""
    rows = receiver.inbox()
    problems = []
    for name, body in bodies.items():
        sent = _parse(body)
        matches = [row for row in rows if exactly_equal(row["payload"], sent)]
        if len(matches) != 1:
            problems.append(f"{name}: stored {len(matches)} times")
            continue
        row = matches[0]
        if row["notificationType"] != sent["notificationType"] or row["status"] != "pending":
            problems.append(f"{name}: listed as {row['notificationType']} {row['status']}")
        if row["duplicates"] != 0:
            problems.append(f"{name}: duplicates {row['duplicates']}")
    if len(rows) != len(bodies):
        problems.append(f"{len(rows)} rows stored for {len(bodies)} notifications")
    return problems


def _sample_bodies() -> dict[str, bytes]:
    return {
        kind: json.dumps(samples.sample(kind)).encode()
        for kind in samples.all_types()
        if kind != "PING"
    }


def test_every_type_answered_200_and_stored_once_unchanged(receivers: Receivers) -> None:
    receiver = receivers.start()
    bodies = _sample_bodies()
    assert len(bodies) == len(samples.all_types()) - 1 >= 17

    assert _post_all(f"{receiver.url}/notification", bodies) == []
    assert _stored_once_unchanged(receiver, bodies) == []


def test_every_tolerant_variant_answered_200_and_stored_byte_for_byte(
    receivers: Receivers,
) -> None:
    receiver = receivers.start()

    assert _post_all(f"{receiver.url}/notification", TOLERANT) == []
    assert _stored_once_unchanged(receiver, TOLERANT) == []

    # The JSON listing re-serialises compactly, numbers exactly as written (1.10, 0.000, 1E+2)
    # and keys in received order, so a compact body comes back as the very same text.
    lines = receiver.inbox_lines()
    compact = TOLERANT["decimals in extra fields kept as written"].decode()
    assert sum(line.endswith(f',"payload":{compact}}}') for line in lines) == 1

    # ``inbox show`` prints the raw body: exactly the bytes sent.
    rows = receiver.inbox()
    for name in (
        "decimals in extra fields kept as written",
        "ids at int64 max",
        "non-UTC offset -05:30 with 9 digits",
        "non-ASCII text, raw UTF-8",
        "pretty-printed with escapes",
    ):
        body = TOLERANT[name]
        (row,) = [row for row in rows if exactly_equal(row["payload"], _parse(body))]
        shown = receiver.show(row["id"])
        assert shown.endswith(b"body:\n" + body + b"\n"), name


def test_both_routes_take_notifications(receivers: Receivers) -> None:
    receiver = receivers.start()
    at_root = {"root": json.dumps(samples.sample("ORDER_CREATED", orderId=1)).encode()}
    at_notification = {"notification": json.dumps(samples.sample("ORDER_CREATED")).encode()}

    assert _post_all(f"{receiver.url}/", at_root) == []
    assert _post_all(f"{receiver.url}/notification", at_notification) == []
    assert _stored_once_unchanged(receiver, {**at_root, **at_notification}) == []


def test_base_path_moves_the_notification_routes(receivers: Receivers) -> None:
    receiver = receivers.start("--base-path", "/market")
    bodies = {
        path: json.dumps(samples.sample("CHAT_CREATED", chatId=index + 1)).encode()
        for index, path in enumerate(("/market", "/market/", "/market/notification"))
    }
    with httpx.Client(timeout=10) as client:
        for path, body in bodies.items():
            assert_success(client.post(receiver.url + path, content=body, headers=JSON))
        outside = json.dumps(samples.sample("CHAT_CREATED", chatId=99)).encode()
        for path in ("/", "/notification", "/marketing/notification"):
            answer = client.post(receiver.url + path, content=outside, headers=JSON)
            assert answer.status_code == 404, path
        assert client.get(receiver.url + "/market/notification").status_code == 200
        assert client.get(receiver.url + "/healthz").status_code == 200

    assert _stored_once_unchanged(receiver, bodies) == []


def test_ping_answered_and_recorded_but_not_stored(receivers: Receivers) -> None:
    receiver = receivers.start()
    pings = [
        b'{"notificationType":"PING"}',
        b'{"notificationType":"PING","time":"2025-01-16T10:09:49.759084017Z"}',
        b'{"notificationType":"PING","time":"2026-09-20T12:00:00+03:00","extra":1.10}',
    ]
    with httpx.Client(timeout=10) as client:
        for body in pings:
            assert_success(client.post(f"{receiver.url}/notification", content=body, headers=JSON))

    # "Last PING seen" is written after the answer, asynchronously: poll for it.
    deadline = time.monotonic() + 10
    stats = receiver.stats()
    while (stats["lastPing"] or {}).get("count") != len(pings) and time.monotonic() < deadline:
        time.sleep(0.1)
        stats = receiver.stats()
    assert stats["lastPing"] is not None
    assert stats["lastPing"]["count"] == len(pings)
    assert stats["lastPing"]["source"] == "127.0.0.1"
    assert stats["total"] == 0
    assert receiver.inbox() == []


def test_unknown_types_answered_200_and_stored(receivers: Receivers) -> None:
    receiver = receivers.start()
    bodies = {
        "new type": b'{"notificationType":"ORDER_TELEPORTED","orderId":%d,"at":"soon"}'
        % (2**63 - 1),
        "new type, no other field": b'{"notificationType":"SOMETHING_NEW"}',
        "old renamed type": (
            b'{"notificationType":"ORDER_SHIPMENT_DATE_UPDATED","orderId":51234567890,'
            b'"campaignId":21987654,"updatedAt":"2025-07-10T10:00:00Z"}'
        ),
    }
    assert _post_all(f"{receiver.url}/notification", bodies) == []
    assert _stored_once_unchanged(receiver, bodies) == []
    rows = receiver.inbox("--type", "ORDER_TELEPORTED")
    assert len(rows) == 1
    assert rows[0]["entity"].startswith("unknown:")


def test_duplicates_answered_200_stored_once_and_counted(receivers: Receivers) -> None:
    receiver = receivers.start()
    body = json.dumps(samples.sample("ORDER_STATUS_UPDATED")).encode()
    # Same canonical payload in other clothes: keys reordered, whitespace added.
    reordered = json.dumps(dict(reversed(list(json.loads(body).items()))), indent=2).encode()
    other = json.dumps(samples.sample("ORDER_STATUS_UPDATED", status="DELIVERY")).encode()
    with httpx.Client(timeout=10) as client:
        for payload in (body, body, reordered, body, other):
            assert_success(
                client.post(f"{receiver.url}/notification", content=payload, headers=JSON)
            )

    rows = receiver.inbox()
    assert len(rows) == 2
    first, second = rows
    assert exactly_equal(first["payload"], _parse(body))  # the first delivery is what is kept
    assert first["duplicates"] == 3
    assert second["duplicates"] == 0
    stats = receiver.stats()
    assert stats["total"] == 2
    assert stats["duplicates"] == 3
