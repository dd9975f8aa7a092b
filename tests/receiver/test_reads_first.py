"""The receiver's event loop: a turn runs the reads it polled before what the turn before queued."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from ymnotify.receiver import reads_first
from ymnotify.receiver.reads_first import ReadsFirstEventLoop

Pair = tuple[socket.socket, socket.socket]


def _turn_order(
    loop: asyncio.SelectorEventLoop, *, callbacks: int = 3, written_in_the_turn: bool = False
) -> list[str]:
    """The order of a turn of ``callbacks`` queued callbacks and a socket's read: the socket is
    written in the turn before (readable at the turn's poll), or by the turn's first callback."""
    order: list[str] = []
    reading, writing = socket.socketpair()
    try:

        def on_read() -> None:
            reading.recv(16)
            order.append("read")
            loop.stop()  # the rest of this turn still runs

        def queued(number: int) -> None:
            if written_in_the_turn and number == 0:
                writing.send(b"PING")
            order.append(f"queued {number}")

        def queue_them() -> None:  # so that they all run in the next turn
            if not written_in_the_turn:
                writing.send(b"PING")
            for number in range(callbacks):
                loop.call_soon(queued, number)

        loop.add_reader(reading, on_read)
        loop.call_soon(queue_them)
        loop.run_forever()
        loop.remove_reader(reading)
    finally:
        reading.close()
        writing.close()
        loop.close()
    return order


def test_a_turn_runs_the_reads_it_polled_first() -> None:
    order = _turn_order(ReadsFirstEventLoop())
    assert order == ["read", "queued 0", "queued 1", "queued 2"]


def test_asyncios_own_loop_runs_them_last() -> None:
    # What the reads-first loop changes: a PING's bytes wait behind everything queued.
    order = _turn_order(asyncio.SelectorEventLoop())
    assert order == ["queued 0", "queued 1", "queued 2", "read"]


@contextlib.contextmanager
def _socket_pairs(loop: asyncio.AbstractEventLoop, count: int) -> Iterator[list[Pair]]:
    """``count`` connected socket pairs, their readers removed from ``loop`` and all closed on
    the way out, and the loop closed too."""
    pairs = [socket.socketpair() for _ in range(count)]
    try:
        yield pairs
    finally:
        for reading, writing in pairs:
            loop.remove_reader(reading)
            reading.close()
            writing.close()
        loop.close()


def test_reads_first_keeps_the_order_among_reads_and_among_queued_callbacks() -> None:
    loop = ReadsFirstEventLoop()
    order: list[str] = []
    with _socket_pairs(loop, 3) as pairs:
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
    assert order[3:] == ["queued 0", "queued 1"]
    assert sorted(order[:3]) == ["read 0", "read 1", "read 2"]  # the poll's own order


@pytest.mark.skipif(reads_first.loop_factory() is None, reason="asyncio's own loop here")
def test_run_serves_on_the_reads_first_loop() -> None:
    async def loop_type() -> type[asyncio.AbstractEventLoop]:
        return type(asyncio.get_running_loop())

    assert reads_first.run(loop_type()) is ReadsFirstEventLoop


def test_a_long_turn_polls_between_its_callbacks() -> None:
    loop = ReadsFirstEventLoop()
    loop.poll_after = 0  # poll at every chance
    order = _turn_order(loop, callbacks=12, written_in_the_turn=True)
    queued = [f"queued {number}" for number in range(12)]
    carrier = loop.poll_every - 1  # the callback that polls before it runs
    assert order == [*queued[:carrier], "read", *queued[carrier:]]


def test_a_long_turn_does_not_poll_before_poll_after_has_passed() -> None:
    loop = ReadsFirstEventLoop()
    loop.poll_after = 3600
    order = _turn_order(loop, callbacks=12, written_in_the_turn=True)
    assert order == [f"queued {number}" for number in range(12)] + ["read"]


def test_polls_between_callbacks_lose_reorder_and_repeat_nothing() -> None:
    loop = ReadsFirstEventLoop()
    loop.poll_after = 0
    loop.poll_every = 2
    errors: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _, context: errors.append(context))
    ran: list[int] = []
    reads: list[bytes] = []
    with _socket_pairs(loop, 3) as pairs:
        for reading, _ in pairs:

            def on_read(reading: socket.socket = reading) -> None:
                reads.append(reading.recv(64))

            loop.add_reader(reading, on_read)

        def queued(number: int) -> None:
            ran.append(number)
            if number % 10 == 0:
                pairs[number // 10 % 3][1].send(b"x")
            if number == 99:
                loop.stop()  # at the end of this turn: all of them ran in it

        def queue_them() -> None:
            for number in range(100):
                loop.call_soon(queued, number)

        loop.call_soon(queue_them)
        loop.run_forever()
    assert errors == []  # no read callback ran twice (a second recv would raise)
    assert ran == list(range(100))
    assert b"".join(reads) == b"x" * 10


def _carried_polls(handle: asyncio.Handle, loop: ReadsFirstEventLoop) -> int:
    """How many polls this queued callback carries (a carrier could carry another)."""
    polls = 0
    while handle._callback == loop._poll_then_run:  # type: ignore[attr-defined]
        polls += 1
        handle = handle._args[0]
    return polls


def test_a_loop_that_stays_busy_carries_one_poll_at_most() -> None:
    # Each carried poll passes the next one on: they must not pile up turn after turn.
    loop = ReadsFirstEventLoop()
    loop.poll_after = 0
    carried: list[int] = []
    chains = [40]

    def again(turns_left: int) -> None:
        queued: collections.deque[asyncio.Handle] = loop._ready  # type: ignore[attr-defined]
        carried.append(sum(_carried_polls(handle, loop) for handle in queued))
        if turns_left:
            loop.call_soon(again, turns_left - 1)
        else:
            chains[0] -= 1
            if not chains[0]:
                loop.stop()

    try:
        for _ in range(40):
            loop.call_soon(again, 50)
        loop.run_forever()
    finally:
        loop.close()
    assert len(carried) == 40 * 51
    assert max(carried) == 1
