"""PINGs answered from the HTTP protocol's read callback (``receiver.ping_at_once``).

A real uvicorn server with ``ymnotify serve``'s protocol on loopback, a real SQLite store, and
raw sockets for what clients do: whole requests in one write, split bodies, pipelining. The app
counts how often it was run as an ASGI app, which tells the two paths apart.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest

from tests.acceptance.rawhttp import RawResponse, connect, read_response, request_head
from tests.receiver.inprocess import LOOPBACK_ONLY, PING, Running, post
from ymnotify.protocol.responses import success_body_problem
from ymnotify.receiver.app import ReceiverApp, ReceiverConfig
from ymnotify.receiver.observe import IntakeOutcome
from ymnotify.receiver.sources import SourcePolicy
from ymnotify.store import store_from_url
from ymnotify.store.base import PingRecord

CHAT_SAYING_PING = json.dumps(
    {
        "notificationType": "CHAT_MESSAGE_SENT",
        "chatId": 77001,
        "messageId": "9001",
        "businessId": 5501,
        "sentAt": "2026-11-28T12:00:01.000Z",
        "text": "PING",  # an extra field; its value is the substring the fast path looks for
    }
).encode()
assert b'"PING"' in CHAT_SAYING_PING
MARKET_ONLY = SourcePolicy.build()


async def recorded_ping(app: ReceiverApp, *, count: int) -> PingRecord:
    """The store's PING record once it counts ``count`` (it is written after the answer)."""
    deadline = time.monotonic() + 10
    while True:
        recorded = await app.store.last_ping()
        if recorded is not None and recorded.count >= count:
            return recorded
        assert time.monotonic() < deadline, f"PING record after 10 s: {recorded}"
        await asyncio.sleep(0.01)


def assert_ping_answer(answer: RawResponse) -> None:
    assert answer.status == 200
    assert answer.headers["content-type"] == "application/json"
    assert int(answer.headers["content-length"]) == len(answer.body)
    assert "date" in answer.headers
    assert success_body_problem(answer.json()) is None


async def test_a_ping_in_one_read_is_answered_without_running_the_app(running: Running) -> None:
    [answer] = await running.exchange(post(PING), answers=1)

    assert_ping_answer(answer)
    assert running.app.asgi_requests == 0
    assert running.outcomes.seen == [("PING", IntakeOutcome.PING)]
    recorded = await recorded_ping(running.app, count=1)
    assert (recorded.source, recorded.count) == ("127.0.0.1", 1)


async def test_a_ping_whose_time_cannot_be_read_is_still_a_ping(running: Running) -> None:
    odd = b'{"notificationType":"PING","time":"bad"}'
    [at_once] = await running.exchange(post(odd), answers=1)
    [by_app] = await running.exchange(
        request_head("/notification", content_length=len(odd)), odd, answers=1, pause=0.05
    )

    assert_ping_answer(at_once)
    assert_ping_answer(by_app)
    assert running.outcomes.seen == [("PING", IntakeOutcome.PING)] * 2
    assert await running.app.store.get_notification(1) is None  # nothing quarantined


async def test_both_paths_give_the_same_head(running: Running) -> None:
    [at_once] = await running.exchange(post(PING), answers=1)
    # Headers and body in two reads: the app reads the body and answers as usual.
    [by_app] = await running.exchange(
        request_head("/notification", content_length=len(PING)), PING, answers=1, pause=0.05
    )

    assert running.app.asgi_requests == 1
    assert list(at_once.headers) == list(by_app.headers)
    assert at_once.headers["content-length"] == by_app.headers["content-length"]
    assert_ping_answer(by_app)
    assert running.outcomes.seen == [("PING", IntakeOutcome.PING)] * 2


async def test_pipelined_requests_are_answered_in_order(running: Running) -> None:
    order = json.dumps(
        {
            "notificationType": "ORDER_CREATED",
            "orderId": 51234567890,
            "campaignId": 21987654,
            "items": [{"offerId": "SKU-1", "count": 1}],
            "createdAt": "2026-11-28T12:00:00.000Z",
        }
    ).encode()
    answers = await running.exchange(post(PING) + post(order) + post(PING), answers=3)

    assert [answer.status for answer in answers] == [200, 200, 200]
    for answer in answers:
        assert_ping_answer(answer)  # a stored notification's 200 has the same shape
    # The first PING went at once; the order ran the app, and the PING behind it waited for
    # the order's answer (uvicorn starts a pipelined request when the one before is answered).
    assert running.app.asgi_requests == 2
    assert [outcome for _, outcome in running.outcomes.seen] == [
        IntakeOutcome.PING,
        IntakeOutcome.ACCEPTED,
        IntakeOutcome.PING,
    ]
    stored = await running.app.store.get_notification(1)
    assert stored is not None
    assert stored.body == order


async def test_a_ping_asking_to_close_the_connection_is_answered_by_the_app(
    running: Running,
) -> None:
    def talk() -> tuple[RawResponse, bytes]:
        sock = connect(running.url)
        try:
            sock.sendall(post(PING, extra="Connection: close\r\n"))
            answer = read_response(sock)
            return answer, sock.recv(1)  # b"": the server closed its side
        finally:
            sock.close()

    answer, after = await asyncio.to_thread(talk)

    assert_ping_answer(answer)
    assert answer.headers["connection"] == "close"
    assert after == b""
    assert running.app.asgi_requests == 1


async def test_a_notification_mentioning_ping_is_stored_not_answered_as_one(
    running: Running,
) -> None:
    [answer] = await running.exchange(post(CHAT_SAYING_PING), answers=1)

    assert answer.status == 200
    assert running.app.asgi_requests == 1
    assert running.outcomes.seen == [("CHAT_MESSAGE_SENT", IntakeOutcome.ACCEPTED)]
    assert await running.app.store.last_ping() is None


@pytest.mark.parametrize("running", [MARKET_ONLY], indirect=True)
async def test_a_ping_from_a_refused_source_gets_the_apps_403(running: Running) -> None:
    [answer] = await running.exchange(post(PING), answers=1)

    assert answer.status == 403
    assert answer.json()["error"]["type"] == "UNKNOWN"
    assert running.app.asgi_requests == 1
    assert await running.app.store.last_ping() is None


async def test_a_ping_on_another_path_gets_the_apps_404(running: Running) -> None:
    [answer] = await running.exchange(post(PING, path="/elsewhere"), answers=1)

    assert answer.status == 404
    assert running.app.asgi_requests == 1


async def test_a_failing_answer_falls_back_to_the_app(
    running: Running, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(scope: Any, body: bytes) -> bytes | None:
        raise RuntimeError("a bug in the fast path")

    # The protocol looks the method up when a connection is made: patch before connecting.
    monkeypatch.setattr(running.app, "answer_ping_at_once", broken)
    [answer] = await running.exchange(post(PING), answers=1)

    assert_ping_answer(answer)
    assert running.app.asgi_requests == 1
    assert "answering a PING at once failed" in caplog.text


def test_only_an_admitted_ping_on_an_intake_path_is_answered_at_once(tmp_path: Path) -> None:
    app = ReceiverApp(
        store_from_url(f"sqlite:///{tmp_path / 'unused.db'}"),
        ReceiverConfig(sources=LOOPBACK_ONLY, base_path="/ym", max_body=200),
    )
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/ym/notification",
        "headers": [],
        "client": ("127.0.0.1", 50000),
    }
    refused = {**scope, "client": ("203.0.113.7", 50000)}
    cases = {
        "a PING": (scope, PING),
        "GET": ({**scope, "method": "GET"}, PING),
        "outside the base path": ({**scope, "path": "/notification"}, PING),
        "a refused source": (refused, PING),
        "a body over --max-body": (scope, PING[:-1] + b',"pad":"' + b"x" * 200 + b'"}'),
        "malformed": (scope, b'{"notificationType":"PING"'),
        "a notification": (scope, CHAT_SAYING_PING),
    }
    answered = {
        case: app.answer_ping_at_once(case_scope, body) is not None
        for case, (case_scope, body) in cases.items()
    }
    assert answered == {case: case == "a PING" for case in cases}


async def test_the_connection_carries_more_requests_after_a_ping(running: Running) -> None:
    def talk() -> list[RawResponse]:
        sock = connect(running.url)
        try:
            answers = []
            for body in (PING, CHAT_SAYING_PING, PING):
                sock.sendall(post(body))
                answers.append(read_response(sock))
            return answers
        finally:
            sock.close()

    answers = await asyncio.to_thread(talk)

    assert [answer.status for answer in answers] == [200, 200, 200]
    assert running.app.asgi_requests == 1
    assert (await recorded_ping(running.app, count=2)).count == 2
