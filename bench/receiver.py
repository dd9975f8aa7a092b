"""The receiver suite: every scenario through the same phases, back to back, in one run.

Per scenario: start the server (fresh scratch directory), warm it up, saturate it with wrk to
find its capacity and CPU cost per request, then offer fixed open-loop loads at fractions of
*its own* capacity; during the PING_FRACTION load a second open-loop process sends PINGs and
measures their latency. RSS is read at the end, before the server is stopped.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict

from bench import load, postgres, servers
from bench.scenarios import INTAKE_PATH, Scenario

PING_FRACTION = 0.8
# PINGs are load too: at most this share of a scenario's capacity, or a slow scenario (the glue
# at ~400 req/s) would be pushed past its capacity by PINGs alone.
PING_SHARE = 0.05


@dataclass(frozen=True)
class Profile:
    """How long and how hard each phase runs."""

    name: str
    warmup: float
    saturation: float
    load_duration: float
    fractions: tuple[float, ...]
    connections: int = 64
    wrk_threads: int = 1
    # The PING_FRACTION load runs longer and with more PINGs than the others: its PING p99 is a
    # goal, and a p99 of 250 PINGs (5 s at 50/s) is their 3rd slowest, which moved 4.8-10.5 ms
    # between runs of the same code.
    ping_duration: float = 10
    ping_rate: float = 100  # at most; see PING_SHARE
    ping_connections: int = 2
    drain: float = 5
    profile_seconds: float = 6

    def __post_init__(self) -> None:
        if PING_FRACTION not in self.fractions:
            raise ValueError(f"fractions must include {PING_FRACTION} (PING is measured there)")


# About 6 minutes for the three suites on 2 cores (issue 7 asks about 5): 5 scenarios × 7 phases.
FULL = Profile(
    "full", warmup=2, saturation=6, load_duration=5, fractions=(0.25, 0.5, 0.8, 1.0, 1.2)
)
QUICK = Profile(
    "quick",
    warmup=1,
    saturation=3,
    load_duration=2.5,
    fractions=(0.25, 0.5, 0.8, 1.1),
    profile_seconds=4,
    ping_duration=4,
)


class LoadPoint(TypedDict):
    fraction: float
    offered_rate: float
    result: dict[str, Any]  # bench.openloop's JSON document


class ScenarioResult(TypedDict):
    name: str
    title: str
    role: str
    durable: bool
    unavailable: str | None
    error: str | None
    command: list[str]
    saturation: dict[str, Any] | None
    cpu_us_per_request: float | None
    loads: list[LoadPoint]
    ping: dict[str, Any] | None
    memory_kib: dict[str, int] | None
    seconds: float
    load_average: str  # the machine's 1-minute load average at the start and at the end


def _empty(scenario: Scenario) -> ScenarioResult:
    return ScenarioResult(
        name=scenario.name,
        title=scenario.title,
        role=scenario.role.value,
        durable=scenario.durable,
        unavailable=scenario.unavailable,
        error=None,
        command=[],
        saturation=None,
        cpu_us_per_request=None,
        loads=[],
        ping=None,
        memory_kib=None,
        seconds=0.0,
        load_average="",
    )


def run_suite(
    scenarios: Sequence[Scenario],
    profile: Profile,
    *,
    repo: Path,
    scratch: Path,
    run_ids: load.RunIds,
    say: Callable[[str], None],
) -> list[ScenarioResult]:
    """Measure every available scenario; a failing one is recorded and the rest go on."""
    results = []
    for scenario in scenarios:
        result = _empty(scenario)
        if scenario.command is None:
            say(f"[{scenario.name}] not measured: {scenario.unavailable}")
        else:
            started = time.monotonic()
            load_at_start = os.getloadavg()[0]
            try:
                _measure(scenario, profile, result, repo, scratch / scenario.name, run_ids, say)
            except (
                servers.ServerFailed,
                load.LoadFailed,
                postgres.ClusterUnavailable,
                OSError,
            ) as exc:
                result["error"] = str(exc)
                say(f"[{scenario.name}] FAILED: {exc}")
            result["seconds"] = round(time.monotonic() - started, 1)
            result["load_average"] = f"{load_at_start:.1f} → {os.getloadavg()[0]:.1f}"
        results.append(result)
    return results


@contextlib.contextmanager
def running(scenario: Scenario, repo: Path, scratch: Path) -> Iterator[servers.RunningServer]:
    """The scenario's service (if any) and server, stopped and torn down on exit."""
    assert scenario.command is not None
    scratch.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        env = stack.enter_context(scenario.service()) if scenario.service else {}
        command = scenario.command(scratch)
        server = servers.start(command.argv, env=command.env | env, cwd=command.cwd or repo)
        stack.callback(server.stop)
        yield server


def shown_command(scenario: Scenario, scratch: Path) -> list[str]:
    """The server's command line as the report shows it: its environment, then argv."""
    assert scenario.command is not None
    command = scenario.command(scratch)
    shown = [f"{name}={value}" for name, value in command.env.items()]
    if scenario.service is not None:
        shown.append("YMNOTIFY_DB=postgresql://postgres@127.0.0.1:$PGPORT/postgres")
    return shown + command.argv


def _measure(
    scenario: Scenario,
    profile: Profile,
    result: ScenarioResult,
    repo: Path,
    scratch: Path,
    run_ids: load.RunIds,
    say: Callable[[str], None],
) -> None:
    assert scenario.command is not None
    result["command"] = shown_command(scenario, scratch)
    with running(scenario, repo, scratch) as server:
        url = server.url + INTAKE_PATH
        say(f"[{scenario.name}] listening on {server.url}; warming up {profile.warmup:g}s")
        _wrk(url, profile, profile.warmup, run_ids)
        cpu_before = server.cpu_seconds()
        saturation = _wrk(url, profile, profile.saturation, run_ids)
        cpu_used = server.cpu_seconds() - cpu_before
        server.check_alive()
        result["saturation"] = {
            "rate": round(saturation.rate, 1),
            "requests": saturation.requests,
            "seconds": saturation.seconds,
            "errors": saturation.errors,
            "latency_us": saturation.latency_us,
            "argv": saturation.argv,
        }
        if saturation.requests:
            result["cpu_us_per_request"] = round(cpu_used / saturation.requests * 1e6, 1)
        say(
            f"[{scenario.name}] saturation {saturation.rate:,.0f} req/s"
            f" ({saturation.failed} errors), {result['cpu_us_per_request']} µs CPU/request"
        )
        capacity = saturation.rate
        for fraction in profile.fractions:
            point, ping = fixed_load(url, profile, fraction, capacity, repo, run_ids)
            result["loads"].append(point)
            if ping is not None:
                result["ping"] = ping
            server.check_alive()
            latency = point["result"]["latency_ms"]
            say(
                f"[{scenario.name}] {fraction:.0%}: offered {point['offered_rate']:,.0f}/s,"
                f" achieved {point['result']['achieved_rate']:,.0f}/s,"
                f" p50 {latency.get('p50', '-')} ms, p99 {latency.get('p99', '-')} ms"
                + (f", PING p99 {ping['latency_ms'].get('p99', '-')} ms" if ping else "")
            )
        memory = server.memory()
        result["memory_kib"] = {"rss": memory.rss_kib, "peak": memory.peak_kib}
    code = server.process.returncode
    if code != 0 and result["error"] is None:
        result["error"] = f"server exited with {code}:\n{server.log()}"


def _wrk(url: str, profile: Profile, seconds: float, run_ids: load.RunIds) -> load.WrkResult:
    return load.run_wrk(
        url,
        seconds=seconds,
        connections=profile.connections,
        threads=profile.wrk_threads,
        run_id=run_ids.take(),
    )


def ping_rate(profile: Profile, capacity: float) -> float:
    """PINGs per second beside the PING_FRACTION load of a scenario with this ``capacity``."""
    return max(1.0, min(profile.ping_rate, PING_SHARE * capacity))


def fixed_load(
    url: str,
    profile: Profile,
    fraction: float,
    capacity: float,
    repo: Path,
    run_ids: load.RunIds,
) -> tuple[LoadPoint, dict[str, Any] | None]:
    rate = max(1.0, fraction * capacity)
    duration = profile.ping_duration if fraction == PING_FRACTION else profile.load_duration
    argv = load.openloop_argv(
        url,
        kind="notification",
        rate=rate,
        duration=duration,
        connections=profile.connections,
        run_id=run_ids.take(),
        drain=profile.drain,
    )
    notifications = load.start_openloop(argv, repo)
    pings = None
    if fraction == PING_FRACTION:
        ping_argv = load.openloop_argv(
            url,
            kind="ping",
            rate=ping_rate(profile, capacity),
            duration=duration,
            connections=profile.ping_connections,
            run_id=run_ids.take(),
            drain=profile.drain,
        )
        pings = load.start_openloop(ping_argv, repo)
    timeout = duration + profile.drain + 30
    result = load.finish_openloop(notifications, timeout)
    result["argv"] = argv
    ping = None
    if pings is not None:
        ping = load.finish_openloop(pings, timeout)
        ping["argv"] = ping_argv
    return LoadPoint(fraction=fraction, offered_rate=round(rate, 1), result=result), ping
