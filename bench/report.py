"""``docs/benchmarks.md`` from one run's JSON document (pure: text in, text out).

The report can be rendered again from ``docs/benchmarks.json`` without measuring
(``python -m bench --render-only``), so its wording can change without a new run.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypedDict

from bench import dispatch_report, market_report
from bench.dispatch import DispatchResult
from bench.market import MarketResult
from bench.profiling import INTAKE_STAGES, ProfileDocument
from bench.receiver import PING_FRACTION, PING_SHARE, ScenarioResult

SUBJECT = "ymnotify-sqlite-full"
CEILING = "ceiling"
BASELINE = "glue"
PING_P99_GOAL_MS = 5.0
# An open loop that achieved this much more than wrk's saturation says wrk under-measured.
UNDER_MEASURED = 1.05
GENERATOR_BOUND_MS = 5.0
_PLAIN = re.compile(r"[\w$@%+=:,./-]+")
_PID_FLAG = re.compile(r"--pid \d+")


class BenchDocument(TypedDict):
    profile: dict[str, Any]
    command: str
    started_at: str
    finished_at: str
    seconds: float
    facts: dict[str, str]
    load_before: str
    load_after: str
    scratch: str
    repo: str
    results: list[ScenarioResult]
    profiling: ProfileDocument | None
    analysis: str
    market: MarketResult | None
    dispatch: DispatchResult | None


@dataclass(frozen=True)
class Goal:
    """One goal of issue 7 with the figure measured for it."""

    text: str
    measured: str
    met: bool | None  # None: could not be measured in this run


def _by_name(results: Iterable[ScenarioResult]) -> dict[str, ScenarioResult]:
    return {result["name"]: result for result in results}


def capacity(result: ScenarioResult | None) -> float | None:
    """Requests per second at saturation, if the scenario was measured."""
    if result is None or result["saturation"] is None:
        return None
    rate: float = result["saturation"]["rate"]
    return rate


def open_loop_beyond_saturation(result: ScenarioResult) -> tuple[float, float] | None:
    """The highest rate an open-loop load achieved and its ratio to wrk's saturation, when it
    is more than ``UNDER_MEASURED`` above it: then wrk under-measured the capacity in this run
    (the machine was slower while wrk ran), and ratios to this scenario are off by as much."""
    rate = capacity(result)
    achieved = [point["result"]["achieved_rate"] for point in result["loads"]]
    if not rate or not achieved or max(achieved) <= rate * UNDER_MEASURED:
        return None
    return max(achieved), max(achieved) / rate


def ping_p99(result: ScenarioResult | None) -> float | None:
    if result is None or result["ping"] is None:
        return None
    value = result["ping"]["latency_ms"].get("p99")
    return None if value is None else float(value)


def best_capacity(result: ScenarioResult | None) -> tuple[float | None, bool]:
    """The most a scenario was measured to do in this run, and whether that was an open-loop
    load rather than wrk's saturation (see ``open_loop_beyond_saturation``)."""
    beyond = None if result is None else open_loop_beyond_saturation(result)
    if beyond is not None:
        return beyond[0], True
    return capacity(result), False


def goals(results: Sequence[ScenarioResult]) -> list[Goal]:
    """Issue 7's receiver goals, judged on this run's figures. The ceiling and the glue count
    with the most they were measured to do, so that a run that under-measured them cannot
    flatter ymnotify's ratios."""
    named = _by_name(results)
    subject = capacity(named.get(SUBJECT))
    found: list[Goal] = []
    for text, name, target in (
        ("durable ack throughput on SQLite ≥ 0.5 × the no-op ceiling", CEILING, 0.5),
        ("durable ack throughput on SQLite ≥ 3 × the glue baseline", BASELINE, 3.0),
    ):
        other, from_open_loop = best_capacity(named.get(name))
        if subject and other:
            ratio = subject / other
            source = f", {name}'s open-loop best" if from_open_loop else ""
            measured = f"{ratio:.2f} × ({subject:,.0f} / {other:,.0f} req/s{source})"
            found.append(Goal(text, measured, ratio >= target))
        else:
            found.append(Goal(text, "not measured", None))
    p99 = ping_p99(named.get(SUBJECT))
    text = (
        f"PING p99 < {PING_P99_GOAL_MS:g} ms while ymnotify (SQLite, FULL) runs at"
        f" {PING_FRACTION:.0%} of its capacity"
    )
    if p99 is None:
        found.append(Goal(text, "not measured", None))
    else:
        found.append(Goal(text, f"{p99:.2f} ms", p99 < PING_P99_GOAL_MS))
    return found


def generator_bound(measured: dict[str, Any]) -> bool:
    """Whether an open-loop run was limited by its generator rather than by the server."""
    lag: float = measured["generator_lag_ms"].get("p99", 0.0)
    return lag > GENERATOR_BOUND_MS


def _ping_duration(profile: dict[str, Any]) -> float:
    # Runs before the PING phase had its own length used the others' length.
    duration: float = profile.get("ping_duration", profile["load_duration"])
    return duration


def generator_cores(measured: dict[str, Any]) -> str:
    """The open-loop generator's CPU over its run, in cores ("-" for runs that predate it)."""
    cpu, wall = measured.get("cpu_seconds"), measured.get("wall_seconds")
    return f"{cpu / wall:.2f}" if cpu is not None and wall else "-"


def _verdict(met: bool | None) -> str:
    return {True: "**met**", False: "**not met**", None: "not measured"}[met]


def _table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def _ms(values: dict[str, Any], key: str) -> str:
    value = values.get(key)
    return "–" if value is None else f"{value:.2f}"


def _ratio(value: float | None, other: float | None) -> str:
    return f"{value / other:.2f}" if value and other else "–"


def _mib(result: ScenarioResult, key: str) -> str:
    memory = result["memory_kib"]
    return "–" if memory is None else f"{memory[key] / 1024:.0f}"


def _shell_word(word: str) -> str:
    # Placeholders ($URL, $SCRATCH, $PID) stay readable: quote only what a shell would split.
    return word if _PLAIN.fullmatch(word) else shlex.quote(word)


def _shown_argv(argv: Sequence[str], document: BenchDocument) -> str:
    """argv as a shell line, with this run's paths, pid and URL made generic."""
    python = document["facts"].get("python executable", "")
    repo = document.get("repo", "")
    words = []
    for word in argv:
        if python and word == python:
            word = ".venv/bin/python"
        elif word.startswith("http://"):
            word = "$URL"
        elif word.endswith("/wrk"):
            word = "wrk"
        word = word.replace(document["scratch"], "$SCRATCH")
        if repo:
            word = word.replace(repo + "/", "")
        words.append(word)
    text = " ".join(_shell_word(word) for word in words)
    return _PID_FLAG.sub("--pid $PID", text)


def render(document: BenchDocument, images: dict[str, str]) -> str:
    """The whole report. ``images`` maps a plot's title to its path relative to docs/."""
    results = document["results"]
    named = _by_name(results)
    ceiling_rate = capacity(named.get(CEILING))
    glue_rate = capacity(named.get(BASELINE))
    profile = document["profile"]
    market_result = document.get("market")
    out = [
        "# Benchmarks",
        "",
        "Written by `make bench` (bench/, issue 7); do not edit by hand: the prose that is not",
        "generated comes from `bench/analysis.md`. Suites: the receiver, dispatch (handlers after",
        "the 200), the Market side.",
        "",
        f"- Run: **{profile['name']}** profile, {document['started_at']} →"
        f" {document['finished_at']} ({document['seconds']:.0f} s of measuring), revision"
        f" `{document['facts'].get('ymnotify revision', '?')}`.",
        f"- Command: `{document['command']}`.",
        f"- Load average before / after: {document['load_before']} / {document['load_after']}"
        " (the machine is shared: absolute figures are noisy, ratios from one run are the point).",
    ]
    if profile["name"] != "full":
        out.append("- **Quick run: short phases, figures are rough. Publish only a full run.**")
    out += ["", "## Goals (issue 7)", ""]
    out += _table(
        ["goal", "measured", "verdict"],
        [
            *([g.text, g.measured, _verdict(g.met)] for g in goals(results)),
            *(
                [text, measured, _verdict(met)]
                for text, measured, met in (
                    market_report.goal_lines(market_result) if market_result else []
                )
            ),
        ],
    )
    out += ["", "## Throughput at saturation", ""]
    out += [
        f"wrk, {profile['wrk_threads']} thread, {profile['connections']} keep-alive connections,"
        f" {profile['saturation']:g} s after a {profile['warmup']:g} s warm-up; every body unique."
        " CPU is the server process's user+system time (all threads) divided by requests:"
        " less noisy than req/s on a shared machine (for PostgreSQL it leaves out the database's"
        " own processes, as RSS does). *load avg* is the machine's 1-minute load"
        " average when the scenario started and ended (2 cores: above 2, others were queueing"
        " for the CPU too).",
        "",
    ]
    rows = []
    for result in results:
        rate = capacity(result)
        if result["unavailable"]:
            rows.append([result["name"], "not measured (see below)", *["–"] * 7])
            continue
        if result["error"] and rate is None:
            rows.append([result["name"], "FAILED (see below)", *["–"] * 7])
            continue
        saturation = result["saturation"] or {}
        errors = sum(saturation.get("errors", {}).values())
        cpu = result["cpu_us_per_request"]
        rows.append(
            [
                result["name"],
                f"{rate:,.0f}" if rate else "–",
                str(errors),
                "–" if cpu is None else f"{cpu:.0f}",
                _ratio(rate, ceiling_rate),
                _ratio(rate, glue_rate),
                _mib(result, "rss"),
                _mib(result, "peak"),
                result.get("load_average", "") or "–",
            ]
        )
    out += _table(
        [
            "scenario",
            "req/s",
            "errors",
            "CPU µs/req",
            "× ceiling",
            "× glue",
            "RSS MiB",
            "peak RSS MiB",
            "load avg",
        ],
        rows,
    )
    for result in results:
        beyond = open_loop_beyond_saturation(result)
        if beyond is not None:
            achieved, ratio = beyond
            # The goals compare ymnotify's wrk figure with the most the others did: a run
            # that under-measured one of them cannot flatter ymnotify, one that under-measured
            # ymnotify only understates it.
            use = (
                "the goals use that rate"
                if result["name"] in (CEILING, BASELINE)
                else "the goals keep wrk's figure, which understates it"
            )
            out += [
                "",
                f"**`{result['name']}` was under-measured:** one of its open-loop loads (next"
                f" section) achieved {achieved:,.0f}/s, {ratio - 1:.0%} more than wrk's saturation;"
                f" the ratios to it in this table are off by as much ({use}).",
            ]
    out += ["", "Scenarios:", ""]
    for result in results:
        line = f"- `{result['name']}`: {result['title']}"
        if not result["durable"]:
            line += " — *not durable against an OS crash*"
        if result["unavailable"]:
            line += f" — **not measured**: {result['unavailable']}"
        out.append(line)
    out += ["", "## Latency at fixed offered loads", ""]
    out += [
        "Open loop (`bench/openloop.py`, its own process): request *i* is scheduled at"
        " start + i/rate and its latency runs from that scheduled time to the last byte of the"
        f" answer ({profile['connections']} keep-alive connections; a request waiting for a free"
        f" one counts its wait). Each load runs {profile['load_duration']:g} s"
        f" ({_ping_duration(profile):g} s at {PING_FRACTION:.0%}, where PINGs are measured) at a"
        " fraction of"
        " the scenario's *own* saturation rate. *gen lag p99* is how late the generator itself"
        " noticed that a request was due: that part of the latency is the generator's, not the"
        f" server's. Rows marked † had a generator lag p99 over {GENERATOR_BOUND_MS:g} ms:"
        " there the Python generator, not the server, is the limit"
        " (it manages about 15–20k requests/s on one core). *gen cores* is the generator's own"
        " CPU over its run: cores of the 2 the server under test did not have (wrk, at"
        " saturation, needs far less). Milliseconds.",
        "",
    ]
    rows = []
    for result in results:
        for point in result["loads"]:
            measured = point["result"]
            latency = measured["latency_ms"]
            bad = sum(n for code, n in measured["statuses"].items() if code != "200")
            bad += measured["connection_errors"] + measured["unanswered"]
            bound = generator_bound(measured)
            rows.append(
                [
                    result["name"],
                    f"{point['fraction']:.0%}" + (" †" if bound else ""),
                    f"{point['offered_rate']:,.0f}",
                    f"{measured['achieved_rate']:,.0f}",
                    _ms(latency, "p50"),
                    _ms(latency, "p90"),
                    _ms(latency, "p99"),
                    _ms(latency, "p99.9"),
                    _ms(latency, "max"),
                    _ms(measured["generator_lag_ms"], "p99"),
                    generator_cores(measured),
                    str(bad),
                ]
            )
    out += _table(
        [
            "scenario",
            "load",
            "offered/s",
            "achieved/s",
            "p50",
            "p90",
            "p99",
            "p99.9",
            "max",
            "gen lag p99",
            "gen cores",
            "not 200",
        ],
        rows,
    )
    out += ["", f"### PING while each scenario runs at {PING_FRACTION:.0%} of its capacity", ""]
    out += [
        f"A second open-loop process sends PING at {profile['ping_rate']:g}/s over"
        f" {profile['ping_connections']} connections during the {PING_FRACTION:.0%} load"
        f" ({_ping_duration(profile):g} s), or at {PING_SHARE:.0%} of the scenario's capacity"
        " where that is less (PINGs are load too). As above, a PING's latency runs from when it"
        " was due, so the PING generator's own lag (*gen lag*) is in it."
        " Milliseconds.",
        "",
    ]
    rows = []
    for result in results:
        ping = result["ping"]
        if ping is None:
            continue
        latency = ping["latency_ms"]
        rows.append(
            [
                result["name"],
                _ms(latency, "p50"),
                _ms(latency, "p99"),
                _ms(latency, "max"),
                _ms(ping["generator_lag_ms"], "p50"),
                _ms(ping["generator_lag_ms"], "p99"),
                str(latency.get("count", 0)),
                "yes" if (latency.get("p99") or 1e9) < PING_P99_GOAL_MS else "no",
            ]
        )
    out += _table(
        [
            "scenario",
            "p50",
            "p99",
            "max",
            "gen lag p50",
            "gen lag p99",
            "PINGs",
            f"p99 < {PING_P99_GOAL_MS:g} ms",
        ],
        rows,
    )
    out += ["", "### Ratios to the ceiling and to the glue", ""]
    out += _ratio_rows(results, named)
    if images:
        out += ["", "## Plots", ""]
        out += [f"![{title}]({path})" for title, path in images.items()]
    out += _profile_section(document)
    dispatch_result = document.get("dispatch")
    if dispatch_result:
        out += dispatch_report.render(dispatch_result)
    if market_result:
        out += market_report.render(market_result, document["command"])
    if document["analysis"].strip():
        out += ["", document["analysis"].strip()]
    failures = [(r["name"], r["error"]) for r in results if r["error"]]
    if failures:
        out += ["", "## Failures in this run", ""]
        for name, error in failures:
            out += [f"`{name}`:", "", "```", error.strip(), "```", ""]
    out += _method_section(document)
    out += ["", "## Machine", ""]
    out += _table(
        ["fact", "value"],
        (
            [k, f"`{v}`" if k.startswith("package") else v]
            for k, v in document["facts"].items()
            if k != "python executable"
        ),
    )
    out.append("")
    return "\n".join(out)


def _ratio_rows(results: Sequence[ScenarioResult], named: dict[str, ScenarioResult]) -> list[str]:
    rows = []
    ceiling_rate = capacity(named.get(CEILING))
    glue_rate = capacity(named.get(BASELINE))
    for result in results:
        if result["role"] != "ymnotify" or capacity(result) is None:
            continue
        rate = capacity(result)
        p99s = {p["fraction"]: p["result"]["latency_ms"].get("p99") for p in result["loads"]}
        glue_p99s = {
            p["fraction"]: p["result"]["latency_ms"].get("p99")
            for p in (named[BASELINE]["loads"] if BASELINE in named else [])
        }
        at = PING_FRACTION
        glue_p99 = glue_p99s.get(at)
        own = p99s.get(at)
        rows.append(
            [
                result["name"],
                _ratio(rate, ceiling_rate),
                _ratio(rate, glue_rate),
                "–" if own is None or not glue_p99 else f"{own / glue_p99:.2f}",
            ]
        )
    return _table(
        [
            "scenario",
            "req/s ÷ ceiling",
            "req/s ÷ glue",
            f"p99 at {PING_FRACTION:.0%} ÷ glue's p99 at {PING_FRACTION:.0%}",
        ],
        rows,
    )


def _profile_section(document: BenchDocument) -> list[str]:
    profiling = document["profiling"]
    out = ["", "## Where the time goes (py-spy)", ""]
    if profiling is None:
        return [*out, "Not profiled in this run."]
    if profiling["error"]:
        return [*out, f"Profiling failed: {profiling['error']}"]
    views = profiling["views"]
    counts = ", ".join(f"{view['mode']}: {view['samples']}" for view in views)
    out += [
        f"`{profiling['scenario']}` saturated by wrk while `py-spy record` sampled it 100 times a"
        " second, twice: **busy** counts every thread py-spy does not see idle (C code that"
        " released the GIL, such as SQLite's fsync or a socket send, counts too), **GIL** counts"
        " only the thread holding the GIL. One process both serves and writes, so the GIL is the"
        " resource every request queues for. Shares are of each view's samples"
        f" ({counts}); stages nest, so they"
        " do not add up.",
        "",
    ]
    threads = sorted({name for view in views for name, _ in view["by_thread"]})
    out += _table(
        ["thread", *(view["mode"] for view in views)],
        ([name, *(_share(view["by_thread"], name) for view in views)] for name in threads),
    )
    out += [""]
    out += _table(
        ["stage of the intake path", *(view["mode"] for view in views)],
        (
            [_indented(label), *(_share(view["stages"], label) for view in views)]
            for label, _, _ in INTAKE_STAGES
        ),
    )
    for view in views:
        out += [
            "",
            f"Busiest functions by own time, {view['mode']} view (the leaf of the sampled stack;"
            " time in C code counts to the Python frame that called it):",
            "",
        ]
        out += _table(
            ["function", "share"],
            ([f"`{name}`", f"{share:.1f} %"] for name, share in view["top_self"]),
        )
    return out


def _share(pairs: Sequence[Sequence[Any]], key: str) -> str:
    for name, share in pairs:
        if name == key:
            return f"{share:.1f} %"
    return "–"


def _indented(label: str) -> str:
    depth = (len(label) - len(label.lstrip(" "))) // 2
    return "&emsp;" * depth + label.strip()


def _method_section(document: BenchDocument) -> list[str]:
    out = ["", "## Method and exact commands", ""]
    out += [
        f"This run: `{document['command']}`. `make bench` is the full profile,"
        " `BENCH_QUICK=1 make bench` the short one; both install the `bench` extra and Debian's"
        " `wrk` when missing, then run `python -m bench` (`--help` lists `--only`, `--compare REV`,"
        " `--render-only`). Every server is one process on 127.0.0.1 serving"
        " `POST /notification` through ymnotify's own uvicorn configuration"
        " (`ymnotify.receiver.server`: httptools protocol with the header deadline, no access"
        " log, asyncio loop), with its database in a fresh scratch directory on the same disk."
        " Bodies are `ORDER_STATUS_UPDATED` notifications whose `orderId` is unique across the"
        " whole run (`bench/bodies.py`, `bench/wrk/unique_bodies.lua`), so ymnotify's dedup never"
        " turns a write into a counter bump.",
        "",
        "Servers:",
        "",
        "```",
    ]
    out += [_shown_argv(r["command"], document) for r in document["results"] if r["command"]]
    out += [
        "```",
        "",
        "Load (one of each kind shown; rates and run ids vary per phase):",
        "",
        "```",
    ]
    for result in document["results"]:
        if result["saturation"]:
            out.append(_shown_argv((result["saturation"]["argv"]), document))
            break
    for result in document["results"]:
        if result["loads"]:
            out.append(_shown_argv((result["loads"][0]["result"]["argv"]), document))
            if result["ping"]:
                out.append(_shown_argv((result["ping"]["argv"]), document))
            break
    profiling = document["profiling"]
    if profiling:
        out += [_shown_argv(view["argv"], document) for view in profiling["views"]]
    out += ["```"]
    return out
