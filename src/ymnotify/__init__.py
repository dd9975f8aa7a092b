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

from typing import TYPE_CHECKING

from ymnotify.lazy import lazy_exports

__version__ = "0.1.0"

# Where each public name lives. They are imported on first use, not with the package: every
# ``ymnotify`` command imports this package first, and importing all of it (the models, the
# worker, the receiver) took ~0.4 s of each command's start; ``ymnotify inbox stats`` needs
# none of the receiver. The protocol's names come from its own package, which knows which
# of its modules holds each.
_PROTOCOL_NAMES = (
    "NotificationType",
    "OrderLineServiceCancelReason",
    "OrderLineServiceStatus",
    "OrderStatus",
    "OrderSubstatus",
    "OrderUpdateType",
    "RefundStatus",
    "ReturnShipmentStatus",
    "ReturnType",
    "ChatArbitrageFinished",
    "ChatArbitrageStarted",
    "ChatCreated",
    "ChatMessageSent",
    "GoodsFeedbackCommentCreated",
    "GoodsFeedbackCreated",
    "LineServiceStatusCount",
    "Notification",
    "OrderCancellationRequest",
    "OrderCancelled",
    "OrderCreated",
    "OrderItem",
    "OrderLineService",
    "OrderLineServiceStatusUpdated",
    "OrderReturnCreated",
    "OrderReturnStatusUpdated",
    "OrderStatusUpdated",
    "OrderUpdated",
    "Ping",
    "QuestionAnswerCreated",
    "QuestionCommentCreated",
    "QuestionCreated",
    "ReturnItem",
    "ReturnStatuses",
    "UnknownNotification",
)
_EXPORTS: dict[str, str] = {
    "EventMeta": "ymnotify.dispatch.meta",
    "RetryPolicy": "ymnotify.dispatch.retry",
    "UNHANDLED": "ymnotify.dispatch.router",
    "Router": "ymnotify.dispatch.router",
    "WorkerSettings": "ymnotify.dispatch.worker",
    "YmnotifyError": "ymnotify.errors",
    "ReceiverConfig": "ymnotify.receiver.app",
    "create_app": "ymnotify.receiver.factory",
    "SourcePolicy": "ymnotify.receiver.sources",
    **dict.fromkeys(_PROTOCOL_NAMES, "ymnotify.protocol"),
}

__all__ = ["__version__", *_EXPORTS]


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)


# What type checkers and editors see: the same names, imported as the re-exports they are.
if TYPE_CHECKING:
    from ymnotify.dispatch.meta import EventMeta as EventMeta
    from ymnotify.dispatch.retry import RetryPolicy as RetryPolicy
    from ymnotify.dispatch.router import UNHANDLED as UNHANDLED
    from ymnotify.dispatch.router import Router as Router
    from ymnotify.dispatch.worker import WorkerSettings as WorkerSettings
    from ymnotify.errors import YmnotifyError as YmnotifyError
    from ymnotify.protocol import ChatArbitrageFinished as ChatArbitrageFinished
    from ymnotify.protocol import ChatArbitrageStarted as ChatArbitrageStarted
    from ymnotify.protocol import ChatCreated as ChatCreated
    from ymnotify.protocol import ChatMessageSent as ChatMessageSent
    from ymnotify.protocol import GoodsFeedbackCommentCreated as GoodsFeedbackCommentCreated
    from ymnotify.protocol import GoodsFeedbackCreated as GoodsFeedbackCreated
    from ymnotify.protocol import LineServiceStatusCount as LineServiceStatusCount
    from ymnotify.protocol import Notification as Notification
    from ymnotify.protocol import NotificationType as NotificationType
    from ymnotify.protocol import OrderCancellationRequest as OrderCancellationRequest
    from ymnotify.protocol import OrderCancelled as OrderCancelled
    from ymnotify.protocol import OrderCreated as OrderCreated
    from ymnotify.protocol import OrderItem as OrderItem
    from ymnotify.protocol import OrderLineService as OrderLineService
    from ymnotify.protocol import OrderLineServiceCancelReason as OrderLineServiceCancelReason
    from ymnotify.protocol import OrderLineServiceStatus as OrderLineServiceStatus
    from ymnotify.protocol import OrderLineServiceStatusUpdated as OrderLineServiceStatusUpdated
    from ymnotify.protocol import OrderReturnCreated as OrderReturnCreated
    from ymnotify.protocol import OrderReturnStatusUpdated as OrderReturnStatusUpdated
    from ymnotify.protocol import OrderStatus as OrderStatus
    from ymnotify.protocol import OrderStatusUpdated as OrderStatusUpdated
    from ymnotify.protocol import OrderSubstatus as OrderSubstatus
    from ymnotify.protocol import OrderUpdated as OrderUpdated
    from ymnotify.protocol import OrderUpdateType as OrderUpdateType
    from ymnotify.protocol import Ping as Ping
    from ymnotify.protocol import QuestionAnswerCreated as QuestionAnswerCreated
    from ymnotify.protocol import QuestionCommentCreated as QuestionCommentCreated
    from ymnotify.protocol import QuestionCreated as QuestionCreated
    from ymnotify.protocol import RefundStatus as RefundStatus
    from ymnotify.protocol import ReturnItem as ReturnItem
    from ymnotify.protocol import ReturnShipmentStatus as ReturnShipmentStatus
    from ymnotify.protocol import ReturnStatuses as ReturnStatuses
    from ymnotify.protocol import ReturnType as ReturnType
    from ymnotify.protocol import UnknownNotification as UnknownNotification
    from ymnotify.receiver.app import ReceiverConfig as ReceiverConfig
    from ymnotify.receiver.factory import create_app as create_app
    from ymnotify.receiver.sources import SourcePolicy as SourcePolicy
