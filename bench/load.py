"""Running the load generators: wrk for saturation, ``bench.openloop`` for fixed rates.

Both run as separate processes, so the server under test never shares an interpreter (or a GIL)
with the load. Each invocation gets a fresh run id, which keeps every body of a whole benchmark
unique (see ``bench.bodies``). The exact argv of each run is kept for the report.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import bodies

WRK_SCRIPT = Path(__file__).parent / "wrk" / "unique_bodies.lua"
_JSON_MARK = "BENCH_JSON "


class LoadFailed(RuntimeError):
    """A load generator failed; the message holds its output."""


@dataclass(frozen=True)
class WrkResult:
    """A closed-loop saturation run. Latencies are wrk's (closed loop: not comparable)."""

    seconds: float
    requests: int
    errors: dict[str, int]
    latency_us: dict[str, float]
    argv: list[str]

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def failed(self) -> int:
        return sum(self.errors.values())


@dataclass
class RunIds:
    """Hands out the run ids of one benchmark, one per generator invocation."""

    next_id: int = 1
    issued: list[int] = field(default_factory=list)

    def take(self) -> int:
        run = self.next_id
        if run > bodies.MAX_RUN:
            raise LoadFailed(f"more than {bodies.MAX_RUN} load runs in one benchmark")
        self.next_id += 1
        self.issued.append(run)
        return run


def wrk_path() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise LoadFailed("wrk is not installed: apt-get install -y wrk (make bench does it)")
    return found


def run_wrk(url: str, *, seconds: float, connections: int, threads: int, run_id: int) -> WrkResult:
    """Saturate ``url`` for ``seconds`` with wrk and the unique-body script."""
    argv = [
        wrk_path(),
        f"-t{threads}",
        f"-c{connections}",
        f"-d{seconds:g}s",
        "--timeout",
        "10s",
        "-s",
        str(WRK_SCRIPT),
        url,
    ]
    env = {
        **os.environ,
        "YMN_BENCH_TEMPLATE": bodies.template(),
        "YMN_BENCH_RUN": str(run_id),
    }
    done = subprocess.run(
        argv, env=env, capture_output=True, text=True, timeout=seconds + 30, check=False
    )
    for line in done.stdout.splitlines():
        if line.startswith(_JSON_MARK):
            data = json.loads(line.removeprefix(_JSON_MARK))
            return WrkResult(
                seconds=data["duration_us"] / 1e6,
                requests=data["requests"],
                errors=data["errors"],
                latency_us=data["latency_us"],
                argv=argv,
            )
    raise LoadFailed(f"wrk gave no summary (exit {done.returncode}):\n{done.stdout}{done.stderr}")


def openloop_argv(
    url: str,
    *,
    kind: str,
    rate: float,
    duration: float,
    connections: int,
    run_id: int,
    drain: float,
) -> list[str]:
    return [
        sys.executable,
        "-m",
        "bench.openloop",
        url,
        "--kind",
        kind,
        "--rate",
        f"{rate:.0f}",
        "--duration",
        f"{duration:g}",
        "--connections",
        str(connections),
        "--run-id",
        str(run_id),
        "--drain",
        f"{drain:g}",
    ]


def start_openloop(argv: list[str], cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def finish_openloop(process: subprocess.Popen[str], timeout: float) -> dict[str, Any]:
    """Wait for a started open-loop run and return its JSON result."""
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
        raise LoadFailed(f"open-loop generator did not finish in {timeout:g}s:\n{err}") from None
    if process.returncode != 0:
        raise LoadFailed(f"open-loop generator failed ({process.returncode}):\n{err}")
    result: dict[str, Any] = json.loads(out)
    return result
