"""ymnotify: Yandex.Market API notifications, both ends.

The receiver (``ymnotify serve``, or ``create_app`` inside your ASGI application), your handlers
(``Router``), and one typed model per notification type::

    from ymnotify import OrderStatusUpdated, Router

    router = Router()

    @router.on(OrderStatusUpdated, status="CANCELLED")
    async def cancelled(event: OrderStatusUpdated) -> None:
        ...

Unit-test handlers with ``ymnotify.testing.feed``.
"""

from __future__ import annotations

from ymnotify.dispatch.meta import EventMeta
from ymnotify.dispatch.retry import RetryPolicy
from ymnotify.dispatch.router import UNHANDLED, Router
from ymnotify.dispatch.worker import WorkerSettings
from ymnotify.errors import YmnotifyError
from ymnotify.protocol.enums import (
    NotificationType,
    OrderLineServiceCancelReason,
    OrderLineServiceStatus,
    OrderStatus,
    OrderSubstatus,
    OrderUpdateType,
    RefundStatus,
    ReturnShipmentStatus,
    ReturnType,
)
from ymnotify.protocol.models import (
    ChatArbitrageFinished,
    ChatArbitrageStarted,
    ChatCreated,
    ChatMessageSent,
    GoodsFeedbackCommentCreated,
    GoodsFeedbackCreated,
    LineServiceStatusCount,
    Notification,
    OrderCancellationRequest,
    OrderCancelled,
    OrderCreated,
    OrderItem,
    OrderLineService,
    OrderLineServiceStatusUpdated,
    OrderReturnCreated,
    OrderReturnStatusUpdated,
    OrderStatusUpdated,
    OrderUpdated,
    Ping,
    QuestionAnswerCreated,
    QuestionCommentCreated,
    QuestionCreated,
    ReturnItem,
    ReturnStatuses,
    UnknownNotification,
)
from ymnotify.receiver.app import ReceiverConfig
from ymnotify.receiver.factory import create_app
from ymnotify.receiver.sources import SourcePolicy

__version__ = "0.1.0"

__all__ = [
    "UNHANDLED",
    "ChatArbitrageFinished",
    "ChatArbitrageStarted",
    "ChatCreated",
    "ChatMessageSent",
    "EventMeta",
    "GoodsFeedbackCommentCreated",
    "GoodsFeedbackCreated",
    "LineServiceStatusCount",
    "Notification",
    "NotificationType",
    "OrderCancellationRequest",
    "OrderCancelled",
    "OrderCreated",
    "OrderItem",
    "OrderLineService",
    "OrderLineServiceCancelReason",
    "OrderLineServiceStatus",
    "OrderLineServiceStatusUpdated",
    "OrderReturnCreated",
    "OrderReturnStatusUpdated",
    "OrderStatus",
    "OrderStatusUpdated",
    "OrderSubstatus",
    "OrderUpdateType",
    "OrderUpdated",
    "Ping",
    "QuestionAnswerCreated",
    "QuestionCommentCreated",
    "QuestionCreated",
    "ReceiverConfig",
    "RefundStatus",
    "RetryPolicy",
    "ReturnItem",
    "ReturnShipmentStatus",
    "ReturnStatuses",
    "ReturnType",
    "Router",
    "SourcePolicy",
    "UnknownNotification",
    "WorkerSettings",
    "YmnotifyError",
    "__version__",
    "create_app",
]
