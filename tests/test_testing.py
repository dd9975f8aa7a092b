"""``ymnotify.testing``: feeding bodies through a Router the way the receiver and workers would."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from ymnotify import UNHANDLED, EventMeta, OrderCreated, OrderStatusUpdated, Router
from ymnotify.protocol import MalformedNotification
from ymnotify.protocol.samples import sample
from ymnotify.store.base import AttemptOutcome
from ymnotify.store.memory import MemoryStore
from ymnotify.testing import feed, feed_sync, read_corpus


def status_update(status: str, minute: int) -> dict[str, Any]:
    return sample(
        "ORDER_STATUS_UPDATED",
        orderId=5,
        status=status,
        updatedAt=f"2026-09-20T10:{minute:02d}:00Z",
    )


def build_router() -> tuple[Router, list[tuple[str, str, bool]]]:
    router = Router()
    seen: list[tuple[str, str, bool]] = []

    @router.on(OrderStatusUpdated, name="status")
    async def on_status(event: OrderStatusUpdated, meta: EventMeta, ledger: list[str]) -> Any:
        seen.append(("status", str(event.status), meta.stale))
        ledger.append(str(event.status))
        return UNHANDLED if meta.stale else "recorded"

    @router.on(OrderCreated, name="created")
    def on_created(event: OrderCreated) -> None:
        seen.append(("created", str(event.order_id), False))

    return router, seen


async def test_feed_parses_dedups_flags_stale_and_runs_every_matching_handler() -> None:
    router, seen = build_router()
    ledger: list[str] = []
    newer, older = status_update("DELIVERY", 30), status_update("PROCESSING", 10)
    results = await feed(
        router,
        newer,
        json.dumps(older),  # JSON text works too
        json.dumps(newer).encode(),  # a repeat of the first: a duplicate, not handled again
        sample("ORDER_CREATED", orderId=5),
        sample("PING"),
        dependencies={"ledger": ledger},
    )
    first, stale, repeat, created, ping = results
    assert (first.handled_by, first.run_of("status").value, first.stale) == (
        ["status"],
        "recorded",
        False,
    )
    assert stale.stale
    assert stale.run_of("status").outcome is AttemptOutcome.UNHANDLED
    assert stale.handled_by == []
    assert repeat.duplicate
    assert repeat.runs == ()
    assert repeat.notification_id == first.notification_id
    assert created.handled_by == ["created"]
    assert ping.notification_id is None
    assert ping.runs == ()
    assert seen == [
        ("status", "DELIVERY", False),
        ("status", "PROCESSING", True),
        ("created", "5", False),
    ]
    assert ledger == ["DELIVERY", "PROCESSING"]


async def test_a_failing_handler_raises_its_own_exception_unless_asked_not_to() -> None:
    router = Router()

    @router.on(OrderCreated, name="fails")
    async def fails(event: OrderCreated) -> None:
        raise ValueError("bad SKU")

    with pytest.raises(ValueError, match="bad SKU"):
        await feed(router, sample("ORDER_CREATED"))
    (fed,) = await feed(router, sample("ORDER_CREATED"), raise_errors=False)
    run = fed.run_of("fails")
    assert run.outcome is AttemptOutcome.FAILED
    assert isinstance(run.error, ValueError)
    with pytest.raises(KeyError, match="did not run"):
        fed.run_of("other")


async def test_malformed_bodies_raise_with_the_field_path() -> None:
    router, _ = build_router()
    body = sample("ORDER_CREATED")
    del body["items"]
    with pytest.raises(MalformedNotification) as caught:
        await feed(router, body)
    assert caught.value.path == "items"


async def test_lifespans_run_unless_skipped_and_dependencies_override_them() -> None:
    router = Router()
    opened: list[str] = []

    @router.lifespan
    async def resources() -> AsyncIterator[dict[str, Any]]:
        opened.append("real database")
        yield {"db": "real"}

    @router.on(OrderCreated, name="uses_db")
    async def uses_db(event: OrderCreated, db: str) -> str:
        return db

    (fed,) = await feed(router, sample("ORDER_CREATED"))
    assert fed.run_of("uses_db").value == "real"
    (fed,) = await feed(router, sample("ORDER_CREATED"), dependencies={"db": "fake"})
    assert fed.run_of("uses_db").value == "fake"
    (fed,) = await feed(
        router, sample("ORDER_CREATED"), use_lifespan=False, dependencies={"db": "fake"}
    )
    assert fed.run_of("uses_db").value == "fake"
    assert opened == ["real database", "real database"]


async def test_a_shared_store_keeps_history_between_feeds() -> None:
    router, _ = build_router()
    store = MemoryStore()
    async with store:
        await feed(router, status_update("DELIVERY", 30), store=store, dependencies={"ledger": []})
        (later,) = await feed(
            router, status_update("PROCESSING", 10), store=store, dependencies={"ledger": []}
        )
    assert later.stale


def test_a_store_given_as_the_docs_write_it_needs_no_opening() -> None:
    router, _ = build_router()
    store = MemoryStore()  # as docs/handlers.md shows it: never opened by the test
    feed_sync(router, status_update("DELIVERY", 30), store=store, dependencies={"ledger": []})
    (later,) = feed_sync(
        router, status_update("PROCESSING", 10), store=store, dependencies={"ledger": []}
    )
    assert later.stale


def test_feed_sync_and_a_corpus_file(tmp_path: Path) -> None:
    router, seen = build_router()
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text(
        "\n".join(json.dumps(b) for b in (status_update("A", 1), status_update("B", 2))) + "\n"
    )
    as_array = tmp_path / "corpus.json"
    as_array.write_text(json.dumps([sample("ORDER_CREATED", orderId=77)]))
    results = feed_sync(
        router, *read_corpus(corpus), *read_corpus(as_array), dependencies={"ledger": []}
    )
    assert [fed.handled_by for fed in results] == [["status"], ["status"], ["created"]]
    assert [s[1] for s in seen] == ["A", "B", "77"]


def test_a_corpus_exported_by_inbox_list_is_read_oldest_first(tmp_path: Path) -> None:
    exported = tmp_path / "inbox.jsonl"
    records = [
        {"id": n, "receivedAt": "2026-09-20T10:00:00Z", "status": "done", "payload": body}
        for n, body in ((2, status_update("B", 2)), (1, status_update("A", 1)))
    ]
    exported.write_text("".join(json.dumps(record) + "\n" for record in records))
    assert [json.loads(body)["status"] for body in read_corpus(exported)] == ["A", "B"]
