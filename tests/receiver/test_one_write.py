"""Answers written in one piece (``receiver.one_write``): the adapter, then a real server."""

from __future__ import annotations

import asyncio

from tests.acceptance.rawhttp import connect, read_response, read_responses, request_head
from tests.receiver.inprocess import PING, Running, post
from ymnotify.receiver.one_write import HeadHeldUntilBody

HEAD = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n"


class RecordingTransport(asyncio.Transport):
    """Records what would go to the socket."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.writes.append(bytes(data))

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed


def test_the_head_goes_out_with_the_body() -> None:
    transport = RecordingTransport()
    joined = HeadHeldUntilBody(transport)

    joined.write(HEAD)
    assert transport.writes == []
    joined.write(b"{}")
    assert transport.writes == [HEAD + b"{}"]


def test_an_empty_body_still_sends_the_head() -> None:
    transport = RecordingTransport()
    joined = HeadHeldUntilBody(transport)

    joined.write(HEAD)
    joined.write(b"")
    assert transport.writes == [HEAD]


def test_100_continue_is_not_held() -> None:
    transport = RecordingTransport()
    joined = HeadHeldUntilBody(transport)

    joined.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    assert transport.writes == [b"HTTP/1.1 100 Continue\r\n\r\n"]


def test_a_close_writes_a_held_head_first() -> None:
    transport = RecordingTransport()
    joined = HeadHeldUntilBody(transport)

    joined.write(HEAD)
    joined.close()
    assert transport.writes == [HEAD]
    assert joined.is_closing()


def test_body_chunks_after_the_first_go_straight_through() -> None:
    transport = RecordingTransport()
    joined = HeadHeldUntilBody(transport)

    for data in (
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n",
        b"2\r\n{}\r\n",
        b"0\r\n\r\n",
    ):
        joined.write(data)
    assert transport.writes == [
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\n{}\r\n",
        b"0\r\n\r\n",
    ]


async def test_head_and_100_continue_requests_are_answered(running: Running) -> None:
    def talk() -> tuple[bytes, int, int]:
        sock = connect(running.url)
        try:
            sock.sendall(b"HEAD /notification HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            head = b""
            while not head.endswith(b"\r\n\r\n"):
                head += sock.recv(1)
            # Then a POST that waits for "100 Continue" before sending its body.
            sock.sendall(
                request_head(
                    "/notification", content_length=len(PING), extra="Expect: 100-continue\r\n"
                )
            )
            interim = b""
            while not interim.endswith(b"\r\n\r\n"):
                interim += sock.recv(1)
            sock.sendall(PING)
            final = read_response(sock)
            sock.sendall(post(PING))
            [again] = read_responses(sock, 1)
            return head + interim, final.status, again.status
        finally:
            sock.close()

    heads, final, again = await asyncio.to_thread(talk)

    assert heads.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"HTTP/1.1 100 Continue\r\n\r\n" in heads
    assert (final, again) == (200, 200)
