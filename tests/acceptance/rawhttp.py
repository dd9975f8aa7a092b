"""HTTP/1.1 by hand over a socket, for what a well-behaved client library will not do:
trickle bytes, stop half-way, declare one length and send another."""

from __future__ import annotations

import http.client
import json
import select
import socket
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit


@dataclass(frozen=True)
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def connect(url: str, timeout: float = 10) -> socket.socket:
    parts = urlsplit(url)
    assert parts.hostname is not None
    assert parts.port is not None
    sock = socket.create_connection((parts.hostname, parts.port), timeout=timeout)
    sock.settimeout(timeout)
    return sock


def request_head(
    path: str, *, content_length: int | None = None, chunked: bool = False, extra: str = ""
) -> bytes:
    """The request line and headers of a JSON POST (``extra``: more header lines)."""
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json"]
    if content_length is not None:
        lines.append(f"Content-Length: {content_length}")
    if chunked:
        lines.append("Transfer-Encoding: chunked")
    head = "\r\n".join(lines) + "\r\n" + extra
    return head.encode() + b"\r\n"


def chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


def read_response(sock: socket.socket) -> RawResponse:
    """Read one response (``http.client`` parses it); raises if the server closed instead."""
    response = http.client.HTTPResponse(sock)
    try:
        response.begin()
        body = response.read()
    finally:
        response.close()  # its file over the socket; the socket stays the caller's
    return RawResponse(response.status, {k.lower(): v for k, v in response.getheaders()}, body)


def read_responses(sock: socket.socket, count: int) -> list[RawResponse]:
    """``count`` responses with a ``Content-Length``, read in turn through one buffered reader.

    Pipelined answers may arrive in one segment: ``read_response`` called once per answer
    would let its reader buffer the next answers and drop them with it.
    """
    with sock.makefile("rb") as stream:
        return [_read_one(stream) for _ in range(count)]


def _read_one(stream: Any) -> RawResponse:
    status_line = stream.readline()
    if not status_line:
        raise ConnectionError("the server closed the connection before answering")
    status = int(status_line.split(b" ", 2)[1])
    headers: dict[str, str] = {}
    while (line := stream.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    body = stream.read(int(headers.get("content-length", "0")))
    return RawResponse(status, headers, body)


@dataclass
class Trickle:
    """What happened to a connection fed one byte at a time."""

    sent: int = 0
    closed_after: float | None = None  # seconds from the start until the server closed it
    answer: bytes = b""  # anything the server wrote before closing


def trickle(sock: socket.socket, data: bytes, *, interval: float) -> Trickle:
    """Send ``data`` one byte per ``interval`` until done or the server closes the connection."""
    outcome = Trickle()
    started = time.monotonic()
    for byte in data:
        try:
            sock.sendall(bytes([byte]))
        except OSError:  # reset: closed by the server
            outcome.closed_after = time.monotonic() - started
            return outcome
        outcome.sent += 1
        readable, _, _ = select.select([sock], [], [], interval)
        if readable:
            try:
                received = sock.recv(65536)
            except OSError:
                received = b""
            outcome.answer += received
            if not received:
                outcome.closed_after = time.monotonic() - started
                return outcome
    return outcome


def wait_closed(sock: socket.socket, limit: float) -> float | None:
    """Seconds until the server closes an idle ``sock`` (``None``: still open after ``limit``)."""
    started = time.monotonic()
    while time.monotonic() - started < limit:
        readable, _, _ = select.select([sock], [], [], limit - (time.monotonic() - started))
        if readable:
            try:
                received = sock.recv(65536)
            except OSError:
                received = b""
            if not received:
                return time.monotonic() - started
    return None
