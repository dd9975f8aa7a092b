"""The rules Market applies to notification settings. Pure: no I/O, no clock of its own.

- Roles: ``owner``, ``manager``, ``content_manager``; any other role name is an ordinary role.
- Who may change what: business scope (all stores of the cabinet) needs the owner or a manager;
  shop scope (one store) any role but content manager.
- Which types exist at which scope: review, chat, dispute and question types only at business
  scope (their payloads carry ``businessId``, not ``campaignId``). Types this version does not
  know are allowed at both scopes, so a sandbox can rehearse a type Market adds later.
- Overlap: when a type is enabled for a store and for its cabinet, only the store's URL gets it.
- Activation delay: a change shows at once, but deliveries follow it only after the delay; until
  then the settings that were in effect still apply.
- States: ``active``, ``pending_activation``, ``disabled``, ``disabled_by_market``.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from ymnotify.protocol.enums import NotificationType

DEFAULT_ACTIVATION_DELAY = timedelta(seconds=120)
NAME_MAX_LENGTH = 200

OWNER = "owner"
MANAGER = "manager"
CONTENT_MANAGER = "content_manager"

BUSINESS_ONLY_TYPES: frozenset[str] = frozenset(
    {
        NotificationType.GOODS_FEEDBACK_CREATED,
        NotificationType.GOODS_FEEDBACK_COMMENT_CREATED,
        NotificationType.CHAT_CREATED,
        NotificationType.CHAT_MESSAGE_SENT,
        NotificationType.CHAT_ARBITRAGE_STARTED,
        NotificationType.CHAT_ARBITRAGE_FINISHED,
        NotificationType.QUESTION_CREATED,
        NotificationType.QUESTION_ANSWER_CREATED,
        NotificationType.QUESTION_COMMENT_CREATED,
    }
)
SUBSCRIBABLE_TYPES: tuple[str, ...] = tuple(t.value for t in NotificationType if t.value != "PING")
_TYPE_NAME = re.compile(r"^[A-Z][A-Z0-9_]{0,99}$")
_ROLE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,49}$")
_LOGIN = re.compile(r"[!-~]+\Z")


class ScopeKind(enum.StrEnum):
    """Cabinet-wide or one store (Market's docs: "office" and "shop")."""

    BUSINESS = "business"
    SHOP = "shop"


@dataclass(frozen=True, slots=True)
class Scope:
    """``{"businessId": N}`` or ``{"campaignId": N}``; ``business_id`` is always known."""

    business_id: int
    campaign_id: int | None = None

    @property
    def kind(self) -> ScopeKind:
        return ScopeKind.BUSINESS if self.campaign_id is None else ScopeKind.SHOP

    def document(self) -> dict[str, int]:
        if self.campaign_id is None:
            return {"businessId": self.business_id}
        return {"campaignId": self.campaign_id}


class State(enum.StrEnum):
    """A subscription's state as the API shows it."""

    ACTIVE = "active"
    PENDING_ACTIVATION = "pending_activation"
    DISABLED = "disabled"
    DISABLED_BY_MARKET = "disabled_by_market"


# -- roles and types ----------------------------------------------------------------------------


def role_problem(role: str) -> str | None:
    """Why ``role`` is not a usable role name, or None."""
    if not _ROLE_NAME.match(role):
        return f"role {role!r} must be lower case letters, digits and '_' (e.g. {MANAGER})"
    return None


def login_problem(login: str) -> str | None:
    """Why ``login`` cannot name a cabinet user, or None: it travels in the ``X-Market-User``
    header, which carries ASCII only."""
    if not _LOGIN.match(login):
        return f"login {login!r} must be printable ASCII without spaces (e.g. ann.smith)"
    return None


def permission_problem(role: str | None, kind: ScopeKind) -> str | None:
    """Why a user with ``role`` (None: not a user of the cabinet) may not configure ``kind``."""
    if role is None:
        return "the user is not a user of this cabinet"
    if kind is ScopeKind.BUSINESS and role not in (OWNER, MANAGER):
        return f"business-scope settings need the {OWNER} or a {MANAGER}; the user is {role}"
    if kind is ScopeKind.SHOP and role == CONTENT_MANAGER:
        return f"a {CONTENT_MANAGER} may not configure notifications"
    return None


def normalized_types(types: Iterable[Any]) -> tuple[str, ...]:
    """The types in the order given, without repeats (validation is ``types_problem``)."""
    seen: dict[str, None] = {}
    for kind in types:
        seen.setdefault(str(kind), None)
    return tuple(seen)


def types_problem(types: Sequence[Any], kind: ScopeKind) -> str | None:
    """Why ``types`` cannot be subscribed at scope ``kind``, or None."""
    if not types:
        return "choose at least one notification type"
    for name in types:
        if not isinstance(name, str) or not _TYPE_NAME.match(name):
            return f"{name!r} is not a notification type name (e.g. ORDER_CREATED)"
        if name == NotificationType.PING:
            return "PING cannot be subscribed: Market sends it itself when verifying the URL"
    if kind is ScopeKind.SHOP:
        business_only = sorted(set(types) & BUSINESS_ONLY_TYPES)
        if business_only:
            return (
                f"{', '.join(business_only)} exist only for the whole cabinet (business scope),"
                " not for one store"
            )
    return None


def name_problem(name: Any) -> str | None:
    """Why ``name`` cannot name a subscription (it only helps find it in the list), or None."""
    if not isinstance(name, str) or not name.strip():
        return "name must be a non-empty string"
    if len(name) > NAME_MAX_LENGTH:
        return f"name must be at most {NAME_MAX_LENGTH} characters"
    return None


# -- settings over time -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Delivering:
    """The part of the settings deliveries follow."""

    enabled: bool
    types: tuple[str, ...]
    url: str


@dataclass(frozen=True, slots=True)
class Settings:
    """What a subscription says now and what deliveries follow until ``activates_at``."""

    name: str
    desired: Delivering  # as the user last set it, shown at once
    previous: Delivering  # in effect until ``activates_at``
    activates_at: datetime | None = None
    disabled_by_market_at: datetime | None = None

    def in_effect(self, now: datetime) -> Delivering:
        """The settings deliveries follow at ``now``."""
        if self.activates_at is None or self.activates_at <= now:
            return self.desired
        return self.previous

    def state(self, now: datetime) -> State:
        if not self.desired.enabled:
            if self.disabled_by_market_at is not None:
                return State.DISABLED_BY_MARKET
            return State.DISABLED
        if self.activates_at is not None and self.activates_at > now:
            return State.PENDING_ACTIVATION
        return State.ACTIVE

    def pending_since(self, now: datetime) -> datetime | None:
        """``activates_at`` while it is still ahead, else None."""
        return self.activates_at if self.activates_at and self.activates_at > now else None


def created(
    name: str, types: tuple[str, ...], url: str, now: datetime, delay: timedelta
) -> Settings:
    """A new subscription: shown at once, delivering after ``delay``."""
    off = Delivering(enabled=False, types=types, url=url)
    return Settings(name, Delivering(True, types, url), off, now + delay)


def changed(
    settings: Settings,
    now: datetime,
    delay: timedelta,
    *,
    name: str | None = None,
    types: tuple[str, ...] | None = None,
    url: str | None = None,
    enabled: bool | None = None,
) -> Settings:
    """Apply an edit, disable or enable made at ``now``.

    The settings in effect at ``now`` keep applying for ``delay``; a change of name alone takes
    effect at once (deliveries do not depend on it), and leaves a change still pending (and its
    time) as it was, as does repeating what is already desired. Enabling clears a disable by
    Market.
    """
    current = settings.in_effect(now)
    if types is not None and set(types) == set(settings.desired.types):
        types = settings.desired.types  # the same types listed in another order: no change
    desired = Delivering(
        enabled=settings.desired.enabled if enabled is None else enabled,
        types=settings.desired.types if types is None else types,
        url=settings.desired.url if url is None else url,
    )
    new_name = settings.name if name is None else name
    if desired == settings.desired and settings.pending_since(now) is not None:
        return replace(settings, name=new_name)
    by_market = None if desired.enabled else settings.disabled_by_market_at
    activates_at = None if desired == current else now + delay
    return Settings(
        name=new_name,
        desired=desired,
        previous=current,
        activates_at=activates_at,
        disabled_by_market_at=by_market,
    )


def disabled_by_market(settings: Settings, at: datetime) -> Settings:
    """Market's own disable (the 14-day rule): immediate, no activation delay."""
    off = replace(settings.desired, enabled=False)
    return Settings(settings.name, off, off, None, at)


def needs_ping(before: Settings | None, after: Settings) -> bool:
    """Market PINGs the URL when a setting is created, enabled, or its URL changes."""
    if before is None:
        return True
    if after.desired.enabled and not before.desired.enabled:
        return True
    return after.desired.url != before.desired.url


# -- who gets an event --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Candidate:
    """A subscription as matching sees it: where it listens and what it follows now."""

    subscription_id: int
    scope: Scope
    delivering: Delivering


def recipients(
    notification_type: str,
    business_id: int,
    campaign_id: int | None,
    candidates: Iterable[Candidate],
) -> list[int]:
    """Ids of the subscriptions an event goes to.

    An event of a store (it carries ``campaignId``) goes to that store's settings that follow its
    type; only when there are none, to the cabinet's. A cabinet event (``businessId`` only) goes
    to the cabinet's settings.
    """
    listening = [
        c
        for c in candidates
        if c.delivering.enabled
        and notification_type in c.delivering.types
        and c.scope.business_id == business_id
    ]
    if campaign_id is not None:
        shop = [c.subscription_id for c in listening if c.scope.campaign_id == campaign_id]
        if shop:
            return sorted(shop)
    return sorted(c.subscription_id for c in listening if c.scope.kind is ScopeKind.BUSINESS)


def event_keys(payload: Any) -> tuple[int | None, int | None]:
    """``(campaignId, businessId)`` of a notification body; a key that is not a positive int is
    None."""
    if not isinstance(payload, dict):
        return None, None

    def key(name: str) -> int | None:
        value = payload.get(name)
        return (
            value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None
        )

    return key("campaignId"), key("businessId")
