"""``ymnotify serve``: the receiver."""

from __future__ import annotations

import socket
from typing import Any

import click

from ymnotify import __version__, logs
from ymnotify.admin import AdminConfig, ReceiverMetrics, create_admin_app
from ymnotify.admin.access import binding_problem, is_loopback
from ymnotify.cli.handlers import APP_HELP, load_router, settings_from_flags, worker_options
from ymnotify.cli.options import ByteSize, Duration, log_options, option
from ymnotify.dispatch.metrics import HandlerMetrics
from ymnotify.dispatch.router import Router
from ymnotify.dispatch.worker import Worker
from ymnotify.errors import ConfigError
from ymnotify.protocol.responses import integration_name_problem
from ymnotify.receiver import reads_first, server
from ymnotify.receiver.app import DEFAULT_BODY_TIMEOUT, ReceiverApp, ReceiverConfig, Service
from ymnotify.receiver.sources import SourcePolicy
from ymnotify.store import DEFAULT_DB_TIMEOUT, DEFAULT_DB_URL, redacted_url, store_from_url


@click.command()
@option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@option(
    "--port",
    default=8080,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port to listen on (0 picks a free one and prints it).",
)
@option(
    "--db",
    default=DEFAULT_DB_URL,
    show_default=True,
    help="Store: sqlite:///PATH or postgresql://user@host/dbname.",
)
@option("--app", metavar="MODULE:ATTR", help=APP_HELP + " Without it, notifications wait stored.")
@worker_options(min_workers=0)
@option(
    "--name",
    default="ymnotify",
    show_default=True,
    help="Integration name in 200 answers (ASCII, 1–100 chars); Market shows it in its log.",
)
@option(
    "--integration-version",
    default=__version__,
    show_default=True,
    help="Integration version in 200 answers.",
)
@option(
    "--allow-network",
    "allow_networks",
    multiple=True,
    metavar="CIDR",
    help="Also accept notifications from this network (repeatable).",
)
@option(
    "--no-market-ranges",
    is_flag=True,
    help="Do not accept Market's own ranges (then only --allow-network is accepted).",
)
@option(
    "--trust-proxy",
    "trust_proxies",
    multiple=True,
    metavar="CIDR",
    help="Believe X-Forwarded-For from peers in this network (repeatable).",
)
@option(
    "--allow-any-source",
    is_flag=True,
    help="Accept notifications from anywhere. Development only: logs a warning.",
)
@option(
    "--tls-cert",
    type=click.Path(exists=True, dir_okay=False),
    help="Serve HTTPS with this certificate (PEM; chain included).",
)
@option(
    "--tls-key",
    type=click.Path(exists=True, dir_okay=False),
    help="Private key for --tls-cert (PEM).",
)
@option(
    "--max-body",
    default="1MiB",
    show_default=True,
    type=ByteSize(),
    help="Larger request bodies get 413.",
)
@option("--base-path", default="", help="Prefix of the notification routes, e.g. /market.")
@option(
    "--header-timeout",
    default="10s",
    show_default=True,
    type=Duration(),
    help="Close connections whose request headers take longer.",
)
@option(
    "--body-timeout",
    default=f"{DEFAULT_BODY_TIMEOUT:g}s",
    show_default=True,
    type=Duration(),
    help="Answer 408 when a request body takes longer.",
)
@option(
    "--db-timeout",
    default=f"{DEFAULT_DB_TIMEOUT:g}s",
    show_default=True,
    type=Duration(),
    help="How long one store operation may wait for the database before the request gets 500.",
)
@option(
    "--sqlite-synchronous",
    default="full",
    show_default=True,
    type=click.Choice(["full", "normal"]),
    help="SQLite durability. 'normal' is weaker: an OS crash may lose acked notifications.",
)
@option(
    "--admin-host",
    default="127.0.0.1",
    show_default=True,
    help="Address of the admin listener (/ui/, /api/, /metrics). Beyond loopback it needs"
    " --admin-token.",
)
@option(
    "--admin-port",
    default=8081,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port of the admin listener (0 picks a free one and prints it).",
)
@option(
    "--admin-token",
    help="Token for the admin listener: API clients send Authorization: Bearer TOKEN, the"
    " dashboard asks for it once. Set, it is required from every client.",
)
@option(
    "--admin-tls-cert",
    type=click.Path(exists=True, dir_okay=False),
    help="Serve the admin listener over HTTPS with this certificate (PEM; chain included). Beyond"
    " loopback, use it (or a TLS proxy): the token travels with every request.",
)
@option(
    "--admin-tls-key",
    type=click.Path(exists=True, dir_okay=False),
    help="Private key for --admin-tls-cert (PEM).",
)
@option("--no-admin", is_flag=True, help="Do not start the admin listener.")
@log_options()
def serve(
    host: str,
    port: int,
    db: str,
    name: str,
    integration_version: str,
    allow_networks: tuple[str, ...],
    no_market_ranges: bool,
    trust_proxies: tuple[str, ...],
    allow_any_source: bool,
    tls_cert: str | None,
    tls_key: str | None,
    max_body: int,
    base_path: str,
    header_timeout: float,
    body_timeout: float,
    db_timeout: float,
    sqlite_synchronous: str,
    admin_host: str,
    admin_port: int,
    admin_token: str | None,
    admin_tls_cert: str | None,
    admin_tls_key: str | None,
    no_admin: bool,
    log_format: str,
    log_level: str,
    app: str | None,
    **worker_flags: Any,
) -> None:
    """Receive Yandex.Market notifications over HTTP(S), store them durably, run your handlers.

    Answers Market exactly as its protocol requires: 200 with {version, name, time} only after
    the notification is committed, 400 WRONG_EVENT_FORMAT for malformed bodies (kept in
    quarantine), 403 for sources outside the allowed networks, 500 when the store fails.

    With --app, --workers handlers run in this process after the 200, never before it; with
    --workers 0 (or no --app) notifications wait in the store for `ymnotify worker`.
    """
    logs.configure(log_format, log_level)
    try:
        if problem := integration_name_problem(name):
            raise ConfigError(f"--name: {problem}")
        if not 1 <= len(integration_version) <= 100:
            raise ConfigError("--integration-version must be 1–100 characters")
        if bool(tls_cert) != bool(tls_key):
            raise ConfigError("--tls-cert and --tls-key go together")
        if bool(admin_tls_cert) != bool(admin_tls_key):
            raise ConfigError("--admin-tls-cert and --admin-tls-key go together")
        for flag, cert, key in (
            ("--tls-cert/--tls-key", tls_cert, tls_key),
            ("--admin-tls-cert/--admin-tls-key", admin_tls_cert, admin_tls_key),
        ):
            if cert and key and (problem := server.tls_problem(cert, key)):
                raise ConfigError(f"{flag}: {problem}")
        if no_market_ranges and not allow_networks and not allow_any_source:
            raise ConfigError("--no-market-ranges without --allow-network refuses every source")
        sources = SourcePolicy.build(
            allow_networks=allow_networks,
            market_ranges=not no_market_ranges,
            trust_proxies=trust_proxies,
            allow_any=allow_any_source,
        )
        config = ReceiverConfig(
            name=name,
            version=integration_version,
            sources=sources,
            max_body=max_body,
            body_timeout=body_timeout,
            base_path=base_path,
        )
        store = store_from_url(db, sqlite_synchronous=sqlite_synchronous, timeout=db_timeout)
        settings = settings_from_flags(worker_flags)
        router: Router | None = load_router(app) if app else None
    except (ConfigError, ValueError) as exc:
        raise click.UsageError(str(exc)) from exc
    metrics = ReceiverMetrics()
    services: list[Service] = []
    if router is not None and worker_flags["workers"] > 0:
        job_metrics = HandlerMetrics(metrics.registry)
        services.append(Worker(store, router, settings, observers=[job_metrics]))
    listener = server.Listener(host, port, tls_cert, tls_key, header_timeout)
    receiver = ReceiverApp(store, config, services, observers=[metrics])
    try:
        sock = server.bind(listener)
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc}") from exc
    url = server.bound_url(sock, listener)
    servers = [(server.uvicorn_config(receiver, listener), sock)]
    admin_url = None
    admin_in_clear = False
    if not no_admin:
        admin_listener = server.Listener(
            admin_host, admin_port, admin_tls_cert, admin_tls_key, header_timeout
        )
        admin_sock = _bind_admin(admin_listener, admin_token or None)
        admin_url = server.bound_url(admin_sock, admin_listener)
        admin_in_clear = not admin_tls_cert and not is_loopback(admin_sock.getsockname()[0])
        admin_app = create_admin_app(store, metrics, AdminConfig(token=admin_token or None))
        servers.append((server.uvicorn_config(admin_app, admin_listener), admin_sock))

    say = logs.announcer(log_format)

    def announce() -> None:
        base = config.base_path
        say(f"ymnotify receiver listening on {url} (POST {base or '/'} and {base}/notification)")
        if admin_url is not None:
            say(f"ymnotify admin listening on {admin_url} (/ui/, /api/, /metrics)")
            if admin_in_clear:
                say(
                    "the admin listener is reachable beyond loopback over plain HTTP: its token"
                    " travels in clear; add --admin-tls-cert/--admin-tls-key or a TLS proxy",
                    "warning",
                )
        say(f"store: {redacted_url(db)}")
        if services:
            say(
                f"handlers: {len(router.handlers()) if router else 0} from {app},"
                f" {settings.concurrency} at a time"
            )
        elif router is not None:
            say(f"handlers from {app} run in `ymnotify worker` (--workers 0)")
        else:
            say("no --app: notifications are stored for `ymnotify worker --app …`")
        if sources.allow_any:
            say(
                "WARNING: --allow-any-source: anyone can post notifications. Development only.",
                "warning",
            )
        elif sources.admits_loopback:
            say("loopback is allowed as a source: for development only.", "warning")

    try:
        reads_first.run(server.serve(servers, announce))
    except RuntimeError as exc:
        raise click.ClickException(str(exc)) from exc


def _bind_admin(listener: server.Listener, token: str | None) -> socket.socket:
    """Bind the admin socket, refusing an address beyond loopback when no token is set."""
    try:
        sock = server.bind(listener)
    except OSError as exc:
        raise click.ClickException(
            f"cannot listen on {listener.host}:{listener.port} for the admin listener: {exc}"
            " (choose another --admin-port, or --no-admin)"
        ) from exc
    # Judged on the address actually bound, so a name that resolves beyond loopback is caught.
    problem = binding_problem(sock.getsockname()[0], token)
    if problem is not None:
        sock.close()
        raise click.UsageError(problem)
    return sock
