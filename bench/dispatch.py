"""The dispatch suite: notification → handler latency, and handler throughput per worker count.

- **latency**: ``ymnotify serve --app bench.baselines.noop_handlers:router`` (4 workers, the
  default) takes notifications from the open-loop generator (``bench.openloop``) at fixed
  offered rates; latency runs from the time a notification was due to be sent to the moment the
  no-op handler started (it notes its start time per order id), so it holds the ack, the commit
  and the hand-over to a worker. Measured from the sender's receipt of the 200 instead, it came
  out negative: a Python sender notices its answers later than the server's workers start.
- **throughput vs workers**: N notifications are stored first by ``serve --workers 0``; then
  ``serve --app … --workers W`` drains them; rate = N / (last handler start − first handler
  start). SQLite and, when a PostgreSQL server can be started, PostgreSQL.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NotRequired, TypedDict

import httpx

from bench import bodies, load, postgres, servers, stats
from ymnotify.protocol import samples

HANDLERS = "bench.baselines.noop_handlers:router"
ORDER_ID_BASE = 8_000_000_000
SENDER_CONNECTIONS = 16
Say = Callable[[str], None]


@dataclass(frozen=True)
class DispatchProfile:
    """How much each phase does."""

    name: str
    rates: tuple[int, ...]
    seconds: float
    backlog: int
    worker_counts: tuple[int, ...]
    # PostgreSQL drains at 40–200/s here (a commit per job, each waiting for the WAL flush):
    # a smaller backlog keeps its phase within seconds.
    postgres_backlog: int


FULL = DispatchProfile("full", (100, 300, 600), 3, 2000, (1, 2, 4, 8), 400)
QUICK = DispatchProfile("quick", (100, 400), 2, 800, (1, 4), 200)


class LatencyPoint(TypedDict):
    offered: int
    sent: int
    handled: int
    latency_ms: dict[str, float]  # due to be sent → handler started
    ack_ms: dict[str, float]  # due to be sent → 200 received (the generator's own figure)


class WorkersPoint(TypedDict):
    backend: str
    workers: int
    notifications: int
    handled: int
    per_second: float
    # The draining process's CPU (user+system, all threads) per handled job, from when it was
    # listening: steadier than the rate on a shared machine. Absent from older results.
    cpu_us_per_job: NotRequired[float]


class DispatchResult(TypedDict):
    latency: list[LatencyPoint]
    workers: list[WorkersPoint]
    postgres_unavailable: str | None
    error: str | None


def _body(order_id: int) -> bytes:
    return json.dumps(samples.sample("ORDER_CREATED", orderId=order_id)).encode()


@contextlib.contextmanager
def _serve(
    db: str, repo: Path, log: Path, *extra: str, env: dict[str, str] | None = None
) -> Iterator[servers.RunningServer]:
    argv = [sys.executable, "-m", "ymnotify", "serve", "--port", "0", "--db", db]
    argv += ["--allow-network", "127.0.0.0/8", "--log-level", "warning", *extra]
    environment = {"PYTHONPATH": str(repo), "BENCH_HANDLER_LOG": str(log), **(env or {})}
    server = servers.start(argv, env=environment, cwd=repo)
    try:
        yield server
    finally:
        server.stop()


async def _send(url: str, order_ids: list[int]) -> set[int]:
    """POST each order's body as fast as 16 connections go; return the ids answered 200."""
    acked: set[int] = set()
    limits = httpx.Limits(max_connections=SENDER_CONNECTIONS)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as client:
        gate = asyncio.Semaphore(SENDER_CONNECTIONS * 4)

        async def one(order_id: int) -> None:
            async with gate:
                answer = await client.post("/notification", content=_body(order_id))
            if answer.status_code == 200:
                acked.add(order_id)

        await asyncio.gather(*(one(order_id) for order_id in order_ids))
    return acked


def _handled(log: Path) -> dict[int, float]:
    starts: dict[int, float] = {}
    if log.exists():
        for line in log.read_text().splitlines():
            order, _, at = line.partition(" ")
            starts.setdefault(int(order), float(at))
    return starts


def _wait_handled(
    log: Path, expected: set[int], server: servers.RunningServer, *, at_least: int | None = None
) -> None:
    """Wait until the handler noted every id in ``expected`` (or ``at_least`` of them: those
    answered 200; one refused is never handled), for at most a minute."""
    needed = len(expected) if at_least is None else at_least
    deadline = time.monotonic() + 60
    while len(expected & _handled(log).keys()) < needed:
        if time.monotonic() > deadline:
            return  # reported as handled < sent
        server.check_alive()
        time.sleep(0.05)


def measure_latency(
    profile: DispatchProfile, repo: Path, scratch: Path, say: Say
) -> list[LatencyPoint]:
    log = scratch / "latency-handlers.log"
    points: list[LatencyPoint] = []
    with _serve(f"sqlite:///{scratch / 'latency.db'}", repo, log, "--app", HANDLERS) as server:
        for run, rate in enumerate(profile.rates, start=1):
            argv = load.openloop_argv(
                server.url + "/notification",
                kind="notification",
                rate=rate,
                duration=profile.seconds,
                connections=SENDER_CONNECTIONS,
                run_id=run,
                drain=10,
            )
            sent = load.finish_openloop(load.start_openloop(argv, repo), profile.seconds + 60)
            due = _due_times(run, sent["started_at"], rate, sent["scheduled"])
            _wait_handled(log, set(due), server, at_least=sent["ok"])
            started = _handled(log)
            lags = [started[order] - at for order, at in due.items() if order in started]
            point = LatencyPoint(
                offered=rate,
                sent=sent["sent"],
                handled=len(lags),
                latency_ms=stats.summary_ms(lags),
                ack_ms=sent["latency_ms"],
            )
            say(
                f"[dispatch] {rate}/s: {len(lags)}/{sent['sent']} handled, sent → handler p50 "
                f"{point['latency_ms'].get('p50', 0):.1f} ms, p99 "
                f"{point['latency_ms'].get('p99', 0):.1f} ms (200 p99 "
                f"{point['ack_ms'].get('p99', 0):.1f} ms)"
            )
            points.append(point)
    return points


def _due_times(run: int, started_at: float, rate: float, scheduled: int) -> dict[int, float]:
    """``{order id: wall-clock time it was due}`` for one open-loop run of worker 0: the
    generator sends its bodies in schedule order, so body n (counter n) is request n − 1."""
    return {
        bodies.order_id(run, 0, counter): started_at + (counter - 1) / rate
        for counter in range(1, scheduled + 1)
    }


def _drain_rate(
    db: str, repo: Path, log: Path, workers: int, ids: list[int], env: dict[str, str], tag: str
) -> WorkersPoint:
    with _serve(db, repo, log, "--workers", "0", env=env) as intake:
        acked = asyncio.run(_send(intake.url, ids))
    with _serve(db, repo, log, "--app", HANDLERS, "--workers", str(workers), env=env) as server:
        cpu_before = server.cpu_seconds()
        _wait_handled(log, acked, server)
        cpu = server.cpu_seconds() - cpu_before
    starts = sorted(_handled(log).values())
    span = starts[-1] - starts[0] if len(starts) > 1 else 0.0
    return WorkersPoint(
        backend=tag,
        workers=workers,
        notifications=len(acked),
        handled=len(starts),
        per_second=round(len(starts) / span, 1) if span > 0 else 0.0,
        cpu_us_per_job=round(cpu / len(starts) * 1e6) if starts else 0.0,
    )


def _backlogs(profile: DispatchProfile, size: int) -> Iterator[tuple[int, list[int]]]:
    """(workers, order ids): fresh ids per worker count, so one store can serve them all."""
    for number, workers in enumerate(profile.worker_counts):
        first = ORDER_ID_BASE + (number + 1) * 10_000_000
        yield workers, list(range(first, first + size))


def measure_workers(
    profile: DispatchProfile, repo: Path, scratch: Path, say: Say
) -> tuple[list[WorkersPoint], str | None]:
    points = []
    for workers, ids in _backlogs(profile, profile.backlog):
        db = f"sqlite:///{scratch / f'workers-{workers}.db'}"
        log = scratch / f"workers-sqlite-{workers}.log"
        points.append(_drain_rate(db, repo, log, workers, ids, {}, "sqlite"))
        say(f"[dispatch] SQLite, {workers} workers: {points[-1]['per_second']:,.0f} handled/s")
    try:
        with postgres.migrated_cluster() as env:
            for workers, ids in _backlogs(profile, profile.postgres_backlog):
                log = scratch / f"workers-postgresql-{workers}.log"
                point = _drain_rate(env["YMNOTIFY_DB"], repo, log, workers, ids, env, "postgresql")
                points.append(point)
                say(f"[dispatch] PostgreSQL, {workers} workers: {point['per_second']:,.0f}/s")
    except postgres.ClusterUnavailable as exc:
        say(f"[dispatch] PostgreSQL unavailable: {exc}")
        return points, str(exc)
    return points, None


def run_suite(profile: DispatchProfile, *, repo: Path, scratch: Path, say: Say) -> DispatchResult:
    """Both dispatch phases; an error stops the suite and is reported, not raised."""
    scratch.mkdir(parents=True, exist_ok=True)
    result = DispatchResult(latency=[], workers=[], postgres_unavailable=None, error=None)
    try:
        result["latency"] = measure_latency(profile, repo, scratch, say)
        result["workers"], result["postgres_unavailable"] = measure_workers(
            profile, repo, scratch, say
        )
    except (RuntimeError, httpx.HTTPError, servers.ServerFailed, OSError) as exc:
        result["error"] = f"{type(exc).__name__}: {exc}"
        say(f"[dispatch] failed: {result['error']}")
    return result
