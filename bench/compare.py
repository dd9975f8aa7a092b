"""Before/after figures for a change: ymnotify now vs at REV, in alternating rounds.

``python -m bench.compare REV [--rounds 3] [--seconds 6]`` starts ymnotify (SQLite, FULL) from
the working tree and from git revision REV side by side, each on its own file, warms both up,
then saturates them with wrk in turns for ``--seconds`` each, and prints a markdown table: req/s
and server CPU µs per request per round, and their medians. ``--after REV2`` measures REV2
instead of the working tree, so each commit of a series can be compared with its parent.

Both servers stay up for the whole run (a round costs no start-up, the two sides of a round are
seconds apart, both files grow alike), and which side goes first alternates (now, REV; REV,
now; ...), so a machine that slows down over the run favours neither. The last line gives the
CPU ratio of the two sides within each round and their median: on a shared machine whose speed
drifts by a fifth from one minute to the next, that paired ratio is the figure to read, since
the medians of each side mix slow and fast minutes. CPU per request moves much less with the
noise than req/s does.

``--rate R`` runs the receiver suite's PING phase instead of saturating (R notifications/s
open-loop for ``--seconds``, PINGs beside them), and reports notification and PING p99 with the
CPU per notification: the figures of the PING goal, for a change aimed at it.

``--ceiling`` compares the no-op ceiling instead of the receiver: the same app on ymnotify's
server program and event loop now and at REV. A change to the serving loop must cost the
ceiling nothing, or the ratio to the ceiling flatters the receiver (bench/analysis.md, tenth
pass).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import statistics
import tempfile
from pathlib import Path

from bench import load, receiver, scenarios, servers
from bench.__main__ import REPO, export_revision


@dataclasses.dataclass(frozen=True)
class Round:
    """One side's figures in one round."""

    rate: float  # notifications answered 200 per second
    cpu_us: float  # the server's CPU per notification
    p99_ms: float | None = None  # open-loop rounds: notification latency
    ping_p99_ms: float | None = None  # open-loop rounds: PING latency

    def cell(self) -> str:
        text = f"{self.rate:,.0f}/s, {self.cpu_us:.0f} µs"
        if self.p99_ms is not None:
            text += f", p99 {_ms(self.p99_ms)} ms, PING p99 {_ms(self.ping_p99_ms)} ms"
        return text


def _free_admin_port(scenario: scenarios.Scenario) -> scenarios.Scenario:
    """The scenario with its admin listener on a free port: two receivers run side by side
    here, and both would take the default one."""
    start = scenario.command
    assert start is not None

    def command(scratch: Path) -> scenarios.Command:
        plain = start(scratch)
        return dataclasses.replace(plain, env={**plain.env, "YMNOTIFY_ADMIN_PORT": "0"})

    return dataclasses.replace(scenario, command=command)


def _saturate(server: servers.RunningServer, seconds: float, run_ids: load.RunIds) -> Round:
    url = server.url + scenarios.INTAKE_PATH
    before = server.cpu_seconds()
    result = load.run_wrk(url, seconds=seconds, connections=64, threads=1, run_id=run_ids.take())
    used = server.cpu_seconds() - before
    return Round(result.rate, used / max(1, result.requests) * 1e6)


def _fixed_rate(
    server: servers.RunningServer, seconds: float, rate: float, run_ids: load.RunIds
) -> Round:
    """The receiver suite's PING phase at ``rate`` for ``seconds``."""
    profile = dataclasses.replace(receiver.FULL, ping_duration=seconds)
    url = server.url + scenarios.INTAKE_PATH
    before = server.cpu_seconds()
    # The phase's rate is a fraction of a capacity: the one of which ``rate`` is that share.
    capacity = rate / receiver.PING_FRACTION
    point, pings = receiver.fixed_load(
        url, profile, receiver.PING_FRACTION, capacity, REPO, run_ids
    )
    used = server.cpu_seconds() - before
    notifications = point["result"]
    assert pings is not None  # the PING_FRACTION load always carries PINGs
    return Round(
        notifications["achieved_rate"],
        used / max(1, notifications["ok"]) * 1e6,
        notifications["latency_ms"].get("p99"),
        pings["latency_ms"].get("p99"),
    )


def revision_parser(prog: str, description: str) -> argparse.ArgumentParser:
    """A command line taking ``REV`` and ``--after REV2``, as the comparisons do."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("revision", help="the git revision to compare with (e.g. main)")
    parser.add_argument(
        "--after", metavar="REV2", help="measure REV2 instead of the working tree as the 'after'"
    )
    return parser


def check_revisions(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """A usage error when both sides would be the same tree under one name."""
    if args.after == args.revision:
        parser.error(
            f"--after and REV are both {args.revision!r}; to compare a tree with"
            " itself, name it two ways, e.g. HEAD~0 --after HEAD"
        )


def main(argv: list[str] | None = None) -> None:
    parser = revision_parser("python -m bench.compare", __doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=6)
    parser.add_argument(
        "--rate",
        type=float,
        help="offer this many notifications/s open-loop (with PINGs) instead of saturating",
    )
    parser.add_argument(
        "--ceiling",
        action="store_true",
        help="compare the no-op ceiling (ymnotify's server program and loop) instead",
    )
    args = parser.parse_args(argv)
    if args.rate is not None and args.rate <= 0:
        parser.error("--rate must be positive")
    check_revisions(parser, args)
    at_revision = scenarios.ceiling_at_revision if args.ceiling else scenarios.ymnotify_at_revision
    run_ids = load.RunIds()
    with tempfile.TemporaryDirectory(prefix="ymnotify-compare-") as temporary:
        scratch = Path(temporary)
        before = at_revision(args.revision, export_revision(args.revision, scratch / "rev"))
        after = scenarios.CEILING if args.ceiling else scenarios.YMNOTIFY_SQLITE_FULL
        if args.after:
            after = at_revision(args.after, export_revision(args.after, scratch / "after"))
        sides = {
            args.after or "now": _free_admin_port(after),
            args.revision: _free_admin_port(before),
        }
        figures: dict[str, list[Round]] = {name: [] for name in sides}
        with contextlib.ExitStack() as stack:
            running = {
                name: stack.enter_context(receiver.running(scenario, REPO, scratch / name))
                for name, scenario in sides.items()
            }
            for server in running.values():  # warm-up: imports, caches, the first pages
                load.run_wrk(
                    server.url + scenarios.INTAKE_PATH,
                    seconds=2,
                    connections=64,
                    threads=1,
                    run_id=run_ids.take(),
                )
            for round_number in range(args.rounds):
                order = list(running.items())
                for name, server in order if round_number % 2 == 0 else reversed(order):
                    if args.rate is None:
                        figures_now = _saturate(server, args.seconds, run_ids)
                    else:
                        figures_now = _fixed_rate(server, args.seconds, args.rate, run_ids)
                    figures[name].append(figures_now)
                    print(f"round {round_number + 1} {name}: {figures_now.cell()}", flush=True)
    print_table(figures, args.rounds, open_loop=args.rate is not None)
    after_name, before_name = sides
    print()
    print(paired_cpu(after_name, figures[after_name], before_name, figures[before_name]))
    if args.rate is not None:
        print(paired_ping(after_name, figures[after_name], before_name, figures[before_name]))


def paired_cpu(
    after_name: str,
    after: list[Round],
    before_name: str,
    before: list[Round],
    *,
    unit: str = "notification",
) -> str:
    """The CPU per ``unit`` of ``after`` over ``before`` in each round, and the median."""
    ratios = [a.cpu_us / b.cpu_us for a, b in zip(after, before, strict=True)]
    cheaper = sum(ratio < 1 for ratio in ratios)
    listed = " / ".join(f"{ratio:.3f}" for ratio in ratios)
    return (
        f"CPU per {unit}, {after_name} / {before_name} in each round: {listed};"
        f" median {statistics.median(ratios):.3f}, {after_name} cheaper in {cheaper} of"
        f" {len(ratios)} rounds"
    )


def paired_ping(after_name: str, after: list[Round], before_name: str, before: list[Round]) -> str:
    """PING p99 of both sides in each round of an open-loop comparison, and how often
    ``after``'s was lower."""
    pairs = [
        (a.ping_p99_ms, b.ping_p99_ms)
        for a, b in zip(after, before, strict=True)
        if a.ping_p99_ms is not None and b.ping_p99_ms is not None
    ]
    listed = " / ".join(f"{a:.1f} vs {b:.1f}" for a, b in pairs)
    lower = sum(a < b for a, b in pairs)
    return (
        f"PING p99 ms, {after_name} vs {before_name} in each round: {listed};"
        f" {after_name} lower in {lower} of {len(pairs)} rounds"
    )


def print_table(figures: dict[str, list[Round]], rounds: int, *, open_loop: bool) -> None:
    medians = ["median /s", "median CPU µs"]
    if open_loop:
        medians += ["median p99 ms", "median PING p99 ms"]
    print()
    print(
        "| side | "
        + " | ".join(f"round {i + 1}" for i in range(rounds))
        + " | "
        + " | ".join(medians)
        + " |"
    )
    print("|---" * (rounds + 1 + len(medians)) + "|")
    for name, rows in figures.items():
        values = [
            f"{statistics.median(r.rate for r in rows):,.0f}",
            f"{statistics.median(r.cpu_us for r in rows):.0f}",
        ]
        if open_loop:
            values += [
                _median_ms([r.p99_ms for r in rows]),
                _median_ms([r.ping_p99_ms for r in rows]),
            ]
        cells = [r.cell() for r in rows]
        print(f"| {name} | " + " | ".join(cells + values) + " |")


def _median_ms(values: list[float | None]) -> str:
    known = [value for value in values if value is not None]  # None: nothing was answered
    return _ms(statistics.median(known) if known else None)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


if __name__ == "__main__":
    main()
