"""The Router: matching, nesting, middlewares, injection, error observers, sync code, timeouts."""

from __future__ import annotations

import asyncio
import contextvars
import json
import re
import threading
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest

from ymnotify.dispatch.execution import Execution, execute
from ymnotify.dispatch.meta import EventMeta
from ymnotify.dispatch.router import UNHANDLED, Data, NextHandler, Router
from ymnotify.errors import ConfigError, HandlerTimeout, MissingDependency, NotFound
from ymnotify.protocol import (
    ChatMessageSent,
    Notification,
    NotificationType,
    OrderCreated,
    OrderItem,
    OrderStatus,
    OrderStatusUpdated,
    Ping,
    UnknownNotification,
    parse_body,
)
from ymnotify.protocol.samples import sample
from ymnotify.store.base import AttemptOutcome


def event(kind: str, **overrides: Any) -> Notification:
    return parse_body(json.dumps(sample(kind, **overrides)).encode()).notification


def meta_for(handler: str) -> EventMeta:
    return EventMeta(
        notification_id=1,
        notification_type="ORDER_STATUS_UPDATED",
        handler=handler,
        entity="order:1",
        stale=False,
        attempt=1,
        max_attempts=3,
        received_at=datetime(2026, 9, 20, tzinfo=UTC),
        event_time=None,
        duplicates=0,
    )


async def run(
    router: Router, name: str, on: Notification, time_limit: float | None = 5, **deps: Any
) -> Execution:
    spec = router.handler(name)
    return await execute(
        router, spec, on, meta_for(name), deps, time_limit=time_limit, executor=None
    )


async def matched(router: Router, on: Notification) -> list[str]:
    return [spec.name for spec in await router.match(on)]


async def nothing(event: Notification) -> None:
    return None


async def test_types_by_model_name_unknown_and_everything() -> None:
    router = Router()
    router.register(nothing, OrderStatusUpdated, name="by_model")
    router.register(nothing, "ORDER_STATUS_UPDATED", "ORDER_CREATED", name="by_name")
    router.register(nothing, UnknownNotification, name="catch_all_unknown")
    router.register(nothing, "ORDER_SPLIT", name="a_future_type")
    router.register(nothing, Notification, name="everything")
    router.register(nothing, name="also_everything")
    assert await matched(router, event("ORDER_STATUS_UPDATED")) == [
        "by_model",
        "by_name",
        "everything",
        "also_everything",
    ]
    assert await matched(router, event("ORDER_CREATED")) == [
        "by_name",
        "everything",
        "also_everything",
    ]
    assert await matched(router, event("ORDER_SPLIT")) == [
        "catch_all_unknown",
        "a_future_type",
        "everything",
        "also_everything",
    ]
    assert await matched(router, event("SOMETHING_ELSE_NEW")) == [
        "catch_all_unknown",
        "everything",
        "also_everything",
    ]


@pytest.mark.parametrize("ping", ["PING", "model"])
def test_ping_never_reaches_handlers(ping: str) -> None:
    with pytest.raises(ConfigError, match="PING"):
        Router().register(nothing, Ping if ping == "model" else "PING", name="x")


async def test_field_filters_compare_test_membership_and_call_predicates() -> None:
    router = Router()
    router.register(nothing, OrderStatusUpdated, status="CANCELLED", name="equal")
    router.register(nothing, OrderStatusUpdated, status=OrderStatus.CANCELLED, name="enum")
    router.register(
        nothing, OrderStatusUpdated, status={"CANCELLED", "DELIVERED"}, name="membership"
    )
    router.register(nothing, OrderStatusUpdated, order_id=lambda v: v % 2 == 0, name="predicate")
    router.register(nothing, status="CANCELLED", name="any_type_with_status")
    cancelled_odd = event("ORDER_STATUS_UPDATED", status="CANCELLED", orderId=7)
    assert await matched(router, cancelled_odd) == [
        "equal",
        "enum",
        "membership",
        "any_type_with_status",
    ]
    delivered_even = event("ORDER_STATUS_UPDATED", status="DELIVERED", orderId=8)
    assert await matched(router, delivered_even) == ["membership", "predicate"]
    assert await matched(router, event("ORDER_CREATED")) == []  # it has no status at all


def test_a_misspelt_field_filter_fails_at_registration() -> None:
    with pytest.raises(ConfigError, match="OrderCreated has no field 'status'"):
        Router().register(nothing, OrderCreated, OrderStatusUpdated, status="CANCELLED", name="x")


async def test_positional_filters_may_be_sync_or_async() -> None:
    router = Router()

    async def is_big_order(e: Notification) -> bool:
        return isinstance(e, OrderCreated) and sum(item.count for item in e.items) >= 10

    router.register(nothing, OrderCreated, is_big_order, name="big")
    router.register(nothing, OrderCreated, lambda e: e.campaign_id == 1, name="campaign_one")
    small = event("ORDER_CREATED", campaignId=1)
    big = event("ORDER_CREATED", items=[{"offerId": "A", "count": 10}])
    assert await matched(router, small) == ["campaign_one"]
    assert await matched(router, big) == ["big"]


def test_handler_names_are_stable_unique_and_required_for_lambdas() -> None:
    router = Router()
    spec = router.register(nothing, OrderCreated)
    assert spec.name == f"{__name__}.nothing"
    with pytest.raises(ConfigError, match="used twice"):
        router.register(nothing, OrderCreated)
    with pytest.raises(ConfigError, match="give"):
        router.register(lambda e: None, OrderCreated)
    with pytest.raises(ConfigError, match="first positional"):
        router.register(lambda: None, OrderCreated, name="no_event")
    with pytest.raises(NotFound):
        router.handler("missing")


async def test_nested_routers_match_in_order_and_refuse_clashes() -> None:
    root, orders, chats = Router("root"), Router("orders"), Router("chats")
    root.register(nothing, name="audit")
    orders.register(nothing, OrderCreated, name="save")
    chats.register(nothing, ChatMessageSent, name="log")
    root.include_router(orders)
    root.include_router(chats)
    assert await matched(root, event("ORDER_CREATED")) == ["audit", "save"]
    assert await matched(root, event("CHAT_MESSAGE_SENT")) == ["audit", "log"]
    with pytest.raises(ConfigError, match="already included"):
        Router().include_router(orders)
    with pytest.raises(ConfigError, match="itself"):
        orders.include_router(root)
    clash = Router()
    clash.register(nothing, name="save")
    with pytest.raises(ConfigError, match="used twice"):
        root.include_router(clash)
    with pytest.raises(ConfigError, match="used twice"):
        chats.register(nothing, name="save")  # the whole tree shares one namespace


async def test_middlewares_wrap_outer_root_first_then_inner_of_the_own_router() -> None:
    calls: list[str] = []
    root, child = Router("root"), Router("child")
    root.include_router(child)

    def recorder(label: str) -> Any:
        async def middleware(handler: NextHandler, e: Notification, data: Data) -> Any:
            calls.append(f"{label}>")
            data.setdefault("trail", []).append(label)
            result = await handler(e, data)
            calls.append(f"<{label}")
            return result

        return middleware

    root.outer_middleware(recorder("root-outer"))
    root.inner_middleware(recorder("root-inner"))
    child.outer_middleware(recorder("child-outer"))
    child.inner_middleware(recorder("child-inner"))

    @child.on(OrderCreated, name="child_handler")
    async def child_handler(e: OrderCreated, trail: list[str]) -> str:
        calls.append("handler")
        return "/".join(trail)

    @root.on(OrderCreated, name="root_handler")
    async def root_handler(e: OrderCreated) -> None:
        calls.append("root handler")

    result = await run(root, "child_handler", event("ORDER_CREATED"))
    assert result.outcome is AttemptOutcome.DONE
    assert result.value == "root-outer/child-outer/child-inner"
    assert calls == [
        "root-outer>",
        "child-outer>",
        "child-inner>",
        "handler",
        "<child-inner",
        "<child-outer",
        "<root-outer",
    ]
    calls.clear()
    await run(root, "root_handler", event("ORDER_CREATED"))
    assert calls == ["root-outer>", "root-inner>", "root handler", "<root-inner", "<root-outer"]


async def test_a_middleware_or_handler_may_decline_with_unhandled() -> None:
    router = Router()

    @router.outer_middleware
    async def skip_test_campaign(handler: NextHandler, e: Notification, data: Data) -> Any:
        if getattr(e, "campaign_id", None) == 13:
            return UNHANDLED
        return await handler(e, data)

    @router.on(OrderCreated, name="save")
    async def save(e: OrderCreated) -> Any:
        return UNHANDLED if e.order_id == 0 else "saved"

    declined = await run(router, "save", event("ORDER_CREATED", campaignId=13))
    assert declined.outcome is AttemptOutcome.UNHANDLED
    by_handler = await run(router, "save", event("ORDER_CREATED", orderId=0))
    assert by_handler.outcome is AttemptOutcome.UNHANDLED
    done = await run(router, "save", event("ORDER_CREATED"))
    assert (done.outcome, done.value) == (AttemptOutcome.DONE, "saved")


async def test_dependencies_are_injected_by_name() -> None:
    router = Router()

    @router.on(OrderCreated, name="uses_deps")
    async def uses_deps(
        order: OrderCreated, api: str, meta: EventMeta, retries: int = 3
    ) -> tuple[str, str, int]:
        return api, meta.handler, retries

    @router.on(OrderCreated, name="takes_all")
    async def takes_all(order: OrderCreated, **data: Any) -> list[str]:
        return sorted(data)

    @router.on(OrderCreated, name="needs_db")
    async def needs_db(order: OrderCreated, db: object) -> None:
        return None

    created = event("ORDER_CREATED")
    assert (await run(router, "uses_deps", created, api="client")).value == (
        "client",
        "uses_deps",
        3,
    )
    assert (await run(router, "uses_deps", created, api="c", retries=5)).value == (
        "c",
        "uses_deps",
        5,
    )
    assert (await run(router, "takes_all", created, api="c")).value == ["api", "meta"]
    missing = await run(router, "needs_db", created, api="c")
    assert missing.outcome is AttemptOutcome.FAILED
    assert isinstance(missing.error, MissingDependency)
    assert missing.error.names == ["db"]
    assert router.missing_dependencies({"api", "meta"}) == {"needs_db": ["db"]}


async def test_error_observers_hear_failures_nearest_first_and_cannot_hide_them() -> None:
    heard: list[tuple[str, str, int]] = []
    root, child = Router("root"), Router("child")
    root.include_router(child)

    @root.errors
    async def root_observer(e: Notification, error: Exception, meta: EventMeta) -> None:
        heard.append(("root", str(error), meta.attempt))

    @child.errors
    def child_observer(e: Notification, error: Exception) -> None:  # sync: runs in a thread
        heard.append(("child", str(error), 0))

    @child.errors
    async def broken_observer(e: Notification, error: Exception) -> None:
        raise RuntimeError("the observer itself broke")

    @child.on(OrderCreated, name="fails")
    async def fails(order: OrderCreated) -> None:
        raise ValueError("no stock table")

    result = await run(root, "fails", event("ORDER_CREATED"))
    assert result.outcome is AttemptOutcome.FAILED
    assert isinstance(result.error, ValueError)
    assert result.error_text == "ValueError: no stock table"
    assert "Traceback" in result.traceback_text
    assert 'raise ValueError("no stock table")' in result.traceback_text
    assert "ymnotify/dispatch" not in result.traceback_text  # the seller's frames, not ours
    assert heard == [("child", "no stock table", 0), ("root", "no stock table", 1)]


async def test_an_error_observer_missing_a_dependency_is_named_as_one() -> None:
    router = Router()

    @router.errors
    async def tell_crm(e: Notification, error: Exception, crm: object) -> None:
        return None

    @router.on(OrderCreated, name="fails")
    async def fails(order: OrderCreated) -> None:
        raise ValueError("boom")

    [spec] = router.handlers()
    failures = await router.observe_error(
        spec, event("ORDER_CREATED"), ValueError("boom"), {}, None
    )
    [(name, failure)] = failures
    assert isinstance(failure, MissingDependency)
    assert str(failure).startswith(f"error observer {name} asks for 'crm'")


REQUEST_ID: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")


async def test_sync_handlers_run_in_a_thread_with_the_context() -> None:
    router = Router()

    @router.outer_middleware
    async def tag(handler: NextHandler, e: Notification, data: Data) -> Any:
        REQUEST_ID.set("req-42")
        return await handler(e, data)

    @router.on(OrderCreated, name="sync_handler")
    def sync_handler(order: OrderCreated, meta: EventMeta) -> tuple[bool, str, str]:
        on_main = threading.current_thread() is threading.main_thread()
        return on_main, REQUEST_ID.get(), meta.handler

    result = await run(router, "sync_handler", event("ORDER_CREATED"))
    assert result.value == (False, "req-42", "sync_handler")


async def test_a_slow_async_handler_times_out_where_it_was_stuck() -> None:
    router = Router()

    @router.on(OrderCreated, name="stuck")
    async def stuck(order: OrderCreated) -> None:
        await asyncio.Event().wait()

    result = await run(router, "stuck", event("ORDER_CREATED"), time_limit=0.05)
    assert result.outcome is AttemptOutcome.FAILED
    assert isinstance(result.error, HandlerTimeout)
    assert result.error_text == "HandlerTimeout: handler stuck did not finish within 0.05s"
    assert "await asyncio.Event().wait()" in result.traceback_text


async def test_a_handlers_own_timeout_error_is_not_mistaken_for_ours() -> None:
    router = Router()

    @router.on(OrderCreated, name="upstream_timeout")
    async def upstream_timeout(order: OrderCreated) -> None:
        raise TimeoutError("Partner API did not answer")

    result = await run(router, "upstream_timeout", event("ORDER_CREATED"), time_limit=5)
    assert isinstance(result.error, TimeoutError)
    assert not isinstance(result.error, HandlerTimeout)


async def test_a_timed_out_sync_handler_keeps_its_job_until_the_thread_returns() -> None:
    router = Router()
    release = threading.Event()
    finished = threading.Event()

    @router.on(OrderCreated, name="blocking")
    def blocking(order: OrderCreated) -> None:
        release.wait(10)
        finished.set()

    async def let_go_later() -> None:
        await asyncio.sleep(0.2)
        release.set()

    helper = asyncio.create_task(let_go_later())
    result = await run(router, "blocking", event("ORDER_CREATED"), time_limit=0.05)
    await helper
    assert isinstance(result.error, HandlerTimeout)
    assert finished.is_set()  # execute() returned only after the thread did


async def test_lifespans_provide_dependencies_and_close_after() -> None:
    router, child = Router(), Router()
    router.include_router(child)
    events: list[str] = []

    @router.lifespan
    async def database() -> AsyncIterator[dict[str, Any]]:
        events.append("open db")
        yield {"db": "connection"}
        events.append("close db")

    @child.lifespan
    async def api() -> AsyncIterator[dict[str, Any]]:
        events.append("open api")
        yield {"api": "client"}
        events.append("close api")

    async with router.resources() as provided:
        assert provided == {"db": "connection", "api": "client"}
        assert events == ["open db", "open api"]
    assert events == ["open db", "open api", "close api", "close db"]


@pytest.mark.parametrize(
    ("arguments", "says"),
    [
        ((OrderStatusUpdated, OrderStatus.CANCELLED), "OrderStatus.CANCELLED is a field's value"),
        ((OrderItem,), "OrderItem is not a notification model"),
        ((dict,), "dict is not a notification model"),
        (("order_created",), "'order_created' is not a notification type name"),
        (("Order Created",), "is not a notification type name"),
    ],
)
def test_router_on_refuses_what_is_no_type_or_filter(arguments: tuple[Any, ...], says: str) -> None:
    router = Router()
    with pytest.raises(ConfigError, match=re.escape(says)):
        router.register(lambda event: None, *arguments, name="shop.h")


def test_type_names_and_near_misses(caplog: pytest.LogCaptureFixture) -> None:
    router = Router()
    by_enum = router.register(lambda event: None, NotificationType.ORDER_CREATED, name="a")
    assert by_enum.models == (OrderCreated,)
    future = router.register(lambda event: None, "ORDER_REFUND_ISSUED", name="b")
    assert future.unknown_names == frozenset({"ORDER_REFUND_ISSUED"})
    assert caplog.records == []  # a plausible future type: no noise
    typo = router.register(lambda event: None, "ORDER_STATUS_UPDATE", name="c")
    assert typo.unknown_names == frozenset({"ORDER_STATUS_UPDATE"})  # still allowed, but said
    assert "did you mean ORDER_STATUS_UPDATED?" in caplog.text


async def test_kwargs_do_not_hide_a_missing_required_dependency() -> None:
    router = Router()

    @router.on(OrderCreated, name="shop.save")
    async def save(event: OrderCreated, db: object, **rest: object) -> None:
        return None

    assert router.missing_dependencies({"crm"}) == {"shop.save": ["db"]}
    [spec] = router.handlers()
    with pytest.raises(MissingDependency):
        spec.signature.arguments({"crm": 1}, spec.name)
    assert spec.signature.arguments({"db": 1, "crm": 2}, spec.name) == {"db": 1, "crm": 2}


def test_a_lifespan_that_is_no_async_generator_is_refused_where_it_is_declared() -> None:
    router = Router()

    def sync_resources() -> Any:
        yield {"db": "sqlite"}

    async def no_yield() -> dict[str, str]:
        return {"db": "sqlite"}

    for wrong in (sync_resources, no_yield):
        with pytest.raises(ConfigError, match="must be an async generator"):
            router.lifespan(wrong)
