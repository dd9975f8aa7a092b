"""``ymnotify inbox``: look at what the receiver stored."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Awaitable, Callable
from typing import TypeVar

import click

from ymnotify.cli.options import option
from ymnotify.errors import ConfigError, StoreError
from ymnotify.protocol import wire
from ymnotify.protocol.responses import rfc3339
from ymnotify.store import (
    DEFAULT_DB_URL,
    InboxStats,
    NotificationFilter,
    NotificationStatus,
    Store,
    StoredNotification,
    store_from_url,
)

T = TypeVar("T")

db_option = option(
    "--db",
    default=DEFAULT_DB_URL,
    show_default=True,
    help="Store: sqlite:///PATH or postgresql://user@host/dbname (as for serve).",
)


def run_with_store(db: str, work: Callable[[Store], Awaitable[T]]) -> T:
    """Open the store at ``db``, run ``work`` with it, close it; errors become CLI errors."""

    async def main() -> T:
        store = store_from_url(db)
        async with store:
            return await work(store)

    try:
        return asyncio.run(main())
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from exc
    except StoreError as exc:
        raise click.ClickException(str(exc)) from exc


@click.group()
def inbox() -> None:
    """List, show and count stored notifications (quarantined ones included)."""


@inbox.command("list")
@db_option
@option("--type", "notification_type", metavar="TYPE", help="Only this notificationType.")
@option(
    "--status",
    type=click.Choice([s.value for s in NotificationStatus]),
    help="Only notifications in this status.",
)
@option("--entity", metavar="KIND:ID", help="Only this entity, e.g. order:51234567890.")
@option("--limit", default=50, show_default=True, type=click.IntRange(1, 100_000))
@option("--before-id", type=int, help="Page: only ids below this one.")
@option("--json", "as_json", is_flag=True, help="JSON Lines, one notification per line.")
def list_command(
    db: str,
    notification_type: str | None,
    status: str | None,
    entity: str | None,
    limit: int,
    before_id: int | None,
    as_json: bool,
) -> None:
    """List notifications, newest first."""
    query = NotificationFilter(
        notification_type=notification_type,
        status=NotificationStatus(status) if status else None,
        entity=entity,
        limit=limit,
        before_id=before_id,
    )
    rows = run_with_store(db, lambda store: store.list_notifications(query))
    if as_json:
        for row in rows:
            click.echo(json_line(row))
        return
    if not rows:
        click.echo("no notifications match", err=True)
        return
    header = f"{'ID':>7}  {'RECEIVED (UTC)':<26}  {'TYPE':<34}  {'STATUS':<11}  DUP  STALE  ENTITY"
    click.echo(header)
    for row in rows:
        click.echo(
            f"{row.id:>7}  {rfc3339(row.received_at):<26}  {row.notification_type or '-':<34}  "
            f"{row.status.value:<11}  {row.duplicates:>3}  {'yes' if row.stale else '':<5}  "
            f"{row.entity or row.error or ''}"
        )


def json_line(row: StoredNotification) -> str:
    """One JSON Lines record; ``payload`` is the body exactly as received, parsed.

    A body that is not JSON has ``payload`` null and ``rawBody`` (its text), plus
    ``rawBodyBase64`` when it is not even UTF-8.
    """
    meta = {
        "id": row.id,
        "notificationType": row.notification_type,
        "receivedAt": rfc3339(row.received_at),
        "status": row.status.value,
        "duplicates": row.duplicates,
        "stale": row.stale,
        "entity": row.entity,
        "source": row.source,
        "error": row.error,
    }
    try:
        payload = wire.compact(wire.loads(row.body))
    except wire.MalformedJson:
        meta["rawBody"] = row.body.decode("utf-8", errors="replace")
        if not _is_utf8(row.body):
            # rawBody had to replace bytes; base64 keeps the body exactly, for a fix and replay.
            meta["rawBodyBase64"] = base64.b64encode(row.body).decode("ascii")
        payload = "null"
    return json.dumps(meta, ensure_ascii=False)[:-1] + f',"payload":{payload}}}'


def _is_utf8(body: bytes) -> bool:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


@inbox.command("show")
@db_option
@click.argument("notification_id", type=int)
def show_command(db: str, notification_id: int) -> None:
    """Show one notification: metadata, headers and the body as received."""
    row = run_with_store(db, lambda store: store.get_notification(notification_id))
    if row is None:
        raise click.ClickException(f"no notification with id {notification_id}")
    fields = [
        ("id", str(row.id)),
        ("type", row.notification_type or "-"),
        ("status", row.status.value),
        ("entity", row.entity or "-"),
        ("event time", rfc3339(row.event_time) if row.event_time else "-"),
        ("stale", "yes" if row.stale else "no"),
        ("received", rfc3339(row.received_at)),
        ("last received", rfc3339(row.last_received_at)),
        ("duplicates", str(row.duplicates)),
        ("source", row.source),
        ("dedup key", row.dedup_key),
    ]
    if row.error:
        fields.append(("quarantined because", row.error))
    for label, value in fields:
        click.echo(f"{label + ':':<21}{value}")
    click.echo("headers:")
    for name, value in row.headers:
        click.echo(f"  {name}: {value}")
    if _is_utf8(row.body):
        click.echo("body:")
        click.echo(row.body.decode("utf-8"))
    else:
        click.echo("body (not UTF-8, base64):")
        click.echo(base64.b64encode(row.body).decode("ascii"))


@inbox.command("stats")
@db_option
@option("--json", "as_json", is_flag=True, help="One JSON object.")
def stats_command(db: str, as_json: bool) -> None:
    """Totals by status and type, duplicates, stale, and the last PING."""
    stats = run_with_store(db, lambda store: store.stats())
    if as_json:
        click.echo(json.dumps(stats_document(stats), ensure_ascii=False))
        return
    click.echo(
        f"notifications: {stats.total}  duplicates received: {stats.duplicates}"
        f"  stale: {stats.stale}"
    )
    click.echo("by status: " + _counts(stats.by_status))
    click.echo("by type:   " + _counts(stats.by_type))
    if stats.last_ping is None:
        click.echo("last PING: never")
    else:
        ping = stats.last_ping
        click.echo(
            f"last PING: {rfc3339(ping.received_at)} from {ping.source} ({ping.count} in all)"
        )
    if stats.last_received_at is not None:
        click.echo(f"last notification: {rfc3339(stats.last_received_at)}")


def stats_document(stats: InboxStats) -> dict[str, object]:
    ping = stats.last_ping
    return {
        "total": stats.total,
        "byStatus": stats.by_status,
        "byType": stats.by_type,
        "duplicates": stats.duplicates,
        "stale": stats.stale,
        "lastPing": None
        if ping is None
        else {"receivedAt": rfc3339(ping.received_at), "source": ping.source, "count": ping.count},
        "lastReceivedAt": rfc3339(stats.last_received_at) if stats.last_received_at else None,
    }


def _counts(counts: dict[str, int]) -> str:
    if not counts:
        return "-"
    return ", ".join(f"{name or '(none)'} {n}" for name, n in sorted(counts.items()))
