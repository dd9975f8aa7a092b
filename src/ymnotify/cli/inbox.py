"""``ymnotify inbox``: look at what the receiver stored."""

from __future__ import annotations

import asyncio
import base64
import json
import sys
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import click

from ymnotify.cli.options import Duration, F, Moment, option
from ymnotify.dispatch import replay
from ymnotify.errors import ConfigError, StoreError
from ymnotify.protocol import wire
from ymnotify.protocol.entities import ENTITY_KINDS, entity_problem
from ymnotify.protocol.responses import rfc3339
from ymnotify.store import (
    DEFAULT_DB_URL,
    EntityState,
    InboxStats,
    NotificationFilter,
    NotificationStatus,
    Store,
    StoredNotification,
    sqlite_path,
    store_from_url,
)
from ymnotify.store.base import AttemptOutcome, JobRecord, JobStatus, PruneSelection

T = TypeVar("T")


def store_option(help_text: str) -> Callable[[F], F]:
    """``--db``, with the same default as ``serve``; ``help_text`` says what this command does
    with a SQLite file that is not there."""
    return option("--db", default=DEFAULT_DB_URL, show_default=True, help=help_text)


db_option = store_option(
    "Store: sqlite:///PATH (an existing file) or postgresql://user@host/dbname."
)
created_db_option = store_option(
    "Store: sqlite:///PATH (created if missing) or postgresql://user@host/dbname."
)


def run_with_store(db: str, work: Callable[[Store], Awaitable[T]]) -> T:
    """Open the store at ``db``, run ``work`` with it, close it; errors become CLI errors.

    A SQLite file that does not exist (or is empty) is an error here, not a new empty inbox:
    these commands look at what was received, and a mistyped ``--db`` would otherwise create a
    file (and its directories) and report that nothing arrived. Another program's database is
    refused by the store itself (``store.migrate``).
    """
    try:
        path = sqlite_path(db)
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from exc
    if path is not None and (not path.exists() or path.stat().st_size == 0):
        raise click.UsageError(
            f"no store at {path}: nothing was received there (`ymnotify serve --db {db}`"
            " creates it); check --db or YMNOTIFY_DB"
        )

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


def _checked_entity(value: str | None) -> str | None:
    if value is not None and (problem := entity_problem(value)):
        raise click.BadParameter(problem)
    return value


@click.group()
def inbox() -> None:
    """List, show, count and replay stored notifications (quarantined ones included)."""


@inbox.command("list")
@db_option
@option("--type", "notification_type", metavar="TYPE", help="Only this notificationType.")
@option(
    "--status",
    type=click.Choice([s.value for s in NotificationStatus]),
    help="Only notifications in this status.",
)
@option(
    "--entity",
    metavar="KIND:ID",
    callback=lambda _ctx, _param, value: _checked_entity(value),
    help="Only this entity, e.g. order:51234567890 (kinds: " + ", ".join(ENTITY_KINDS) + ").",
)
@option(
    "--limit",
    default=50,
    show_default=True,
    type=click.IntRange(1, 100_000),
    help="At most this many notifications.",
)
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
    """Show one notification: metadata, every handler's attempts with their errors and
    tracebacks, headers, and (last) the body as received."""

    async def load(store: Store) -> tuple[StoredNotification | None, list[JobRecord]]:
        return await store.get_notification(notification_id), await store.jobs_for(notification_id)

    row, jobs = run_with_store(db, load)
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
    _echo_jobs(row, jobs)
    click.echo("headers:")
    for name, value in row.headers:
        click.echo(f"  {name}: {value}")
    if _is_utf8(row.body):
        click.echo("body:")
        click.echo(row.body.decode("utf-8"))
    else:
        click.echo("body (not UTF-8, base64):")
        click.echo(base64.b64encode(row.body).decode("ascii"))


def _echo_jobs(row: StoredNotification, jobs: list[JobRecord]) -> None:
    if row.status is NotificationStatus.QUARANTINED:
        return
    if not jobs:
        planned = row.status is not NotificationStatus.PENDING
        click.echo(
            "handlers: " + ("none matched" if planned else "not planned yet (no worker ran)")
        )
        return
    click.echo("handlers:")
    for job in jobs:
        state = job.status.value
        if job.status is JobStatus.QUEUED and job.error:
            state = f"retry at {rfc3339(job.run_at)}"
        elif job.locked_by:
            state = f"running on {job.locked_by} (lease until {_time(job.locked_until)})"
        click.echo(f"  {job.handler}: {state}, {job.attempts} attempt(s)")
        shown_traceback: str | None = None
        for attempt in job.history:
            outcome = attempt.outcome.value if attempt.outcome else "running"
            took = ""
            if attempt.finished_at is not None:
                took = f" in {(attempt.finished_at - attempt.started_at).total_seconds():.3f}s"
            click.echo(
                f"    #{attempt.attempt} {rfc3339(attempt.started_at)} on {attempt.worker}:"
                f" {outcome}{took}" + (f": {attempt.error}" if attempt.error else "")
            )
            if attempt.outcome is AttemptOutcome.FAILED and attempt.traceback:
                if attempt.traceback == shown_traceback:
                    click.echo("      (same traceback as above)")
                else:
                    for line in attempt.traceback.rstrip().splitlines():
                        click.echo(f"      {line}")
                    shown_traceback = attempt.traceback


def _time(moment: datetime | None) -> str:
    return rfc3339(moment) if moment else "-"


@inbox.command("state")
@db_option
@click.argument(
    "entity", metavar="KIND:ID", callback=lambda _ctx, _param, value: _checked_entity(value)
)
@option("--json", "as_json", is_flag=True, help="JSON Lines, one state slot per line.")
def state_command(db: str, entity: str, as_json: bool) -> None:
    """The latest known state of an entity, e.g. order:51234567890 (later event time wins).

    One line per slot: the order's status/substatus, each return's refund and shipment status,
    the shipment/delivery date updates, each line service; a chat's arbitrage.
    """
    states = run_with_store(db, lambda store: store.entity_states(entity))
    if as_json:
        for state in states:
            click.echo(json.dumps(state_document(state), ensure_ascii=False))
        return
    if not states:
        click.echo(f"no state known for {entity}", err=True)
        return
    click.echo(f"{'SLOT':<32}  {'EVENT TIME (UTC)':<27}  {'FROM':>7}  VALUE")
    for state in states:
        value = ", ".join(f"{key}={_plain(item)}" for key, item in state.value.items())
        when = rfc3339(state.event_time)
        click.echo(f"{state.slot:<32}  {when:<27}  {state.notification_id:>7}  {value}")


def state_document(state: EntityState) -> dict[str, object]:
    return {
        "entity": state.entity,
        "slot": state.slot,
        "value": state.value,
        "eventTime": rfc3339(state.event_time),
        "notificationId": state.notification_id,
    }


def _plain(value: object) -> str:
    return "-" if value is None else value if isinstance(value, str) else json.dumps(value)


REPLAY_STATUSES = ("dead", "unhandled", "done", "quarantined")
QUIET_LIMIT = 20  # more items than this: a progress bar instead of a line each


@inbox.command("replay")
@db_option
@click.argument("ids", nargs=-1, type=int, metavar="[ID]...")
@option(
    "--status",
    type=click.Choice(REPLAY_STATUSES),
    help="Only notifications in this status. dead: re-run only the dead handlers.",
)
@option("--quarantined", is_flag=True, help="Same as --status quarantined: parse them again.")
@option("--type", "notification_type", metavar="TYPE", help="Only this notificationType.")
@option("--since", type=Moment(), help="Received at or after (RFC 3339, date, or e.g. 24h ago).")
@option("--until", type=Moment(), help="Received before (same forms as --since).")
def replay_command(
    db: str,
    ids: tuple[int, ...],
    status: str | None,
    quarantined: bool,
    notification_type: str | None,
    since: datetime | None,
    until: datetime | None,
) -> None:
    """Run handlers again on stored notifications.

    \b
    ymnotify inbox replay 17 18          every handler of 17 and 18 again
    ymnotify inbox replay --status dead  only the handlers that died, with fresh attempts
    ymnotify inbox replay --quarantined  parse quarantined bodies again with today's models:
                                         valid now -> pending; still malformed -> stays
    ymnotify inbox replay --type ORDER_CREATED --since 24h

    Workers (serve --app or ymnotify worker) pick replayed work up; notifications still in
    progress are skipped.
    """
    if quarantined:
        if status not in (None, "quarantined"):
            raise click.UsageError("--quarantined and --status name two different statuses")
        status = "quarantined"
    selection = replay.ReplaySelection(
        ids=ids,
        status=NotificationStatus(status) if status else None,
        notification_type=notification_type,
        since=since,
        until=until,
    )
    if selection.is_empty:
        raise click.UsageError(
            "name the notifications: IDs, --status, --quarantined, --type or --since/--until"
        )
    dead_only = selection.status is NotificationStatus.DEAD

    async def work(store: Store) -> list[replay.ReplayItem]:
        chosen = await replay.select(store, selection)
        missing = sorted(set(ids) - set(chosen)) if ids and selection.status is None else []
        items = [replay.ReplayItem(i, replay.ReplayAction.NOT_FOUND) for i in missing]
        if len(chosen) <= QUIET_LIMIT:
            for notification_id in chosen:
                items.append(await _replay(store, notification_id, dead_only))
            return items
        with click.progressbar(
            chosen, label="replaying", file=sys.stderr, show_pos=True
        ) as progress:
            for notification_id in progress:
                items.append(await _replay(store, notification_id, dead_only))
        return items

    items = run_with_store(db, work)
    if not items:
        click.echo("nothing matches", err=True)
        return
    if len(items) <= QUIET_LIMIT:
        for item in items:
            detail = f" ({item.detail})" if item.detail else ""
            click.echo(f"{item.notification_id:>7}  {item.action.value}{detail}")
    counts = Counter(item.action.value for item in items)
    click.echo("replayed: " + ", ".join(f"{n} {action}" for action, n in sorted(counts.items())))
    if any(item.action is replay.ReplayAction.NOT_FOUND for item in items):
        raise click.ClickException("some ids do not exist")


async def _replay(store: Store, notification_id: int, dead_only: bool) -> replay.ReplayItem:
    return await replay.replay_one(
        store, notification_id, dead_jobs_only=dead_only, now=datetime.now(UTC)
    )


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


MARKET_RETRY_DAYS = 14  # Market resends an unacknowledged notification for up to this long


@inbox.command("prune")
@db_option
@option(
    "--older-than",
    required=True,
    type=Duration(),
    help="Delete notifications received (and last received again) longer ago than this: 30d.",
)
@option("--include-dead", is_flag=True, help="Delete dead ones too (kept for a replay otherwise).")
@option(
    "--include-quarantined",
    is_flag=True,
    help="Delete quarantined (malformed) ones too (kept for a replay otherwise).",
)
@option("--dry-run", is_flag=True, help="Only count what would be deleted.")
@option(
    "--batch-size",
    default=1000,
    show_default=True,
    type=click.IntRange(1, 100_000),
    help="Notifications deleted per transaction: small batches keep locks short.",
)
def prune_command(
    db: str,
    older_than: float,
    include_dead: bool,
    include_quarantined: bool,
    dry_run: bool,
    batch_size: int,
) -> None:
    """Delete old notifications whose handling is finished, with their jobs and attempts.

    \b
    ymnotify inbox prune --older-than 30d             done and unhandled, 30 days and older
    ymnotify inbox prune --older-than 90d --include-dead --include-quarantined
    ymnotify inbox prune --older-than 30d --dry-run   count only

    Pending and retrying notifications are never deleted; nor is the newest one (it keeps ids
    from being reused). Entity state (`inbox state`) is kept. Safe beside running receivers
    and workers: each batch is one short transaction.
    """
    cutoff = datetime.now(UTC) - timedelta(seconds=older_than)
    statuses = {NotificationStatus.DONE, NotificationStatus.UNHANDLED}
    if include_dead:
        statuses.add(NotificationStatus.DEAD)
    if include_quarantined:
        statuses.add(NotificationStatus.QUARANTINED)
    selection = PruneSelection(cutoff, frozenset(statuses))
    if older_than < MARKET_RETRY_DAYS * 86400:
        click.echo(
            f"warning: Market may resend a notification for up to {MARKET_RETRY_DAYS} days; one"
            " resent after it was pruned is stored and handled again",
            err=True,
        )

    async def work(store: Store) -> Counter[NotificationStatus]:
        total = Counter(await store.count_prunable(selection))
        if dry_run or not total:
            return total
        deleted: Counter[NotificationStatus] = Counter()
        with click.progressbar(
            length=sum(total.values()), label="pruning", file=sys.stderr, show_pos=True
        ) as progress:
            # Bounded: every round deletes a full batch or ends; rows only leave the selection.
            while True:
                batch = await store.prune(selection, batch_size)
                deleted.update(batch)
                progress.update(sum(batch.values()))
                if sum(batch.values()) < batch_size:
                    return deleted

    counts = run_with_store(db, work)
    when = rfc3339(cutoff)
    detail = ", ".join(f"{status.value} {n}" for status, n in sorted(counts.items()))
    n = sum(counts.values())
    if dry_run:
        click.echo(f"would prune {n} notifications received before {when}" + _paren(detail))
    else:
        click.echo(f"pruned {n} notifications received before {when}" + _paren(detail))


def _paren(detail: str) -> str:
    return f" ({detail})" if detail else ""
