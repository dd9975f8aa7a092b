"""Before/after figures for a change: ymnotify now vs at REV, saturated in alternating rounds.

``python -m bench.compare REV [--rounds 3] [--seconds 6]`` starts ymnotify (SQLite, FULL) from
the working tree and from git revision REV in turns (now, REV, now, REV, ...), saturates each
with wrk for ``--seconds``, and prints a markdown table: req/s and server CPU µs per request per
round, and their medians. ``--after REV2`` measures REV2 instead of the working tree, so each
commit of a series can be compared with its parent. Alternating rounds spread the noise of a
shared machine over both sides; CPU per request moves much less with that noise than req/s does.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from bench import load, receiver, scenarios
from bench.__main__ import REPO, export_revision


def _saturate(
    scenario: scenarios.Scenario, scratch: Path, seconds: float, run_ids: load.RunIds
) -> tuple[float, float]:
    with receiver.running(scenario, REPO, scratch) as server:
        url = server.url + scenarios.INTAKE_PATH
        load.run_wrk(url, seconds=1, connections=64, threads=1, run_id=run_ids.take())
        before = server.cpu_seconds()
        result = load.run_wrk(
            url, seconds=seconds, connections=64, threads=1, run_id=run_ids.take()
        )
        used = server.cpu_seconds() - before
    return result.rate, used / max(1, result.requests) * 1e6


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.compare", description=__doc__.splitlines()[0]
    )
    parser.add_argument("revision", help="the git revision to compare with (e.g. main)")
    parser.add_argument(
        "--after", metavar="REV2", help="measure REV2 instead of the working tree as the 'after'"
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=6)
    args = parser.parse_args(argv)
    run_ids = load.RunIds()
    with tempfile.TemporaryDirectory(prefix="ymnotify-compare-") as temporary:
        scratch = Path(temporary)
        before = scenarios.ymnotify_at_revision(
            args.revision, export_revision(args.revision, scratch / "rev")
        )
        after = scenarios.YMNOTIFY_SQLITE_FULL
        if args.after:
            after = scenarios.ymnotify_at_revision(
                args.after, export_revision(args.after, scratch / "after")
            )
        sides = {args.after or "now": after, args.revision: before}
        figures: dict[str, list[tuple[float, float]]] = {name: [] for name in sides}
        for round_number in range(args.rounds):
            for name, scenario in sides.items():
                rate, cpu = _saturate(
                    scenario, scratch / f"{name}-{round_number}", args.seconds, run_ids
                )
                figures[name].append((rate, cpu))
                print(
                    f"round {round_number + 1} {name}: {rate:,.0f} req/s, {cpu:.0f} µs CPU/request",
                    flush=True,
                )
    print()
    print(
        "| side | "
        + " | ".join(f"round {i + 1}" for i in range(args.rounds))
        + " | median req/s | median CPU µs/req |"
    )
    print("|---" * (args.rounds + 3) + "|")
    for name, rows in figures.items():
        cells = [f"{rate:,.0f} req/s, {cpu:.0f} µs" for rate, cpu in rows]
        rate_median = statistics.median(rate for rate, _ in rows)
        cpu_median = statistics.median(cpu for _, cpu in rows)
        print(f"| {name} | " + " | ".join(cells) + f" | {rate_median:,.0f} | {cpu_median:.0f} |")


if __name__ == "__main__":
    main()
