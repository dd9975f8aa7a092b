"""``examples/shop_handlers.py``: unit-tested with ``ymnotify.testing``, then run for real."""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from examples.shop_handlers import ShopDatabase, router

from tests.processes import loopback_serve, start_server
from ymnotify.protocol.samples import sample
from ymnotify.store.base import AttemptOutcome
from ymnotify.testing import feed

REPO = Path(__file__).resolve().parents[2]
ORDER = 51234567890


@pytest.fixture
def shop(tmp_path: Path) -> Iterator[ShopDatabase]:
    database = ShopDatabase(str(tmp_path / "shop.db"))
    yield database
    database.close()


def order_body(kind: str, **fields: Any) -> dict[str, Any]:
    return sample(kind, orderId=ORDER, campaignId=21987654, **fields)


def status_body(status: str, at: str) -> dict[str, Any]:
    return order_body("ORDER_STATUS_UPDATED", status=status, substatus=None, updatedAt=at)


async def test_orders_are_saved_and_keep_their_latest_status(shop: ShopDatabase) -> None:
    results = await feed(
        router,
        order_body("ORDER_CREATED", createdAt="2026-09-20T09:00:00Z"),
        status_body("DELIVERY", "2026-09-20T12:00:00Z"),
        status_body("PROCESSING", "2026-09-20T10:00:00Z"),  # older: arrives stale
        dependencies={"shop": shop},
        use_lifespan=False,
    )
    created, delivery, stale = results
    assert created.handled_by == ["examples.shop_handlers.save_order"]
    assert delivery.handled_by == ["examples.shop_handlers.track_status"]
    assert stale.stale
    assert stale.run_of("examples.shop_handlers.track_status").outcome is AttemptOutcome.UNHANDLED
    assert shop.execute("SELECT status, status_at FROM orders WHERE order_id = ?", ORDER) == [
        ("DELIVERY", "2026-09-20T12:00:00+00:00")
    ]


async def test_a_status_for_an_order_not_saved_yet_fails_so_it_is_retried(
    shop: ShopDatabase,
) -> None:
    (fed,) = await feed(
        router,
        status_body("PROCESSING", "2026-09-20T10:00:00Z"),
        dependencies={"shop": shop},
        use_lifespan=False,
        raise_errors=False,
    )
    run = fed.run_of("examples.shop_handlers.track_status")
    assert run.outcome is AttemptOutcome.FAILED
    assert isinstance(run.error, LookupError)


async def test_cancellation_requests_alert_chats_are_logged_unknown_types_kept(
    shop: ShopDatabase, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="shop")
    results = await feed(
        router,
        order_body("ORDER_CANCELLATION_REQUEST"),
        sample("CHAT_MESSAGE_SENT", chatId=42, messageId="m-1"),
        sample("ORDER_SPLIT", orderId=ORDER),
        dependencies={"shop": shop},
        use_lifespan=False,
    )
    assert [fed.handled_by for fed in results] == [
        ["examples.shop_handlers.alert_cancellation_request"],
        ["examples.shop_handlers.log_chat_message"],
        ["examples.shop_handlers.unknown_type"],
    ]
    ((kind, order_id, text),) = shop.execute("SELECT kind, order_id, text FROM alerts")
    assert (kind, order_id) == ("cancellation-request", ORDER)
    assert "buyer asked to cancel" in text
    assert shop.execute("SELECT message_id, chat_id FROM chat_log") == [("m-1", 42)]
    assert shop.execute("SELECT notification_type FROM unknown_notifications") == [("ORDER_SPLIT",)]
    assert any("ALERT order" in message for message in caplog.messages)


def test_the_example_runs_behind_a_real_receiver(tmp_path: Path) -> None:
    shop_db = tmp_path / "shop.db"
    server = start_server(
        loopback_serve(
            tmp_path / "inbox.db",
            *("--app", "examples.shop_handlers:router"),
            *(
                "--retry-base-delay",
                "20ms",
                "--retry-max-delay",
                "100ms",
                "--poll-interval",
                "50ms",
            ),
        ),
        cwd=REPO,
        env={"SHOP_DB": str(shop_db)},
    )
    try:
        for body in (
            order_body("ORDER_CREATED", createdAt="2026-09-20T09:00:00Z"),
            status_body("PROCESSING", "2026-09-20T09:05:00Z"),
            order_body("ORDER_CANCELLATION_REQUEST", requestedAt="2026-09-20T09:10:00Z"),
            order_body("ORDER_CANCELLED", cancelledAt="2026-09-20T09:20:00Z"),
            sample("CHAT_MESSAGE_SENT", chatId=42, messageId="m-1"),
            sample("ORDER_SPLIT", orderId=ORDER),
        ):
            answer = httpx.post(f"{server.url}/notification", json=body, timeout=10)
            assert answer.status_code == 200
        settled = ("CANCELLED", 1, 1, 1)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and _shop_view(shop_db) != settled:
            time.sleep(0.05)
    finally:
        assert server.stop() == 0
    # The order ends cancelled (whichever lane ran first), one alert, one chat line, one unknown.
    assert _shop_view(shop_db) == settled


def _shop_view(path: Path) -> tuple[str | None, int, int, int] | None:
    """The order's status and the alert, chat and unknown-type counts; None before the tables."""
    if not path.exists():
        return None
    with contextlib.closing(sqlite3.connect(path)) as connection:
        try:
            status = connection.execute(
                "SELECT status FROM orders WHERE order_id = ?", (ORDER,)
            ).fetchone()
            counts = [
                connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                for table in ("alerts", "chat_log", "unknown_notifications")
            ]
        except sqlite3.OperationalError:  # the handlers have not created the tables yet
            return None
    return (None if status is None else str(status[0]), *counts)
