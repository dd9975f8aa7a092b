"""Before/after figures for a change to the Market sandbox: now vs at REV, in alternating rounds.

``python -m bench.compare_market REV [--after REV2] [--rounds 6] [--events 4000]`` runs the
throughput phase of the Market suite (``bench/market.py``: events published in arrays of 500 to
one setting whose endpoint is the no-op app, until all are delivered) once per side per round,
each on a fresh ``market serve`` and file, the first side alternating (now, REV; REV, now; ...).
It prints deliveries/s and the sandbox's CPU per delivery for every round, a table with the
medians, and the CPU ratio of the two sides within each round: on a machine whose speed drifts,
that paired ratio is the figure to read (see ``bench.compare``).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from bench import compare, market
from bench.__main__ import REPO, export_revision


def main(argv: list[str] | None = None) -> None:
    parser = compare.revision_parser("python -m bench.compare_market", __doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--events", type=int, default=4000, help="events per side and round")
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.events < 1:
        parser.error("--rounds and --events must be positive")
    compare.check_revisions(parser, args)
    profile = market.MarketProfile("compare", args.events, 500, (), 0, (), 0)
    with tempfile.TemporaryDirectory(prefix="ymnotify-compare-market-") as temporary:
        scratch = Path(temporary)
        # The working tree's sandbox is the installed (editable) package: no source path.
        after = None if args.after is None else _src(args.after, scratch / "after")
        sources = {args.after or "now": after, args.revision: _src(args.revision, scratch / "rev")}
        figures: dict[str, list[compare.Round]] = {name: [] for name in sources}
        for number in range(args.rounds):
            order = list(sources.items())
            for name, source in order if number % 2 == 0 else reversed(order):
                folder = scratch / f"round-{number + 1}-{name.replace('/', '_')}"
                folder.mkdir()
                _, rate, _, cpu = market.measure_throughput(profile, REPO, folder, source)
                figures[name].append(compare.Round(rate, cpu))
                print(f"round {number + 1} {name}: {figures[name][-1].cell()}", flush=True)
    compare.print_table(figures, args.rounds, open_loop=False)
    after_name, before_name = sources
    print()
    print(
        compare.paired_cpu(
            after_name, figures[after_name], before_name, figures[before_name], unit="delivery"
        )
    )


def _src(revision: str, into: Path) -> Path:
    return export_revision(revision, into) / "src"


if __name__ == "__main__":
    main()
