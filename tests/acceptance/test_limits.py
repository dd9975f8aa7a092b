"""Issue 2: limits. 413 over ``--max-body`` (declared or chunked), slow clients cut off by the
header and body deadlines while other clients are served meanwhile."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator

import httpx

from tests.acceptance import rawhttp
from tests.acceptance.answers import assert_success, error_problem
from tests.acceptance.receivers import Receivers
from ymnotify.protocol import samples

JSON = {"content-type": "application/json"}
MAX_BODY = 4096
HEADER_TIMEOUT = 1.0
BODY_TIMEOUT = 1.0
# A deadline must not fire early; a little slack for timer granularity on a busy machine.
EARLY = 0.1


def _padded(size: int, marker: str) -> bytes:
    """A valid notification of exactly ``size`` bytes (padding in an extra field)."""
    body = samples.sample("QUESTION_CREATED", marker=marker, pad="")
    text = json.dumps(body, separators=(",", ":")).encode()
    body["pad"] = "x" * (size - len(text))
    padded = json.dumps(body, separators=(",", ":")).encode()
    assert len(padded) == size
    return padded


def test_bodies_over_max_body_get_413_and_are_not_stored(receivers: Receivers) -> None:
    receiver = receivers.start("--max-body", f"{MAX_BODY}B")
    at_limit = _padded(MAX_BODY, "at-limit")
    over = _padded(MAX_BODY + 1, "over")

    with httpx.Client(timeout=10) as client:
        assert_success(client.post(f"{receiver.url}/notification", content=at_limit, headers=JSON))
        declared = client.post(f"{receiver.url}/notification", content=over, headers=JSON)
        assert error_problem(declared, 413, "UNKNOWN") is None
        assert "--max-body" in declared.json()["error"]["message"]

        def chunks() -> Iterator[bytes]:  # a generator: httpx sends it chunked, no length
            for start in range(0, len(over), 1000):
                yield over[start : start + 1000]

        streamed = client.post(f"{receiver.url}/notification", content=chunks(), headers=JSON)
        assert streamed.request.headers.get("transfer-encoding") == "chunked"
        assert "content-length" not in streamed.request.headers
        assert error_problem(streamed, 413, "UNKNOWN") is None

    # The limit is enforced while reading: no need to send (or for the server to buffer) it all.
    with rawhttp.connect(receiver.url) as sock:
        sock.sendall(rawhttp.request_head("/notification", content_length=50 * 1024 * 1024))
        answer = rawhttp.read_response(sock)
        assert answer.status == 413
        assert answer.json()["error"]["type"] == "UNKNOWN"
    with rawhttp.connect(receiver.url) as sock:
        sock.sendall(rawhttp.request_head("/notification", chunked=True))
        for _ in range(5):
            sock.sendall(rawhttp.chunk(b" " * 1024))  # 5 KiB of an endless chunked body
        answer = rawhttp.read_response(sock)
        assert answer.status == 413

    rows = receiver.inbox()
    assert [row["payload"]["marker"] for row in rows] == ["at-limit"]


def test_a_client_trickling_headers_is_cut_off_while_others_are_served(
    receivers: Receivers,
) -> None:
    receiver = receivers.start("--header-timeout", f"{HEADER_TIMEOUT}s")
    endless_head = (
        rawhttp.request_head("/notification", content_length=10) + b"X-Pad: " + b"a" * 200
    )
    fresh = rawhttp.connect(receiver.url)
    reused = rawhttp.connect(receiver.url)
    idle = rawhttp.connect(receiver.url)
    # A connection that behaved once must not get to trickle its next request either.
    reused.sendall(rawhttp.request_head("/healthz").replace(b"POST", b"GET"))
    assert rawhttp.read_response(reused).status == 200
    outcomes: dict[str, rawhttp.Trickle] = {}
    idle_closed: list[float | None] = []

    def feed(name: str, sock: socket.socket) -> None:
        outcomes[name] = rawhttp.trickle(sock, endless_head, interval=0.05)

    threads = [
        threading.Thread(target=feed, args=("fresh", fresh)),
        threading.Thread(target=feed, args=("reused", reused)),
        threading.Thread(target=lambda: idle_closed.append(rawhttp.wait_closed(idle, 10))),
    ]
    for thread in threads:
        thread.start()
    try:
        served = 0
        with httpx.Client(timeout=5) as client:
            while any(thread.is_alive() for thread in threads) and served < 200:
                body = json.dumps(samples.sample("CHAT_CREATED", chatId=served + 1)).encode()
                assert_success(client.post(f"{receiver.url}/", content=body, headers=JSON))
                served += 1
    finally:
        for thread in threads:
            thread.join(15)
        for sock in (fresh, reused, idle):
            sock.close()

    trickle_time = len(endless_head) * 0.05
    for name, outcome in outcomes.items():
        assert outcome.closed_after is not None, f"{name}: never cut off"
        assert HEADER_TIMEOUT - EARLY <= outcome.closed_after < trickle_time, name
        assert outcome.answer == b"", name  # closed, not answered: there is no request yet
    (closed_after,) = idle_closed
    assert closed_after is not None
    assert closed_after >= HEADER_TIMEOUT - EARLY
    assert served > 0
    assert len(receiver.inbox()) == served


def test_a_slow_body_gets_408_while_others_are_served(receivers: Receivers) -> None:
    receiver = receivers.start("--body-timeout", f"{BODY_TIMEOUT}s")
    body = json.dumps(samples.sample("ORDER_CREATED")).encode()
    stalled = rawhttp.connect(receiver.url)
    dripping = rawhttp.connect(receiver.url)
    stalled.sendall(rawhttp.request_head("/notification", content_length=len(body)) + body[:10])
    dripping.sendall(rawhttp.request_head("/notification", content_length=len(body)))
    outcome: list[rawhttp.Trickle] = []
    # One byte every 50 ms: never idle, but the whole body would take far longer than allowed.
    drip = threading.Thread(
        target=lambda: outcome.append(rawhttp.trickle(dripping, body, interval=0.05))
    )
    drip.start()
    try:
        with httpx.Client(timeout=5) as client:
            other = json.dumps(samples.sample("ORDER_CREATED", orderId=7)).encode()
            assert_success(client.post(f"{receiver.url}/notification", content=other, headers=JSON))
        answer = rawhttp.read_response(stalled)
    finally:
        drip.join(15)
        stalled.close()
        dripping.close()

    assert answer.status == 408
    assert answer.headers["content-type"] == "application/json"
    assert answer.json()["error"]["type"] == "UNKNOWN"
    assert "--body-timeout" in answer.json()["error"]["message"]
    (dripped,) = outcome
    assert dripped.answer.startswith(b"HTTP/1.1 408 "), dripped.answer[:100]
    assert dripped.sent < len(body)
    assert [row["payload"]["orderId"] for row in receiver.inbox()] == [7]


def test_an_idle_keep_alive_connection_outlives_the_header_timeout(receivers: Receivers) -> None:
    # The header deadline runs from a request's first byte (or the connection's start), not
    # while a kept-alive connection waits between requests: that is the keep-alive timeout's.
    receiver = receivers.start("--header-timeout", f"{HEADER_TIMEOUT}s")
    sock = rawhttp.connect(receiver.url)
    try:
        for order_id in (1, 2):
            if order_id == 2:
                time.sleep(HEADER_TIMEOUT * 2.5)  # idle, past the header timeout
            body = json.dumps(samples.sample("ORDER_CREATED", orderId=order_id)).encode()
            sock.sendall(rawhttp.request_head("/notification", content_length=len(body)) + body)
            assert rawhttp.read_response(sock).status == 200
    finally:
        sock.close()
    assert len(receiver.inbox()) == 2
