"""``ymnotify worker``: run the handlers apart from the receiver (any number of processes)."""

from __future__ import annotations

import asyncio
import signal
from typing import Any

import click
from prometheus_client import CollectorRegistry, start_http_server

from ymnotify import logs
from ymnotify.admin.access import is_loopback
from ymnotify.cli.handlers import APP_HELP, load_router, settings_from_flags, worker_options
from ymnotify.cli.inbox import created_db_option
from ymnotify.cli.options import log_options, option
from ymnotify.dispatch.metrics import HandlerMetrics
from ymnotify.dispatch.worker import Worker
from ymnotify.errors import ConfigError, StoreError
from ymnotify.store import redacted_url, sqlite_path, store_from_url


@click.command()
@option("--app", required=True, metavar="MODULE:ATTR", help=APP_HELP)
@created_db_option
@worker_options(min_workers=1)
@option(
    "--metrics-port",
    type=click.IntRange(0, 65535),
    default=None,
    help="Serve this worker's handler metrics for Prometheus (GET /metrics) on this port; 0"
    " picks a free one and prints it. Off by default.",
)
@option(
    "--metrics-host",
    default="127.0.0.1",
    show_default=True,
    help="Address for --metrics-port.",
)
@log_options()
def worker(
    app: str,
    db: str,
    metrics_port: int | None,
    metrics_host: str,
    log_format: str,
    log_level: str,
    **flags: Any,
) -> None:
    """Run your handlers on the stored notifications, beside or instead of `serve`'s workers.

    Takes pending notifications in arrival order, runs every matching handler (one entity at a
    time per handler), retries failures with exponential backoff, dead-letters the last failure.
    Start as many as you like on one store. SIGTERM/SIGINT: stop taking work, let running
    handlers finish within --shutdown-grace, give the rest back to other workers.
    """
    logs.configure(log_format, log_level)
    try:
        if db.startswith("memory://"):
            raise ConfigError("--db memory:// lives inside one process; a worker needs the store")
        settings = settings_from_flags(flags)
        router = load_router(app)
        store = store_from_url(db)
        path = sqlite_path(db)
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from exc
    new_file = path if path is not None and not path.exists() else None  # opening will make it

    registry = CollectorRegistry(auto_describe=True)
    observers = [HandlerMetrics(registry)] if metrics_port is not None else []
    say = logs.announcer(log_format)

    async def main() -> None:
        async with store:
            runner = Worker(store, router, settings, observers=observers)
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, stop.set)
            await runner.start()
            say(
                f"ymnotify worker {runner.worker_id} running {len(router.handlers())} handlers"
                f" from {app}, {settings.concurrency} at a time, on {redacted_url(db)}"
            )
            if new_file is not None:  # a mistyped --db would otherwise wait here in silence
                say(
                    f"no store was at {new_file}: this worker created an empty one; `ymnotify"
                    " serve` must use the same --db for its notifications to reach it",
                    "warning",
                )
            exporter = None
            if metrics_port is not None:
                exporter = _serve_metrics(metrics_host, metrics_port, registry, say)
            try:
                await stop.wait()
            finally:
                if exporter is not None:
                    exporter.shutdown()
                await runner.stop()
            say(f"ymnotify worker {runner.worker_id} stopped")

    try:
        asyncio.run(main())
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from exc
    except StoreError as exc:
        raise click.ClickException(str(exc)) from exc


def _serve_metrics(host: str, port: int, registry: CollectorRegistry, say: logs.Announce) -> Any:
    """Start prometheus_client's exporter thread; print where it listens."""
    try:
        exporter, _ = start_http_server(port, host, registry=registry)
    except OSError as exc:
        raise click.ClickException(
            f"cannot listen on {host}:{port} for --metrics-port: {exc}"
        ) from exc
    address = exporter.socket.getsockname()
    bound_host, bound_port = str(address[0]), int(address[1])
    shown = f"[{bound_host}]" if ":" in bound_host else bound_host
    say(f"ymnotify worker metrics on http://{shown}:{bound_port}/metrics")
    if not is_loopback(bound_host):
        say("the metrics endpoint is reachable beyond loopback without a token", "warning")
    return exporter
