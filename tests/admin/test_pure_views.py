"""The dashboard's pure parts: query parsing, the health judgement, the chart."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from ymnotify.admin.charts import PALETTE, REST_LABEL, stacked_bars
from ymnotify.admin.health import HealthLevel, endpoint_health
from ymnotify.admin.queries import MAX_LIMIT, PAGE_SIZE, BadQuery, notification_filter
from ymnotify.store import NotificationStatus, PingRecord, TypeCount

NOW = datetime(2026, 9, 20, 12, 0, tzinfo=UTC)


def test_filter_from_a_form_reads_every_field() -> None:
    query = notification_filter(
        {
            "type": "ORDER_CREATED",
            "status": "pending",
            "entity": " order:42 ",
            "since": "2026-09-20T09:15",
            "until": "2026-09-20T12:00:00+03:00",
            "q": "красный SKU",
            "before_id": "1000",
            "limit": "20",
        }
    )
    assert query.notification_type == "ORDER_CREATED"
    assert query.status is NotificationStatus.PENDING
    assert query.entity == "order:42"
    assert query.received_since == datetime(2026, 9, 20, 9, 15, tzinfo=UTC)
    assert query.received_until == datetime(2026, 9, 20, 9, 0, tzinfo=UTC)
    assert query.body_contains == "красный SKU".encode()
    assert (query.before_id, query.limit) == (1000, 20)


def test_empty_form_fields_mean_any() -> None:
    query = notification_filter(
        {"type": "", "status": "", "entity": "", "since": "", "until": "", "q": "  "}
    )
    assert query.notification_type is None
    assert query.status is None
    assert query.entity is None
    assert query.received_since is None
    assert query.body_contains is None
    assert query.limit == PAGE_SIZE


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"status": "lost"}, "status: 'lost' is not one of pending"),
        ({"since": "yesterday"}, "since: 'yesterday' is not a time"),
        ({"before_id": "x"}, "before_id: 'x' is not a whole number"),
        ({"before_id": "0"}, "before_id: 0 is out of range"),
        ({"limit": str(MAX_LIMIT + 1)}, f"limit: {MAX_LIMIT + 1} is out of range"),
        ({"entity": "ORDER:5"}, "entity 'ORDER:5': 'ORDER' is not one of order"),
        ({"entity": "5"}, "entity '5': expected KIND:ID"),
    ],
)
def test_bad_query_names_the_parameter(params: dict[str, str], message: str) -> None:
    with pytest.raises(BadQuery, match=re.escape(message)):
        notification_filter(params)


@pytest.mark.parametrize(
    ("store_problem", "ping_age", "level"),
    [
        (None, timedelta(minutes=5), HealthLevel.HEALTHY),
        (None, timedelta(hours=24), HealthLevel.HEALTHY),
        (None, timedelta(hours=25), HealthLevel.UNKNOWN),
        (None, None, HealthLevel.UNKNOWN),
        ("database is locked", timedelta(minutes=5), HealthLevel.UNHEALTHY),
        ("database is locked", None, HealthLevel.UNHEALTHY),
    ],
)
def test_health(store_problem: str | None, ping_age: timedelta | None, level: HealthLevel) -> None:
    ping = None if ping_age is None else PingRecord(NOW - ping_age, "95.108.128.1", 3)
    health = endpoint_health(
        store_problem=store_problem,
        last_ping=ping,
        last_received_at=NOW - timedelta(minutes=1),
        now=NOW,
    )
    assert health.level is level
    assert "last notification received 1 min ago" in health.details
    if store_problem:
        assert store_problem in health.details
    elif ping is not None:
        assert any("from 95.108.128.1 (3 in all)" in line for line in health.details)


def test_chart_stacks_counts_per_bucket_with_a_bar_height_per_count() -> None:
    since = NOW - timedelta(hours=4)
    counts = [
        TypeCount(since, "ORDER_CREATED", 3),
        TypeCount(since, "CHAT_CREATED", 1),
        TypeCount(since + timedelta(hours=2), "ORDER_CREATED", 4),
    ]
    chart = stacked_bars(counts, since=since, bucket_seconds=3600, buckets=4)
    assert chart.total == 8
    assert [(e.label, e.total) for e in chart.legend] == [("ORDER_CREATED", 7), ("CHAT_CREATED", 1)]
    heights = [float(h) for h in re.findall(r'<rect [^>]*height="([\d.]+)"', chart.svg)]
    assert len(heights) == 3  # one segment per (bucket, type) with a count
    assert heights[0] / heights[1] == pytest.approx(3, rel=0.02)  # ORDER 3 vs CHAT 1
    assert heights[2] / heights[0] == pytest.approx(4 / 3, rel=0.02)
    assert "ORDER_CREATED: 4 from 09-20 10:00" in chart.svg


def test_chart_gives_the_busiest_types_colours_and_pools_the_rest() -> None:
    counts = [TypeCount(NOW, f"TYPE_{index}", 100 - index) for index in range(10)]
    chart = stacked_bars(counts, since=NOW, bucket_seconds=3600, buckets=1)
    labels = [entry.label for entry in chart.legend]
    assert labels[: len(PALETTE) - 1] == [f"TYPE_{i}" for i in range(len(PALETTE) - 1)]
    assert labels[-1] == REST_LABEL
    assert chart.legend[-1].total == sum(100 - i for i in range(len(PALETTE) - 1, 10))


def test_chart_escapes_type_names() -> None:
    chart = stacked_bars(
        [TypeCount(NOW, "<script>alert(1)</script>", 1)], since=NOW, bucket_seconds=60, buckets=1
    )
    assert "<script>" not in chart.svg
    assert "&lt;script&gt;" in chart.svg
