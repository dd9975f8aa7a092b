"""The receiver's event loop: a turn runs the reads it polled before what the turn before queued."""

from __future__ import annotations

import asyncio
import socket

import pytest

from ymnotify.receiver import reads_first
from ymnotify.receiver.reads_first import ReadsFirstEventLoop


def _one_turn_order(loop: asyncio.SelectorEventLoop) -> list[str]:
    """The order of one turn in which a socket became readable while 3 callbacks were queued."""
    order: list[str] = []
    reading, writing = socket.socketpair()
    try:

        def on_read() -> None:
            reading.recv(16)
            order.append("read")
            loop.stop()  # the rest of this turn still runs

        def queue_and_write() -> None:
            writing.send(b"PING")  # readable at the next turn's poll
            for number in range(3):
                loop.call_soon(order.append, f"queued {number}")

        loop.add_reader(reading, on_read)
        loop.call_soon(queue_and_write)
        loop.run_forever()
        loop.remove_reader(reading)
    finally:
        reading.close()
        writing.close()
        loop.close()
    return order


def test_a_turn_runs_the_reads_it_polled_first() -> None:
    order = _one_turn_order(ReadsFirstEventLoop())
    assert order == ["read", "queued 0", "queued 1", "queued 2"]


def test_asyncios_own_loop_runs_them_last() -> None:
    # What the reads-first loop changes: a PING's bytes wait behind everything queued.
    order = _one_turn_order(asyncio.SelectorEventLoop())
    assert order == ["queued 0", "queued 1", "queued 2", "read"]


def test_reads_first_keeps_the_order_among_reads_and_among_queued_callbacks() -> None:
    loop = ReadsFirstEventLoop()
    order: list[str] = []
    pairs = [socket.socketpair() for _ in range(3)]
    try:
        for number, (reading, _) in enumerate(pairs):

            def on_read(reading: socket.socket = reading, number: int = number) -> None:
                reading.recv(16)
                order.append(f"read {number}")

            loop.add_reader(reading, on_read)

        def queue_and_write() -> None:
            for _, writing in pairs:
                writing.send(b"x")
            loop.call_soon(order.append, "queued 0")
            loop.call_soon(order.append, "queued 1")
            loop.call_soon(loop.stop)  # at the end of the next turn

        loop.call_soon(queue_and_write)
        loop.run_forever()
    finally:
        for reading, writing in pairs:
            loop.remove_reader(reading)
            reading.close()
            writing.close()
        loop.close()
    assert order[3:] == ["queued 0", "queued 1"]
    assert sorted(order[:3]) == ["read 0", "read 1", "read 2"]  # the poll's own order


@pytest.mark.skipif(reads_first.loop_factory() is None, reason="asyncio's own loop here")
def test_run_serves_on_the_reads_first_loop() -> None:
    async def loop_type() -> type[asyncio.AbstractEventLoop]:
        return type(asyncio.get_running_loop())

    assert reads_first.run(loop_type()) is ReadsFirstEventLoop
