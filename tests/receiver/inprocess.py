"""A receiver served in the test's own event loop by ``ymnotify serve``'s uvicorn setup, on
loopback with a real SQLite store; the app counts the requests it ran as an ASGI app."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn

from tests.acceptance.rawhttp import RawResponse, connect, read_responses, request_head
from ymnotify.receiver import server
from ymnotify.receiver.app import ReceiverApp, ReceiverConfig
from ymnotify.receiver.observe import IntakeOutcome
from ymnotify.receiver.sources import SourcePolicy
from ymnotify.store import store_from_url

PING = b'{"notificationType":"PING","time":"2026-11-28T12:00:00.000Z"}'
LOOPBACK_ONLY = SourcePolicy.build(allow_networks=["127.0.0.0/8"], market_ranges=False)


class CountingApp(ReceiverApp):
    """The receiver, counting the HTTP requests it ran as an ASGI app."""

    asgi_requests = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            self.asgi_requests += 1
        await super().__call__(scope, receive, send)


@dataclass
class Outcomes:
    seen: list[tuple[str | None, IntakeOutcome]] = field(default_factory=list)

    def observe(
        self, notification_type: str | None, outcome: IntakeOutcome, seconds: float
    ) -> None:
        assert seconds >= 0
        self.seen.append((notification_type, outcome))


@dataclass
class Running:
    app: CountingApp
    url: str
    outcomes: Outcomes

    async def exchange(self, *writes: bytes, answers: int, pause: float = 0.0) -> list[RawResponse]:
        """Send ``writes`` on one connection (``pause`` seconds apart), read ``answers``."""

        def talk() -> list[RawResponse]:
            sock = connect(self.url)
            try:
                for number, data in enumerate(writes):
                    if number:
                        time.sleep(pause)
                    sock.sendall(data)
                return read_responses(sock, answers)
            finally:
                sock.close()

        return await asyncio.to_thread(talk)


@asynccontextmanager
async def serving(db: Path, sources: SourcePolicy = LOOPBACK_ONLY) -> AsyncIterator[Running]:
    """The receiver on ``db`` served on an ephemeral loopback port until the block ends."""
    outcomes = Outcomes()
    app = CountingApp(
        store_from_url(f"sqlite:///{db}"), ReceiverConfig(sources=sources), observers=[outcomes]
    )
    listener = server.Listener(host="127.0.0.1", port=0)
    sock = server.bind(listener)
    instance = uvicorn.Server(server.uvicorn_config(app, listener))
    task = asyncio.create_task(instance.serve(sockets=[sock]))
    try:
        while not instance.started:
            assert not task.done(), "the server did not start"
            await asyncio.sleep(0.01)
        yield Running(app, server.bound_url(sock, listener), outcomes)
    finally:
        instance.should_exit = True
        await task
        sock.close()


def post(body: bytes, *, extra: str = "", path: str = "/notification") -> bytes:
    return request_head(path, content_length=len(body), extra=extra) + body
