"""The Market-side suite: how fast the sandbox delivers, how late, and what waiting work costs.

Phases (each on a fresh ``ymnotify market serve --dev`` with its own file):

- **deliveries/s**: a batch of events published in arrays via ``POST /api/events`` to one
  subscription whose endpoint is the no-op ceiling app (same server program as the receiver
  benchmarks, keep-alive); rate = events / time from the first publish to the last delivery,
  read from the subscription's ``deliveries.delivered`` count.
- **lag**: events offered at fixed rates (arrays of a few events every 20 ms) to an endpoint that
  notes each arrival (``baselines/recording_app``); lag = arrival − the moment its publish
  request was sent, p50/p99 per rate.
- **claims**: ``MarketStore.claim_due`` with 10k and 1M (quick: 200k) pending deliveries due
  in the future, inserted in bulk through the store's own writer; each timed claim leases 256
  due ones. The timed claims alternate between the files (10k, 1M, 10k, …) so that the
  machine's changing speed falls on both, and each records its wall time (a claim commits, so
  that holds an fsync) and the process's CPU time (the statements, steadier). Then
  ``market serve`` is started on each file and its RSS compared: memory per pending delivery.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypedDict

import httpx

from bench import servers, stats
from ymnotify.clock import utc_text
from ymnotify.market.records import Business, NewSubscription, User
from ymnotify.market.rules import Delivering, Scope, Settings
from ymnotify.market.store import MarketStore
from ymnotify.protocol import samples

DEV_USER = "dev"
DEV_CAMPAIGN = 1001
EVENT_TYPE = "ORDER_CREATED"
CLAIM_LIMIT = 256  # deliveries leased per timed claim (the engine's claims take up to its room)
ORDER_ID_BASE = 7_000_000_000
Say = Callable[[str], None]


@dataclass(frozen=True)
class MarketProfile:
    """How much each phase does."""

    name: str
    throughput_events: int
    batch: int
    lag_rates: tuple[int, ...]
    lag_seconds: float
    pending_sizes: tuple[int, ...]
    timed_claims: int


FULL = MarketProfile("full", 4000, 500, (100, 250, 500), 4, (10_000, 1_000_000), 30)
QUICK = MarketProfile("quick", 3000, 500, (100, 500), 3, (10_000, 200_000), 15)


class LagPoint(TypedDict):
    offered: int
    published: int
    delivered: int
    latency_ms: dict[str, float]


class ClaimPoint(TypedDict):
    pending: int
    insert_seconds: float
    claim_ms: dict[str, float]
    claim_cpu_ms: dict[str, float]
    empty_claim_ms: float
    server_rss_kib: int


class MarketResult(TypedDict):
    deliveries: int
    deliveries_per_second: float
    publish_seconds: float
    market_cpu_us_per_delivery: float
    lag: list[LagPoint]
    claims: list[ClaimPoint]
    rss_per_pending_bytes: float | None
    error: str | None


def _event(order_id: int) -> dict[str, Any]:
    body = samples.sample(EVENT_TYPE, orderId=order_id)
    body["campaignId"] = DEV_CAMPAIGN
    return body


@contextlib.contextmanager
def _started(
    argv: list[str], repo: Path, source: Path | None = None
) -> Iterator[servers.RunningServer]:
    """``argv`` run from ``repo`` (for ``bench``), with ``ymnotify`` from ``source`` when given
    (an exported ``src`` tree: ``bench.compare_market``), else the installed one."""
    path = str(repo) if source is None else f"{source}{os.pathsep}{repo}"
    server = servers.start(argv, env={"PYTHONPATH": path}, cwd=repo)
    try:
        yield server
    finally:
        server.stop()


def _market(db: Path, repo: Path, source: Path | None = None) -> Any:
    argv = [sys.executable, "-m", "ymnotify", "market", "serve", "--dev", "--port", "0"]
    return _started([*argv, "--db", f"sqlite:///{db}", "--log-level", "warning"], repo, source)


def _target(app: str, repo: Path) -> Any:
    argv = [sys.executable, "-m", "bench.baselines.serve_app", app, "--port", "0"]
    return _started(argv, repo)


def _subscribe(api: httpx.Client, url: str) -> int:
    answer = api.post(
        "/api/subscriptions",
        json={"name": "bench", "scope": {"campaignId": DEV_CAMPAIGN}, "types": [EVENT_TYPE]}
        | {"url": url},
    )
    answer.raise_for_status()
    return int(answer.json()["id"])


def _delivered(api: httpx.Client, subscription: int) -> int:
    answer = api.get(f"/api/subscriptions/{subscription}")
    answer.raise_for_status()
    return int(answer.json()["deliveries"].get("delivered", 0))


def measure_throughput(
    profile: MarketProfile, repo: Path, scratch: Path, source: Path | None = None
) -> tuple[int, float, float, float]:
    """(events, deliveries/s, seconds publishing took, Market CPU µs per delivery); the
    sandbox's code from ``source`` (a ``src`` tree) when given."""
    with (
        _target("bench.baselines.noop_app:app", repo) as target,
        _market(scratch / "throughput.db", repo, source) as market,
        httpx.Client(base_url=market.url, headers={"X-Market-User": DEV_USER}, timeout=30) as api,
    ):
        subscription = _subscribe(api, target.url)
        cpu_before = market.cpu_seconds()
        started = time.monotonic()
        for first in range(0, profile.throughput_events, profile.batch):
            count = min(profile.batch, profile.throughput_events - first)
            batch = [_event(ORDER_ID_BASE + first + i) for i in range(count)]
            api.post("/api/events", json=batch).raise_for_status()
        published = time.monotonic() - started
        deadline = started + 120
        while _delivered(api, subscription) < profile.throughput_events:
            if time.monotonic() > deadline:
                raise RuntimeError("deliveries did not finish within 120 s")
            market.check_alive()
            time.sleep(0.05)
        elapsed = time.monotonic() - started
        cpu = market.cpu_seconds() - cpu_before
    events = profile.throughput_events
    return events, events / elapsed, published, cpu / events * 1e6


async def _offer(url: str, rate: int, seconds: float, first_id: int) -> dict[int, float]:
    """Publish ``rate`` events/s for ``seconds`` in 20 ms ticks; ``{orderId: sent at}``."""
    tick = 0.02
    sent: dict[int, float] = {}
    next_id = first_id
    pending: set[asyncio.Task[None]] = set()
    async with httpx.AsyncClient(
        base_url=url, headers={"X-Market-User": DEV_USER}, timeout=30
    ) as api:

        async def publish(events: list[dict[str, Any]]) -> None:
            (await api.post("/api/events", json=events)).raise_for_status()

        start = time.monotonic()
        ticks = int(seconds / tick)
        for number in range(ticks):
            due = round(rate * tick * (number + 1)) - round(rate * tick * number)
            wake = start + number * tick
            await asyncio.sleep(max(0.0, wake - time.monotonic()))
            events = [_event(next_id + i) for i in range(due)]
            now = time.time()
            for i in range(due):
                sent[next_id + i] = now
            next_id += due
            task = asyncio.create_task(publish(events))
            pending.add(task)
            task.add_done_callback(pending.discard)
        if pending:
            await asyncio.gather(*pending)
    return sent


def measure_lag(profile: MarketProfile, repo: Path, scratch: Path, say: Say) -> list[LagPoint]:
    points: list[LagPoint] = []
    with (
        _target("bench.baselines.recording_app:app", repo) as target,
        _market(scratch / "lag.db", repo) as market,
        httpx.Client(base_url=market.url, headers={"X-Market-User": DEV_USER}, timeout=30) as api,
    ):
        subscription = _subscribe(api, target.url)
        first_id = ORDER_ID_BASE
        expected = 0
        for rate in profile.lag_rates:
            sent = asyncio.run(_offer(market.url, rate, profile.lag_seconds, first_id))
            first_id += len(sent) + 1
            expected += len(sent)
            deadline = time.monotonic() + 60
            while _delivered(api, subscription) < expected and time.monotonic() < deadline:
                time.sleep(0.05)
            arrivals = httpx.get(target.url + "/recorded", timeout=30).json()
            lags = [at - sent[order] for order, at in arrivals if order in sent]
            point = LagPoint(
                offered=rate,
                published=len(sent),
                delivered=len(lags),
                latency_ms=stats.summary_ms(lags),
            )
            say(
                f"[market] lag at {rate}/s: {len(lags)}/{len(sent)} delivered, p50 "
                f"{point['latency_ms'].get('p50', 0):.1f} ms, p99 "
                f"{point['latency_ms'].get('p99', 0):.1f} ms"
            )
            points.append(point)
            market.check_alive()
    return points


async def _fill(path: Path, pending: int, due: int) -> float:
    """Create the dev cabinet, a subscription, one event, ``pending`` future and ``due`` due
    deliveries through the store's writer (bulk inserts); return the seconds it took."""
    now = datetime.now(UTC)
    async with MarketStore(path) as store:
        await store.create_business(
            Business(1, "bench", (DEV_CAMPAIGN,), (User(DEV_USER, "OWNER"),), now)
        )
        delivering = Delivering(True, (EVENT_TYPE,), "http://127.0.0.1:9/")
        subscription = await store.insert_subscription(
            NewSubscription(Scope(1, DEV_CAMPAIGN), Settings("bench", delivering, delivering), now)
        )
        event = (await store.publish([(EVENT_TYPE, b"{}", {})], now))[0].event_id
        started = time.monotonic()
        created = now.isoformat()

        def rows() -> Iterator[tuple[int, int, str, str]]:
            for number in range(pending):  # spread over the next 14 days, Market's horizon
                run_at = now + timedelta(seconds=60 + number * 1_209_600 / max(1, pending))
                yield event, subscription, utc_text(run_at), created
            for number in range(due):
                yield event, subscription, utc_text(now - timedelta(seconds=number + 1)), created

        def insert(connection: Any) -> None:
            connection.executemany(
                "INSERT INTO deliveries (event_id, subscription_id, state, run_at, created_at)"
                " VALUES (?, ?, 'pending', ?, ?)",
                rows(),
            )

        await store._write(insert)
        return time.monotonic() - started


@dataclass
class _ClaimTimes:
    wall: list[float]
    cpu: list[float]
    empty_wall: float = 0.0


async def _time_claims(paths: list[Path], claims: int) -> list[_ClaimTimes]:
    """``claims`` full claims on each file, taking turns between the files, then one that finds
    nothing due; per file, in the order of ``paths``."""
    async with contextlib.AsyncExitStack() as stack:
        stores = [await stack.enter_async_context(MarketStore(path)) for path in paths]
        times = [_ClaimTimes([], []) for _ in paths]
        for _ in range(claims):
            for store, recorded in zip(stores, times, strict=True):
                wall, cpu, taken = await _one_claim(store)
                if taken != CLAIM_LIMIT:
                    raise RuntimeError(f"a timed claim leased {taken}, expected {CLAIM_LIMIT}")
                recorded.wall.append(wall)
                recorded.cpu.append(cpu)
        for store, recorded in zip(stores, times, strict=True):
            recorded.empty_wall, _, _ = await _one_claim(store)
    return times


async def _one_claim(store: MarketStore) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds of this process, deliveries leased) of one claim."""
    now = datetime.now(UTC)
    started, cpu_started = time.perf_counter(), time.process_time()
    taken = await store.claim_due(
        now, wall=now, lease_until=now + timedelta(minutes=10), owner="b", limit=CLAIM_LIMIT
    )
    return time.perf_counter() - started, time.process_time() - cpu_started, len(taken)


def measure_claims(
    profile: MarketProfile, repo: Path, scratch: Path, say: Say
) -> tuple[list[ClaimPoint], float | None]:
    paths = [scratch / f"claims-{pending}.db" for pending in profile.pending_sizes]
    inserted = [
        asyncio.run(_fill(path, pending, CLAIM_LIMIT * profile.timed_claims))
        for path, pending in zip(paths, profile.pending_sizes, strict=True)
    ]
    times = asyncio.run(_time_claims(paths, profile.timed_claims))
    points: list[ClaimPoint] = []
    for path, pending, insert_seconds, recorded in zip(
        paths, profile.pending_sizes, inserted, times, strict=True
    ):
        # The server on the same file: the due ones are leased by now, the pending wait.
        with _market(path, repo) as market:
            time.sleep(1.5)  # its engine loop has looked at the queue
            rss = market.memory().rss_kib
        point = ClaimPoint(
            pending=pending,
            insert_seconds=round(insert_seconds, 2),
            claim_ms=stats.summary_ms(recorded.wall),
            claim_cpu_ms=stats.summary_ms(recorded.cpu),
            empty_claim_ms=round(recorded.empty_wall * 1000, 3),
            server_rss_kib=rss,
        )
        say(
            f"[market] {pending:,} pending: claim of {CLAIM_LIMIT} p50 "
            f"{point['claim_ms']['p50']:.2f} ms (CPU {point['claim_cpu_ms']['p50']:.2f} ms), "
            f"empty claim {point['empty_claim_ms']:.2f} ms, server RSS {rss:,} KiB"
        )
        points.append(point)
    per_pending = None
    if len(points) >= 2:
        low, high = points[0], points[-1]
        per_pending = (
            (high["server_rss_kib"] - low["server_rss_kib"])
            * 1024
            / (high["pending"] - low["pending"])
        )
    return points, per_pending


def run_suite(profile: MarketProfile, *, repo: Path, scratch: Path, say: Say) -> MarketResult:
    """Every Market phase; an error stops the suite and is reported, not raised."""
    scratch.mkdir(parents=True, exist_ok=True)
    result = MarketResult(
        deliveries=0,
        deliveries_per_second=0.0,
        publish_seconds=0.0,
        market_cpu_us_per_delivery=0.0,
        lag=[],
        claims=[],
        rss_per_pending_bytes=None,
        error=None,
    )
    try:
        say(f"[market] {profile.throughput_events} events to the no-op endpoint")
        events, rate, published, cpu = measure_throughput(profile, repo, scratch)
        result["deliveries"] = events
        result["deliveries_per_second"] = round(rate, 1)
        result["publish_seconds"] = round(published, 2)
        result["market_cpu_us_per_delivery"] = round(cpu, 1)
        say(f"[market] {rate:,.0f} deliveries/s, {cpu:.0f} µs of Market CPU per delivery")
        result["lag"] = measure_lag(profile, repo, scratch, say)
        result["claims"], result["rss_per_pending_bytes"] = measure_claims(
            profile, repo, scratch, say
        )
    except (RuntimeError, httpx.HTTPError, servers.ServerFailed, OSError) as exc:
        result["error"] = f"{type(exc).__name__}: {exc}"
        say(f"[market] failed: {result['error']}")
    return result
