"""What a worker reports about the jobs it runs, for metrics (no I/O of its own)."""

from __future__ import annotations

from typing import Protocol

from ymnotify.store.base import AttemptOutcome


class JobObserver(Protocol):
    """Told by the worker about each attempt it finishes; must be quick and must not raise."""

    def attempt_finished(self, handler: str, outcome: AttemptOutcome, seconds: float) -> None:
        """One attempt of ``handler`` ended with ``outcome`` after ``seconds`` of running."""
        ...

    def retry_scheduled(self, handler: str) -> None:
        """A failed attempt of ``handler`` will be tried again later."""
        ...

    def dead_lettered(self, handler: str) -> None:
        """A job of ``handler`` failed on its last attempt and is now dead."""
        ...
