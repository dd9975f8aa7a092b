"""Server-rendered SVG charts: no JavaScript library, nothing to build, readable without CSS.

``rate_bars`` draws an error rate per label (the Market log page).
``stacked_bars`` draws notifications per type over time: one bar per time bucket, one coloured
segment per type; the busiest types get their own colour, the rest share one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from html import escape

from ymnotify.store import TypeCount

PALETTE = ("#2f6fb0", "#e07b39", "#3a9d5d", "#c8443a", "#8a62b8", "#b0892f", "#2aa3a3")
REST_COLOUR = "#9aa0a6"
REST_LABEL = "other types"
NO_TYPE_LABEL = "(no type)"

WIDTH, HEIGHT = 760, 220
LEFT, RIGHT, TOP, BOTTOM = 44, 8, 10, 26


@dataclass(frozen=True, slots=True)
class LegendEntry:
    label: str
    colour: str
    total: int


@dataclass(frozen=True, slots=True)
class Chart:
    svg: str  # safe markup: every text in it is escaped
    legend: tuple[LegendEntry, ...]
    total: int


def stacked_bars(
    counts: list[TypeCount], *, since: datetime, bucket_seconds: int, buckets: int
) -> Chart:
    """Notifications per type and bucket as a stacked bar chart over ``buckets`` buckets."""
    width = timedelta(seconds=bucket_seconds)
    totals: dict[str, int] = {}
    for item in counts:
        label = item.notification_type or NO_TYPE_LABEL
        totals[label] = totals.get(label, 0) + item.count
    ranked = sorted(totals, key=lambda label: (-totals[label], label))
    own = ranked[: len(PALETTE)] if len(ranked) <= len(PALETTE) else ranked[: len(PALETTE) - 1]
    colour = {label: PALETTE[index] for index, label in enumerate(own)}
    rest_total = sum(totals[label] for label in ranked if label not in colour)

    stacks: list[dict[str, int]] = [{} for _ in range(buckets)]
    for item in counts:
        index = int((item.bucket_start - since) / width)
        if 0 <= index < buckets:
            label = item.notification_type or NO_TYPE_LABEL
            series = label if label in colour else REST_LABEL
            stacks[index][series] = stacks[index].get(series, 0) + item.count
    order = [*own, REST_LABEL]
    colours = {**colour, REST_LABEL: REST_COLOUR}

    top = _nice_ceiling(max((sum(stack.values()) for stack in stacks), default=0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / buckets
    bar = max(1.0, slot * 0.8)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img"'
        f' class="chart" aria-label="notifications per type over time">'
    ]
    for step in range(5):
        value = top * step / 4
        y = TOP + plot_h - plot_h * step / 4
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{_number(value)}</text>'
        )
    label_every = max(1, math.ceil(buckets / 8))
    for index, stack in enumerate(stacks):
        start = since + width * index
        x = LEFT + slot * index + (slot - bar) / 2
        y = TOP + plot_h
        for series in order:
            count = stack.get(series, 0)
            if not count:
                continue
            height = plot_h * count / top
            y -= height
            tip = f"{series}: {count} from {_moment(start, bucket_seconds)}"
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{height:.1f}"'
                f' fill="{colours[series]}"><title>{escape(tip)}</title></rect>'
            )
        if index % label_every == 0:
            parts.append(
                f'<text x="{LEFT + slot * index + slot / 2:.1f}" y="{HEIGHT - 8}"'
                f' text-anchor="middle">{escape(_moment(start, bucket_seconds))}</text>'
            )
    parts.append("</svg>")
    legend = [LegendEntry(label, colour[label], totals[label]) for label in own]
    if rest_total:
        legend.append(LegendEntry(REST_LABEL, REST_COLOUR, rest_total))
    return Chart("".join(parts), tuple(legend), sum(totals.values()))


@dataclass(frozen=True, slots=True)
class Rate:
    """Failed out of total for one label (e.g. one notification type)."""

    label: str
    failed: int
    total: int


def rate_bars(rates: list[Rate]) -> str:
    """A horizontal bar per label: its error rate (failed / total) on a 0–100 % scale, with the
    counts written next to it. Safe markup: every text in it is escaped."""
    row_h, label_w, bar_w, right_w = 26, 230, 420, 150
    height = TOP + row_h * len(rates) + BOTTOM
    width = label_w + bar_w + right_w
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img"'
        f' class="chart rates" aria-label="error rate per notification type">'
    ]
    for step in range(5):
        x = label_w + bar_w * step / 4
        parts.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{TOP}" y2="{height - BOTTOM}" class="grid"/>'
            f'<text x="{x:.1f}" y="{height - 8}" text-anchor="middle">{25 * step}%</text>'
        )
    for index, rate in enumerate(rates):
        y = TOP + row_h * index
        share = rate.failed / rate.total if rate.total else 0.0
        colour = PALETTE[3] if share >= 0.5 else PALETTE[1] if share > 0 else PALETTE[2]
        tip = f"{rate.label}: {rate.failed} of {rate.total} attempts failed"
        parts.append(
            f'<text x="{label_w - 8}" y="{y + 17}" text-anchor="end">{escape(rate.label)}</text>'
            f'<rect x="{label_w}" y="{y + 5}" width="{max(1.0, bar_w * share):.1f}" height="16"'
            f' fill="{colour}"><title>{escape(tip)}</title></rect>'
            f'<text x="{label_w + bar_w + 8}" y="{y + 17}">'
            f"{share:.0%} ({rate.failed}/{rate.total})</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _nice_ceiling(value: int) -> float:
    """The top of the y axis: four grid steps of a round whole size, together ≥ ``value``."""
    wanted = max(1.0, value / 4)
    power = 10 ** math.floor(math.log10(wanted))
    factors = (1, 2, 2.5, 5, 10) if power >= 10 else (1, 2, 5, 10)
    step = next(factor * power for factor in factors if factor * power >= wanted)
    return float(4 * step)


def _number(value: float) -> str:
    return f"{value:g}" if value < 10_000 else f"{value / 1000:g}k"


def _moment(start: datetime, bucket_seconds: int) -> str:
    return start.strftime("%m-%d" if bucket_seconds >= 86400 else "%m-%d %H:%M")
