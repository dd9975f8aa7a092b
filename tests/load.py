"""A small, bounded load loop for fault tests: unique notifications, every answer recorded."""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass, field

import httpx

from ymnotify.protocol.samples import sample


@dataclass(frozen=True)
class Attempt:
    order_id: int
    started: float  # time.monotonic()
    finished: float
    status: int | None  # None: no HTTP answer (connection refused, reset, timeout)


@dataclass
class LoadLoop:
    """``clients`` threads posting unique ORDER_CREATED bodies to ``url`` until stopped."""

    url: str
    clients: int = 4
    timeout: float = 15.0
    attempts: list[Attempt] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> None:
        for _ in range(self.clients):
            thread = threading.Thread(target=self._client, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(self.timeout + 5)

    def _client(self) -> None:
        with httpx.Client(timeout=self.timeout) as client:
            while not self._stop.is_set():
                with self._lock:
                    order_id = next(self._ids)
                body = sample("ORDER_CREATED", orderId=order_id)
                started = time.monotonic()
                try:
                    status: int | None = client.post(
                        f"{self.url}/notification", json=body
                    ).status_code
                except httpx.HTTPError:
                    status = None
                    time.sleep(0.01)  # the server is away: do not spin
                with self._lock:
                    self.attempts.append(Attempt(order_id, started, time.monotonic(), status))

    def acked(self) -> set[int]:
        return {a.order_id for a in self.attempts if a.status == 200}

    def first_ack_after(self, moment: float) -> float | None:
        times = [a.finished for a in self.attempts if a.status == 200 and a.started >= moment]
        return min(times) if times else None
