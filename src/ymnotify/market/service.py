"""What the cabinet and Market do when asked: the operations behind the JSON API.

Each operation checks its input against ``rules``, checks the acting user's role, PINGs when
Market would (create, enable, duplicate, URL change) and refuses the change when the PING fails,
then stores the result. No HTTP here: the API turns requests into these calls and the results
into JSON.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from ymnotify.delivery import targets
from ymnotify.delivery.outcome import Verdict
from ymnotify.errors import NotFound
from ymnotify.market import rules
from ymnotify.market.engine import Engine
from ymnotify.market.errors import Forbidden, InvalidRequest, PingFailed, UserRequired
from ymnotify.market.records import (
    Business,
    LogEntry,
    LogFilter,
    NewSubscription,
    Published,
    Subscription,
)
from ymnotify.market.rules import Scope
from ymnotify.market.store import MarketStore
from ymnotify.protocol import parse, wire


@dataclass(frozen=True, slots=True)
class MarketOptions:
    """Market-side behaviour chosen by flags."""

    allow_http: bool = False
    activation_delay: timedelta = rules.DEFAULT_ACTIVATION_DELAY


@dataclass(frozen=True, slots=True)
class ScopeRequest:
    """``{"businessId": N}`` or ``{"campaignId": N}`` as asked, before it is resolved."""

    business_id: int | None = None
    campaign_id: int | None = None


@dataclass(frozen=True, slots=True)
class Edit:
    """Fields of a PATCH; None leaves a field as it is."""

    name: str | None = None
    types: tuple[str, ...] | None = None
    url: str | None = None


class MarketService:
    """The Market side's operations over one store and one delivery engine."""

    def __init__(self, store: MarketStore, engine: Engine, options: MarketOptions) -> None:
        self.store = store
        self.engine = engine
        self.options = options

    def now(self) -> datetime:
        return self.engine.clock.now()

    # -- cabinets ------------------------------------------------------------------------------

    async def create_business(self, business: Business) -> Business:
        await self.store.create_business(business)
        return await self.store.business(business.id)

    async def businesses(self) -> list[Business]:
        return await self.store.businesses()

    async def business(self, business_id: int) -> Business:
        return await self.store.business(business_id)

    # -- settings ------------------------------------------------------------------------------

    async def subscriptions(self, user: str | None) -> list[Subscription]:
        """All settings, or those of the cabinets ``user`` belongs to."""
        if user is None:
            return await self.store.subscriptions()
        mine = [b.id for b in await self.store.businesses() if b.role_of(user) is not None]
        return await self.store.subscriptions(mine)

    async def subscription(self, subscription_id: int, user: str | None) -> Subscription:
        found = await self.store.subscription(subscription_id)
        if user is not None:
            business = await self.store.business(found.scope.business_id)
            if business.role_of(user) is None:
                raise Forbidden(f"{user} is not a user of business {business.id}")
        return found

    async def create(
        self, user: str | None, name: str, scope: ScopeRequest, types: Sequence[Any], url: str
    ) -> Subscription:
        """Create a setting: check it, PING its URL, store it (active after the delay)."""
        resolved = await self._resolve_scope(scope)
        await self._authorize(user, resolved)
        checked_name, checked_types, checked_url = self._check(name, types, url, resolved.kind)
        return await self._create_verified(resolved, checked_name, checked_types, checked_url)

    async def edit(self, user: str | None, subscription_id: int, edit: Edit) -> Subscription:
        """Change name, types or URL; a new URL is PINGed before the change is accepted."""
        current = await self._own(user, subscription_id)
        kind = current.scope.kind
        name = None if edit.name is None else self._check_name(edit.name)
        types = None if edit.types is None else self._check_types(edit.types, kind)
        url = None if edit.url is None else self._check_url(edit.url)
        now = self.now()
        updated = rules.changed(
            current.settings,
            now,
            self.options.activation_delay,
            name=name,
            types=types,
            url=url,
        )
        if rules.needs_ping(current.settings, updated):
            await self._verify(updated.desired.url, subscription_id)
        await self.store.update_settings(subscription_id, updated, now)
        return await self.store.subscription(subscription_id)

    async def disable(self, user: str | None, subscription_id: int) -> Subscription:
        """Unplug: deliveries stop after the activation delay."""
        current = await self._own(user, subscription_id)
        now = self.now()
        updated = rules.changed(current.settings, now, self.options.activation_delay, enabled=False)
        await self.store.update_settings(subscription_id, updated, now)
        return await self.store.subscription(subscription_id)

    async def enable(self, user: str | None, subscription_id: int) -> Subscription:
        """Plug in again: PING first; the 14-day clock starts afresh."""
        current = await self._own(user, subscription_id)
        if current.settings.desired.enabled:
            return current
        await self._verify(current.settings.desired.url, subscription_id)
        now = self.now()
        updated = rules.changed(current.settings, now, self.options.activation_delay, enabled=True)
        await self.store.update_settings(subscription_id, updated, now, reset_failing=True)
        return await self.store.subscription(subscription_id)

    async def duplicate(
        self, user: str | None, subscription_id: int, campaign_id: int
    ) -> Subscription:
        """Copy a setting's name, types and URL to a store (shop scope), PING included."""
        source = await self.subscription(subscription_id, user)
        target = await self._resolve_scope(ScopeRequest(campaign_id=campaign_id))
        await self._authorize(user, target)
        settings = source.settings.desired
        name, types, url = self._check(
            source.settings.name, settings.types, settings.url, target.kind
        )
        return await self._create_verified(target, name, types, url)

    async def remove(self, user: str | None, subscription_id: int) -> None:
        """Delete a setting; its pending deliveries are cancelled."""
        await self._own(user, subscription_id)
        await self.store.remove_subscription(subscription_id, self.now())

    # -- events, log, clock --------------------------------------------------------------------

    async def publish(self, payloads: Sequence[Any]) -> list[Published]:
        """Publish notifications (parsed JSON bodies) to every matching setting in effect."""
        if not payloads:
            raise InvalidRequest("nothing to publish: send a notification body or an array")
        events = []
        for index, payload in enumerate(payloads):
            where = f"[{index}] " if len(payloads) > 1 else ""
            try:
                notification = parse.parse_payload(payload)
            except parse.MalformedNotification as exc:
                raise InvalidRequest(f"{where}not a valid notification: {exc}") from exc
            kind = notification.notification_type
            if kind == "PING":
                raise InvalidRequest(f"{where}PING is sent by Market itself when verifying a URL")
            events.append((kind, wire.compact(payload).encode(), payload))
        published = await self.store.publish(events, self.now())
        self.engine.wake()
        return published

    async def log(self, query: LogFilter) -> list[LogEntry]:
        return await self.store.log(query)

    async def log_page(self, query: LogFilter) -> tuple[list[LogEntry], int | None]:
        """A page of the log, and the id the next (older) page starts before: None on the
        last page. A ``before_id`` that names no entry is NotFound (an empty page would look
        like the end of the log)."""
        entries = await self.store.log(replace(query, limit=query.limit + 1))
        page = entries[: query.limit]
        before = query.before_id
        if before is not None and not page and not await self.store.log_entry_exists(before):
            raise NotFound(f"no log entry {before} to page from")
        return page, page[-1].id if len(entries) > query.limit else None

    async def advance(self, seconds: float) -> datetime:
        return await self.engine.advance(seconds)

    # -- helpers -------------------------------------------------------------------------------

    async def _create_verified(
        self, scope: Scope, name: str, types: tuple[str, ...], url: str
    ) -> Subscription:
        attempt = await self.engine.ping(url)
        if attempt.outcome.verdict is not Verdict.DELIVERED:
            await self.engine.log_ping(None, attempt)
            raise PingFailed(attempt.url, attempt.outcome)
        now = self.now()
        settings = rules.created(name, types, url, now, self.options.activation_delay)
        new_id = await self.store.insert_subscription(NewSubscription(scope, settings, now))
        await self.engine.log_ping(new_id, attempt)
        return await self.store.subscription(new_id)

    async def _verify(self, url: str, subscription_id: int) -> None:
        attempt = await self.engine.ping(url)
        await self.engine.log_ping(subscription_id, attempt)
        if attempt.outcome.verdict is not Verdict.DELIVERED:
            raise PingFailed(attempt.url, attempt.outcome)

    async def _own(self, user: str | None, subscription_id: int) -> Subscription:
        """The setting, if ``user`` may change it."""
        current = await self.store.subscription(subscription_id)
        await self._authorize(user, current.scope)
        return current

    async def _authorize(self, user: str | None, scope: Scope) -> None:
        if user is None:
            raise UserRequired("name the acting cabinet user in the X-Market-User header")
        business = await self.store.business(scope.business_id)
        problem = rules.permission_problem(business.role_of(user), scope.kind)
        if problem:
            raise Forbidden(f"{user} may not change settings of {_scope_text(scope)}: {problem}")

    async def _resolve_scope(self, scope: ScopeRequest) -> Scope:
        if (scope.business_id is None) == (scope.campaign_id is None):
            raise InvalidRequest('scope is {"businessId": N} or {"campaignId": N}')
        if scope.campaign_id is not None:
            business_id = await self.store.business_of_campaign(scope.campaign_id)
            if business_id is None:
                raise InvalidRequest(f"no business has a store with campaignId {scope.campaign_id}")
            return Scope(business_id, scope.campaign_id)
        assert scope.business_id is not None
        try:
            await self.store.business(scope.business_id)
        except NotFound as exc:
            raise InvalidRequest(f"no business {scope.business_id}") from exc
        return Scope(scope.business_id)

    def _check(
        self, name: str, types: Sequence[Any], url: str, kind: rules.ScopeKind
    ) -> tuple[str, tuple[str, ...], str]:
        return self._check_name(name), self._check_types(types, kind), self._check_url(url)

    def _check_name(self, name: str) -> str:
        problem = rules.name_problem(name)
        if problem:
            raise InvalidRequest(problem)
        return str(name).strip()

    def _check_types(self, types: Sequence[Any], kind: rules.ScopeKind) -> tuple[str, ...]:
        problem = rules.types_problem(types, kind)
        if problem:
            raise InvalidRequest(problem)
        return rules.normalized_types(types)

    def _check_url(self, url: str) -> str:
        try:
            targets.check_url(url, allow_http=self.options.allow_http)
        except targets.InvalidTarget as exc:
            raise InvalidRequest(str(exc)) from exc
        return url


def _scope_text(scope: Scope) -> str:
    if scope.campaign_id is None:
        return f"business {scope.business_id}"
    return f"store {scope.campaign_id} (business {scope.business_id})"
