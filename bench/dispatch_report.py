"""The dispatch section of docs/benchmarks.md (pure: from the suite's result)."""

from __future__ import annotations

from bench.dispatch import HANDLERS, DispatchResult


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{value:,.1f} ms"


def render(result: DispatchResult) -> list[str]:
    """Markdown lines for the dispatch section."""
    out = ["", "## Dispatch (handlers after the 200)", ""]
    out += [
        f"`ymnotify serve --app {HANDLERS}`: one async handler that only notes its start time"
        " (one line appended to a file); 4 workers, the default; SQLite, synchronous=FULL. The"
        " open-loop generator (`bench/openloop.py`, 16 keep-alive connections) sends at the"
        " offered rate; latency runs from the time a notification was due to be sent to the"
        " handler's start, so it holds the ack (the *200 p99* column: due → 200 received) and"
        " the hand-over to a worker.",
        "",
        "| offered/s | sent | handled | sent → handler p50 | p90 | p99 | max | 200 p99 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for point in result["latency"]:
        lat = point["latency_ms"]
        ack = point.get("ack_ms", {})  # absent from runs before it was measured
        out.append(
            f"| {point['offered']} | {point['sent']} | {point['handled']} | "
            + " | ".join(_ms(lat.get(k)) for k in ("p50", "p90", "p99", "max"))
            + f" | {_ms(ack.get('p99'))} |"
        )
    out += [
        "",
        "No-op handler throughput against the number of workers: a backlog stored first by"
        " `serve --workers 0`, then drained by `serve --app … --workers W`; rate = handled /"
        " (last handler start − first handler start). *CPU µs/job* is the draining process's"
        " user+system time per handled job, from when it listened until the last handler started"
        " (for PostgreSQL without the database's own processes); it moves less than the rate on"
        " a shared machine.",
        "",
        "| store | workers | backlog | handled | handled/s | CPU µs/job |",
        "|---|---|---|---|---|---|",
    ]
    for row in result["workers"]:
        cpu = row.get("cpu_us_per_job")
        out.append(
            f"| {row['backend']} | {row['workers']} | {row['notifications']:,} |"
            f" {row['handled']:,} | {row['per_second']:,.0f} |"
            f" {'–' if cpu is None else f'{cpu:,.0f}'} |"
        )
    if result["postgres_unavailable"]:
        out += ["", f"PostgreSQL not measured: {result['postgres_unavailable']}"]
    if result["error"]:
        out += ["", f"**The dispatch suite failed:** `{result['error']}`"]
    return out
