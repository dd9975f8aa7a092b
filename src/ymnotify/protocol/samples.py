"""Valid, realistic sample bodies of every notification type, for the sandbox and the checker.

Ids default to values far from real Market ids' ranges, so a sample that reaches a live system
cannot be mistaken for a real order, chat or review: every id is ``SAMPLE_ID_BASE`` plus a small
number. Overrides replace top-level fields by wire name.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ymnotify.protocol.enums import NotificationType
from ymnotify.protocol.responses import rfc3339

# 9e18 is above any id Market has issued and still inside int64; recognisable at a glance.
SAMPLE_ID_BASE = 9_000_000_000_000_000_000
SAMPLE_CAMPAIGN_ID = SAMPLE_ID_BASE + 1001
SAMPLE_BUSINESS_ID = SAMPLE_ID_BASE + 1


def sample(
    notification_type: str,
    *,
    at: datetime | None = None,
    campaign_id: int = SAMPLE_CAMPAIGN_ID,
    business_id: int = SAMPLE_BUSINESS_ID,
    **overrides: Any,
) -> dict[str, Any]:
    """A valid body of ``notification_type`` (any string: unknown types get a minimal body)."""
    when = rfc3339(at or datetime.now(UTC))
    order = {"orderId": SAMPLE_ID_BASE + 51234567, "campaignId": campaign_id}
    items = [{"offerId": "YMNOTIFY-SAMPLE-SKU-1", "count": 2}]
    bodies: dict[str, dict[str, Any]] = {
        NotificationType.PING: {"time": when},
        NotificationType.ORDER_CREATED: {**order, "items": items, "createdAt": when},
        NotificationType.ORDER_CANCELLED: {**order, "items": items, "cancelledAt": when},
        NotificationType.ORDER_STATUS_UPDATED: {
            **order,
            "status": "PROCESSING",
            "substatus": "STARTED",
            "updatedAt": when,
        },
        NotificationType.ORDER_CANCELLATION_REQUEST: {**order, "requestedAt": when},
        NotificationType.ORDER_RETURN_CREATED: {
            **order,
            "returnId": SAMPLE_ID_BASE + 7781234,
            "returnType": "RETURN",
            "items": [{"offerId": "YMNOTIFY-SAMPLE-SKU-1", "count": 1}],
            "createdAt": when,
        },
        NotificationType.ORDER_RETURN_STATUS_UPDATED: {
            **order,
            "returnId": SAMPLE_ID_BASE + 7781234,
            "statuses": {"refundStatus": "REFUND_IN_PROGRESS"},
            "updatedAt": when,
        },
        NotificationType.ORDER_UPDATED: {
            **order,
            "updateType": "DELIVERY_DATE_UPDATED",
            "updatedAt": when,
        },
        NotificationType.ORDER_LINE_SERVICE_STATUS_UPDATED: {
            **order,
            "itemId": SAMPLE_ID_BASE + 112233,
            "serviceArticle": "YMNOTIFY-SAMPLE-SERVICE",
            "statuses": [{"status": "PROVIDED", "count": 1}],
            "updatedAt": when,
        },
        NotificationType.GOODS_FEEDBACK_CREATED: {
            "feedbackId": SAMPLE_ID_BASE + 98765,
            "businessId": business_id,
            "createdAt": when,
            "publishedAt": when,
        },
        NotificationType.GOODS_FEEDBACK_COMMENT_CREATED: {
            "commentId": SAMPLE_ID_BASE + 55501,
            "businessId": business_id,
            "createdAt": when,
        },
        NotificationType.CHAT_CREATED: {
            "chatId": SAMPLE_ID_BASE + 33445,
            "businessId": business_id,
            "createdAt": when,
        },
        NotificationType.CHAT_MESSAGE_SENT: {
            "chatId": SAMPLE_ID_BASE + 33445,
            "messageId": "ymnotify-sample-message-1",
            "businessId": business_id,
            "sentAt": when,
        },
        NotificationType.CHAT_ARBITRAGE_STARTED: {
            "chatId": SAMPLE_ID_BASE + 33445,
            "businessId": business_id,
            "startedAt": when,
        },
        NotificationType.CHAT_ARBITRAGE_FINISHED: {
            "chatId": SAMPLE_ID_BASE + 33445,
            "businessId": business_id,
            "finishedAt": when,
        },
        NotificationType.QUESTION_CREATED: {
            "questionId": SAMPLE_ID_BASE + 44556,
            "businessId": business_id,
            "createdAt": when,
        },
        NotificationType.QUESTION_ANSWER_CREATED: {
            "answerId": SAMPLE_ID_BASE + 77889,
            "businessId": business_id,
            "createdAt": when,
        },
        NotificationType.QUESTION_COMMENT_CREATED: {
            "answerId": SAMPLE_ID_BASE + 77889,
            "commentId": SAMPLE_ID_BASE + 11223,
            "businessId": business_id,
            "createdAt": when,
        },
    }
    body = bodies.get(notification_type, {"businessId": business_id, "createdAt": when})
    return {"notificationType": notification_type, **body, **overrides}


def all_types() -> list[str]:
    """Every type this version knows, PING first."""
    return [kind.value for kind in NotificationType]
