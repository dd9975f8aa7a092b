"""Percentiles and summaries of measured times (pure)."""

from __future__ import annotations

import math
from collections.abc import Sequence

PERCENTILES = (50.0, 90.0, 99.0, 99.9)


def percentile(ordered: Sequence[float], p: float) -> float:
    """The ``p``-th percentile of an ascending sequence, nearest-rank (no interpolation)."""
    if not ordered:
        raise ValueError("no values")
    if not 0 < p <= 100:
        raise ValueError(f"percentile {p} outside (0, 100]")
    rank = math.ceil(p / 100 * len(ordered))
    return ordered[rank - 1]


def summary_ms(seconds: Sequence[float]) -> dict[str, float]:
    """``{"p50", "p90", "p99", "p99.9", "max", "count"}`` in milliseconds; ``{}`` if empty."""
    if not seconds:
        return {}
    ordered = sorted(seconds)
    result = {f"p{p:g}": round(percentile(ordered, p) * 1000, 3) for p in PERCENTILES}
    result["max"] = round(ordered[-1] * 1000, 3)
    result["count"] = len(ordered)
    return result
