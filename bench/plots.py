"""The report's PNG plots (matplotlib, headless)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display here; must precede pyplot

import matplotlib.pyplot as plt

from bench.receiver import PING_FRACTION, ScenarioResult

PING_P99_GOAL_MS = 5.0


def _measured(results: Sequence[ScenarioResult]) -> list[ScenarioResult]:
    return [r for r in results if r["loads"]]


def throughput(results: Sequence[ScenarioResult], path: Path) -> None:
    """Achieved vs offered rate (open loop), log-log, one line per scenario."""
    figure, axes = plt.subplots(figsize=(8, 5.5))
    lowest, highest = float("inf"), 1.0
    for result in _measured(results):
        offered = [p["offered_rate"] for p in result["loads"]]
        achieved = [p["result"]["achieved_rate"] for p in result["loads"]]
        lowest, highest = min(lowest, *offered), max(highest, *offered)
        line = axes.plot(offered, achieved, marker="o", label=result["name"])[0]
        if result["saturation"]:
            axes.axhline(
                result["saturation"]["rate"], color=line.get_color(), linestyle=":", linewidth=1
            )
    if lowest <= highest:
        span = [lowest / 1.5, highest * 1.5]
        axes.plot(span, span, color="grey", linestyle="--", linewidth=1)
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel("offered load, requests/s (open loop)")
    axes.set_ylabel("acknowledged (200) requests/s")
    axes.set_title(
        "Receiver throughput vs offered load\n(dotted: wrk saturation rate; dashed: y = x)"
    )
    axes.grid(True, which="both", alpha=0.3)
    if axes.get_legend_handles_labels()[0]:
        axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def latency(results: Sequence[ScenarioResult], path: Path) -> None:
    """p50 and p99 ack latency vs load (fraction of own capacity), and PING p99 at 80 %."""
    figure, (p50_axes, p99_axes, ping_axes) = plt.subplots(
        1, 3, figsize=(14, 5), gridspec_kw={"width_ratios": [2, 2, 1.3]}
    )
    measured = _measured(results)
    for axes, key in ((p50_axes, "p50"), (p99_axes, "p99")):
        for result in measured:
            points = [
                (p["fraction"] * 100, p["result"]["latency_ms"][key])
                for p in result["loads"]
                if key in p["result"]["latency_ms"]
            ]
            axes.plot(*zip(*points, strict=True), marker="o", label=result["name"])
        axes.set_yscale("log")
        axes.set_xlabel("offered load, % of the scenario's own saturation rate")
        axes.set_ylabel("ms from scheduled send to the 200")
        axes.set_title(f"{key} ack latency (open loop)")
        axes.grid(True, which="both", alpha=0.3)
    if p50_axes.get_legend_handles_labels()[0]:
        p50_axes.legend(fontsize="small")
    names = [r["name"] for r in measured if r["ping"]]
    values = [r["ping"]["latency_ms"].get("p99", 0.0) for r in measured if r["ping"]]
    bars = ping_axes.bar(range(len(names)), values, color="tab:purple")
    ping_axes.bar_label(bars, fmt="%.1f", fontsize="small")
    ping_axes.set_yscale("log")
    ping_axes.set_xticks(range(len(names)), names, rotation=30, ha="right", fontsize="small")
    ping_axes.axhline(PING_P99_GOAL_MS, color="red", linestyle="--", label="goal")
    ping_axes.set_ylabel("ms")
    ping_axes.set_title(f"PING p99 at {PING_FRACTION:.0%} load")
    ping_axes.legend(fontsize="small")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
