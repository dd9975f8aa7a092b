"""The check report for people (one line per point) and for machines (JSON)."""

from __future__ import annotations

from typing import Any

from ymnotify.check.points import Level, OurLabel, Point
from ymnotify.check.runner import CheckReport
from ymnotify.delivery.outcome import SUBTYPE_TYPE

_TAGS = {Level.PASS: "PASS", Level.WARN: "WARN", Level.FAIL: "FAIL", Level.NOT_CHECKED: "----"}
# Lines are printed as each point is known, so the label column fits the longest label there is.
_LABEL_WIDTH = max(
    *(len(f"{kind}/{subtype}") for subtype, kind in SUBTYPE_TYPE.items()),
    *(len(label) for label in OurLabel),
)


def point_line(point: Point) -> str:
    """``PASS  PING   12 ms  OK  200, valid body`` plus the hint on a second line if any.

    The detail is kept on one line (an HTTP library's message may span several).
    """
    latency = f"{point.latency * 1000:7.0f} ms" if point.latency is not None else " " * 10
    detail = " ".join(point.detail.split())
    label = f"{point.label:<{_LABEL_WIDTH}}"
    line = f"{_TAGS[point.level]}  {point.name:<34}{latency}  {label} {detail}"
    if point.hint:
        line += f"\n      → {point.hint}"
    return line.rstrip()


def summary_line(report: CheckReport) -> str:
    warnings = report.count(Level.WARN)
    counts = (
        f"{report.count(Level.FAIL)} failed, {warnings} warning{'' if warnings == 1 else 's'},"
        f" {report.count(Level.PASS)} passed, {report.count(Level.NOT_CHECKED)} not checked"
    )
    if report.ok:
        verdict = "Market would accept this endpoint."
    elif report.count(Level.FAIL):
        verdict = "Market would NOT accept this endpoint."
    else:
        verdict = "Not verified: what Market requires was not checked (see above)."
    return f"{counts}. {verdict}"


def as_document(report: CheckReport) -> dict[str, Any]:
    """The report as JSON-ready data."""
    return {
        "url": report.url,
        "target": report.target,
        "ok": report.ok,
        "summary": {level.value: report.count(level) for level in Level},
        "points": [
            {
                "name": point.name,
                "level": point.level.value,
                "label": point.label,
                "detail": point.detail,
                "hint": point.hint,
                "status": point.status,
                "latencyMs": None if point.latency is None else round(point.latency * 1000, 1),
                "traceparent": point.traceparent,
            }
            for point in report.points
        ],
    }
