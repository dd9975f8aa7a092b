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
# none of the receiver.
_EXPORTS: dict[str, str] = {
    "EventMeta": "ymnotify.dispatch.meta",
    "RetryPolicy": "ymnotify.dispatch.retry",
    "UNHANDLED": "ymnotify.dispatch.router",
    "Router": "ymnotify.dispatch.router",
    "WorkerSettings": "ymnotify.dispatch.worker",
    "YmnotifyError": "ymnotify.errors",
    "NotificationType": "ymnotify.protocol.enums",
    "OrderLineServiceCancelReason": "ymnotify.protocol.enums",
    "OrderLineServiceStatus": "ymnotify.protocol.enums",
    "OrderStatus": "ymnotify.protocol.enums",
    "OrderSubstatus": "ymnotify.protocol.enums",
    "OrderUpdateType": "ymnotify.protocol.enums",
    "RefundStatus": "ymnotify.protocol.enums",
    "ReturnShipmentStatus": "ymnotify.protocol.enums",
    "ReturnType": "ymnotify.protocol.enums",
    "ChatArbitrageFinished": "ymnotify.protocol.models",
    "ChatArbitrageStarted": "ymnotify.protocol.models",
    "ChatCreated": "ymnotify.protocol.models",
    "ChatMessageSent": "ymnotify.protocol.models",
    "GoodsFeedbackCommentCreated": "ymnotify.protocol.models",
    "GoodsFeedbackCreated": "ymnotify.protocol.models",
    "LineServiceStatusCount": "ymnotify.protocol.models",
    "Notification": "ymnotify.protocol.models",
    "OrderCancellationRequest": "ymnotify.protocol.models",
    "OrderCancelled": "ymnotify.protocol.models",
    "OrderCreated": "ymnotify.protocol.models",
    "OrderItem": "ymnotify.protocol.models",
    "OrderLineService": "ymnotify.protocol.models",
    "OrderLineServiceStatusUpdated": "ymnotify.protocol.models",
    "OrderReturnCreated": "ymnotify.protocol.models",
    "OrderReturnStatusUpdated": "ymnotify.protocol.models",
    "OrderStatusUpdated": "ymnotify.protocol.models",
    "OrderUpdated": "ymnotify.protocol.models",
    "Ping": "ymnotify.protocol.models",
    "QuestionAnswerCreated": "ymnotify.protocol.models",
    "QuestionCommentCreated": "ymnotify.protocol.models",
    "QuestionCreated": "ymnotify.protocol.models",
    "ReturnItem": "ymnotify.protocol.models",
    "ReturnStatuses": "ymnotify.protocol.models",
    "UnknownNotification": "ymnotify.protocol.models",
    "ReceiverConfig": "ymnotify.receiver.app",
    "create_app": "ymnotify.receiver.factory",
    "SourcePolicy": "ymnotify.receiver.sources",
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
    from ymnotify.protocol.enums import NotificationType as NotificationType
    from ymnotify.protocol.enums import OrderLineServiceCancelReason as OrderLineServiceCancelReason
    from ymnotify.protocol.enums import OrderLineServiceStatus as OrderLineServiceStatus
    from ymnotify.protocol.enums import OrderStatus as OrderStatus
    from ymnotify.protocol.enums import OrderSubstatus as OrderSubstatus
    from ymnotify.protocol.enums import OrderUpdateType as OrderUpdateType
    from ymnotify.protocol.enums import RefundStatus as RefundStatus
    from ymnotify.protocol.enums import ReturnShipmentStatus as ReturnShipmentStatus
    from ymnotify.protocol.enums import ReturnType as ReturnType
    from ymnotify.protocol.models import ChatArbitrageFinished as ChatArbitrageFinished
    from ymnotify.protocol.models import ChatArbitrageStarted as ChatArbitrageStarted
    from ymnotify.protocol.models import ChatCreated as ChatCreated
    from ymnotify.protocol.models import ChatMessageSent as ChatMessageSent
    from ymnotify.protocol.models import GoodsFeedbackCommentCreated as GoodsFeedbackCommentCreated
    from ymnotify.protocol.models import GoodsFeedbackCreated as GoodsFeedbackCreated
    from ymnotify.protocol.models import LineServiceStatusCount as LineServiceStatusCount
    from ymnotify.protocol.models import Notification as Notification
    from ymnotify.protocol.models import OrderCancellationRequest as OrderCancellationRequest
    from ymnotify.protocol.models import OrderCancelled as OrderCancelled
    from ymnotify.protocol.models import OrderCreated as OrderCreated
    from ymnotify.protocol.models import OrderItem as OrderItem
    from ymnotify.protocol.models import OrderLineService as OrderLineService
    from ymnotify.protocol.models import (
        OrderLineServiceStatusUpdated as OrderLineServiceStatusUpdated,
    )
    from ymnotify.protocol.models import OrderReturnCreated as OrderReturnCreated
    from ymnotify.protocol.models import OrderReturnStatusUpdated as OrderReturnStatusUpdated
    from ymnotify.protocol.models import OrderStatusUpdated as OrderStatusUpdated
    from ymnotify.protocol.models import OrderUpdated as OrderUpdated
    from ymnotify.protocol.models import Ping as Ping
    from ymnotify.protocol.models import QuestionAnswerCreated as QuestionAnswerCreated
    from ymnotify.protocol.models import QuestionCommentCreated as QuestionCommentCreated
    from ymnotify.protocol.models import QuestionCreated as QuestionCreated
    from ymnotify.protocol.models import ReturnItem as ReturnItem
    from ymnotify.protocol.models import ReturnStatuses as ReturnStatuses
    from ymnotify.protocol.models import UnknownNotification as UnknownNotification
    from ymnotify.receiver.app import ReceiverConfig as ReceiverConfig
    from ymnotify.receiver.factory import create_app as create_app
    from ymnotify.receiver.sources import SourcePolicy as SourcePolicy
