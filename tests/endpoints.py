"""Small real HTTP(S) endpoints on loopback for delivery tests.

``Endpoint`` is a raw asyncio server: it parses just enough HTTP/1.1 (request line, headers,
Content-Length body, keep-alive) to record every request, and answers whatever its current
``behaviour`` says — a well-formed answer, garbage, silence or a closed connection — so every
failure Market distinguishes can be produced on a real socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import ssl
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import trustme


@dataclass(frozen=True)
class Request:
    """One request as the endpoint received it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    received_at: datetime

    def json(self) -> Any:
        return json.loads(self.body)


def http_response(
    status: int,
    body: bytes = b"",
    *,
    content_type: str | None = "application/json",
    extra: tuple[tuple[str, str], ...] = (),
) -> bytes:
    """A complete HTTP/1.1 response as bytes."""
    lines = [f"HTTP/1.1 {status} X"]
    if content_type is not None:
        lines.append(f"Content-Type: {content_type}")
    lines.append(f"Content-Length: {len(body)}")
    lines.extend(f"{name}: {value}" for name, value in extra)
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def valid_body(name: str = "shop") -> bytes:
    return json.dumps({"version": "1.0", "name": name, "time": "2026-01-01T00:00:00Z"}).encode()


OK = http_response(200, valid_body())
SILENT = b"__silent__"  # never answer
CLOSE = b"__close__"  # close the connection without answering

Behaviour = Callable[[Request], bytes]


def always(answer: bytes) -> Behaviour:
    return lambda _request: answer


@dataclass
class Endpoint:
    """A running endpoint; ``url`` is its base URL, ``requests`` what it received."""

    url: str
    behaviour: Behaviour
    requests: list[Request] = field(default_factory=list)
    connections: int = 0

    def answer(self, answer: bytes) -> None:
        self.behaviour = always(answer)


async def _serve_connection(
    endpoint: Endpoint, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    endpoint.connections += 1
    try:
        for _ in range(10_000):  # keep-alive: many requests per connection, bounded
            first = await reader.readexactly(1)
            if not first.isalpha():  # e.g. a TLS ClientHello: answer as plain HTTP servers do
                writer.write(http_response(400, b"not HTTP", content_type="text/plain"))
                await writer.drain()
                return
            head = first + await reader.readuntil(b"\r\n\r\n")
            request_line, *header_lines = head.decode("latin-1").split("\r\n")
            method, path, _version = request_line.split(" ", 2)
            headers = {}
            for line in header_lines:
                if ":" in line:
                    name, value = line.split(":", 1)
                    headers[name.strip().lower()] = value.strip()
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            request = Request(method, path, headers, body, datetime.now(UTC))
            endpoint.requests.append(request)
            answer = endpoint.behaviour(request)
            if answer == SILENT:
                await reader.read()  # until the client gives up and closes
                return
            if answer == CLOSE:
                return
            writer.write(answer)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError, ValueError):
        return
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


@contextlib.asynccontextmanager
async def serve_endpoint(
    behaviour: Behaviour | bytes = OK, *, tls: ssl.SSLContext | None = None, host: str = "127.0.0.1"
) -> AsyncIterator[Endpoint]:
    """Run an endpoint on a free loopback port for the duration of the block."""
    endpoint = Endpoint("", always(behaviour) if isinstance(behaviour, bytes) else behaviour)
    tasks: set[asyncio.Task[None]] = set()
    writers: set[asyncio.StreamWriter] = set()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        tasks.add(task)
        writers.add(writer)
        try:
            await _serve_connection(endpoint, reader, writer)
        finally:
            tasks.discard(task)
            writers.discard(writer)

    server = await asyncio.start_server(handle, host, 0, ssl=tls)
    port = server.sockets[0].getsockname()[1]
    endpoint.url = f"{'https' if tls else 'http'}://{host}:{port}"
    try:
        yield endpoint
    finally:
        server.close()
        for writer in list(writers):  # handlers waiting on a read see the end and return
            writer.transport.abort()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(5):
                await asyncio.gather(*tasks, return_exceptions=True)
        await server.wait_closed()


def closed_port() -> int:
    """A loopback port nobody listens on (connections are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def full_backlog() -> Any:
    """A listening port whose accept queue is full: new connections hang (connect timeout).

    Linux drops a SYN when the listener's accept queue is full, so the client keeps
    retransmitting and its connect times out, exactly like an unreachable host.
    """
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    filler = socket.socket()
    filler.settimeout(1)
    filler.connect(("127.0.0.1", port))  # takes the only queue slot; never accepted
    probe = socket.socket()
    probe.settimeout(0.2)
    deadline = time.monotonic() + 2
    try:
        # Make sure the queue really is full before the test relies on it.
        while time.monotonic() < deadline:
            try:
                probe.connect(("127.0.0.1", port))
            except TimeoutError:
                break
            probe.close()
            probe = socket.socket()
            probe.settimeout(0.2)
        else:
            raise AssertionError("could not fill the accept queue")
        yield port
    finally:
        probe.close()
        filler.close()
        listener.close()


def server_tls(ca: trustme.CA, *hosts: str) -> ssl.SSLContext:
    """A server TLS context with a certificate for ``hosts`` issued by ``ca``."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(*hosts).configure_cert(context)
    return context
