"""One typed, frozen model per notification type, and a catch-all for types Market adds later.

Attributes are snake_case; the wire names stay camelCase (``OrderCreated.order_id`` is
``orderId``). The models are deliberately tolerant, as PROTOCOL.md §2 and §9 ask:

- extra fields are kept (``model.model_extra``), because Market adds fields without notice;
- enum fields accept values Market has not documented yet and keep them as plain ``str``;
- times accept any UTC offset and up to nine fractional digits (truncated to microseconds);
- ``orderLineServices`` may be absent or null, ``substatus`` may be absent, return ``statuses``
  carry only what changed.

Ids are exact Python ints (int64), never floats. The relaxations against the official spec are
listed in ``tests/protocol/spec_relaxations.py`` beside the test that proves the rest matches.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
    ValidationError,
    ValidatorFunctionWrapHandler,
    field_validator,
)
from pydantic.alias_generators import to_camel

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

INT64_MAX = 2**63 - 1


def _require_string(value: object) -> object:
    # pydantic would also take a number as a Unix time; the protocol only sends RFC 3339 text.
    if not isinstance(value, str):
        raise ValueError("must be an RFC 3339 date-time string")
    return value


Int64 = Annotated[StrictInt, Field(ge=-(2**63), le=INT64_MAX)]
PositiveInt64 = Annotated[StrictInt, Field(ge=1, le=INT64_MAX)]


def _require_utc_instant(moment: datetime) -> datetime:
    # "0001-01-01T00:00:00+03:00" is valid RFC 3339 but has no UTC form in Python; stores and
    # comparisons work in UTC, so such a time is malformed rather than a crash later.
    try:
        moment.astimezone(UTC)
    except OverflowError:
        raise ValueError("is outside the range of representable UTC times") from None
    return moment


EventTime = Annotated[
    AwareDatetime, BeforeValidator(_require_string), AfterValidator(_require_utc_instant)
]


def _require_text(value: object) -> object:
    # Checked before the union so that a number in an enum field is reported as "must be a
    # string" at the field's own path, not against the enum's member list of one union branch.
    if not isinstance(value, str):
        raise ValueError("must be a string")
    return value


_TEXT = BeforeValidator(_require_text)
_KNOWN_FIRST = Field(union_mode="left_to_right")

# An open enum: a known value becomes the enum member, an unknown one stays a plain string.
OrderStatusValue = Annotated[OrderStatus | StrictStr, _KNOWN_FIRST, _TEXT]
OrderSubstatusValue = Annotated[OrderSubstatus | StrictStr, _KNOWN_FIRST, _TEXT]
OrderUpdateTypeValue = Annotated[OrderUpdateType | StrictStr, _KNOWN_FIRST, _TEXT]
ReturnTypeValue = Annotated[ReturnType | StrictStr, _KNOWN_FIRST, _TEXT]
RefundStatusValue = Annotated[RefundStatus | StrictStr, _KNOWN_FIRST, _TEXT]
ReturnShipmentStatusValue = Annotated[ReturnShipmentStatus | StrictStr, _KNOWN_FIRST, _TEXT]
LineServiceStatusValue = Annotated[OrderLineServiceStatus | StrictStr, _KNOWN_FIRST, _TEXT]
LineServiceCancelReasonValue = Annotated[
    OrderLineServiceCancelReason | StrictStr, _KNOWN_FIRST, _TEXT
]


class WireModel(BaseModel):
    """Base of every wire object: frozen, camelCase aliases, unknown fields kept."""

    model_config = ConfigDict(
        frozen=True,
        extra="allow",
        alias_generator=to_camel,
        populate_by_name=True,
    )


class OrderItem(WireModel):
    """An order line: the seller's SKU and a count (``NotificationOrderItemDTO``)."""

    offer_id: Annotated[StrictStr, Field(min_length=1, max_length=255)]
    count: Int64


class ReturnItem(WireModel):
    """A returned line (``NotificationReturnItemDTO``)."""

    offer_id: Annotated[StrictStr, Field(min_length=1, max_length=255)]
    count: Int64


class OrderLineService(WireModel):
    """A service attached to an order line (``NotificationOrderLineServiceDTO``)."""

    item_id: PositiveInt64
    service_article: StrictStr


class LineServiceStatusCount(WireModel):
    """How many units of a line service are in one status."""

    status: LineServiceStatusValue
    count: Int64


class ReturnStatuses(WireModel):
    """The return statuses that changed; either or both may be absent."""

    refund_status: RefundStatusValue | None = None
    shipment_status: ReturnShipmentStatusValue | None = None


@dataclass(frozen=True, slots=True)
class StateChange:
    """A piece of entity state a notification reports, with the time it became true.

    Built by the models from values they have validated already, once per stored notification:
    a plain dataclass, not a validating model.
    """

    slot: str  # e.g. "status" or "return:7781234/refundStatus", relative to the entity
    value: dict[str, Any]
    at: datetime


class Notification(WireModel):
    """Base of all notification models."""

    TYPE: ClassVar[str]
    notification_type: str

    @property
    def entity(self) -> str | None:
        """The lane this notification belongs to (``order:ID``, ``chat:ID``…), or ``None``."""
        return None

    @property
    def event_time(self) -> datetime | None:
        """When the event happened, per Market; the later time wins."""
        return None

    def state_changes(self) -> tuple[StateChange, ...]:
        """State this notification reports; empty for notifications that carry none."""
        return ()


class Ping(Notification):
    """PING: Market checks the endpoint. Answered at once, never sent to handlers."""

    TYPE: ClassVar[str] = NotificationType.PING
    notification_type: Literal[NotificationType.PING]
    time: EventTime | None = None

    @field_validator("time", mode="wrap")
    @classmethod
    def _unusable_time_is_no_time(cls, value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        # A PING only asks "are you there?": a 400 for its (optional, informational) time would
        # leave the integration switched off. Nothing is stored from it but "last PING seen".
        try:
            return handler(value)
        except ValidationError:
            return None

    @property
    def event_time(self) -> datetime | None:
        return self.time


class _OrderNotification(Notification):
    order_id: Int64
    campaign_id: PositiveInt64

    @property
    def entity(self) -> str:
        return f"order:{self.order_id}"


class OrderCreated(_OrderNotification):
    """ORDER_CREATED: a new order."""

    TYPE: ClassVar[str] = NotificationType.ORDER_CREATED
    notification_type: Literal[NotificationType.ORDER_CREATED]
    items: list[OrderItem]
    created_at: EventTime
    # The ru docs say minItems 1, the spec ff3e65c says nothing: an empty list is accepted
    # rather than answered 400, which Market would never retry.
    order_line_services: list[OrderLineService] | None = None

    @property
    def event_time(self) -> datetime:
        return self.created_at


class OrderCancelled(_OrderNotification):
    """ORDER_CANCELLED: the order was cancelled."""

    TYPE: ClassVar[str] = NotificationType.ORDER_CANCELLED
    notification_type: Literal[NotificationType.ORDER_CANCELLED]
    items: list[OrderItem]
    cancelled_at: EventTime

    @property
    def event_time(self) -> datetime:
        return self.cancelled_at

    def state_changes(self) -> tuple[StateChange, ...]:
        value = {"status": OrderStatus.CANCELLED.value, "substatus": None}
        return (StateChange(slot="status", value=value, at=self.cancelled_at),)


class OrderStatusUpdated(_OrderNotification):
    """ORDER_STATUS_UPDATED: the order moved to another status/substatus."""

    TYPE: ClassVar[str] = NotificationType.ORDER_STATUS_UPDATED
    notification_type: Literal[NotificationType.ORDER_STATUS_UPDATED]
    status: OrderStatusValue
    substatus: OrderSubstatusValue | None = None
    updated_at: EventTime

    @property
    def event_time(self) -> datetime:
        return self.updated_at

    def state_changes(self) -> tuple[StateChange, ...]:
        value = {"status": str(self.status), "substatus": _opt_str(self.substatus)}
        return (StateChange(slot="status", value=value, at=self.updated_at),)


class OrderCancellationRequest(_OrderNotification):
    """ORDER_CANCELLATION_REQUEST: the buyer asked to cancel (DBS)."""

    TYPE: ClassVar[str] = NotificationType.ORDER_CANCELLATION_REQUEST
    notification_type: Literal[NotificationType.ORDER_CANCELLATION_REQUEST]
    requested_at: EventTime

    @property
    def event_time(self) -> datetime:
        return self.requested_at


class OrderReturnCreated(_OrderNotification):
    """ORDER_RETURN_CREATED: a new return or non-purchase."""

    TYPE: ClassVar[str] = NotificationType.ORDER_RETURN_CREATED
    notification_type: Literal[NotificationType.ORDER_RETURN_CREATED]
    return_id: Int64
    return_type: ReturnTypeValue
    items: list[ReturnItem]
    created_at: EventTime

    @property
    def event_time(self) -> datetime:
        return self.created_at


class OrderReturnStatusUpdated(_OrderNotification):
    """ORDER_RETURN_STATUS_UPDATED: a return's refund and/or shipment status changed."""

    TYPE: ClassVar[str] = NotificationType.ORDER_RETURN_STATUS_UPDATED
    notification_type: Literal[NotificationType.ORDER_RETURN_STATUS_UPDATED]
    return_id: Int64
    statuses: ReturnStatuses
    updated_at: EventTime

    @property
    def event_time(self) -> datetime:
        return self.updated_at

    def state_changes(self) -> tuple[StateChange, ...]:
        changes = []
        for wire_name, status in (
            ("refundStatus", self.statuses.refund_status),
            ("shipmentStatus", self.statuses.shipment_status),
        ):
            if status is not None:
                changes.append(
                    StateChange(
                        slot=f"return:{self.return_id}/{wire_name}",
                        value={wire_name: str(status)},
                        at=self.updated_at,
                    )
                )
        return tuple(changes)


class OrderUpdated(_OrderNotification):
    """ORDER_UPDATED: the shipment or delivery date changed (see ``update_type``)."""

    TYPE: ClassVar[str] = NotificationType.ORDER_UPDATED
    notification_type: Literal[NotificationType.ORDER_UPDATED]
    update_type: OrderUpdateTypeValue
    updated_at: EventTime

    @property
    def event_time(self) -> datetime:
        return self.updated_at

    def state_changes(self) -> tuple[StateChange, ...]:
        value = {"updateType": str(self.update_type)}
        return (StateChange(slot=f"update:{self.update_type}", value=value, at=self.updated_at),)


class OrderLineServiceStatusUpdated(_OrderNotification):
    """ORDER_LINE_SERVICE_STATUS_UPDATED: units of a line service changed status."""

    TYPE: ClassVar[str] = NotificationType.ORDER_LINE_SERVICE_STATUS_UPDATED
    notification_type: Literal[NotificationType.ORDER_LINE_SERVICE_STATUS_UPDATED]
    item_id: PositiveInt64
    service_article: StrictStr
    statuses: Annotated[list[LineServiceStatusCount], Field(min_length=1)]
    updated_at: EventTime
    cancel_reason: LineServiceCancelReasonValue | None = None

    @property
    def event_time(self) -> datetime:
        return self.updated_at

    def state_changes(self) -> tuple[StateChange, ...]:
        value = {
            "statuses": [{"status": str(s.status), "count": s.count} for s in self.statuses],
            "cancelReason": _opt_str(self.cancel_reason),
        }
        slot = f"service:{self.item_id}/{self.service_article}"
        return (StateChange(slot=slot, value=value, at=self.updated_at),)


class GoodsFeedbackCreated(Notification):
    """GOODS_FEEDBACK_CREATED: a product review was published."""

    TYPE: ClassVar[str] = NotificationType.GOODS_FEEDBACK_CREATED
    notification_type: Literal[NotificationType.GOODS_FEEDBACK_CREATED]
    feedback_id: Int64
    business_id: PositiveInt64
    created_at: EventTime
    published_at: EventTime

    @property
    def entity(self) -> str:
        return f"feedback:{self.feedback_id}"

    @property
    def event_time(self) -> datetime:
        return self.created_at


class GoodsFeedbackCommentCreated(Notification):
    """GOODS_FEEDBACK_COMMENT_CREATED: a comment on a review."""

    TYPE: ClassVar[str] = NotificationType.GOODS_FEEDBACK_COMMENT_CREATED
    notification_type: Literal[NotificationType.GOODS_FEEDBACK_COMMENT_CREATED]
    comment_id: Int64
    business_id: PositiveInt64
    created_at: EventTime

    @property
    def entity(self) -> str:
        return f"feedback-comment:{self.comment_id}"

    @property
    def event_time(self) -> datetime:
        return self.created_at


class _ChatNotification(Notification):
    chat_id: Int64
    business_id: PositiveInt64

    @property
    def entity(self) -> str:
        return f"chat:{self.chat_id}"


class ChatCreated(_ChatNotification):
    """CHAT_CREATED: a new chat with a buyer."""

    TYPE: ClassVar[str] = NotificationType.CHAT_CREATED
    notification_type: Literal[NotificationType.CHAT_CREATED]
    created_at: EventTime

    @property
    def event_time(self) -> datetime:
        return self.created_at


class ChatMessageSent(_ChatNotification):
    """CHAT_MESSAGE_SENT: a new message in a chat (``message_id`` is a string)."""

    TYPE: ClassVar[str] = NotificationType.CHAT_MESSAGE_SENT
    notification_type: Literal[NotificationType.CHAT_MESSAGE_SENT]
    message_id: StrictStr
    sent_at: EventTime

    @property
    def event_time(self) -> datetime:
        return self.sent_at


class ChatArbitrageStarted(_ChatNotification):
    """CHAT_ARBITRAGE_STARTED: a dispute started."""

    TYPE: ClassVar[str] = NotificationType.CHAT_ARBITRAGE_STARTED
    notification_type: Literal[NotificationType.CHAT_ARBITRAGE_STARTED]
    started_at: EventTime

    @property
    def event_time(self) -> datetime:
        return self.started_at

    def state_changes(self) -> tuple[StateChange, ...]:
        value = {"arbitrage": "STARTED"}
        return (StateChange(slot="arbitrage", value=value, at=self.started_at),)


class ChatArbitrageFinished(_ChatNotification):
    """CHAT_ARBITRAGE_FINISHED: a dispute ended."""

    TYPE: ClassVar[str] = NotificationType.CHAT_ARBITRAGE_FINISHED
    notification_type: Literal[NotificationType.CHAT_ARBITRAGE_FINISHED]
    finished_at: EventTime

    @property
    def event_time(self) -> datetime:
        return self.finished_at

    def state_changes(self) -> tuple[StateChange, ...]:
        value = {"arbitrage": "FINISHED"}
        return (StateChange(slot="arbitrage", value=value, at=self.finished_at),)


class QuestionCreated(Notification):
    """QUESTION_CREATED: a buyer asked about a product."""

    TYPE: ClassVar[str] = NotificationType.QUESTION_CREATED
    notification_type: Literal[NotificationType.QUESTION_CREATED]
    question_id: Int64
    business_id: PositiveInt64
    created_at: EventTime

    @property
    def entity(self) -> str:
        return f"question:{self.question_id}"

    @property
    def event_time(self) -> datetime:
        return self.created_at


class QuestionAnswerCreated(Notification):
    """QUESTION_ANSWER_CREATED: a new answer to a question."""

    TYPE: ClassVar[str] = NotificationType.QUESTION_ANSWER_CREATED
    notification_type: Literal[NotificationType.QUESTION_ANSWER_CREATED]
    answer_id: Int64
    business_id: PositiveInt64
    created_at: EventTime

    @property
    def entity(self) -> str:
        return f"answer:{self.answer_id}"

    @property
    def event_time(self) -> datetime:
        return self.created_at


class QuestionCommentCreated(Notification):
    """QUESTION_COMMENT_CREATED: a new comment on an answer."""

    TYPE: ClassVar[str] = NotificationType.QUESTION_COMMENT_CREATED
    notification_type: Literal[NotificationType.QUESTION_COMMENT_CREATED]
    answer_id: Int64
    comment_id: Int64
    business_id: PositiveInt64
    created_at: EventTime

    @property
    def entity(self) -> str:
        return f"answer:{self.answer_id}"

    @property
    def event_time(self) -> datetime:
        return self.created_at


class UnknownNotification(Notification):
    """A ``notificationType`` this version does not know. Stored, answered 200, and handed to
    catch-all handlers; every field is in ``model_extra`` exactly as received."""

    TYPE: ClassVar[str] = "*"
    notification_type: StrictStr


KNOWN_TYPES: dict[str, type[Notification]] = {
    model.TYPE: model
    for model in (
        Ping,
        OrderCreated,
        OrderCancelled,
        OrderStatusUpdated,
        OrderCancellationRequest,
        OrderReturnCreated,
        OrderReturnStatusUpdated,
        OrderUpdated,
        OrderLineServiceStatusUpdated,
        GoodsFeedbackCreated,
        GoodsFeedbackCommentCreated,
        ChatCreated,
        ChatMessageSent,
        ChatArbitrageStarted,
        ChatArbitrageFinished,
        QuestionCreated,
        QuestionAnswerCreated,
        QuestionCommentCreated,
    )
}


def _opt_str(value: object) -> str | None:
    return None if value is None else str(value)
