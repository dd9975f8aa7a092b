"""The Market sandbox running in the test's event loop, on a real loopback port."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from ymnotify.delivery.client import ClientOptions
from ymnotify.market.api import create_app
from ymnotify.market.engine import EngineConfig
from ymnotify.market.runtime import MarketConfig, MarketRuntime
from ymnotify.market.service import MarketOptions
from ymnotify.receiver import server

OWNER = "olga"


@dataclass
class Market:
    """A running sandbox: ``api`` talks to it over HTTP, ``runtime`` is its inside."""

    api: httpx.AsyncClient
    runtime: MarketRuntime
    url: str

    async def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        user: str | None = OWNER,
        expect: int | None = None,
        **params: Any,
    ) -> Any:
        headers = {"X-Market-User": user} if user else {}
        response = await self.api.request(
            method, path, json=body, headers=headers, params=params or None
        )
        if expect is not None:
            assert response.status_code == expect, response.text
        return None if response.status_code == 204 else response.json()

    async def now(self) -> datetime:
        return datetime.fromisoformat((await self.call("GET", "/api/clock"))["now"])

    async def advance(self, delta: timedelta) -> datetime:
        document = await self.call(
            "POST", "/api/clock/advance", {"seconds": delta.total_seconds()}, expect=200
        )
        return datetime.fromisoformat(document["now"])

    async def business(
        self, business_id: int = 1, campaigns: tuple[int, ...] = (1001,), users: Any = None
    ) -> None:
        body = {
            "id": business_id,
            "name": f"cabinet {business_id}",
            "campaignIds": list(campaigns),
            "users": users or [{"login": OWNER, "role": "owner"}],
        }
        await self.call("POST", "/api/businesses", body, expect=201)

    async def subscribe(
        self, url: str, types: list[str], scope: dict[str, int] | None = None, **kw: Any
    ) -> dict[str, Any]:
        body = {"name": "test", "scope": scope or {"campaignId": 1001}, "types": types, "url": url}
        result: dict[str, Any] = await self.call("POST", "/api/subscriptions", body, **kw)
        return result

    async def publish(self, *bodies: dict[str, Any]) -> list[dict[str, Any]]:
        document = await self.call("POST", "/api/events", list(bodies), expect=202)
        events: list[dict[str, Any]] = document["events"]
        return events

    async def log(self, **params: Any) -> list[dict[str, Any]]:
        params.setdefault("limit", 10_000)
        document = await self.call("GET", "/api/log", **params)
        entries: list[dict[str, Any]] = document["entries"]
        return entries

    async def log_of(self, count: int, *, seconds: float, **params: Any) -> list[dict[str, Any]]:
        """The log once it holds ``count`` entries (real clock: attempts happen on their own),
        or as it is after ``seconds``."""
        deadline = asyncio.get_running_loop().time() + seconds
        entries = await self.log(**params)
        while len(entries) < count and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.02)
            entries = await self.log(**params)
        return entries


@dataclass(frozen=True)
class Options:
    activation_delay: timedelta = timedelta(0)
    virtual: bool = True
    ping_timeout: float = 1.0
    notification_timeout: float = 10.0
    allow_http: bool = True
    allow_private_targets: bool = True
    post_to_url_as_is: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


@contextlib.asynccontextmanager
async def run_market(folder: Path, options: Options | None = None) -> AsyncIterator[Market]:
    """Serve the sandbox with uvicorn on a free loopback port until the block ends."""
    options = options or Options()
    config = MarketConfig(
        db_path=folder / "market.db",
        virtual_clock=options.virtual,
        client=ClientOptions(
            allow_http=options.allow_http, allow_private_targets=options.allow_private_targets
        ),
        market=MarketOptions(
            allow_http=options.allow_http, activation_delay=options.activation_delay
        ),
        engine=EngineConfig(
            post_to_url_as_is=options.post_to_url_as_is,
            ping_timeout=options.ping_timeout,
            notification_timeout=options.notification_timeout,
            **options.extra,
        ),
    )
    runtime = MarketRuntime(config)
    listener = server.Listener("127.0.0.1", 0)
    sock = server.bind(listener)
    url = server.bound_url(sock, listener)
    uvicorn_server = uvicorn.Server(server.uvicorn_config(create_app(runtime), listener))
    task = asyncio.create_task(uvicorn_server.serve(sockets=[sock]))
    try:
        async with asyncio.timeout(10):
            while not uvicorn_server.started:
                if task.done():
                    await task
                    raise AssertionError("the Market sandbox did not start")
                await asyncio.sleep(0.01)
        async with httpx.AsyncClient(base_url=url, timeout=120) as api:
            yield Market(api, runtime, url)
    finally:
        runtime.stop_sending()  # as `market serve` does at the signal
        uvicorn_server.should_exit = True
        await task
        sock.close()
