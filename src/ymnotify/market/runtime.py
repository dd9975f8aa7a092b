"""Everything a running Market sandbox holds: store, clock, HTTP clients, engine, service.

``MarketRuntime.running()`` opens them in order and closes them in reverse; the API's lifespan
uses it, and so can tests or a program embedding the sandbox.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

from ymnotify.delivery.client import ClientOptions, DeliveryClient
from ymnotify.errors import NotFound, StoreUnavailable
from ymnotify.market.clock import RealClock, starting_clock
from ymnotify.market.dev import DEV_BUSINESS_ID, DEV_CAMPAIGN_ID, DEV_USER
from ymnotify.market.engine import Engine, EngineConfig
from ymnotify.market.records import Business, User
from ymnotify.market.rules import OWNER
from ymnotify.market.service import MarketOptions, MarketService
from ymnotify.market.store import MarketStore


@dataclass(frozen=True)
class MarketConfig:
    """How the Market sandbox runs. Built once from flags (``ymnotify market serve``)."""

    db_path: Path
    virtual_clock: bool = False
    client: ClientOptions = field(default_factory=ClientOptions)
    market: MarketOptions = field(default_factory=MarketOptions)
    engine: EngineConfig = field(default_factory=EngineConfig)
    seed_dev_business: bool = False


class MarketRuntime:
    """The sandbox's parts; ``service`` exists while ``running()`` is active."""

    def __init__(self, config: MarketConfig) -> None:
        self.config = config
        self._service: MarketService | None = None

    def stop_sending(self) -> None:
        """At the stop signal, before the requests in flight are waited for: no attempt goes
        out any more (``Engine.stop_sending``)."""
        if self._service is not None:
            self._service.engine.stop_sending()

    @property
    def service(self) -> MarketService:
        if self._service is None:
            raise StoreUnavailable("the Market sandbox is not running")
        return self._service

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[MarketService]:
        config = self.config
        async with contextlib.AsyncExitStack() as stack:
            store = MarketStore(config.db_path)
            await store.open()
            stack.push_async_callback(store.close)
            saved = await store.saved_clock()
            clock = starting_clock(
                config.virtual_clock, saved, RealClock().now(), file=config.db_path
            )
            if not clock.virtual and saved is not None:
                await store.forget_clock()  # from now on the file's time is the wall clock's
            client = DeliveryClient(config.client)
            stack.push_async_callback(client.aclose)
            pinger = DeliveryClient(config.client)
            stack.push_async_callback(pinger.aclose)
            engine = Engine(store, client, clock, config.engine, pinger=pinger)
            service = MarketService(store, engine, config.market)
            if config.seed_dev_business:
                await _seed_dev_business(service)
            await engine.start()
            stack.push_async_callback(engine.stop)
            self._service = service
            try:
                yield service
            finally:
                self._service = None


async def _seed_dev_business(service: MarketService) -> None:
    """Business 1 with store 1001 and user ``dev`` as owner, unless it exists."""
    try:
        await service.business(DEV_BUSINESS_ID)
    except NotFound:
        await service.create_business(
            Business(
                id=DEV_BUSINESS_ID,
                name="Development cabinet",
                campaign_ids=(DEV_CAMPAIGN_ID,),
                users=(User(DEV_USER, OWNER),),
                created_at=service.now(),
            )
        )
