"""The notification protocol: pure data and decisions, no I/O.

The one place protocol facts live: types and their models, enums, Market's source networks,
answer bodies, the canonical dedup key, each type's entity and event time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ymnotify.lazy import lazy_exports

# Where each name lives, imported on first use: most commands need wire, enums or responses
# from this package, not the pydantic models (~0.25 s to import).
_EXPORTS: dict[str, str] = {
    "ErrorType": "ymnotify.protocol.enums",
    "NotificationType": "ymnotify.protocol.enums",
    "OrderLineServiceCancelReason": "ymnotify.protocol.enums",
    "OrderLineServiceStatus": "ymnotify.protocol.enums",
    "OrderStatus": "ymnotify.protocol.enums",
    "OrderSubstatus": "ymnotify.protocol.enums",
    "OrderUpdateType": "ymnotify.protocol.enums",
    "RefundStatus": "ymnotify.protocol.enums",
    "ReturnShipmentStatus": "ymnotify.protocol.enums",
    "ReturnType": "ymnotify.protocol.enums",
    "KNOWN_TYPES": "ymnotify.protocol.models",
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
    "StateChange": "ymnotify.protocol.models",
    "UnknownNotification": "ymnotify.protocol.models",
    "MalformedNotification": "ymnotify.protocol.parse",
    "ParsedBody": "ymnotify.protocol.parse",
    "parse_body": "ymnotify.protocol.parse",
    "parse_payload": "ymnotify.protocol.parse",
}

__all__ = list(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

# What type checkers and editors see: the same names, imported as the re-exports they are.
if TYPE_CHECKING:
    from ymnotify.protocol.enums import ErrorType as ErrorType
    from ymnotify.protocol.enums import NotificationType as NotificationType
    from ymnotify.protocol.enums import OrderLineServiceCancelReason as OrderLineServiceCancelReason
    from ymnotify.protocol.enums import OrderLineServiceStatus as OrderLineServiceStatus
    from ymnotify.protocol.enums import OrderStatus as OrderStatus
    from ymnotify.protocol.enums import OrderSubstatus as OrderSubstatus
    from ymnotify.protocol.enums import OrderUpdateType as OrderUpdateType
    from ymnotify.protocol.enums import RefundStatus as RefundStatus
    from ymnotify.protocol.enums import ReturnShipmentStatus as ReturnShipmentStatus
    from ymnotify.protocol.enums import ReturnType as ReturnType
    from ymnotify.protocol.models import KNOWN_TYPES as KNOWN_TYPES
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
    from ymnotify.protocol.models import StateChange as StateChange
    from ymnotify.protocol.models import UnknownNotification as UnknownNotification
    from ymnotify.protocol.parse import MalformedNotification as MalformedNotification
    from ymnotify.protocol.parse import ParsedBody as ParsedBody
    from ymnotify.protocol.parse import parse_body as parse_body
    from ymnotify.protocol.parse import parse_payload as parse_payload
