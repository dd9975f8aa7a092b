"""Prometheus metrics of the Market sandbox (``/metrics`` of ``ymnotify market serve``).

Everything is read from the sandbox's store at scrape time, in a registry of its own: the
request log already holds every attempt, so the figures survive restarts and cannot drift from
what the log page shows.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from ymnotify.errors import StoreError
from ymnotify.market.records import Tallies
from ymnotify.market.store import MarketStore

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class _TallyCollector(Collector):
    def __init__(self) -> None:
        self.tallies: Tallies | None = None

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        tallies = self.tallies
        yield GaugeMetricFamily(
            "ymnotify_market_store_up",
            "1 if the Market store answered the scrape's queries, else 0.",
            value=0 if tallies is None else 1,
        )
        if tallies is None:
            return
        deliveries = CounterMetricFamily(
            "ymnotify_market_delivery_attempts",
            "Delivery attempts by outcome and Market error class (error_type, empty when none).",
            labels=["outcome", "error_type"],
        )
        retries = CounterMetricFamily(
            "ymnotify_market_delivery_retries",
            "Delivery attempts after the first (Market's retry schedule).",
        )
        by_class: dict[tuple[str, str], int] = {}
        retried = 0
        for (outcome, error_type, retry), count in tallies.attempts.items():
            by_class[outcome, error_type] = by_class.get((outcome, error_type), 0) + count
            retried += count if retry else 0
        for (outcome, error_type), count in sorted(by_class.items()):
            deliveries.add_metric([outcome, error_type], count)
        retries.add_metric([], retried)
        yield deliveries
        yield retries
        yield GaugeMetricFamily(
            "ymnotify_market_settings_disabled_by_market",
            "Settings Market turned off after 14 days of failed deliveries.",
            value=tallies.disabled_by_market,
        )
        yield GaugeMetricFamily(
            "ymnotify_market_pending_deliveries",
            "Deliveries waiting for their first attempt or a retry.",
            value=tallies.pending_deliveries,
        )


class MarketMetrics:
    """The sandbox's registry and the store read behind it."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._collector = _TallyCollector()
        self.registry.register(self._collector)

    async def exposition(self, store: MarketStore) -> bytes:
        """The text format for /metrics, with the counts read now."""
        try:
            tallies: Tallies | None = await store.tallies()
        except StoreError:
            tallies = None
        # No await between setting and rendering: concurrent scrapes cannot mix.
        self._collector.tallies = tallies
        return generate_latest(self.registry)
