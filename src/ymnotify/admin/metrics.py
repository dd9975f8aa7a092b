"""Prometheus metrics of the receiver, in a registry of their own (never the global one).

Two kinds:

- Intake counters, fed by ``ReceiverMetrics.observe`` (an ``IntakeObserver``) after each answer:
  a counter increment and a histogram observation, no I/O.
- Store gauges (queue depth, oldest pending age, quarantine size, last PING), read from the
  store at scrape time by ``ReceiverMetrics.exposition`` with index-only queries, so they are
  true for every process sharing the store, not just this one.

Handler metrics (duration, failures, retries) belong to the handler workers (``dispatch``):
they register their own collectors on ``ReceiverMetrics.registry``, which the worker is given,
and /metrics shows them with no change here.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from ymnotify.errors import StoreError
from ymnotify.protocol.enums import NotificationType
from ymnotify.receiver.observe import IntakeOutcome
from ymnotify.store import Backlog, PingRecord, Store
from ymnotify.store.base import JobStatus

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# PING must be answered within 1 s and notifications within 10 s: buckets resolve both.
ACK_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

_KNOWN_TYPES = frozenset(kind.value for kind in NotificationType)


_CHILD_CACHE_SIZE = 1024


def type_label(notification_type: str | None) -> str:
    """A bounded label: known types as they are, ``other`` for new ones, ``none`` if unnamed.

    Bodies come from outside; their free-form type must not mint unbounded label values.
    """
    if notification_type is None:
        return "none"
    return notification_type if notification_type in _KNOWN_TYPES else "other"


@dataclass(frozen=True, slots=True)
class _StoreReading:
    up: bool
    backlog: Backlog | None
    last_ping: PingRecord | None
    jobs: dict[JobStatus, int]
    read_at: datetime


class _StoreGauges(Collector):
    """Yields the gauges of the last store reading (taken just before each exposition)."""

    def __init__(self) -> None:
        self.reading: _StoreReading | None = None

    def collect(self) -> Iterator[GaugeMetricFamily]:
        reading = self.reading
        if reading is None:
            return
        yield GaugeMetricFamily(
            "ymnotify_store_up",
            "1 if the store answered the scrape's queries, else 0.",
            value=1 if reading.up else 0,
        )
        if reading.backlog is not None:
            backlog = reading.backlog
            yield GaugeMetricFamily(
                "ymnotify_queue_depth",
                "Notifications stored and waiting for their handlers (status pending).",
                value=backlog.pending,
            )
            oldest = backlog.oldest_pending_at
            yield GaugeMetricFamily(
                "ymnotify_oldest_pending_age_seconds",
                "Age of the oldest pending notification (0 when none is pending).",
                value=0 if oldest is None else max(0.0, (reading.read_at - oldest).total_seconds()),
            )
            yield GaugeMetricFamily(
                "ymnotify_quarantine_size",
                "Malformed bodies kept in quarantine.",
                value=backlog.quarantined,
            )
        if reading.up:
            jobs = GaugeMetricFamily(
                "ymnotify_jobs",
                "Handler jobs in the store by status (dead ones are the dead-letter list).",
                labels=["status"],
            )
            for status in JobStatus:
                jobs.add_metric([status.value], reading.jobs.get(status, 0))
            yield jobs
        if reading.last_ping is not None:
            yield GaugeMetricFamily(
                "ymnotify_last_ping_timestamp_seconds",
                "Unix time of the last PING recorded in the store.",
                value=reading.last_ping.received_at.timestamp(),
            )


class ReceiverMetrics:
    """The receiver's metrics; an ``IntakeObserver`` for ``ReceiverApp``."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.received = Counter(
            "ymnotify_notifications_received",
            "POSTs answered, by declared notification type and outcome.",
            ["type", "outcome"],
            registry=self.registry,
        )
        self.ack_seconds = Histogram(
            "ymnotify_ack_latency_seconds",
            "Time from a POST's arrival to its answer being sent, by outcome.",
            ["outcome"],
            buckets=ACK_BUCKETS,
            registry=self.registry,
        )
        self.store_errors = Counter(
            "ymnotify_store_errors",
            "Notifications answered 500 because the store failed.",
            registry=self.registry,
        )
        self._store_gauges = _StoreGauges()
        self.registry.register(self._store_gauges)
        # ``labels()`` looks its child up by building and hashing a tuple under a lock; this
        # runs per POST, so the children are kept here (few: bounded types × outcomes).
        self._received_by: dict[tuple[str | None, IntakeOutcome], Any] = {}
        self._ack_seconds_by: dict[IntakeOutcome, Any] = {}

    def observe(
        self, notification_type: str | None, outcome: IntakeOutcome, seconds: float
    ) -> None:
        received = self._received_by.get((notification_type, outcome))
        if received is None:
            received = self.received.labels(type_label(notification_type), outcome.value)
            if len(self._received_by) < _CHILD_CACHE_SIZE:  # unknown types: bounded
                self._received_by[(notification_type, outcome)] = received
        received.inc()
        ack_seconds = self._ack_seconds_by.get(outcome)
        if ack_seconds is None:
            ack_seconds = self._ack_seconds_by[outcome] = self.ack_seconds.labels(outcome.value)
        ack_seconds.observe(seconds)
        if outcome is IntakeOutcome.STORE_ERROR:
            self.store_errors.inc()

    async def exposition(self, store: Store, now: datetime) -> bytes:
        """The text format for /metrics, with the store gauges read now."""
        try:
            backlog = await store.backlog()
            last_ping = await store.last_ping()
            jobs = await store.job_counts()
        except StoreError:
            reading = _StoreReading(False, None, None, {}, now)
        else:
            reading = _StoreReading(True, backlog, last_ping, jobs, now)
        # No await between setting the reading and rendering: concurrent scrapes cannot mix.
        self._store_gauges.reading = reading
        return generate_latest(self.registry)
