"""``ymnotify check URL``."""

from __future__ import annotations

import asyncio
import ipaddress
import json
from urllib.parse import urlsplit

import click

from ymnotify.check.report import as_document, point_line, summary_line
from ymnotify.check.runner import CheckOptions, run_check
from ymnotify.cli.options import option
from ymnotify.errors import ConfigError
from ymnotify.protocol.samples import SAMPLE_ID_BASE


@click.command()
@click.argument("url")
@option("--allow-http", is_flag=True, help="Allow a plain http:// URL (local testing only).")
@option(
    "--ca-bundle",
    type=click.Path(exists=True, dir_okay=False),
    help="Also trust the CAs in this PEM file (e.g. a local test CA).",
)
@option(
    "--types",
    "types",
    multiple=True,
    metavar="TYPE[,TYPE…]",
    help="Only sample these notification types (default: every type).",
)
@option("--post-to-url-as-is", is_flag=True, help="Post to URL itself instead of URL/notification.")
@option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def check(
    url: str,
    allow_http: bool,
    ca_bundle: str | None,
    types: tuple[str, ...],
    post_to_url_as_is: bool,
    as_json: bool,
) -> None:
    """Tell whether Yandex.Market would accept the notification endpoint at URL.

    Sends what Market sends — a PING (1 s limit), a valid sample of every notification type
    (10 s limit each), an exact duplicate, a malformed body and a type Market does not have yet —
    and judges each answer as Market does, naming failures by Market's own error classes.
    Like Market, it posts to URL/notification.

    Exit status: 0 when everything Market requires passes, 1 when something fails or could
    not be checked (e.g. every request refused by the endpoint's source filter), 2 for usage
    errors. Warnings go to standard error, so --json output stays a single document.
    """
    _warn_if_live(url)
    options = CheckOptions(
        url=url,
        allow_http=allow_http,
        ca_bundle=ca_bundle,
        types=types,
        post_to_url_as_is=post_to_url_as_is,
    )
    on_point = (lambda point: None) if as_json else (lambda point: click.echo(point_line(point)))
    try:
        report = asyncio.run(run_check(options, on_point))
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from exc
    if as_json:
        click.echo(json.dumps(as_document(report), ensure_ascii=False, indent=2))
    else:
        click.echo(summary_line(report))
    raise SystemExit(0 if report.ok else 1)


def _warn_if_live(url: str) -> None:
    host = urlsplit(url).hostname or ""
    try:
        local = host == "localhost" or not ipaddress.ip_address(host).is_global
    except ValueError:
        local = False
    click.echo(f"checking {url}", err=True)
    if not local:
        click.secho(
            "WARNING: test notifications will reach a live system. Every sample uses ids from"
            f" {SAMPLE_ID_BASE} up, which no real order, chat or review has.",
            fg="yellow",
            err=True,
        )
