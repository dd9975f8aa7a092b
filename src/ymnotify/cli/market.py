"""``ymnotify market``: run the Market sandbox, and drive it through its JSON API."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import click
import httpx
from click.core import ParameterSource

from ymnotify import logs
from ymnotify.cli.options import MARKET_ENV_PREFIX, Duration, log_options, option
from ymnotify.delivery.outcome import Verdict
from ymnotify.errors import ConfigError, StoreError
from ymnotify.market.dev import DEV_BUSINESS_ID, DEV_CAMPAIGN_ID, DEV_USER
from ymnotify.market.rules import BUSINESS_ONLY_TYPES, SUBSCRIBABLE_TYPES
from ymnotify.protocol import samples, wire

DEFAULT_API = "http://127.0.0.1:8090"
DEFAULT_MARKET_DB_URL = "sqlite:///./ymnotify-market.db"
F = Callable[..., Any]


def market_option(*decls: str, **attrs: Any) -> Callable[[F], F]:
    """An option reading ``YMNOTIFY_MARKET_<FLAG>`` from the environment."""
    return option(*decls, env_prefix=MARKET_ENV_PREFIX, **attrs)


def note_values_from_environment(*names: str) -> None:
    """Say on stderr which of the current command's ``names`` (parameter names) came from the
    environment. ``YMNOTIFY_MARKET_<FLAG>`` is shared by every subcommand with that flag: a
    ``YMNOTIFY_MARKET_NAME`` exported for ``business create`` would otherwise rename a setting
    on ``edit`` without a word."""
    context = click.get_current_context()
    for param in context.command.params:
        if param.name not in names or not isinstance(param, click.Option):
            continue
        if context.get_parameter_source(param.name) is click.core.ParameterSource.ENVIRONMENT:
            flag = max(param.opts, key=len)
            value = context.params[param.name]
            shown = ",".join(map(str, value)) if isinstance(value, tuple) else value
            click.echo(f"note: {flag} {shown} is from ${param.envvar}", err=True)


@click.group()
def market() -> None:
    """The Yandex.Market side as a local sandbox: settings, PING, retries, request log.

    \b
    Start it, then drive it:
      ymnotify market serve --dev --clock virtual
      export YMNOTIFY_MARKET_USER=dev
      ymnotify market subscribe --name orders --campaign 1001 --type ORDER_CREATED \\
          --url http://127.0.0.1:8080
      ymnotify market trigger ORDER_CREATED
      ymnotify market clock advance 1d
      ymnotify market log

    Every flag also reads YMNOTIFY_MARKET_<FLAG> from the environment.
    """


# -- serve --------------------------------------------------------------------------------------


@market.command("serve")
@market_option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@market_option(
    "--port",
    default=8090,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port to listen on (0 picks a free one and prints it).",
)
@market_option(
    "--db", default=DEFAULT_MARKET_DB_URL, show_default=True, help="The sandbox's SQLite file."
)
@market_option(
    "--clock",
    "clock_kind",
    default="real",
    show_default=True,
    type=click.Choice(["real", "virtual"]),
    help="virtual: time moves only through POST /api/clock/advance (market clock advance).",
)
@market_option("--allow-http", is_flag=True, help="Allow plain-HTTP URLs (development only).")
@market_option(
    "--ca-bundle",
    type=click.Path(exists=True, dir_okay=False),
    help="Also trust the CAs in this PEM file (e.g. a local test CA).",
)
@market_option(
    "--allow-private-targets",
    is_flag=True,
    help="Allow URLs resolving to loopback, private or link-local addresses (development only).",
)
@market_option(
    "--activation-delay",
    default="120",
    show_default=True,
    type=Duration(),
    help="Seconds before a created or changed setting takes effect.",
)
@market_option(
    "--post-to-url-as-is",
    is_flag=True,
    help="POST to the registered URL itself instead of {url}/notification.",
)
@market_option(
    "--dev",
    is_flag=True,
    help="Sandbox defaults: --allow-http --allow-private-targets --activation-delay 0 (unless"
    " given), and business 1 with store 1001 and user 'dev' (owner).",
)
@log_options(MARKET_ENV_PREFIX)
def serve_command(
    host: str,
    port: int,
    db: str,
    clock_kind: str,
    allow_http: bool,
    ca_bundle: str | None,
    allow_private_targets: bool,
    activation_delay: float,
    post_to_url_as_is: bool,
    dev: bool,
    log_format: str,
    log_level: str,
) -> None:
    """Run the Market sandbox: a JSON API (see /openapi.json) and the delivery engine."""
    # The sandbox itself (aiohttp, Starlette, uvicorn, its store) is imported here, not with the
    # module: every other `ymnotify market ...` command is a short HTTP call to a running sandbox
    # and started ~0.5 s slower with it.
    from ymnotify.delivery.client import ClientOptions, ssl_context
    from ymnotify.market import loop as market_loop
    from ymnotify.market import runtime as market_runtime
    from ymnotify.market.api import create_app
    from ymnotify.market.engine import EngineConfig
    from ymnotify.market.service import MarketOptions
    from ymnotify.market.store import market_db_path
    from ymnotify.receiver import server

    logs.configure(log_format, log_level)
    if dev:
        allow_http = allow_private_targets = True
        source = click.get_current_context().get_parameter_source("activation_delay")
        if source is ParameterSource.DEFAULT:
            activation_delay = 0.0
    try:
        ssl_context(ca_bundle)  # an unreadable bundle is a usage error now, not a failed start
        config = market_runtime.MarketConfig(
            db_path=market_db_path(db),
            virtual_clock=clock_kind == "virtual",
            client=ClientOptions(
                allow_http=allow_http,
                allow_private_targets=allow_private_targets,
                ca_bundle=ca_bundle,
            ),
            market=MarketOptions(
                allow_http=allow_http, activation_delay=timedelta(seconds=activation_delay)
            ),
            engine=EngineConfig(post_to_url_as_is=post_to_url_as_is),
            seed_dev_business=dev,
        )
        runtime = market_runtime.MarketRuntime(config)
        app = create_app(runtime)
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from exc
    try:  # the file's problems (another program's, in use) as one line, not a startup traceback
        asyncio.run(_try_store(config.db_path, virtual_clock=config.virtual_clock))
    except StoreError as exc:
        raise click.ClickException(str(exc)) from exc
    listener = server.Listener(host, port)
    try:
        sock = server.bind(listener)
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc}") from exc
    url = server.bound_url(sock, listener)

    say = logs.announcer(log_format)

    def announce() -> None:
        say(f"ymnotify market sandbox listening on {url} (API under /api)")
        say(f"store: {db}; clock: {clock_kind}")
        if dev:
            say(
                f"dev: business {DEV_BUSINESS_ID}, store"
                f" {DEV_CAMPAIGN_ID}, user '{DEV_USER}' (owner)"
            )
        if allow_http or allow_private_targets:
            say("plain HTTP and/or private targets allowed: for development only.", "warning")

    try:
        market_loop.run(
            server.serve(
                [(server.uvicorn_config(app, listener), sock)],
                announce,
                on_stopping=runtime.stop_sending,
            )
        )
    except RuntimeError as exc:
        raise click.ClickException(str(exc)) from exc


async def _try_store(path: Path, *, virtual_clock: bool) -> None:
    from ymnotify.market.clock import starting_clock
    from ymnotify.market.store import MarketStore

    async with MarketStore(path) as store:
        starting_clock(virtual_clock, await store.saved_clock(), datetime.now(UTC), file=path)


# -- talking to the API -------------------------------------------------------------------------


class Api:
    """A thin client of the sandbox's JSON API for the commands below."""

    def __init__(self, base: str, user: str | None) -> None:
        if user is not None and not user.isascii():
            raise click.BadParameter(
                f"{user!r}: a login is ASCII (it travels in the X-Market-User header)",
                param_hint="--user",
            )
        self.base = base.rstrip("/")
        self.user = user

    def call(self, method: str, path: str, body: Any = None, **params: Any) -> Any:
        headers = {"X-Market-User": self.user} if self.user else {}
        content = None
        if body is not None:
            headers["Content-Type"] = "application/json"
            content = wire.compact(body).encode()
        query = {k: v for k, v in params.items() if v is not None}
        try:
            # Advancing two weeks of virtual time may take a while; wait for it.
            response = httpx.request(
                method,
                self.base + path,
                headers=headers,
                content=content,
                params=query,
                timeout=httpx.Timeout(10.0, read=600.0),
            )
        except httpx.HTTPError as exc:
            raise click.ClickException(
                f"cannot reach the Market sandbox at {self.base}: {exc}"
                " (is `ymnotify market serve` running? see --api)"
            ) from exc
        if response.status_code == 204:
            return None
        try:
            document = wire.loads(response.content)
        except wire.MalformedJson as exc:
            raise click.ClickException(
                f"{method} {path}: HTTP {response.status_code}, not JSON: {response.text[:200]}"
            ) from exc
        if response.status_code >= 400:
            error = document.get("error", {}) if isinstance(document, dict) else {}
            message = error.get("message") or response.text
            if error.get("code") == "user_required":
                # The API names its header; someone at the command line gives a flag.
                message = (
                    "name the acting cabinet user with --user LOGIN or YMNOTIFY_MARKET_USER"
                    " (`market serve --dev` has the owner 'dev')"
                )
            raise click.ClickException(f"{error.get('code', response.status_code)}: {message}")
        return document


def api_options(command: F) -> F:
    """``--api`` and ``--user`` for commands that talk to a running sandbox."""
    command = market_option(
        "--user",
        metavar="LOGIN",
        help="Acting cabinet user (X-Market-User); needed to change settings.",
    )(command)
    return market_option(
        "--api", default=DEFAULT_API, show_default=True, help="Where `market serve` listens."
    )(command)


json_option = market_option("--json", "as_json", is_flag=True, help="Print the API's JSON.")


def _print_json(document: Any) -> None:
    """The API's JSON as it came, indented: numbers stay numbers, exact."""
    click.echo(wire.pretty(document))


def _print_subscription(document: dict[str, Any]) -> None:
    scope = document["scope"]
    where = (
        f"business {scope['businessId']}"
        if "businessId" in scope
        else f"store {scope['campaignId']}"
    )
    line = f"{document['id']:>5}  {document['state']:<19} {where:<18} {document['name']!r}"
    click.echo(f"{line}  → {document['url']}")
    click.echo(f"       types: {', '.join(document['types'])}")
    if document.get("activatesAt"):
        click.echo(f"       takes effect at {document['activatesAt']}")
    if document.get("disableAt"):
        click.echo(
            f"       failing since {document['failingSince']};"
            f" Market disables it at {document['disableAt']}"
        )
    if document.get("disabledByMarketAt"):
        click.echo(
            f"       disabled by Market at {document['disabledByMarketAt']} (enable sends PING)"
        )


# -- cabinets -----------------------------------------------------------------------------------


@market.group("business")
def business_group() -> None:
    """Cabinets (businesses) with their stores and users."""


@business_group.command("create")
@api_options
@click.argument("business_id", type=int)
@market_option("--name", required=True, help="The cabinet's name.")
@market_option(
    "--campaign",
    "campaigns",
    multiple=True,
    callback=lambda _ctx, _param, values: _comma_ints(values),
    metavar="ID",
    help="A store's campaignId (repeatable or comma-separated).",
)
@market_option(
    "--member",
    "members",
    multiple=True,
    metavar="LOGIN:ROLE",
    help="A user and role: owner, manager, content_manager or any other (repeatable).",
)
@json_option
def business_create(
    api: str,
    user: str | None,
    business_id: int,
    name: str,
    campaigns: tuple[int, ...],
    members: tuple[str, ...],
    as_json: bool,
) -> None:
    """Create a cabinet, e.g. `business create 7 --name Shop --campaign 70 --member ann:owner`."""
    note_values_from_environment("name", "campaigns", "members")
    users = []
    for member in members:
        login, _, role = member.partition(":")
        if not login or not role:
            raise click.BadParameter(f"{member!r}: use LOGIN:ROLE", param_hint="--member")
        users.append({"login": login, "role": role})
    body = {"id": business_id, "name": name, "campaignIds": list(campaigns), "users": users}
    document = Api(api, user).call("POST", "/api/businesses", body)
    if as_json:
        _print_json(document)
    else:
        _print_business(document)


def _comma_ints(values: tuple[str, ...]) -> tuple[int, ...]:
    try:
        return tuple(int(p) for v in values for p in v.split(",") if p.strip())
    except ValueError as exc:
        raise click.BadParameter(f"{values!r}: campaignIds are integers") from exc


def _print_business(document: dict[str, Any]) -> None:
    stores = ", ".join(str(c) for c in document["campaignIds"]) or "-"
    people = ", ".join(f"{u['login']} ({u['role']})" for u in document["users"]) or "-"
    click.echo(f"{document['id']:>5}  {document['name']!r}  stores: {stores}  users: {people}")


@business_group.command("list")
@api_options
@json_option
def business_list(api: str, user: str | None, as_json: bool) -> None:
    """List cabinets."""
    document = Api(api, user).call("GET", "/api/businesses")
    if as_json:
        _print_json(document)
        return
    for business in document["businesses"]:
        _print_business(business)


@business_group.command("get")
@api_options
@click.argument("business_id", type=int)
@json_option
def business_get(api: str, user: str | None, business_id: int, as_json: bool) -> None:
    """Show one cabinet."""
    document = Api(api, user).call("GET", f"/api/businesses/{business_id}")
    if as_json:
        _print_json(document)
    else:
        _print_business(document)


# -- settings -----------------------------------------------------------------------------------

types_option = market_option(
    "--type",
    "types",
    multiple=True,
    metavar="TYPE",
    help=f"Notification type (repeatable or comma-separated), e.g. {SUBSCRIBABLE_TYPES[0]}.",
)


@market.command("subscribe")
@api_options
@market_option("--name", required=True, help="Name shown in the list.")
@market_option("--business", "business_id", type=int, help="Cabinet scope: all its stores.")
@market_option("--campaign", "campaign_id", type=int, help="Store scope: this campaignId.")
@types_option
@market_option("--all-types", is_flag=True, help="Every type allowed at this scope.")
@market_option("--url", required=True, help="Your endpoint; Market posts to {url}/notification.")
@json_option
def subscribe(
    api: str,
    user: str | None,
    name: str,
    business_id: int | None,
    campaign_id: int | None,
    types: tuple[str, ...],
    all_types: bool,
    url: str,
    as_json: bool,
) -> None:
    """Create a notification setting (Market PINGs the URL first)."""
    note_values_from_environment("name", "business_id", "campaign_id", "types", "all_types", "url")
    if (business_id is None) == (campaign_id is None):
        raise click.UsageError("give exactly one of --business and --campaign")
    scope = {"businessId": business_id} if business_id is not None else {"campaignId": campaign_id}
    chosen = list(types)
    if all_types and chosen:
        raise click.UsageError("give --type or --all-types, not both")
    if all_types:
        chosen = [
            t for t in SUBSCRIBABLE_TYPES if business_id is not None or t not in BUSINESS_ONLY_TYPES
        ]
    if not chosen:
        raise click.UsageError("give --type (repeatable) or --all-types")
    body = {"name": name, "scope": scope, "types": chosen, "url": url}
    document = Api(api, user).call("POST", "/api/subscriptions", body)
    _show(document, as_json)


def _show(document: dict[str, Any], as_json: bool) -> None:
    if as_json:
        _print_json(document)
    else:
        _print_subscription(document)


@market.command("list")
@api_options
@json_option
def list_command(api: str, user: str | None, as_json: bool) -> None:
    """List settings (only the --user's cabinets when --user is given)."""
    document = Api(api, user).call("GET", "/api/subscriptions")
    if as_json:
        _print_json(document)
        return
    if not document["subscriptions"]:
        click.echo("no notification settings", err=True)
    for subscription in document["subscriptions"]:
        _print_subscription(subscription)


@market.command("get")
@api_options
@click.argument("subscription_id", type=int)
@json_option
def get_command(api: str, user: str | None, subscription_id: int, as_json: bool) -> None:
    """Show one setting with its state and delivery counts."""
    document = Api(api, user).call("GET", f"/api/subscriptions/{subscription_id}")
    _show(document, as_json)
    if not as_json:
        counts = ", ".join(f"{k} {v}" for k, v in document["deliveries"].items())
        click.echo(f"       deliveries: {counts}")


@market.command("edit")
@api_options
@click.argument("subscription_id", type=int)
@market_option("--name", help="New name.")
@types_option
@market_option("--url", help="New URL (Market PINGs it before accepting).")
@json_option
def edit_command(
    api: str,
    user: str | None,
    subscription_id: int,
    name: str | None,
    types: tuple[str, ...],
    url: str | None,
    as_json: bool,
) -> None:
    """Change name, types or URL; deliveries follow after the activation delay."""
    note_values_from_environment("name", "types", "url")
    body: dict[str, Any] = {}
    if name is not None:
        body["name"] = name
    if types:
        body["types"] = list(types)
    if url is not None:
        body["url"] = url
    if not body:
        raise click.UsageError("nothing to change: give --name, --type or --url")
    document = Api(api, user).call("PATCH", f"/api/subscriptions/{subscription_id}", body)
    _show(document, as_json)


def _action(name: str, help_text: str) -> None:
    @market.command(name, help=help_text)
    @api_options
    @click.argument("subscription_id", type=int)
    @json_option
    def command(api: str, user: str | None, subscription_id: int, as_json: bool) -> None:
        path = f"/api/subscriptions/{subscription_id}/{name}"
        _show(Api(api, user).call("POST", path, {}), as_json)


_action("disable", "Unplug a setting (deliveries stop after the activation delay).")
_action("enable", "Plug a setting in again (Market PINGs the URL first).")


@market.command("duplicate")
@api_options
@click.argument("subscription_id", type=int)
@market_option("--campaign", "campaign_id", type=int, required=True, help="Target store.")
@json_option
def duplicate_command(
    api: str, user: str | None, subscription_id: int, campaign_id: int, as_json: bool
) -> None:
    """Copy a setting to another store (PING first)."""
    note_values_from_environment("campaign_id")
    path = f"/api/subscriptions/{subscription_id}/duplicate"
    _show(Api(api, user).call("POST", path, {"campaignId": campaign_id}), as_json)


@market.command("remove")
@api_options
@click.argument("subscription_id", type=int)
def remove_command(api: str, user: str | None, subscription_id: int) -> None:
    """Delete a setting; its pending deliveries are cancelled."""
    Api(api, user).call("DELETE", f"/api/subscriptions/{subscription_id}")
    click.echo(f"removed subscription {subscription_id}", err=True)


# -- events -------------------------------------------------------------------------------------


class FieldAssignment(click.ParamType[str]):
    """``FIELD=VALUE``. From the environment, several are separated by commas, the way every
    repeatable flag reads it, but only at a comma followed by the next ``FIELD=``: a JSON value
    may hold commas of its own (``items=[{"offerId":"X,Y"}]``)."""

    name = "field=value"

    def split_envvar_value(self, rv: str) -> list[str]:
        return [part.strip() for part in _NEXT_ASSIGNMENT.split(rv) if part.strip()]


_NEXT_ASSIGNMENT = re.compile(r",(?=\s*[A-Za-z_][A-Za-z0-9_]*=)")


def _field_value(text: str) -> Any:
    """``--set`` values: JSON when they parse (numbers exact), else the text itself."""
    try:
        return wire.loads(text.encode())
    except wire.MalformedJson:
        return text


@market.command("trigger")
@api_options
@click.argument("notification_type")
@market_option(
    "--set",
    "fields",
    type=FieldAssignment(),
    multiple=True,
    callback=None,  # values may hold commas (JSON): no comma splitting on the command line
    metavar="FIELD=VALUE",
    help="Override a top-level field; VALUE is JSON or else text (repeatable).",
)
@market_option(
    "--campaign-id",
    type=int,
    default=DEV_CAMPAIGN_ID,
    show_default=True,
    help="campaignId of store events (order types).",
)
@market_option(
    "--business-id",
    type=int,
    default=DEV_BUSINESS_ID,
    show_default=True,
    help="businessId of cabinet events (reviews, chats, questions, unknown types).",
)
@json_option
def trigger_command(
    api: str,
    user: str | None,
    notification_type: str,
    fields: tuple[str, ...],
    campaign_id: int,
    business_id: int,
    as_json: bool,
) -> None:
    """Publish a valid sample of NOTIFICATION_TYPE to every matching setting.

    Any type name works: unknown ones get a minimal body with businessId, which is how to
    rehearse a type Market adds later. Event times are Market's current (maybe virtual) time.
    """
    note_values_from_environment("fields", "campaign_id", "business_id")
    overrides: dict[str, Any] = {}
    for item in fields:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"{item!r}: use FIELD=VALUE", param_hint="--set")
        overrides[name] = _field_value(value)
    client = Api(api, user)
    now = datetime.fromisoformat(client.call("GET", "/api/clock")["now"])
    body = samples.sample(
        notification_type, at=now, campaign_id=campaign_id, business_id=business_id, **overrides
    )
    document = client.call("POST", "/api/events", body)
    if as_json:
        _print_json(document)
        return
    for event in document["events"]:
        targets = ", ".join(
            f"delivery {d['id']} → subscription {d['subscriptionId']}" for d in event["deliveries"]
        )
        click.echo(
            f"event {event['eventId']} {event['notificationType']}: {targets or event['note']}"
        )


# -- log and clock ------------------------------------------------------------------------------


@market.command("log")
@api_options
@market_option("--subscription", "subscription_id", type=int, help="Only this setting.")
@market_option("--type", "notification_type", metavar="TYPE", help="Only this notificationType.")
@market_option(
    "--outcome", type=click.Choice([v.value for v in Verdict]), help="Only this verdict."
)
@market_option("--since", metavar="TIME", help="At or after this RFC 3339 time (Market time).")
@market_option("--until", metavar="TIME", help="Before this RFC 3339 time (Market time).")
@market_option("-q", "--text", "text", metavar="TEXT", help="Text in bodies, URL, traceparent.")
@market_option(
    "--before",
    "before_id",
    type=click.IntRange(1),
    metavar="ID",
    help="Only attempts older than log entry ID (the next page; the listing ends with its hint).",
)
@market_option(
    "--limit",
    default=50,
    show_default=True,
    type=click.IntRange(1, 10_000),
    help="At most this many attempts, newest first.",
)
@json_option
def log_command(
    api: str,
    user: str | None,
    subscription_id: int | None,
    notification_type: str | None,
    outcome: str | None,
    since: str | None,
    until: str | None,
    text: str | None,
    before_id: int | None,
    limit: int,
    as_json: bool,
) -> None:
    """Market's request log: every attempt, newest first, with its error type and subtype."""
    document = Api(api, user).call(
        "GET",
        "/api/log",
        subscription=subscription_id,
        type=notification_type,
        outcome=outcome,
        since=since,
        until=until,
        q=text,
        before=before_id,
        limit=limit,
    )
    if as_json:
        _print_json(document)
        return
    if not document["entries"]:
        click.echo("no attempts match", err=True)
        return
    header = f"{'ID':>6} {'AT (MARKET TIME)':<27} {'SUB':>4} {'TYPE':<30} {'STATUS':>6} {'MS':>7}"
    click.echo(f"{header}  RESULT")
    for entry in document["entries"]:
        result = entry["outcome"]
        if entry["errorSubtype"]:
            result += f" {entry['errorType']}/{entry['errorSubtype']}"
        status = "-" if entry["status"] is None else str(entry["status"])
        click.echo(
            f"{entry['id']:>6} {entry['at']:<27} {entry['subscriptionId'] or '-':>4} "
            f"{entry['notificationType']:<30} {status:>6} {entry['latencyMs']:>7.1f}  {result}"
        )
    if document["nextBefore"] is not None:
        click.echo(f"older attempts match too: add --before {document['nextBefore']}", err=True)


@market.group("clock", invoke_without_command=True)
@click.pass_context
def clock_group(ctx: click.Context) -> None:
    """Market's time: `clock show`, and `clock advance 14d` for a virtual clock."""
    if ctx.invoked_subcommand is None:
        # As if `clock show` were typed: its options resolved from the environment too
        # (ctx.invoke would pass only their defaults).
        with clock_show.make_context("show", [], parent=ctx) as show:
            clock_show.invoke(show)


@clock_group.command("show")
@api_options
def clock_show(api: str, user: str | None) -> None:
    """Print Market's current time and whether the clock is virtual."""
    _print_clock(Api(api, user).call("GET", "/api/clock"))


def _print_clock(document: dict[str, Any]) -> None:
    kind = "virtual" if document["virtual"] else "real"
    click.echo(f"{document['now']} ({kind} clock)")


# "-1d" would otherwise be taken for an option "-1": let the duration type explain instead.
@clock_group.command("advance", context_settings={"ignore_unknown_options": True})
@api_options
@click.argument("duration", type=Duration())
def clock_advance(api: str, user: str | None, duration: float) -> None:
    """Move the virtual clock DURATION ahead (e.g. 90s, 1h, 14d); returns when every delivery
    due until then has been attempted."""
    click.echo(f"advancing {timedelta(seconds=duration)} of Market time…", err=True)
    body = {"seconds": Decimal(str(duration))}
    _print_clock(Api(api, user).call("POST", "/api/clock/advance", body))
