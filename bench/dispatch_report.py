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
        " (one line appended to a file). Latency runs from the moment the sender received the"
        " 200 to the handler's start (4 workers, the default; SQLite, synchronous=FULL); the"
        " sender posts each notification at its scheduled time over up to 16 keep-alive"
        " connections.",
        "",
        "| offered/s | sent | handled | 200 → handler p50 | p90 | p99 | max |",
        "|---|---|---|---|---|---|---|",
    ]
    for point in result["latency"]:
        lat = point["latency_ms"]
        out.append(
            f"| {point['offered']} | {point['sent']} | {point['handled']} | "
            + " | ".join(_ms(lat.get(k)) for k in ("p50", "p90", "p99", "max"))
            + " |"
        )
    out += [
        "",
        "No-op handler throughput against the number of workers: a backlog stored first by"
        " `serve --workers 0`, then drained by `serve --app … --workers W`; rate = handled /"
        " (last handler start − first handler start).",
        "",
        "| store | workers | backlog | handled | handled/s |",
        "|---|---|---|---|---|",
    ]
    for row in result["workers"]:
        out.append(
            f"| {row['backend']} | {row['workers']} | {row['notifications']:,} |"
            f" {row['handled']:,} | {row['per_second']:,.0f} |"
        )
    if result["postgres_unavailable"]:
        out += ["", f"PostgreSQL not measured: {result['postgres_unavailable']}"]
    if result["error"]:
        out += ["", f"**The dispatch suite failed:** `{result['error']}`"]
    return out
