"""Issue 8, Market side: the SSRF table through the real ``DeliveryClient`` and endpoints that
misbehave on purpose (drip, endless bodies, bad certificates) — refused at connect time, bounded
in time and memory, classified as Market does.

Every socket is on loopback. The client's sockets are made by a recorder that notes the address
each is for and refuses any but 127.0.0.1; where a test needs a "public" address, 127.0.0.1
plays it through an injected address rule, so no packet leaves the machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import ipaddress
import resource
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
import trustme

from tests.endpoints import OK, http_response, serve_endpoint, server_tls
from ymnotify.delivery import network, targets
from ymnotify.delivery.client import MAX_RESPONSE_BODY, ClientOptions, DeliveryClient
from ymnotify.delivery.network import AddrInfo
from ymnotify.delivery.outcome import FailureSubtype, FailureType, Verdict

SHORT = 1.0  # seconds; stands in for Market's 10 s
BODY = b'{"notificationType":"PING","time":"2026-01-01T00:00:00Z"}'


class RecordingSockets:
    """Makes the client's sockets: records the address each is for, makes real ones only for
    127.0.0.1 and refuses the rest, so no packet leaves loopback."""

    def __init__(self) -> None:
        self.connected_to: list[str] = []

    def __call__(self, addr_info: AddrInfo) -> socket.socket:
        address = str(addr_info[4][0])
        self.connected_to.append(address)
        if address != "127.0.0.1":
            raise OSError(f"test sockets: {address} is not reachable from tests")
        return network.plain_socket(addr_info)


# host as written in the URL -> the address the system resolver gives
SSRF_TABLE: list[tuple[str, str]] = [
    ("127.0.0.1", "127.0.0.1"),
    ("localhost", "127.0.0.1"),
    ("[::1]", "::1"),
    ("[::ffff:127.0.0.1]", "::ffff:127.0.0.1"),
    ("0.0.0.0", "0.0.0.0"),
    ("169.254.169.254", "169.254.169.254"),
    ("100.64.0.1", "100.64.0.1"),
    ("10.0.0.1", "10.0.0.1"),
    ("10.255.255.254", "10.255.255.254"),
    ("172.16.0.1", "172.16.0.1"),
    ("172.31.255.254", "172.31.255.254"),
    ("192.168.0.1", "192.168.0.1"),
    ("[fc00::1]", "fc00::1"),
    ("[fd00::1]", "fd00::1"),
    ("[fe80::1]", "fe80::1"),
    ("2130706433", "127.0.0.1"),  # decimal
    ("0177.0.0.1", "127.0.0.1"),  # octal
    ("0x7f.0.0.1", "127.0.0.1"),  # hex
    ("0x7f000001", "127.0.0.1"),  # hex, one number
    ("127.1", "127.0.0.1"),  # short form
    ("017700000001", "127.0.0.1"),  # octal, one number
]


@pytest.mark.parametrize(("host", "address"), SSRF_TABLE)
async def test_ssrf_targets_are_refused_at_connect_time_unless_private_targets_allowed(
    host: str, address: str
) -> None:
    async with serve_endpoint(OK) as endpoint:
        port = endpoint.url.rsplit(":", 1)[1]
        url = f"http://{host}:{port}/notification"
        refusing = RecordingSockets()
        options = ClientOptions(allow_http=True)
        async with DeliveryClient(options, make_socket=refusing) as client:
            refused = await client.post(url, BODY, timeout=SHORT)
        allowing = RecordingSockets()
        options = ClientOptions(allow_http=True, allow_private_targets=True)
        async with DeliveryClient(options, make_socket=allowing) as client:
            allowed = await client.post(url, BODY, timeout=SHORT)

    assert refused.outcome.verdict is Verdict.FAILED
    assert refused.outcome.subtype is FailureSubtype.CONNECTION_REFUSED
    assert f"{ipaddress.ip_address(address)} is" in refused.outcome.detail, refused.outcome.detail
    assert "--allow-private-targets" in refused.outcome.detail
    assert refusing.connected_to == []  # refused before any socket was opened
    # Allowed, the same URL reaches the address the check saw (the check is at connect time).
    assert [ipaddress.ip_address(a) for a in allowing.connected_to] == [
        ipaddress.ip_address(address)
    ]
    if address == "127.0.0.1":  # the endpoint listens there
        assert allowed.outcome.verdict is Verdict.DELIVERED, allowed.outcome
        assert len(endpoint.requests) == 1
    else:
        assert endpoint.requests == []


@pytest.mark.parametrize(
    "location", ["http://127.0.0.1:{port}/notification", "http://169.254.169.254/latest/meta-data"]
)
async def test_redirects_are_never_followed(location: str) -> None:
    async with serve_endpoint(OK) as internal:
        port = internal.url.rsplit(":", 1)[1]
        redirect = http_response(302, b"", extra=(("Location", location.format(port=port)),))
        async with serve_endpoint(redirect) as outside:
            connector = RecordingSockets()
            options = ClientOptions(allow_http=True, allow_private_targets=True)
            async with DeliveryClient(options, make_socket=connector) as client:
                attempt = await client.post(f"{outside.url}/notification", BODY, timeout=SHORT)
    assert attempt.status == 302
    assert attempt.outcome.verdict is Verdict.FAILED
    assert attempt.outcome.subtype is FailureSubtype.HTTP
    assert internal.requests == []
    assert connector.connected_to == ["127.0.0.1"]  # one connection, to the first target only


async def test_a_name_that_resolves_public_then_private_is_refused_on_the_second_lookup() -> None:
    # 127.0.0.1 plays a public address (the endpoint listens there); every other address keeps
    # the real rule, so 127.0.0.2 and 10.0.0.7 are refused as loopback and private.
    public = "127.0.0.1"
    answers = [[public], ["127.0.0.2"], ["10.0.0.7", "127.0.0.2"]]
    lookups: list[str] = []

    async def rebinding(host: str, port: int) -> list[str]:
        lookups.append(host)
        return answers[min(len(lookups), len(answers)) - 1]

    def public_stand_in(address: str) -> str | None:
        return None if address == public else targets.address_problem(address)

    closing_ok = http_response(
        200,
        OK.split(b"\r\n\r\n", 1)[1],
        extra=(("Connection", "close"),),  # so each post connects, and resolves, again
    )
    async with serve_endpoint(closing_ok) as endpoint:
        port = int(endpoint.url.rsplit(":", 1)[1])
        sockets = RecordingSockets()
        options = ClientOptions(allow_http=True)
        async with DeliveryClient(
            options, resolver=rebinding, make_socket=sockets, address_problem=public_stand_in
        ) as client:
            url = f"http://rebind.example:{port}/notification"
            first = await client.post(url, BODY, timeout=SHORT)
            second = await client.post(url, BODY, timeout=SHORT)
            third = await client.post(url, BODY, timeout=SHORT)
    assert first.outcome.verdict is Verdict.DELIVERED, first.outcome
    for later in (second, third):
        assert later.outcome.subtype is FailureSubtype.CONNECTION_REFUSED
        assert "rebind.example refused" in later.outcome.detail
    assert "127.0.0.2 is a loopback address" in second.outcome.detail
    assert "10.0.0.7 is a private address" in third.outcome.detail
    assert lookups == ["rebind.example"] * 3  # resolved at every connect, never cached
    assert sockets.connected_to == [public]
    assert len(endpoint.requests) == 1


# -- endpoints that misbehave --------------------------------------------------------------------

Misbehaviour = Callable[[asyncio.StreamWriter], Awaitable[None]]


@contextlib.asynccontextmanager
async def hostile_endpoint(misbehave: Misbehaviour) -> AsyncIterator[str]:
    """A loopback server that reads a request head and body, then runs ``misbehave``."""
    tasks: set[asyncio.Task[None]] = set()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        tasks.add(task)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(
                int(line.split(b":", 1)[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            )
            await reader.readexactly(length)
            await misbehave(writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            tasks.discard(task)
            writer.transport.abort()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/notification"
    finally:
        server.close()
        for task in list(tasks):
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await server.wait_closed()


async def drip_head(writer: asyncio.StreamWriter) -> None:
    for byte in http_response(200, OK.split(b"\r\n\r\n", 1)[1]):
        writer.write(bytes([byte]))
        await writer.drain()
        await asyncio.sleep(1)


async def drip_body(writer: asyncio.StreamWriter) -> None:
    writer.write(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n"
    )
    for _ in range(100):
        writer.write(b" ")
        await writer.drain()
        await asyncio.sleep(1)


async def endless_chunked(writer: asyncio.StreamWriter) -> None:
    writer.write(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    chunk = b"%x\r\n%s\r\n" % (65536, b"[" * 65536)
    for _ in range(100_000):  # 6.5 GB if anyone read it all
        writer.write(chunk)
        await writer.drain()


async def endless_declared(writer: asyncio.StreamWriter) -> None:
    writer.write(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 10000000000\r\n\r\n"
    )
    block = b"x" * 65536
    for _ in range(100_000):
        writer.write(block)
        await writer.drain()


async def endless_headers(writer: asyncio.StreamWriter) -> None:
    writer.write(b"HTTP/1.1 200 OK\r\n")
    line = b"X-Flood: " + b"y" * 1000 + b"\r\n"
    for _ in range(1_000_000):
        writer.write(line)
        await writer.drain()


HOSTILE: list[tuple[str, Misbehaviour, FailureSubtype]] = [
    ("drips the head one byte a second", drip_head, FailureSubtype.READ_TIMED_OUT),
    ("drips the body one byte a second", drip_body, FailureSubtype.READ_TIMED_OUT),
    ("endless chunked body", endless_chunked, FailureSubtype.CANT_PARSE_RESPONSE),
    ("endless body, 10 GB declared", endless_declared, FailureSubtype.CANT_PARSE_RESPONSE),
    ("endless headers", endless_headers, FailureSubtype.HTTP),
]


@pytest.mark.parametrize(
    ("case", "misbehave", "subtype"), HOSTILE, ids=[case for case, _, _ in HOSTILE]
)
async def test_hostile_endpoints_are_cut_off_in_time_and_memory(
    case: str, misbehave: Misbehaviour, subtype: FailureSubtype
) -> None:
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.monotonic()
    async with hostile_endpoint(misbehave) as url:
        options = ClientOptions(allow_http=True, allow_private_targets=True)
        async with DeliveryClient(options) as client:
            attempt = await client.post(url, BODY, timeout=SHORT)
    took = time.monotonic() - started
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before
    print(f"{case}: {attempt.outcome.subtype} after {took:.2f}s, peak RSS grew {grown} KiB")
    assert attempt.outcome.verdict is Verdict.FAILED
    assert attempt.outcome.subtype is subtype, attempt.outcome
    assert len(attempt.response_body) <= MAX_RESPONSE_BODY
    # The whole exchange is under one timeout; a generous margin for a busy machine.
    assert took < SHORT + 5


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


async def test_an_expired_certificate_is_an_ssl_error(ca: trustme.CA, tmp_path: Path) -> None:
    now = dt.datetime.now(dt.UTC)
    expired = ca.issue_cert(
        "localhost", not_before=now - dt.timedelta(days=30), not_after=now - dt.timedelta(days=1)
    )
    fresh = server_tls(ca, "localhost")
    fresh_context = fresh  # a valid certificate of the same CA: the control
    expired_context = server_tls(ca, "localhost")
    expired.configure_cert(expired_context)
    ca_path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_path))
    options = ClientOptions(ca_bundle=str(ca_path), allow_private_targets=True)
    results = {}
    for name, context in (("expired", expired_context), ("valid", fresh_context)):
        async with serve_endpoint(OK, tls=context) as endpoint, DeliveryClient(options) as client:
            url = endpoint.url.replace("127.0.0.1", "localhost") + "/notification"
            results[name] = (await client.post(url, BODY, timeout=SHORT), len(endpoint.requests))
    expired_attempt, expired_requests = results["expired"]
    assert expired_attempt.outcome.failure_type is FailureType.CANT_GET_RESPONSE
    assert expired_attempt.outcome.subtype is FailureSubtype.SSL_ERROR
    assert "expired" in expired_attempt.outcome.detail, expired_attempt.outcome.detail
    assert expired_requests == 0
    valid_attempt, valid_requests = results["valid"]
    assert valid_attempt.outcome.verdict is Verdict.DELIVERED
    assert valid_requests == 1
