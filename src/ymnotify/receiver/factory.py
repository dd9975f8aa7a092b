"""``create_app``: the receiver as an ASGI app, with handler workers in its lifespan."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from ymnotify.clock import Clock
from ymnotify.dispatch.router import Router
from ymnotify.dispatch.worker import Worker, WorkerSettings
from ymnotify.errors import ConfigError
from ymnotify.receiver.app import ReceiverApp, ReceiverConfig, Service
from ymnotify.store import DEFAULT_DB_URL, Store, store_from_url


def create_app(
    router: Router | None = None,
    *,
    db: str | Store = DEFAULT_DB_URL,
    config: ReceiverConfig | None = None,
    workers: int = 4,
    worker_settings: WorkerSettings | None = None,
    dependencies: Mapping[str, Any] | None = None,
    clock: Clock | None = None,
) -> ReceiverApp:
    """The receiver as an ASGI app to serve or mount (Starlette, FastAPI, any ASGI server).

    Its lifespan opens the store and, when ``router`` is given and ``workers`` > 0, runs that
    many handlers at a time; on shutdown the workers finish or give back their jobs. With no
    router (or ``workers=0``) the app only stores notifications, for ``ymnotify worker`` to
    handle. Serve it without server-level proxy-header handling (uvicorn
    ``proxy_headers=False``): the source check needs the real TCP peer.
    """
    if workers < 0:
        raise ConfigError("workers must be 0 (intake only) or more")
    store = db if isinstance(db, Store) else store_from_url(db)
    services: list[Service] = []
    if router is not None and workers > 0:
        settings = replace(worker_settings or WorkerSettings(), concurrency=workers)
        services.append(Worker(store, router, settings, dependencies=dependencies, clock=clock))
    return ReceiverApp(store, config or ReceiverConfig(), services)
