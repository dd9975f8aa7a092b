"""Issue 8, hostile input over real HTTP to a real ``ymnotify serve``: lying Content-Length,
chunked floods, header floods, 100,000-deep JSON. Each gets a bounded answer (or a closed
connection) in bounded time, the server's memory stays bounded (its RSS is printed before and
after), and an honest notification is still accepted afterwards.

The loud warning of ``--allow-any-source`` is checked here too.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable, Iterator

import httpx
import pytest

from tests.acceptance import rawhttp
from tests.acceptance.answers import assert_success
from tests.acceptance.receivers import Receiver, Receivers
from tests.chaos.budget import rss_kib
from ymnotify.protocol import samples
from ymnotify.protocol.enums import ErrorType

BODY_TIMEOUT = 1.0
HEADER_TIMEOUT = 1.0
MAX_BODY = 1024 * 1024
# Far above what any case here should need; it catches a server that buffers a flood whole.
RSS_GROWTH_LIMIT_KIB = 200 * 1024


def _answer_or_close(
    sock: socket.socket, limit: float = 10
) -> tuple[rawhttp.RawResponse | None, float]:
    """The server's answer (``None``: it closed without one) and how long it took."""
    started = time.monotonic()
    sock.settimeout(limit)
    try:
        answer: rawhttp.RawResponse | None = rawhttp.read_response(sock)
    except (OSError, ValueError, EOFError) as exc:  # http.client raises these on a bare close
        if isinstance(exc, TimeoutError):
            raise
        answer = None
    return answer, time.monotonic() - started


def _assert_error_shape(answer: rawhttp.RawResponse) -> None:
    """Every refusal, the server's own included, is the receiver's JSON error body."""
    assert answer.headers["content-type"] == "application/json", answer
    error = answer.json()["error"]
    assert error["type"] in {t.value for t in ErrorType}, error
    assert isinstance(error["message"], str), error
    assert error["message"], error


def not_http(sock: socket.socket) -> None:
    """A request line no HTTP parser takes."""
    sock.sendall(b"HELLO MARKET\r\n\r\n")


def lying_longer(sock: socket.socket) -> None:
    """Declares 1000 bytes, sends 10, then waits."""
    sock.sendall(rawhttp.request_head("/notification", content_length=1000) + b'{"notific')


def lying_shorter(sock: socket.socket) -> None:
    """Declares 5 bytes and sends a whole notification: the rest is not a valid next request."""
    body = json.dumps(samples.sample("ORDER_CREATED", orderId=1)).encode()
    sock.sendall(rawhttp.request_head("/notification", content_length=5) + body)


def huge_declared(sock: socket.socket) -> None:
    sock.sendall(rawhttp.request_head("/notification", content_length=10**15))


def absurd_declared(sock: socket.socket) -> None:
    sock.sendall(rawhttp.request_head("/notification", content_length=10**40))


def chunked_flood(sock: socket.socket) -> None:
    """An endless chunked body; the server must stop it at --max-body."""
    sock.sendall(rawhttp.request_head("/notification", chunked=True))
    block = rawhttp.chunk(b"[" * 65536)
    try:
        for _ in range(1000):  # 64 MB at most
            sock.sendall(block)
    except OSError:
        return  # the server closed on us: that is the cut-off


def tiny_chunks(sock: socket.socket) -> None:
    """20,000 one-byte chunks of a body that is not JSON."""
    sock.sendall(rawhttp.request_head("/notification", chunked=True))
    sock.sendall(rawhttp.chunk(b"x") * 20_000 + b"0\r\n\r\n")


def many_headers(sock: socket.socket) -> None:
    extra = "".join(f"X-Flood-{n}: {n}\r\n" for n in range(20_000))
    try:
        sock.sendall(rawhttp.request_head("/notification", content_length=2, extra=extra) + b"{}")
    except OSError:
        return


def huge_header(sock: socket.socket) -> None:
    extra = "X-Huge: " + "h" * 8 * 1024 * 1024 + "\r\n"
    try:
        sock.sendall(rawhttp.request_head("/notification", content_length=2, extra=extra) + b"{}")
    except OSError:
        return


def deep_json(sock: socket.socket) -> None:
    body = b"[" * 100_000 + b"]" * 100_000
    sock.sendall(rawhttp.request_head("/notification", content_length=len(body)) + body)


def deep_object(sock: socket.socket) -> None:
    body = b'{"a":' * 100_000 + b"1" + b"}" * 100_000
    sock.sendall(rawhttp.request_head("/notification", content_length=len(body)) + body)


# name, what to send, the statuses allowed (None: the server closed the connection)
CASES: list[tuple[str, Callable[[socket.socket], None], set[int | None]]] = [
    ("Content-Length larger than sent", lying_longer, {408}),
    ("Content-Length smaller than sent", lying_shorter, {400}),
    ("Content-Length 10**15", huge_declared, {413}),
    ("Content-Length 10**40", absurd_declared, {400, 413}),
    ("endless chunked body", chunked_flood, {413, None}),
    ("20,000 one-byte chunks", tiny_chunks, {400}),
    ("20,000 headers", many_headers, {431}),
    ("one 8 MiB header", huge_header, {431}),
    ("100,000-deep JSON array", deep_json, {400}),
    ("100,000-deep JSON object", deep_object, {400}),
    ("not HTTP at all", not_http, {400}),
]


@pytest.fixture(scope="module")
def hostile_receiver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Receiver]:
    receivers = Receivers(tmp_path_factory.mktemp("hostile"))
    receiver = receivers.start(
        "--body-timeout",
        f"{BODY_TIMEOUT:g}s",
        "--header-timeout",
        f"{HEADER_TIMEOUT:g}s",
        "--max-body",
        str(MAX_BODY),
    )
    yield receiver
    receivers.stop_all()


@pytest.mark.parametrize(("case", "send", "allowed"), CASES, ids=[c for c, _, _ in CASES])
def test_hostile_requests_get_bounded_answers(
    hostile_receiver: Receiver,
    case: str,
    send: Callable[[socket.socket], None],
    allowed: set[int | None],
) -> None:
    pid = hostile_receiver.server.process.pid
    before = rss_kib(pid)
    with rawhttp.connect(hostile_receiver.url) as sock:
        send(sock)
        answer, took = _answer_or_close(sock)
    after = rss_kib(pid)
    status = None if answer is None else answer.status
    print(f"{case}: {status} in {took:.2f}s, server RSS {before} -> {after} KiB")
    assert status in allowed, f"{case}: answered {status}"
    if answer is not None:
        _assert_error_shape(answer)
    assert after - before < RSS_GROWTH_LIMIT_KIB
    assert hostile_receiver.server.process.poll() is None, "the server died"
    honest = json.dumps(samples.sample("ORDER_CREATED", orderId=hash(case) % 10**9)).encode()
    response = httpx.post(
        f"{hostile_receiver.url}/notification",
        content=honest,
        headers={"content-type": "application/json"},
        timeout=10,
    )
    assert_success(response)


def test_a_huge_header_is_refused_before_it_is_buffered(hostile_receiver: Receiver) -> None:
    pid = hostile_receiver.server.process.pid
    before = rss_kib(pid)
    with rawhttp.connect(hostile_receiver.url) as sock:
        huge_header(sock)
        answer, _took = _answer_or_close(sock)
    grown = rss_kib(pid) - before
    assert answer is not None
    print(f"8 MiB header: {answer.status}, server RSS grew {grown} KiB")
    assert answer.status == 431
    # Buffered whole, the header cost ~16 MiB; cut off at the bound, well under 8.
    assert grown < 8 * 1024


def test_a_request_asking_for_a_protocol_upgrade_is_refused_retryably_not_lost(
    hostile_receiver: Receiver,
) -> None:
    # curl --http2 on plain HTTP sends this; the parser would stop at the headers, and the
    # app would answer 400 (never retried) to an empty body.
    body = json.dumps(samples.sample("ORDER_CREATED", orderId=424247)).encode()
    upgrade = "Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABk\r\n"
    quarantined_before = len(hostile_receiver.inbox("--status", "quarantined"))
    with rawhttp.connect(hostile_receiver.url) as sock:
        sock.sendall(
            rawhttp.request_head("/notification", content_length=len(body), extra=upgrade) + body
        )
        answer = rawhttp.read_response(sock)
    assert answer.status == 501  # Market retries anything but 200 and 400
    assert answer.json()["error"]["type"] == "UNKNOWN"
    assert len(hostile_receiver.inbox("--status", "quarantined")) == quarantined_before
    assert hostile_receiver.inbox("--entity", "order:424247") == []  # nothing half-stored
    assert "refused a request asking to upgrade to h2c" in hostile_receiver.log()
    assert_success(
        httpx.post(
            f"{hostile_receiver.url}/notification",
            content=body,
            headers={"content-type": "application/json"},
        )
    )  # the retry, without the upgrade, is stored


def test_heads_up_to_the_bound_and_large_bodies_in_one_write_are_served(
    hostile_receiver: Receiver,
) -> None:
    near_bound = "".join(f"X-Pad-{n}: {'p' * 990}\r\n" for n in range(60))  # ~60 KiB of headers
    padded = samples.sample("ORDER_CREATED", orderId=424242) | {"padding": "x" * 900_000}
    big_body = json.dumps(padded).encode()
    small_body = json.dumps(samples.sample("ORDER_CREATED", orderId=424243)).encode()
    cases = {
        "60 KiB of headers": rawhttp.request_head(
            "/notification", content_length=len(small_body), extra=near_bound
        )
        + small_body,
        # Head and a 900 KB body in one write: the body's bytes are not head bytes.
        "900 KB body": rawhttp.request_head("/notification", content_length=len(big_body))
        + big_body,
    }
    for case, request in cases.items():
        with rawhttp.connect(hostile_receiver.url) as sock:
            sock.sendall(request)
            answer, _took = _answer_or_close(sock)
        assert answer is not None, case
        assert answer.status == 200, case


def test_allow_any_source_warns_loudly(receivers: Receivers) -> None:
    receiver = receivers.start("--allow-any-source", loopback=False)
    deadline = time.monotonic() + 10
    while "WARNING: --allow-any-source" not in receiver.log() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "WARNING: --allow-any-source: anyone can post notifications" in receiver.log()
    quiet = receivers.start()
    assert_success(
        httpx.post(
            f"{quiet.url}/notification",
            content=json.dumps(samples.sample("ORDER_CREATED", orderId=7)).encode(),
            headers={"content-type": "application/json"},
        )
    )
    assert "--allow-any-source" not in quiet.log()
