"""The Market sandbox's durable state in its own SQLite file.

Same machinery as the receiver's SQLite store: migrations tracked by ``PRAGMA user_version``,
named SQL blocks, writes through one group-commit writer thread (each operation in its own
savepoint, everyone told only after the batch's durable ``COMMIT``), reads on a separate
connection. One Market process per file: leases left by a previous process are released when
the store opens.

Decisions stay pure (``rules``, ``schedule``); the operations here only apply them inside one
transaction each, so a publish, an attempt's result or a disable by Market is all-or-nothing.
"""

from __future__ import annotations

import fcntl
import json
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any, TypeVar

from ymnotify.clock import parse_utc_text, utc_text
from ymnotify.delivery.client import Attempt
from ymnotify.delivery.outcome import Verdict
from ymnotify.errors import ConfigError, NotFound, StoreUnavailable
from ymnotify.market import rules, schedule
from ymnotify.market.errors import Conflict
from ymnotify.market.records import (
    Business,
    Claimed,
    LogEntry,
    LogFilter,
    Moments,
    NewSubscription,
    Published,
    Subscription,
    Tallies,
    User,
)
from ymnotify.market.rules import Delivering, Scope, Settings
from ymnotify.market.schedule import DeliveryState
from ymnotify.store import queries
from ymnotify.store.migrate import MARKET_FILE
from ymnotify.store.sqlitefile import SqliteFile

T = TypeVar("T")
PACKAGE = "ymnotify.market"
SQL = queries.load("sqlite", PACKAGE)
LOG_BODY_LIMIT = 64 * 1024  # bytes of a response body kept in the log


def market_db_path(url: str) -> Path:
    """``sqlite:///PATH`` → ``PATH``; the Market sandbox runs on SQLite only."""
    if not url.startswith("sqlite:///"):
        raise ConfigError(f"--db {url!r}: the Market sandbox keeps its state in sqlite:///PATH")
    path = url.removeprefix("sqlite:///")
    if not path or path == ":memory:":
        raise ConfigError("--db needs a file path, e.g. sqlite:///./ymnotify-market.db")
    return Path(path)


@dataclass(frozen=True, slots=True)
class PingRecord:
    """A PING to log: who asked for it and what came of it."""

    subscription_id: int | None
    at: datetime
    attempt: Attempt


class MarketStore:
    """Cabinets, settings, deliveries and the request log in one SQLite file."""

    def __init__(self, path: str | Path, *, busy_timeout: float = 5.0) -> None:
        self.file = SqliteFile(
            path,
            migrations=queries.migrations("sqlite", PACKAGE),
            kind=MARKET_FILE,
            label="Market store",
            busy_timeout=busy_timeout,
            # One Market process per file (``_hold_the_file``): leases left by a previous run
            # are given back.
            on_open=lambda connection: connection.execute(SQL["release_leases"]),
        )
        self._held: IO[str] | None = None

    @property
    def path(self) -> Path:
        return self.file.path

    # -- lifecycle -----------------------------------------------------------------------------

    async def open(self) -> None:
        self._hold_the_file()
        try:
            await self.file.open()
        except BaseException:
            self._let_go()
            raise

    async def close(self) -> None:
        try:
            await self.file.close()
        finally:
            self._let_go()

    def _hold_the_file(self) -> None:
        """Take the file for this process alone: opening gives back the leases of the last run,
        which from a second live process would send the first one's deliveries in flight again.
        An advisory lock on a file beside it, released by the kernel if the process dies."""
        lock_path = self.path.with_name(self.path.name + ".lock")
        try:
            lock_path.parent.mkdir(parents=True, exist_ok=True)
            handle = lock_path.open("a")
        except OSError as exc:
            raise StoreUnavailable(f"cannot open Market store {self.path}: {exc}") from exc
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise StoreUnavailable(
                f"another `ymnotify market serve` is using {self.path}: run one per file"
            ) from None
        self._held = handle

    def _let_go(self) -> None:
        held, self._held = self._held, None
        if held is not None:
            held.close()  # closing the descriptor releases the lock

    async def __aenter__(self) -> MarketStore:
        await self.open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def _write(self, operation: Callable[[sqlite3.Connection], T]) -> T:
        return await self.file.write(operation)

    async def _read(self, query: Callable[[sqlite3.Connection], T]) -> T:
        return await self.file.read(query)

    # -- clock ---------------------------------------------------------------------------------

    async def saved_clock(self) -> datetime | None:
        row = await self._read(lambda c: c.execute(SQL["get_clock"]).fetchone())
        return None if row is None else parse_utc_text(row["now"])

    async def save_clock(self, now: datetime) -> None:
        await self._write(lambda c: c.execute(SQL["put_clock"], {"now": utc_text(now)}))

    async def forget_clock(self) -> None:
        """The file is served on the real clock: no virtual time to come back to."""
        await self._write(lambda c: c.execute(SQL["forget_clock"]))

    # -- cabinets ------------------------------------------------------------------------------

    async def create_business(self, business: Business) -> None:
        """Store a cabinet; ``Conflict`` if its id or one of its stores is taken."""

        def insert(c: sqlite3.Connection) -> None:
            if c.execute(SQL["get_business"], {"id": business.id}).fetchone():
                raise Conflict(f"business {business.id} exists already")
            c.execute(
                SQL["insert_business"],
                {
                    "id": business.id,
                    "name": business.name,
                    "created_at": utc_text(business.created_at),
                },
            )
            for campaign_id in business.campaign_ids:
                owner = c.execute(SQL["business_of_campaign"], {"id": campaign_id}).fetchone()
                if owner is not None:
                    raise Conflict(
                        f"campaignId {campaign_id} belongs to business {owner['business_id']}"
                    )
                c.execute(SQL["insert_campaign"], {"id": campaign_id, "business_id": business.id})
            for position, user in enumerate(business.users):
                c.execute(
                    SQL["insert_user"],
                    {
                        "business_id": business.id,
                        "login": user.login,
                        "role": user.role,
                        "position": position,
                    },
                )

        await self._write(insert)

    async def businesses(self) -> list[Business]:
        def fetch(c: sqlite3.Connection) -> list[Business]:
            return [_business(c, row) for row in c.execute(SQL["list_businesses"])]

        return await self._read(fetch)

    async def business(self, business_id: int) -> Business:
        """One cabinet; ``NotFound`` if there is none with this id."""

        def fetch(c: sqlite3.Connection) -> Business | None:
            row = c.execute(SQL["get_business"], {"id": business_id}).fetchone()
            return None if row is None else _business(c, row)

        found = await self._read(fetch)
        if found is None:
            raise NotFound(f"no business {business_id}")
        return found

    async def business_of_campaign(self, campaign_id: int) -> int | None:
        row = await self._read(
            lambda c: c.execute(SQL["business_of_campaign"], {"id": campaign_id}).fetchone()
        )
        return None if row is None else int(row["business_id"])

    # -- settings ------------------------------------------------------------------------------

    async def insert_subscription(self, new: NewSubscription) -> int:
        params = {
            "business_id": new.scope.business_id,
            "campaign_id": new.scope.campaign_id,
            "created_at": utc_text(new.created_at),
            **_settings_params(new.settings),
        }

        def insert(c: sqlite3.Connection) -> int:
            return int(c.execute(SQL["insert_subscription"], params).fetchone()["id"])

        return await self._write(insert)

    async def subscription(self, subscription_id: int) -> Subscription:
        """One setting; ``NotFound`` if it does not exist (or was removed)."""

        def fetch(c: sqlite3.Connection) -> Subscription | None:
            row = c.execute(SQL["get_subscription"], {"id": subscription_id}).fetchone()
            if row is None:
                return None
            counts = c.execute(SQL["delivery_counts_of"], {"id": subscription_id})
            return _subscription(row, {r["state"]: r["n"] for r in counts})

        found = await self._read(fetch)
        if found is None:
            raise NotFound(f"no subscription {subscription_id}")
        return found

    async def subscriptions(self, business_ids: Sequence[int] | None = None) -> list[Subscription]:
        """Every setting, or those of the given cabinets."""

        def fetch(c: sqlite3.Connection) -> list[Subscription]:
            counts: dict[int, dict[str, int]] = {}
            for row in c.execute(SQL["delivery_counts"]):
                counts.setdefault(row["subscription_id"], {})[row["state"]] = row["n"]
            rows = c.execute(SQL["list_subscriptions"]).fetchall()
            wanted = None if business_ids is None else set(business_ids)
            return [
                _subscription(row, counts.get(row["id"], {}))
                for row in rows
                if wanted is None or row["business_id"] in wanted
            ]

        return await self._read(fetch)

    async def update_settings(
        self,
        subscription_id: int,
        settings: Settings,
        at: datetime,
        *,
        reset_failing: bool = False,
    ) -> None:
        """Store edited settings; ``reset_failing`` stops the 14-day clock (on enable)."""
        params = {
            "id": subscription_id,
            "updated_at": utc_text(at),
            "reset_failing": reset_failing,
            **_settings_params(settings),
        }
        await self._write(lambda c: c.execute(SQL["update_settings"], params))

    async def remove_subscription(self, subscription_id: int, at: datetime) -> None:
        """Remove a setting and cancel its pending deliveries."""

        def remove(c: sqlite3.Connection) -> None:
            done = c.execute(
                SQL["remove_subscription"], {"id": subscription_id, "at": utc_text(at)}
            )
            if done.rowcount == 0:
                raise NotFound(f"no subscription {subscription_id}")
            c.execute(
                SQL["cancel_pending_of"],
                {"subscription_id": subscription_id, "reason": "removed", "at": utc_text(at)},
            )

        await self._write(remove)

    # -- publishing ----------------------------------------------------------------------------

    async def publish(
        self, events: Sequence[tuple[str, bytes, Any]], now: datetime
    ) -> list[Published]:
        """Store each ``(type, body, parsed body)`` and a delivery per matching setting in
        effect at ``now``, all in one transaction."""

        def insert(c: sqlite3.Connection) -> list[Published]:
            audiences = _Audiences(c, now)
            return [_publish_one(c, audiences, kind, body, p, now) for kind, body, p in events]

        return await self._write(insert)

    # -- deliveries ----------------------------------------------------------------------------

    async def claim_due(
        self,
        now: datetime,
        *,
        wall: datetime,
        lease_until: datetime,
        owner: str,
        limit: int,
        per_setting: int | None = None,
        in_flight: Mapping[int, int] | None = None,
        shares: Mapping[int, int] | None = None,
        last_turns: Mapping[int, int] | None = None,
    ) -> list[Claimed]:
        """Lease up to ``limit`` deliveries due at ``now`` (Market time), oldest first within
        each setting, and at most ``per_setting`` in flight per setting (``shares``: setting
        id → another bound for that one) counting the caller's ``in_flight`` (setting id →
        deliveries). Settings take turns: the fewest in flight first, then the one whose last
        turn (``last_turns``: setting id → the caller's count of claims when it last got
        places; none: 0) is the longest ago, then the one waiting longest; one endpoint's
        backlog cannot take every place while the others wait."""
        cap = limit if per_setting is None else per_setting
        caps = shares or {}
        busy = in_flight or {}
        turns = last_turns or {}
        times = {"now": utc_text(now), "wall": utc_text(wall)}

        def claim(c: sqlite3.Connection) -> list[Claimed]:
            ids: list[int] = []
            due: list[int] = []
            for row in c.execute(SQL["settings_with_due"], times).fetchall():
                if row["oldest"] is not None and row["oldest"] <= times["now"]:
                    due.append(row["id"])
                else:  # nothing due after all: its next_run_at moves on
                    c.execute(SQL["refresh_next_run"], {"id": row["id"]})

            # The fewest in flight first: when every place is taken and one frees up, it goes
            # to a setting that has none rather than back to a backlog that is merely older.
            # Among equals the one whose turn is longest ago, then the longest waiting (a stable
            # sort of the query's order): a backlog whose attempts all just ended does not go
            # before a setting that has not had a turn yet.
            def order(setting: int) -> tuple[int, int]:
                return busy.get(setting, 0), turns.get(setting, 0)

            for subscription_id in sorted(due, key=order):
                share = caps.get(subscription_id, cap)
                room = min(share - busy.get(subscription_id, 0), limit - len(ids))
                if room <= 0:
                    continue
                params = {**times, "subscription_id": subscription_id, "limit": room}
                ids.extend(row[0] for row in c.execute(SQL["due_of_subscription"], params))
                if len(ids) >= limit:
                    break
            if not ids:
                return []
            batch = json.dumps(ids)
            c.execute(
                SQL["lease"], {"ids": batch, "owner": owner, "expires": utc_text(lease_until)}
            )
            # One query for the whole batch: one per delivery was ~4 % of a delivery's CPU.
            details = c.execute(SQL["claimed_details"], {"ids": batch}).fetchall()
            # The settings in the same transaction: a read per setting was another hop.
            setting_ids = json.dumps(sorted({row["subscription_id"] for row in details}))
            settings = {
                row["id"]: _settings(row)
                for row in c.execute(SQL["subscriptions_by_ids"], {"ids": setting_ids})
            }
            return [_claimed(row, settings.get(row["subscription_id"])) for row in details]

        return await self._write(claim)

    async def next_moments(self, now: datetime) -> Moments:
        """Whether a delivery is due at ``now``, the next one after it and the next 14-day
        deadline, in one read (the engine asks before every claim)."""
        params = {"now": utc_text(now)}

        def fetch(c: sqlite3.Connection) -> Moments:
            after = c.execute(SQL["next_run_after"], params).fetchone()["at"]
            failing = c.execute(SQL["oldest_failing_since"]).fetchone()["at"]
            return Moments(
                due=c.execute(SQL["due_now"], params).fetchone() is not None,
                next_run_at=None if after is None else parse_utc_text(after),
                deadline=None
                if failing is None
                else schedule.disable_deadline(parse_utc_text(failing)),
            )

        return await self._read(fetch)

    async def cancel_delivery(self, delivery_id: int, reason: str, at: datetime) -> None:
        params = {"id": delivery_id, "reason": reason, "at": utc_text(at)}
        await self._write(lambda c: c.execute(SQL["cancel_delivery"], params))

    async def finish_attempt(
        self, claimed: Claimed, attempt: Attempt, at: datetime
    ) -> schedule.Decision:
        """Log the attempt, move the delivery on (schedule) and the subscription's 14-day
        clock, in one transaction; return what became of the delivery."""

        def finish(c: sqlite3.Connection) -> schedule.Decision:
            row = c.execute(SQL["get_subscription"], {"id": claimed.subscription_id}).fetchone()
            first = claimed.first_attempt_at or at
            decision = schedule.after_attempt(attempt.outcome, first, at)
            cancel_reason = None
            if decision.state is DeliveryState.PENDING and (
                row is None or row["disabled_by_market_at"] is not None
            ):
                # Disabled or removed while this attempt was in flight: nothing more is sent.
                cancel_reason = "removed" if row is None else "disabled_by_market"
                decision = schedule.Decision(DeliveryState.CANCELLED, None)
            _insert_log(c, claimed.subscription_id, claimed.delivery_id, claimed.attempts + 1,
                        claimed.notification_type, attempt, at)  # fmt: skip
            c.execute(
                SQL["finish_attempt"],
                {
                    "id": claimed.delivery_id,
                    "at": utc_text(at),
                    "state": decision.state.value,
                    "run_at": _text(decision.run_at),
                    "finished_at": None if decision.run_at else utc_text(at),
                    "cancel_reason": cancel_reason,
                },
            )
            if row is not None and cancel_reason is None:
                current = _time(row["failing_since"])
                updated = schedule.failing_since_after(current, attempt.outcome, at)
                if updated != current:
                    c.execute(
                        SQL["set_failing_since"],
                        {"id": claimed.subscription_id, "failing_since": _text(updated)},
                    )
            return decision

        return await self._write(finish)

    async def disable_failing(self, now: datetime) -> list[int]:
        """Apply the 14-day rule at ``now``: disable each setting whose endpoint has failed for
        14 days and cancel its pending deliveries. Return the ids disabled."""
        cutoff = utc_text(now - schedule.DISABLE_AFTER)

        def disable(c: sqlite3.Connection) -> list[int]:
            disabled = []
            for row in c.execute(SQL["failing_past"], {"cutoff": cutoff}).fetchall():
                failing_since = parse_utc_text(row["failing_since"])
                deadline = schedule.disable_deadline(failing_since)
                settings = _settings(row)
                if not settings.in_effect(deadline).enabled:
                    # Disabled by the seller meanwhile: nothing is being sent, no clock runs.
                    params = {"id": row["id"], "failing_since": None}
                    c.execute(SQL["set_failing_since"], params)
                    continue
                off = rules.disabled_by_market(settings, deadline)
                c.execute(
                    SQL["update_settings"],
                    {
                        "id": row["id"],
                        "updated_at": utc_text(deadline),
                        "reset_failing": True,
                        **_settings_params(off),
                    },
                )
                c.execute(
                    SQL["cancel_pending_of"],
                    {
                        "subscription_id": row["id"],
                        "reason": "disabled_by_market",
                        "at": utc_text(deadline),
                    },
                )
                disabled.append(int(row["id"]))
            return disabled

        return await self._write(disable)

    # -- request log ---------------------------------------------------------------------------

    async def log_ping(self, ping: PingRecord) -> None:
        """Record a verification PING in the request log."""
        await self._write(
            lambda c: _insert_log(c, ping.subscription_id, None, 1, "PING", ping.attempt, ping.at)
        )

    async def tallies(self) -> Tallies:
        """Attempts by outcome and error class, settings disabled by Market, pending deliveries."""

        def count(c: sqlite3.Connection) -> Tallies:
            attempts = {
                (row["outcome"], row["error_type"], bool(row["retry"])): int(row["n"])
                for row in c.execute(SQL["attempt_tallies"])
            }
            return Tallies(
                attempts=attempts,
                disabled_by_market=c.execute(SQL["disabled_by_market_count"]).fetchone()["n"],
                pending_deliveries=c.execute(SQL["pending_delivery_count"]).fetchone()["n"],
            )

        return await self._read(count)

    async def log_entry_exists(self, entry_id: int) -> bool:
        return await self._read(
            lambda c: c.execute(SQL["log_entry_exists"], {"id": entry_id}).fetchone() is not None
        )

    async def log(self, query: LogFilter) -> list[LogEntry]:
        sql, params = _log_sql(query)
        rows = await self._read(lambda c: c.execute(sql, params).fetchall())
        return [_log_entry(row) for row in rows]


# -- helpers, run on the writer or reader thread -----------------------------------------------


# A business's id and its settings as candidates, or why an event goes nowhere.
_Audience = tuple[int, list[rules.Candidate]] | str


class _Audiences:
    """Who may receive an event of a campaign or business, read once per publish transaction.

    A published array usually holds many events of one store; without this, each event read
    the campaign's business, the business and its settings again (and parsed the settings).
    Within one transaction nothing else changes them.
    """

    def __init__(self, c: sqlite3.Connection, now: datetime) -> None:
        self._c = c
        self._now = now
        self._found: dict[tuple[int | None, int | None], _Audience] = {}

    def of(self, campaign_id: int | None, business_id: int | None) -> _Audience:
        """``(business id, its settings as candidates)``, or why the event goes nowhere."""
        key = (campaign_id, business_id)
        if key not in self._found:
            self._found[key] = self._read(campaign_id, business_id)
        return self._found[key]

    def _read(self, campaign_id: int | None, business_id: int | None) -> _Audience:
        c = self._c
        if campaign_id is not None:
            owner = c.execute(SQL["business_of_campaign"], {"id": campaign_id}).fetchone()
            if owner is None:
                return f"no business has campaignId {campaign_id}"
            business_id = int(owner["business_id"])
        if business_id is None:
            return "the body has neither campaignId nor businessId"
        if c.execute(SQL["get_business"], {"id": business_id}).fetchone() is None:
            return f"no business {business_id}"
        candidates = [
            rules.Candidate(row["id"], _scope(row), _settings(row).in_effect(self._now))
            for row in c.execute(SQL["subscriptions_of_business"], {"business_id": business_id})
        ]
        return business_id, candidates


def _publish_one(
    c: sqlite3.Connection,
    audiences: _Audiences,
    kind: str,
    body: bytes,
    payload: Any,
    now: datetime,
) -> Published:
    published_at = utc_text(now)
    event_id = int(
        c.execute(
            SQL["insert_event"],
            {"notification_type": kind, "body": body, "published_at": published_at},
        ).fetchone()["id"]
    )
    campaign_id, business_id = rules.event_keys(payload)
    audience = audiences.of(campaign_id, business_id)
    if isinstance(audience, str):
        return Published(event_id, kind, (), audience)
    business_id, candidates = audience
    chosen = rules.recipients(kind, business_id, campaign_id, candidates)
    deliveries = tuple(
        (
            int(
                c.execute(
                    SQL["insert_delivery"],
                    {"event_id": event_id, "subscription_id": sid, "run_at": published_at},
                ).fetchone()["id"]
            ),
            sid,
        )
        for sid in chosen
    )
    note = None if deliveries else f"no active setting of business {business_id} takes {kind}"
    return Published(event_id, kind, deliveries, note)


def _insert_log(
    c: sqlite3.Connection,
    subscription_id: int | None,
    delivery_id: int | None,
    attempt_number: int,
    notification_type: str,
    attempt: Attempt,
    at: datetime,
) -> None:
    outcome = attempt.outcome
    c.execute(
        SQL["insert_log"],
        {
            "at": utc_text(at),
            "subscription_id": subscription_id,
            "delivery_id": delivery_id,
            "attempt": attempt_number,
            "notification_type": notification_type,
            "url": attempt.url,
            "traceparent": attempt.traceparent,
            "request_body": attempt.request_body,
            "status": attempt.status,
            "response_content_type": attempt.content_type,
            "response_body": attempt.response_body[:LOG_BODY_LIMIT],
            "latency_ms": round(attempt.latency * 1000, 3),
            "outcome": outcome.verdict.value,
            "error_type": None if outcome.failure_type is None else outcome.failure_type.value,
            "error_subtype": None if outcome.subtype is None else outcome.subtype.value,
            "detail": outcome.detail or None,
        },
    )


def _log_sql(query: LogFilter) -> tuple[str, dict[str, Any]]:
    clauses: list[str] = []
    params: dict[str, Any] = {"limit": query.limit}
    if query.subscription_id is not None:
        clauses.append("subscription_id = :subscription_id")
        params["subscription_id"] = query.subscription_id
    if query.notification_type is not None:
        clauses.append("notification_type = :notification_type")
        params["notification_type"] = query.notification_type
    if query.outcome is not None:
        clauses.append("outcome = :outcome")
        params["outcome"] = query.outcome.value
    if query.since is not None:
        clauses.append("at >= :since")
        params["since"] = utc_text(query.since)
    if query.until is not None:
        clauses.append("at < :until")
        params["until"] = utc_text(query.until)
    if query.text:
        clauses.append(
            "(instr(CAST(request_body AS TEXT), :text) > 0"
            " OR instr(CAST(coalesce(response_body, '') AS TEXT), :text) > 0"
            " OR instr(traceparent, :text) > 0 OR instr(url, :text) > 0"
            " OR instr(coalesce(detail, ''), :text) > 0)"
        )
        params["text"] = query.text
    if query.before_id is not None:
        # The listing's order is (at, id), not id: an attempt is logged when it finishes but
        # timed when it went out. An id that names no entry leaves nothing before it.
        clauses.append("(at, id) < (SELECT at, id FROM request_log WHERE id = :before_id)")
        params["before_id"] = query.before_id
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    return f"SELECT * FROM request_log {where} ORDER BY at DESC, id DESC LIMIT :limit", params


def _business(c: sqlite3.Connection, row: sqlite3.Row) -> Business:
    campaigns = tuple(r["id"] for r in c.execute(SQL["campaigns_of"], {"business_id": row["id"]}))
    users = tuple(
        User(r["login"], r["role"]) for r in c.execute(SQL["users_of"], {"business_id": row["id"]})
    )
    return Business(row["id"], row["name"], campaigns, users, parse_utc_text(row["created_at"]))


def _scope(row: sqlite3.Row) -> Scope:
    return Scope(business_id=row["business_id"], campaign_id=row["campaign_id"])


def _settings(row: sqlite3.Row) -> Settings:
    return Settings(
        name=row["name"],
        desired=Delivering(bool(row["enabled"]), tuple(json.loads(row["types"])), row["url"]),
        previous=Delivering(
            bool(row["previous_enabled"]),
            tuple(json.loads(row["previous_types"])),
            row["previous_url"],
        ),
        activates_at=_time(row["activates_at"]),
        disabled_by_market_at=_time(row["disabled_by_market_at"]),
    )


def _settings_params(settings: Settings) -> dict[str, Any]:
    return {
        "name": settings.name,
        "enabled": int(settings.desired.enabled),
        "types": json.dumps(list(settings.desired.types)),
        "url": settings.desired.url,
        "previous_enabled": int(settings.previous.enabled),
        "previous_types": json.dumps(list(settings.previous.types)),
        "previous_url": settings.previous.url,
        "activates_at": _text(settings.activates_at),
        "disabled_by_market_at": _text(settings.disabled_by_market_at),
    }


def _subscription(row: sqlite3.Row, counts: dict[str, int]) -> Subscription:
    return Subscription(
        id=row["id"],
        scope=_scope(row),
        settings=_settings(row),
        failing_since=_time(row["failing_since"]),
        created_at=parse_utc_text(row["created_at"]),
        updated_at=parse_utc_text(row["updated_at"]),
        deliveries={state.value: counts.get(state.value, 0) for state in DeliveryState},
    )


def _claimed(row: sqlite3.Row, settings: Settings | None) -> Claimed:
    return Claimed(
        delivery_id=row["id"],
        subscription_id=row["subscription_id"],
        notification_type=row["notification_type"],
        body=bytes(row["body"]),
        attempts=row["attempts"],
        first_attempt_at=_time(row["first_attempt_at"]),
        run_at=parse_utc_text(row["run_at"]),
        settings=settings,
    )


def _log_entry(row: sqlite3.Row) -> LogEntry:
    return LogEntry(
        id=row["id"],
        at=parse_utc_text(row["at"]),
        subscription_id=row["subscription_id"],
        delivery_id=row["delivery_id"],
        attempt=row["attempt"],
        notification_type=row["notification_type"],
        url=row["url"],
        traceparent=row["traceparent"],
        request_body=bytes(row["request_body"]),
        status=row["status"],
        response_content_type=row["response_content_type"],
        response_body=bytes(row["response_body"] or b""),
        latency_ms=row["latency_ms"],
        outcome=Verdict(row["outcome"]),
        error_type=row["error_type"],
        error_subtype=row["error_subtype"],
        detail=row["detail"],
    )


def _time(text: str | None) -> datetime | None:
    return None if text is None else parse_utc_text(text)


def _text(moment: datetime | None) -> str | None:
    return None if moment is None else utc_text(moment)
