"""``python -m bench``: measure, then write docs/benchmarks.md, its JSON and its plots.

``make bench`` runs this with the full profile (about 6 minutes on 2 cores);
``BENCH_QUICK=1 make bench`` (or ``--quick``) with short phases. ``--compare REV`` adds ymnotify
as of git revision REV to the same run, for before/after figures of a change.
``--render-only`` rewrites the report from docs/benchmarks.json without measuring.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import dispatch, load, machine, market, profiling, receiver, report, scenarios

REPO = Path(__file__).resolve().parent.parent
DOCS = REPO / "docs"
IMAGES = {
    "Throughput vs offered load": "img/receiver-throughput.png",
    "Ack latency percentiles and PING p99": "img/receiver-latency.png",
}
ANALYSIS = Path(__file__).parent / "analysis.md"
PROFILED = scenarios.YMNOTIFY_SQLITE_FULL
TOP_FUNCTIONS = 15


def _say(text: str) -> None:
    print(f"bench: {text}", file=sys.stderr, flush=True)


def export_revision(revision: str, into: Path) -> Path:
    """The ``src`` tree of ``revision`` under ``into`` (git archive), for a before/after run."""
    into.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", "--format=tar", revision, "src"],
        capture_output=True,
        timeout=60,
        check=False,
    )
    if archive.returncode != 0:
        raise SystemExit(f"bench: cannot export {revision!r}: {archive.stderr.decode().strip()}")
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, timeout=60, check=True)
    return into


def _write_outputs(document: report.BenchDocument) -> None:
    (DOCS / "img").mkdir(parents=True, exist_ok=True)
    (DOCS / "benchmarks.json").write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n")
    images: dict[str, str] = {}
    try:
        from bench import plots
    except ImportError as exc:
        _say(f"no plots: {exc} (install the bench extra: make bench)")
    else:
        titles = list(IMAGES)
        plots.throughput(document["results"], DOCS / IMAGES[titles[0]])
        plots.latency(document["results"], DOCS / IMAGES[titles[1]])
        images = IMAGES
    (DOCS / "benchmarks.md").write_text(report.render(document, images))
    _say(f"wrote {DOCS / 'benchmarks.md'}, benchmarks.json and {len(images)} plots")


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        default=os.environ.get("BENCH_QUICK", "") not in ("", "0"),
        help="short phases (also BENCH_QUICK=1)",
    )
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="SCENARIO",
        help="measure only these receiver scenarios (repeatable)",
    )
    parser.add_argument(
        "--compare",
        default=os.environ.get("BENCH_COMPARE") or None,
        metavar="REV",
        help="also measure ymnotify as of git revision REV (also BENCH_COMPARE=REV)",
    )
    parser.add_argument("--no-profile", action="store_true", help="skip the py-spy phase")
    parser.add_argument(
        "--suite",
        action="append",
        choices=["receiver", "dispatch", "market"],
        default=[],
        help="run only these suites (repeatable; default: all)",
    )
    parser.add_argument(
        "--render-only", action="store_true", help="rewrite the report from docs/benchmarks.json"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = _parse(argv)
    if args.render_only:
        document: Any = json.loads((DOCS / "benchmarks.json").read_text())
        document["analysis"] = ANALYSIS.read_text() if ANALYSIS.exists() else ""
        _write_outputs(document)
        return
    try:
        load.wrk_path()
        chosen = [scenarios.by_name(name) for name in args.only] or list(
            scenarios.RECEIVER_SCENARIOS
        )
    except (load.LoadFailed, KeyError) as exc:
        raise SystemExit(f"bench: {exc}") from exc
    profile = receiver.QUICK if args.quick else receiver.FULL
    started = datetime.now(UTC)
    scratch = REPO / "build" / "bench" / started.strftime("%Y%m%dT%H%M%SZ")
    scratch.mkdir(parents=True)
    if args.compare:
        source = export_revision(args.compare, scratch / f"rev-{args.compare}")
        at_revision = scenarios.ymnotify_at_revision(args.compare, source)
        position = chosen.index(PROFILED) + 1 if PROFILED in chosen else len(chosen)
        chosen.insert(position, at_revision)
    facts = machine.facts(scratch, REPO) | {"python executable": sys.executable}
    load_before = machine.load_average()
    _say(f"{profile.name} run of {len(chosen)} scenarios; scratch {scratch}")
    clock = time.monotonic()
    run_ids = load.RunIds()
    suites = args.suite or ["receiver", "dispatch", "market"]
    results = []
    if "receiver" in suites:
        results = receiver.run_suite(
            chosen, profile, repo=REPO, scratch=scratch, run_ids=run_ids, say=_say
        )
    dispatch_result = None
    if "dispatch" in suites:
        dispatch_profile = dispatch.QUICK if args.quick else dispatch.FULL
        dispatch_result = dispatch.run_suite(
            dispatch_profile, repo=REPO, scratch=scratch / "dispatch", say=_say
        )
    market_result = None
    if "market" in suites:
        market_profile = market.QUICK if args.quick else market.FULL
        market_result = market.run_suite(
            market_profile, repo=REPO, scratch=scratch / "market", say=_say
        )
    profiled = None
    if not args.no_profile and PROFILED in chosen and "receiver" in suites:
        _say(f"[profile] py-spy on {PROFILED.name}, {profile.profile_seconds:g}s busy + GIL")
        profiled = profiling.profile_under_load(
            PROFILED,
            seconds=profile.profile_seconds,
            connections=profile.connections,
            repo=REPO,
            scratch=scratch / "profiled",
            run_ids=run_ids,
            top=TOP_FUNCTIONS,
        )
    command = "BENCH_QUICK=1 make bench" if args.quick else "make bench"
    if args.only or args.compare or args.no_profile or args.suite:
        command = "python -m bench " + shlex.join(argv if argv is not None else sys.argv[1:])
    document = report.BenchDocument(
        profile={
            "name": profile.name,
            "warmup": profile.warmup,
            "saturation": profile.saturation,
            "load_duration": profile.load_duration,
            "fractions": list(profile.fractions),
            "connections": profile.connections,
            "wrk_threads": profile.wrk_threads,
            "ping_duration": profile.ping_duration,
            "ping_rate": profile.ping_rate,
            "ping_connections": profile.ping_connections,
        },
        command=command,
        started_at=started.strftime("%Y-%m-%d %H:%M UTC"),
        finished_at=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        seconds=round(time.monotonic() - clock, 1),
        facts=facts,
        load_before=load_before,
        load_after=machine.load_average(),
        scratch=str(scratch),
        repo=str(REPO),
        results=results,
        profiling=profiled,
        analysis=ANALYSIS.read_text() if ANALYSIS.exists() else "",
        market=market_result,
        dispatch=dispatch_result,
    )
    _write_outputs(document)
    if dispatch_result is not None and dispatch_result["error"]:
        raise SystemExit("bench: the dispatch suite failed; see the report")
    if market_result is not None and market_result["error"]:
        raise SystemExit("bench: the Market suite failed; see the report")
    if any(r["error"] for r in results):
        raise SystemExit("bench: some scenarios failed; see the report")


if __name__ == "__main__":
    main()
