"""An open-loop HTTP load generator: requests leave on a fixed schedule, whatever the server does.

wrk (closed loop) sends the next request only when the previous one on that connection came
back, so a slow server slows the generator and its latency figures hide the wait ("coordinated
omission"). Here the i-th request is *scheduled* at ``start + i / rate``; it goes out on the first
idle keep-alive connection, and its latency is measured from that scheduled time to the last
byte of the answer. A request waiting for a free connection therefore counts its wait, exactly
as Market's delivery would wait.

The generator runs in its own process (``python -m bench.openloop ...``), on an event loop
whose timers are exact to the microsecond (``precise_event_loop``), and prints one JSON
document. It also reports its own lag (how late it noticed a request was due): that part of the
latency is the generator's fault, not the server's, and on a shared 2-core machine it is not 0.

Every loop is bounded: scheduling stops after ``duration`` and in-flight requests get ``drain``
seconds more; what is still unanswered then is counted, not waited for.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import selectors
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from urllib.parse import urlsplit

from bench import bodies, stats

MAX_RECONNECTS = 1000  # per run: a server that keeps dropping connections ends the run early
# select() cannot watch descriptors from FD_SETSIZE (1024) up; the generator's loop is select().
MAX_CONNECTIONS = 512


@dataclass
class RunResult:
    """What one open-loop run measured; times in milliseconds, rates per second."""

    kind: str
    offered_rate: float
    duration: float
    connections: int
    scheduled: int = 0
    sent: int = 0
    ok: int = 0
    ok_in_window: int = 0  # 200s answered before scheduling stopped: the achieved rate's count
    statuses: dict[str, int] = field(default_factory=dict)
    connection_errors: int = 0
    unanswered: int = 0
    latency_ms: dict[str, float] = field(default_factory=dict)
    generator_lag_ms: dict[str, float] = field(default_factory=dict)
    # The generator's own CPU over the run (user + system) and the run's wall time: on a 2-core
    # machine every core it uses is one the server under test does not get.
    cpu_seconds: float = 0.0
    wall_seconds: float = 0.0
    # Wall-clock time (epoch seconds) request 0 was due; request i was due at + i / rate. Another
    # process (a handler noting its start) can measure from there.
    started_at: float = 0.0
    note: str = ""

    @property
    def achieved_rate(self) -> float:
        return self.ok_in_window / self.duration if self.duration else 0.0


class _Connection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection carrying one request at a time."""

    def __init__(
        self, on_answer: Callable[[_Connection, int], None], on_lost: Callable[[_Connection], None]
    ) -> None:
        self._on_answer = on_answer
        self._on_lost = on_lost
        self._buffer = b""
        self.transport: asyncio.Transport | None = None
        self.scheduled_at = 0.0  # of the request in flight; 0.0 when idle
        self.closing = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.transport = transport

    def send(self, request: bytes, scheduled_at: float) -> None:
        assert self.transport is not None
        self.scheduled_at = scheduled_at
        self.transport.write(request)

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        while True:
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self._buffer[:end].lower()
            length = 0
            at = head.find(b"\r\ncontent-length:")
            if at >= 0:
                line_end = head.find(b"\r\n", at + 2)
                length = int(head[at + 17 : line_end if line_end >= 0 else None])
            if len(self._buffer) < end + 4 + length:
                return
            self._buffer = self._buffer[end + 4 + length :]
            self.closing = b"\r\nconnection: close" in head
            status = int(head[9:12])
            self._on_answer(self, status)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self._on_lost(self)


class OpenLoop:
    """One run: schedule, send, time, and count."""

    def __init__(
        self,
        url: str,
        *,
        kind: str,
        rate: float,
        duration: float,
        connections: int,
        run_id: int,
        worker: int,
        drain: float,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme != "http" or parts.hostname is None or parts.port is None:
            raise ValueError(f"need an http://HOST:PORT/PATH url, got {url!r}")
        self._host, self._port = parts.hostname, parts.port
        path = parts.path or "/"
        self._head = (
            f"POST {path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
            "Content-Type: application/json\r\nContent-Length: "
        ).encode()
        self._bodies = bodies.BodyMaker(run_id, worker) if kind == "notification" else None
        self._ping = bodies.ping_body()
        self._rate = rate
        self._duration = duration
        self._connections = connections
        self._drain = drain
        self.result = RunResult(kind, rate, duration, connections)
        self._loop = asyncio.get_running_loop()
        self._idle: list[_Connection] = []
        self._pending: collections.deque[float] = collections.deque()
        self._latencies: list[float] = []
        self._lags: list[float] = []
        self._statuses: collections.Counter[int] = collections.Counter()
        self._in_flight = 0
        self._reconnects = 0
        self._window_end = 0.0
        self._all_answered = asyncio.Event()
        self._scheduling_done = False
        self._open: set[_Connection] = set()
        self._finished = False

    def _request(self) -> bytes:
        body = self._bodies.next() if self._bodies is not None else self._ping
        return self._head + b"%d\r\n\r\n" % len(body) + body

    async def _connect(self) -> _Connection:
        _, protocol = await self._loop.create_connection(
            lambda: _Connection(self._answered, self._lost), self._host, self._port
        )
        self._open.add(protocol)
        return protocol

    def _answered(self, connection: _Connection, status: int) -> None:
        now = self._loop.time()
        self._latencies.append(now - connection.scheduled_at)
        self._statuses[status] += 1
        if status == 200:
            self.result.ok += 1
            if now <= self._window_end:
                self.result.ok_in_window += 1
        connection.scheduled_at = 0.0
        self._in_flight -= 1
        if connection.closing and connection.transport is not None:
            connection.transport.close()  # _lost replaces it
        else:
            self._idle.append(connection)
            self._dispatch()
        self._check_done()

    def _lost(self, connection: _Connection) -> None:
        self._open.discard(connection)
        if self._finished:
            return
        if connection in self._idle:
            self._idle.remove(connection)
        if connection.scheduled_at:  # died with a request in flight: that request failed
            self.result.connection_errors += 1
            self._in_flight -= 1
            connection.scheduled_at = 0.0
            self._check_done()
        if self._reconnects < MAX_RECONNECTS:
            self._reconnects += 1
            self._loop.create_task(self._replace())

    async def _replace(self) -> None:
        try:
            connection = await self._connect()
        except OSError:
            self.result.connection_errors += 1
            return
        self._idle.append(connection)
        self._dispatch()

    def _dispatch(self) -> None:
        while self._pending and self._idle:
            connection = self._idle.pop()
            if connection.transport is None:
                continue
            self._in_flight += 1
            self.result.sent += 1
            connection.send(self._request(), self._pending.popleft())

    def _check_done(self) -> None:
        if self._scheduling_done and not self._pending and self._in_flight == 0:
            self._all_answered.set()

    async def run(self) -> RunResult:
        cpu_before, wall_before = time.process_time(), time.monotonic()
        opened = await asyncio.gather(*(self._connect() for _ in range(self._connections)))
        self._idle.extend(opened)
        total = int(self._rate * self._duration)
        start = self._loop.time() + 0.01
        self.result.started_at = time.time() + (start - self._loop.time())
        self._window_end = start + self._duration
        index = 0
        while index < total:
            now = self._loop.time()
            due = min(total, int((now - start) * self._rate) + 1)
            while index < due:
                scheduled_at = start + index / self._rate
                self._lags.append(now - scheduled_at)
                self._pending.append(scheduled_at)
                index += 1
            self._dispatch()
            wake = start + index / self._rate
            await asyncio.sleep(max(0.0, wake - self._loop.time()))
        self.result.scheduled = total
        self._scheduling_done = True
        self._check_done()
        try:
            async with asyncio.timeout(self._drain):
                await self._all_answered.wait()
        except TimeoutError:
            self.result.note = f"stopped waiting {self._drain:g}s after the last scheduled send"
        self.result.unanswered = len(self._pending) + self._in_flight
        self._finished = True
        for connection in list(self._open):
            if connection.transport is not None:
                connection.transport.close()
        self.result.statuses = {str(code): n for code, n in sorted(self._statuses.items())}
        self.result.latency_ms = stats.summary_ms(self._latencies)
        self.result.generator_lag_ms = stats.summary_ms(self._lags)
        self.result.cpu_seconds = round(time.process_time() - cpu_before, 3)
        self.result.wall_seconds = round(time.monotonic() - wall_before, 3)
        return self.result


async def _main(args: argparse.Namespace) -> RunResult:
    generator = OpenLoop(
        args.url,
        kind=args.kind,
        rate=args.rate,
        duration=args.duration,
        connections=args.connections,
        run_id=args.run_id,
        worker=args.worker,
        drain=args.drain,
    )
    return await generator.run()


def precise_event_loop() -> asyncio.AbstractEventLoop:
    """An event loop whose timers wake within microseconds of when they are due.

    asyncio's default loop on Linux waits in epoll, whose timeout is whole milliseconds, and
    Python rounds it up: every scheduled send woke up to 1 ms late. Measured beside the server
    at 1,300 notifications/s, two PING generators side by side: epoll's lag p50 1.1 ms, p99
    2.4-4.3 ms; select()'s 0.26 ms and 0.9-1.9 ms. That lag is the generator's, yet it counts
    in every latency measured from the schedule. select() takes its timeout in microseconds,
    and a generator holds a few dozen sockets, far below its descriptor limit.
    """
    return asyncio.SelectorEventLoop(selectors.SelectSelector())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Open-loop POST load at a fixed rate.")
    parser.add_argument("url", help="http://HOST:PORT/PATH")
    parser.add_argument("--kind", choices=["notification", "ping"], default="notification")
    parser.add_argument("--rate", type=float, required=True, help="requests per second")
    parser.add_argument("--duration", type=float, required=True, help="seconds of scheduling")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--run-id", type=int, default=0, help="makes order ids unique per run")
    parser.add_argument("--worker", type=int, default=0)
    parser.add_argument("--drain", type=float, default=5.0, help="seconds to wait at the end")
    args = parser.parse_args(argv)
    if args.rate <= 0 or args.duration <= 0 or args.connections < 1:
        parser.error("--rate, --duration and --connections must be positive")
    if args.connections > MAX_CONNECTIONS:
        parser.error(f"--connections: at most {MAX_CONNECTIONS} (the generator's loop is select())")
    with asyncio.Runner(loop_factory=precise_event_loop) as runner:
        result = runner.run(_main(args))
    document = asdict(result) | {"achieved_rate": result.achieved_rate}
    json.dump(document, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
