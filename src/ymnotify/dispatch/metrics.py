"""Prometheus metrics of the handler workers, registered on the registry they are given.

``ymnotify serve --app`` gives the admin listener's registry, so ``/metrics`` shows them next to
the intake metrics. Counters count what this process ran; the jobs-by-status gauge is read from
the store by the admin listener at scrape time, so it covers every worker process.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

from ymnotify.store.base import AttemptOutcome

# Handlers call CRMs and warehouses: from milliseconds to the default 30 s timeout and beyond.
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class HandlerMetrics:
    """A ``JobObserver`` that counts attempts, failures, retries and dead letters per handler.

    Handler names come from the seller's own router, a bounded set, so they are safe labels.
    """

    def __init__(self, registry: CollectorRegistry) -> None:
        self.duration = Histogram(
            "ymnotify_handler_duration_seconds",
            "How long one attempt of a handler ran, by handler and outcome.",
            ["handler", "outcome"],
            buckets=DURATION_BUCKETS,
            registry=registry,
        )
        self.failures = Counter(
            "ymnotify_handler_failures",
            "Attempts that raised or timed out, by handler.",
            ["handler"],
            registry=registry,
        )
        self.retries = Counter(
            "ymnotify_handler_retries",
            "Failed attempts scheduled to run again, by handler.",
            ["handler"],
            registry=registry,
        )
        self.dead_letters = Counter(
            "ymnotify_handler_dead_letters",
            "Jobs that failed on their last attempt (dead letters), by handler.",
            ["handler"],
            registry=registry,
        )

    def attempt_finished(self, handler: str, outcome: AttemptOutcome, seconds: float) -> None:
        self.duration.labels(handler, outcome.value).observe(seconds)
        if outcome is AttemptOutcome.FAILED:
            self.failures.labels(handler).inc()

    def retry_scheduled(self, handler: str) -> None:
        self.retries.labels(handler).inc()

    def dead_lettered(self, handler: str) -> None:
        self.dead_letters.labels(handler).inc()
