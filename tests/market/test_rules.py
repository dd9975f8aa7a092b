"""Market's rules on notification settings, as pure tables: roles, scopes, overlap, delay."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ymnotify.market import rules
from ymnotify.market.rules import (
    BUSINESS_ONLY_TYPES,
    Candidate,
    Delivering,
    Scope,
    ScopeKind,
    State,
)
from ymnotify.protocol.enums import NotificationType

BUSINESS, SHOP = ScopeKind.BUSINESS, ScopeKind.SHOP
NOW = datetime(2026, 5, 1, 10, 0, tzinfo=UTC)
DELAY = timedelta(seconds=120)


@pytest.mark.parametrize(
    ("role", "kind", "allowed"),
    [
        ("owner", BUSINESS, True),
        ("manager", BUSINESS, True),
        ("content_manager", BUSINESS, False),
        ("operator", BUSINESS, False),  # an ordinary role
        ("owner", SHOP, True),
        ("manager", SHOP, True),
        ("operator", SHOP, True),
        ("content_manager", SHOP, False),
        (None, BUSINESS, False),  # not a user of the cabinet
        (None, SHOP, False),
    ],
)
def test_who_may_configure(role: str | None, kind: ScopeKind, allowed: bool) -> None:
    assert (rules.permission_problem(role, kind) is None) is allowed


def test_business_only_types_are_reviews_chats_disputes_and_questions() -> None:
    prefixes = ("GOODS_FEEDBACK_", "CHAT_", "QUESTION_")
    expected = {t.value for t in NotificationType if t.value.startswith(prefixes)}
    assert expected == BUSINESS_ONLY_TYPES
    assert len(expected) == 9


@pytest.mark.parametrize("kind", sorted(BUSINESS_ONLY_TYPES))
def test_business_only_types_are_refused_for_a_store(kind: str) -> None:
    assert rules.types_problem([kind], BUSINESS) is None
    problem = rules.types_problem(["ORDER_CREATED", kind], SHOP)
    assert problem is not None
    assert kind in problem


@pytest.mark.parametrize(
    "kind",
    [t for t in rules.SUBSCRIBABLE_TYPES if t not in BUSINESS_ONLY_TYPES],
)
def test_order_types_exist_at_both_scopes(kind: str) -> None:
    assert rules.types_problem([kind], SHOP) is None
    assert rules.types_problem([kind], BUSINESS) is None


@pytest.mark.parametrize(
    ("types", "reason"),
    [
        ([], "at least one"),
        (["PING"], "PING"),
        (["order_created"], "not a notification type"),
        ([42], "not a notification type"),
        (["ORDER CREATED"], "not a notification type"),
    ],
)
def test_bad_type_lists(types: list[object], reason: str) -> None:
    problem = rules.types_problem(types, BUSINESS)
    assert problem is not None
    assert reason in problem


def test_unknown_future_types_are_allowed_at_both_scopes() -> None:
    assert rules.types_problem(["ORDER_TELEPORTED"], SHOP) is None
    assert rules.types_problem(["ORDER_TELEPORTED"], BUSINESS) is None


def test_types_keep_order_and_drop_repeats() -> None:
    assert rules.normalized_types(["B_X", "A_Y", "B_X"]) == ("B_X", "A_Y")


@pytest.mark.parametrize(("role", "ok"), [("owner", True), ("warehouse_2", True), ("Boss", False)])
def test_role_names(role: str, ok: bool) -> None:
    assert (rules.role_problem(role) is None) is ok


# -- activation delay and states ---------------------------------------------------------------


def test_a_new_setting_delivers_only_after_the_delay() -> None:
    settings = rules.created("orders", ("ORDER_CREATED",), "https://a.example", NOW, DELAY)
    assert settings.state(NOW) is State.PENDING_ACTIVATION
    assert not settings.in_effect(NOW).enabled
    assert not settings.in_effect(NOW + DELAY - timedelta(microseconds=1)).enabled
    assert settings.state(NOW + DELAY) is State.ACTIVE
    assert settings.in_effect(NOW + DELAY).enabled


def test_with_no_delay_a_new_setting_is_active_at_once() -> None:
    settings = rules.created("orders", ("ORDER_CREATED",), "https://a.example", NOW, timedelta(0))
    assert settings.state(NOW) is State.ACTIVE
    assert settings.in_effect(NOW).enabled


def _active() -> rules.Settings:
    return rules.created("orders", ("ORDER_CREATED",), "https://a.example", NOW - DELAY, DELAY)


def test_an_edit_applies_after_the_delay_and_the_previous_settings_until_then() -> None:
    edited = rules.changed(
        _active(), NOW, DELAY, types=("ORDER_CANCELLED",), url="https://b.example"
    )
    assert edited.state(NOW) is State.PENDING_ACTIVATION
    assert edited.desired.url == "https://b.example"  # shown at once
    assert edited.in_effect(NOW) == Delivering(True, ("ORDER_CREATED",), "https://a.example")
    later = NOW + DELAY
    assert edited.in_effect(later) == Delivering(True, ("ORDER_CANCELLED",), "https://b.example")
    assert edited.state(later) is State.ACTIVE


def test_a_second_edit_within_the_delay_keeps_the_settings_in_effect() -> None:
    first = rules.changed(_active(), NOW, DELAY, url="https://b.example")
    second = rules.changed(first, NOW + timedelta(seconds=60), DELAY, url="https://c.example")
    assert second.in_effect(NOW + timedelta(seconds=61)).url == "https://a.example"
    assert second.in_effect(NOW + timedelta(seconds=179)).url == "https://a.example"
    assert second.in_effect(NOW + timedelta(seconds=180)).url == "https://c.example"


def test_a_rename_alone_takes_effect_at_once() -> None:
    renamed = rules.changed(_active(), NOW, DELAY, name="all orders")
    assert renamed.name == "all orders"
    assert renamed.state(NOW) is State.ACTIVE
    assert renamed.activates_at is None


def test_a_rename_or_a_repeat_leaves_a_pending_change_where_it_was() -> None:
    edited = rules.changed(_active(), NOW, DELAY, types=("ORDER_CANCELLED",))
    later = NOW + timedelta(seconds=60)
    renamed = rules.changed(edited, later, DELAY, name="cancellations")
    assert renamed.name == "cancellations"
    assert renamed.activates_at == NOW + DELAY  # not pushed back by a change deliveries ignore
    assert renamed.in_effect(NOW + DELAY).types == ("ORDER_CANCELLED",)
    repeated = rules.changed(renamed, later, DELAY, types=("ORDER_CANCELLED",))
    assert repeated.activates_at == NOW + DELAY
    disabled = rules.changed(_active(), NOW, DELAY, enabled=False)
    assert rules.changed(disabled, later, DELAY, enabled=False).activates_at == NOW + DELAY
    both = rules.changed(_active(), NOW, DELAY, types=("ORDER_CREATED", "ORDER_CANCELLED"))
    reordered = rules.changed(both, later, DELAY, types=("ORDER_CANCELLED", "ORDER_CREATED"))
    assert reordered.activates_at == NOW + DELAY  # the same types in another order
    assert reordered.desired.types == ("ORDER_CREATED", "ORDER_CANCELLED")


def test_disable_shows_at_once_and_stops_deliveries_after_the_delay() -> None:
    disabled = rules.changed(_active(), NOW, DELAY, enabled=False)
    assert disabled.state(NOW) is State.DISABLED
    assert disabled.in_effect(NOW).enabled  # still delivering during the delay
    assert not disabled.in_effect(NOW + DELAY).enabled


def test_disabled_by_market_is_immediate_and_enable_clears_it() -> None:
    off = rules.disabled_by_market(_active(), NOW)
    assert off.state(NOW) is State.DISABLED_BY_MARKET
    assert not off.in_effect(NOW).enabled
    assert off.disabled_by_market_at == NOW
    edited = rules.changed(off, NOW, DELAY, name="renamed")
    assert edited.state(NOW) is State.DISABLED_BY_MARKET  # editing does not enable it
    back = rules.changed(off, NOW, DELAY, enabled=True)
    assert back.disabled_by_market_at is None
    assert back.state(NOW) is State.PENDING_ACTIVATION
    assert back.state(NOW + DELAY) is State.ACTIVE


# -- PING --------------------------------------------------------------------------------------


def test_ping_on_create_enable_and_url_change_only() -> None:
    active = _active()
    assert rules.needs_ping(None, active)  # create
    disabled = rules.changed(active, NOW, DELAY, enabled=False)
    assert not rules.needs_ping(active, disabled)
    assert rules.needs_ping(disabled, rules.changed(disabled, NOW, DELAY, enabled=True))
    assert rules.needs_ping(active, rules.changed(active, NOW, DELAY, url="https://b.example"))
    assert not rules.needs_ping(active, rules.changed(active, NOW, DELAY, types=("ORDER_UPDATED",)))
    assert not rules.needs_ping(active, rules.changed(active, NOW, DELAY, name="x"))


# -- who gets an event -------------------------------------------------------------------------

ON = Delivering(True, ("ORDER_CREATED", "CHAT_CREATED"), "https://x.example")
OFF = Delivering(False, ON.types, ON.url)
CABINET = Candidate(1, Scope(10), ON)
STORE_A = Candidate(2, Scope(10, 100), Delivering(True, ("ORDER_CREATED",), "https://a.example"))
STORE_B = Candidate(3, Scope(10, 200), Delivering(True, ("ORDER_CANCELLED",), "https://b.ex"))
OTHER_CABINET = Candidate(4, Scope(20), ON)


@pytest.mark.parametrize(
    ("kind", "business", "campaign", "candidates", "expected"),
    [
        # overlap: the store's setting takes the type, the cabinet's does not get it
        ("ORDER_CREATED", 10, 100, [CABINET, STORE_A, STORE_B], [2]),
        # store 200 has no ORDER_CREATED setting: the cabinet's gets it
        ("ORDER_CREATED", 10, 200, [CABINET, STORE_A, STORE_B], [1]),
        # store 100 follows ORDER_CREATED only: its ORDER_CANCELLED goes to nobody
        ("ORDER_CANCELLED", 10, 100, [CABINET, STORE_A, STORE_B], []),
        ("ORDER_CANCELLED", 10, 200, [CABINET, STORE_A, STORE_B], [3]),
        # cabinet events go to the cabinet's settings
        ("CHAT_CREATED", 10, None, [CABINET, STORE_A, OTHER_CABINET], [1]),
        ("CHAT_CREATED", 20, None, [CABINET, OTHER_CABINET], [4]),
        # a disabled store setting does not shadow the cabinet's
        ("ORDER_CREATED", 10, 100, [CABINET, Candidate(2, Scope(10, 100), OFF)], [1]),
        ("ORDER_CREATED", 10, 100, [Candidate(1, Scope(10), OFF)], []),
        # two settings of one store both get it
        ("ORDER_CREATED", 10, 100, [STORE_A, Candidate(5, Scope(10, 100), ON)], [2, 5]),
    ],
)
def test_recipients(
    kind: str,
    business: int,
    campaign: int | None,
    candidates: list[Candidate],
    expected: list[int],
) -> None:
    assert rules.recipients(kind, business, campaign, candidates) == expected


@pytest.mark.parametrize(
    ("payload", "keys"),
    [
        ({"campaignId": 5, "orderId": 1}, (5, None)),
        ({"businessId": 7}, (None, 7)),
        ({"campaignId": True}, (None, None)),
        ({"campaignId": "5"}, (None, None)),
        ({"campaignId": 0}, (None, None)),
        ([], (None, None)),
    ],
)
def test_event_keys(payload: object, keys: tuple[int | None, int | None]) -> None:
    assert rules.event_keys(payload) == keys
