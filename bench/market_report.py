"""The Market-side section of docs/benchmarks.md (pure: from the suite's result)."""

from __future__ import annotations

from bench.market import CLAIM_LIMIT, MarketResult

DELIVERIES_GOAL = 1000.0
LAG_GOAL_RATE = 500
LAG_P99_GOAL_MS = 1000.0


def _fmt_ms(value: float | None) -> str:
    return "–" if value is None else f"{value:,.1f} ms"


def goal_lines(result: MarketResult) -> list[tuple[str, str, bool | None]]:
    """(goal, measured, met) for the two Market goals of issue 7."""
    rate = result["deliveries_per_second"]
    lines: list[tuple[str, str, bool | None]] = [
        (
            f"Market side ≥ {DELIVERIES_GOAL:,.0f} deliveries/s to a local endpoint",
            f"{rate:,.0f} deliveries/s" if rate else "not measured",
            rate >= DELIVERIES_GOAL if rate else None,
        )
    ]
    at_goal = [p for p in result["lag"] if p["offered"] == LAG_GOAL_RATE]
    p99 = at_goal[0]["latency_ms"].get("p99") if at_goal else None
    lines.append(
        (
            f"enqueue → delivery lag p99 < 1 s at {LAG_GOAL_RATE} events/s",
            _fmt_ms(p99) if p99 is not None else "not measured",
            None if p99 is None else p99 < LAG_P99_GOAL_MS,
        )
    )
    return lines


def render(result: MarketResult, command: str) -> list[str]:
    """Markdown lines for the Market section."""
    out = ["", "## Market side (`ymnotify market serve --dev`)", ""]
    out += [
        f"Measured by `bench/market.py` as part of `{command}`. Endpoint: the no-op ceiling app on"
        " the same server program as the receiver benchmarks (keep-alive); events published via"
        " `POST /api/events` arrays; the sandbox's file is SQLite with synchronous=FULL and every"
        " attempt's result is committed before the next step.",
        "",
        "| goal | measured | verdict |",
        "|---|---|---|",
    ]
    for text, measured, met in goal_lines(result):
        verdict = "not measured" if met is None else ("**met**" if met else "**not met**")
        out.append(f"| {text} | {measured} | {verdict} |")
    out += [
        "",
        f"Throughput: {result['deliveries']:,} events in arrays (published in"
        f" {result['publish_seconds']:.2f} s) → **{result['deliveries_per_second']:,.0f}"
        f" deliveries/s**, {result['market_cpu_us_per_delivery']:,.0f} µs of the sandbox's CPU"
        " per delivery (user+system, all threads).",
        "",
        "| offered events/s | published | delivered | lag p50 | p90 | p99 | max |",
        "|---|---|---|---|---|---|---|",
    ]
    for point in result["lag"]:
        lat = point["latency_ms"]
        out.append(
            f"| {point['offered']} | {point['published']} | {point['delivered']} | "
            + " | ".join(_fmt_ms(lat.get(k)) for k in ("p50", "p90", "p99", "max"))
            + " |"
        )
    out += [
        "",
        f"Claim cost (`MarketStore.claim_due`, {CLAIM_LIMIT} due deliveries leased per claim) with"
        " pending deliveries due over the next 14 days inserted in bulk through the store; the"
        " timed claims take turns between the files, so the machine's changing speed falls on"
        " both. *claim* is wall time (each claim commits: an fsync); *CPU* is the process's CPU"
        " time during the claim (the statements; steadier). The sandbox's RSS is measured after"
        " starting `market serve` on the same file:",
        "",
        "| pending future deliveries | bulk insert | claim p50 | claim p99 | CPU p50 | CPU p99 |"
        " empty claim | server RSS |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for claim in result["claims"]:
        lat = claim["claim_ms"]
        cpu = claim.get("claim_cpu_ms", {})  # absent from runs before it was measured
        out.append(
            f"| {claim['pending']:,} | {claim['insert_seconds']:.1f} s | {_fmt_ms(lat.get('p50'))}"
            f" | {_fmt_ms(lat.get('p99'))} | {_fmt_ms(cpu.get('p50'))} |"
            f" {_fmt_ms(cpu.get('p99'))} | {claim['empty_claim_ms']:.2f} ms |"
            f" {claim['server_rss_kib'] / 1024:,.1f} MiB |"
        )
    per = result["rss_per_pending_bytes"]
    if per is not None:
        out += [
            "",
            f"Memory per pending delivery (server RSS difference / pending difference): {per:.2f}"
            " bytes: pending deliveries live in the file, not in the process.",
        ]
    if result["error"]:
        out += ["", f"**The Market suite failed:** `{result['error']}`"]
    return out
