"""A shop's handlers: orders into a local SQLite table, alerts on cancellation requests, a chat
log, and a catch-all for notification types this version of ymnotify does not know yet.

Run it from the repository root::

    SHOP_DB=./shop.db ymnotify serve --app examples.shop_handlers:router \\
        --allow-network 127.0.0.0/8

Every handler here is idempotent (at-least-once delivery means a handler may see a notification
again after a crash), and the status table keeps Market's rule "the later time wins" itself,
so a stale notification never moves an order backwards.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from ymnotify import (
    UNHANDLED,
    ChatMessageSent,
    EventMeta,
    Notification,
    OrderCancellationRequest,
    OrderCancelled,
    OrderCreated,
    OrderStatusUpdated,
    Router,
    UnknownNotification,
)

router = Router("shop")
log = logging.getLogger("shop")

SCHEMA = """
CREATE TABLE IF NOT EXISTS orders (
    order_id    INTEGER PRIMARY KEY,
    campaign_id INTEGER NOT NULL,
    items       TEXT    NOT NULL,
    created_at  TEXT    NOT NULL,
    status      TEXT    NOT NULL DEFAULT 'NEW',
    substatus   TEXT,
    status_at   TEXT    NOT NULL
);
CREATE TABLE IF NOT EXISTS alerts (
    notification_id INTEGER PRIMARY KEY,
    kind            TEXT    NOT NULL,
    order_id        INTEGER NOT NULL,
    text            TEXT    NOT NULL
);
CREATE TABLE IF NOT EXISTS chat_log (
    message_id TEXT    PRIMARY KEY,
    chat_id    INTEGER NOT NULL,
    sent_at    TEXT    NOT NULL
);
CREATE TABLE IF NOT EXISTS unknown_notifications (
    notification_id   INTEGER PRIMARY KEY,
    notification_type TEXT NOT NULL,
    body              TEXT NOT NULL
);
"""


class ShopDatabase:
    """The shop's own tables (not ymnotify's store). Handlers run in threads: one lock."""

    def __init__(self, path: str) -> None:
        self._connection = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        with self._lock:
            self._connection.executescript(SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._connection.close()

    def execute(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._connection.execute(sql, params).fetchall()

    def save_order(self, order: OrderCreated) -> None:
        items = json.dumps([{"offerId": i.offer_id, "count": i.count} for i in order.items])
        at = order.created_at.isoformat()
        self.execute(
            "INSERT INTO orders (order_id, campaign_id, items, created_at, status_at)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (order_id) DO NOTHING",
            order.order_id,
            order.campaign_id,
            items,
            at,
            at,
        )

    def set_status(self, order_id: int, status: str, substatus: str | None, at: datetime) -> bool:
        """Record a status unless a later one is already known; returns whether it changed."""
        changed = self.execute(
            "UPDATE orders SET status = ?, substatus = ?, status_at = ?"
            " WHERE order_id = ? AND status_at <= ? RETURNING order_id",
            status,
            substatus,
            at.isoformat(),
            order_id,
            at.isoformat(),
        )
        return bool(changed)

    def add_alert(self, notification_id: int, kind: str, order_id: int, text: str) -> None:
        self.execute(
            "INSERT INTO alerts VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
            notification_id,
            kind,
            order_id,
            text,
        )


@router.lifespan
async def shop_database() -> AsyncIterator[dict[str, Any]]:
    """Open the shop's database while the workers run; handlers get it as ``shop``."""
    shop = ShopDatabase(os.environ.get("SHOP_DB", "shop.db"))
    try:
        yield {"shop": shop}
    finally:
        shop.close()


@router.on(OrderCreated)
def save_order(order: OrderCreated, shop: ShopDatabase) -> None:
    """A new order goes into the orders table (a sync handler: it runs in a thread)."""
    shop.save_order(order)


@router.on(OrderStatusUpdated, OrderCancelled)
def track_status(
    event: OrderStatusUpdated | OrderCancelled, shop: ShopDatabase, meta: EventMeta
) -> Any:
    """Keep the order's status; a stale one (older than what we know) is declined."""
    if meta.stale:
        log.info(
            "order %s: stale status notification %d ignored", event.order_id, meta.notification_id
        )
        return UNHANDLED
    if isinstance(event, OrderCancelled):
        status, substatus, at = "CANCELLED", None, event.cancelled_at
    else:
        status, at = str(event.status), event.updated_at
        substatus = None if event.substatus is None else str(event.substatus)
    if shop.set_status(event.order_id, status, substatus, at):
        return None
    if not shop.execute("SELECT 1 FROM orders WHERE order_id = ?", event.order_id):
        # ORDER_CREATED is another handler's lane and may not have run yet: fail, so this is
        # retried with backoff (and dead-lettered, visible, if the order never turns up).
        raise LookupError(f"order {event.order_id} is not in the orders table yet")
    return UNHANDLED  # the table already holds a later status


@router.on(OrderCancellationRequest)
async def alert_cancellation_request(
    request: OrderCancellationRequest, shop: ShopDatabase, meta: EventMeta
) -> None:
    """The buyer wants to cancel (DBS): someone must accept or refuse it in time."""
    text = (
        f"order {request.order_id} (campaign {request.campaign_id}): buyer asked to cancel at"
        f" {request.requested_at.isoformat()}; answer via PUT .../cancellation/accept"
    )
    log.warning("ALERT %s", text)
    shop.add_alert(meta.notification_id, "cancellation-request", request.order_id, text)


@router.on(ChatMessageSent)
async def log_chat_message(message: ChatMessageSent, shop: ShopDatabase) -> None:
    """Note new chat messages (fetch the text via the Partner API if you need it)."""
    log.info("chat %s: new message %s", message.chat_id, message.message_id)
    shop.execute(
        "INSERT INTO chat_log VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
        message.message_id,
        message.chat_id,
        message.sent_at.isoformat(),
    )


@router.on(UnknownNotification)
async def unknown_type(event: UnknownNotification, shop: ShopDatabase, meta: EventMeta) -> None:
    """Market added a type: keep it for later (replay it once handlers for it exist)."""
    log.warning("notification type %s is new to ymnotify; kept", event.notification_type)
    shop.execute(
        "INSERT INTO unknown_notifications VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
        meta.notification_id,
        event.notification_type,
        event.model_dump_json(by_alias=True),
    )


@router.errors
async def report_failure(event: Notification, error: Exception, meta: EventMeta) -> None:
    """Every failed attempt is logged; the last one loudly."""
    level = logging.ERROR if meta.last_attempt else logging.WARNING
    log.log(level, "%s on notification %d failed: %s", meta.handler, meta.notification_id, error)
