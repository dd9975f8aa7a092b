"""Request bodies: every tolerant variant Market may send, and every kind of malformed input.

Written as literal bytes on purpose: the exact text (number spelling, key order, whitespace,
escapes) is what the receiver must keep.
"""

from __future__ import annotations

from dataclasses import dataclass

INT64_MAX = 2**63 - 1
BEYOND_2_53 = 2**53 + 1  # the first integer a double cannot hold

# name -> body; each must be answered 200 and stored exactly once, unchanged.
TOLERANT: dict[str, bytes] = {
    "extra fields at every level": (
        b'{"notificationType":"ORDER_CREATED","orderId":51234567890,"campaignId":21987654,'
        b'"items":[{"offerId":"SKU-RED-42","count":2,"price":1.10,"tags":["a",null,true]}],'
        b'"createdAt":"2026-09-20T09:15:42.318Z","newTopField":{"nested":{"deeper":[1,2.50]}},'
        b'"someFlag":false}'
    ),
    "decimals in extra fields kept as written": (
        b'{"notificationType":"ORDER_STATUS_UPDATED","orderId":51234567891,"campaignId":21987654,'
        b'"status":"PROCESSING","substatus":"STARTED","updatedAt":"2026-09-20T09:16:03.001Z",'
        b'"amount":1.10,"zero":0.000,"exp":1E+2,"negative":-0.50,'
        b'"huge":123456789012345678901234567890}'
    ),
    "unknown order status and substatus": (
        b'{"notificationType":"ORDER_STATUS_UPDATED","orderId":51234567892,"campaignId":21987654,'
        b'"status":"SOME_FUTURE_STATUS","substatus":"SOME_FUTURE_SUBSTATUS",'
        b'"updatedAt":"2026-09-20T09:16:03Z"}'
    ),
    "substatus absent": (
        b'{"notificationType":"ORDER_STATUS_UPDATED","orderId":51234567893,"campaignId":21987654,'
        b'"status":"DELIVERED","updatedAt":"2026-09-20T09:16:03Z"}'
    ),
    "unknown updateType": (
        b'{"notificationType":"ORDER_UPDATED","orderId":51234567894,"campaignId":21987654,'
        b'"updateType":"PICKUP_DATE_UPDATED","updatedAt":"2026-09-21T07:05:10Z"}'
    ),
    "unknown returnType": (
        b'{"notificationType":"ORDER_RETURN_CREATED","orderId":51234567895,"returnId":7781234,'
        b'"returnType":"EXCHANGE","campaignId":21987654,'
        b'"items":[{"offerId":"SKU-RED-42","count":1}],"createdAt":"2026-09-25T14:00:11Z"}'
    ),
    "unknown line service status and cancel reason": (
        b'{"notificationType":"ORDER_LINE_SERVICE_STATUS_UPDATED","orderId":51234567896,'
        b'"campaignId":21987654,"itemId":112233445,"serviceArticle":"INSTALL-01",'
        b'"statuses":[{"status":"RESCHEDULED","count":1},{"status":"PROVIDED","count":1}],'
        b'"updatedAt":"2026-09-27T12:00:00Z","cancelReason":"WEATHER"}'
    ),
    "9-digit fractional seconds": (
        b'{"notificationType":"ORDER_CREATED","orderId":51234567897,"campaignId":21987654,'
        b'"items":[{"offerId":"SKU-RED-42","count":2}],'
        b'"createdAt":"2025-01-16T10:09:49.759084017Z"}'
    ),
    "non-UTC offset +03:00": (
        b'{"notificationType":"ORDER_CANCELLED","orderId":51234567898,"campaignId":21987654,'
        b'"items":[{"offerId":"SKU-RED-42","count":2}],"cancelledAt":"2026-09-20T14:02:07+03:00"}'
    ),
    "non-UTC offset -05:30 with 9 digits": (
        b'{"notificationType":"ORDER_CANCELLATION_REQUEST","orderId":51234567899,'
        b'"campaignId":21987654,"requestedAt":"2026-09-20T05:10:00.123456789-05:30"}'
    ),
    "orderLineServices null": (
        b'{"notificationType":"ORDER_CREATED","orderId":51234567900,"campaignId":21987654,'
        b'"items":[{"offerId":"SKU-RED-42","count":2}],"createdAt":"2026-09-20T09:15:42Z",'
        b'"orderLineServices":null}'
    ),
    "orderLineServices present": (
        b'{"notificationType":"ORDER_CREATED","orderId":51234567901,"campaignId":21987654,'
        b'"items":[{"offerId":"SKU-RED-42","count":2}],"createdAt":"2026-09-20T09:15:42Z",'
        b'"orderLineServices":[{"itemId":112233445,"serviceArticle":"INSTALL-01"}]}'
    ),
    "orderLineServices absent": (
        b'{"notificationType":"ORDER_CREATED","orderId":51234567902,"campaignId":21987654,'
        b'"items":[{"offerId":"SKU-RED-42","count":2}],"createdAt":"2026-09-20T09:15:42Z"}'
    ),
    "only refundStatus": (
        b'{"notificationType":"ORDER_RETURN_STATUS_UPDATED","orderId":51234567903,'
        b'"returnId":7781234,"campaignId":21987654,"statuses":{"refundStatus":"REFUNDED"},'
        b'"updatedAt":"2026-09-26T08:30:00Z"}'
    ),
    "only shipmentStatus": (
        b'{"notificationType":"ORDER_RETURN_STATUS_UPDATED","orderId":51234567904,'
        b'"returnId":7781235,"campaignId":21987654,"statuses":{"shipmentStatus":"IN_TRANSIT"},'
        b'"updatedAt":"2026-09-26T08:30:00Z"}'
    ),
    "unknown refund and shipment statuses": (
        b'{"notificationType":"ORDER_RETURN_STATUS_UPDATED","orderId":51234567905,'
        b'"returnId":7781236,"campaignId":21987654,'
        b'"statuses":{"refundStatus":"REFUND_PENDING_X","shipmentStatus":"TELEPORTED"},'
        b'"updatedAt":"2026-09-26T08:30:00Z"}'
    ),
    "ids beyond 2**53": (
        b'{"notificationType":"ORDER_STATUS_UPDATED","orderId":%d,"campaignId":%d,'
        b'"status":"PROCESSING","substatus":"READY_TO_SHIP","updatedAt":"2026-09-20T09:16:03Z"}'
        % (BEYOND_2_53, BEYOND_2_53 + 2)
    ),
    "ids at int64 max": (
        b'{"notificationType":"QUESTION_COMMENT_CREATED","answerId":%d,"commentId":%d,'
        b'"businessId":%d,"createdAt":"2026-09-20T16:30:00Z"}'
        % (INT64_MAX, INT64_MAX - 1, INT64_MAX)
    ),
    "chat ids near int64 max, string messageId": (
        b'{"notificationType":"CHAT_MESSAGE_SENT","chatId":%d,"messageId":"998877665544332211",'
        b'"businessId":%d,"sentAt":"2026-09-20T12:01:30Z"}' % (INT64_MAX - 7, BEYOND_2_53)
    ),
    "non-ASCII text, raw UTF-8": (
        '{"notificationType":"ORDER_CREATED","orderId":51234567906,"campaignId":21987654,'
        '"items":[{"offerId":"Кроссовки-42 ✓","count":1}],"createdAt":"2026-09-20T09:15:42Z",'
        '"comment":"доставка 🚚"}'
    ).encode(),
    "pretty-printed with escapes": (
        b'{\r\n  "notificationType" : "GOODS_FEEDBACK_CREATED",\n  "feedbackId" : 98765432,\n'
        b'  "businessId" : 1234567,\n  "createdAt" : "2026-09-18T19:20:00Z",\n'
        b'  "publishedAt" : "2026-09-19T06:45:31Z",\n'
        b'  "note" : "\\u041e\\u041a \\"quoted\\" \\/ \\t"\n}\n'
    ),
}


@dataclass(frozen=True)
class Malformed:
    """A body Market must get 400 for; ``path`` is the field the message must name."""

    name: str
    body: bytes
    path: str = ""  # "" when the whole body is at fault (not JSON, not an object, ...)
    declared_type: str | None = None  # the notificationType the listing should show


_ORDER = b'"orderId":51234567890,"campaignId":21987654'
_ITEMS = b'"items":[{"offerId":"SKU-RED-42","count":2}]'

MALFORMED: tuple[Malformed, ...] = (
    Malformed("not JSON", b'{"notificationType": "ORDER_CREATED", orderId: 1}'),
    Malformed("truncated JSON", b'{"notificationType":"ORDER_CREATED","orderId":5123'),
    Malformed("trailing garbage", b'{"notificationType":"PING"} {"x":1}'),
    Malformed("not UTF-8", b'{"notificationType":"CHAT_CREATED","note":"\xff\xfe\xc0"}'),
    Malformed("NaN is not JSON", b'{"notificationType":"ORDER_CREATED","orderId":NaN}'),
    Malformed("array", b'[{"notificationType":"PING"}]'),
    Malformed("string", b'"ORDER_CREATED"'),
    Malformed("number", b"42"),
    Malformed("null", b"null"),
    Malformed("empty body", b""),
    Malformed("missing notificationType", b"{" + _ORDER + b"," + _ITEMS + b"}", "notificationType"),
    Malformed("notificationType not a string", b'{"notificationType":7}', "notificationType"),
    Malformed(
        "missing required field",
        b'{"notificationType":"ORDER_CREATED",' + _ORDER + b"," + _ITEMS + b"}",
        "createdAt",
        "ORDER_CREATED",
    ),
    Malformed(
        "missing field inside a list",
        b'{"notificationType":"ORDER_CREATED",' + _ORDER + b',"items":[{"count":2}],'
        b'"createdAt":"2026-09-20T09:15:42Z"}',
        "items[0].offerId",
        "ORDER_CREATED",
    ),
    Malformed(
        "id as a string",
        b'{"notificationType":"ORDER_CANCELLATION_REQUEST","orderId":"51234567890",'
        b'"campaignId":21987654,"requestedAt":"2026-09-20T10:40:00Z"}',
        "orderId",
        "ORDER_CANCELLATION_REQUEST",
    ),
    Malformed(
        "id as a fraction",
        b'{"notificationType":"CHAT_CREATED","chatId":3344556677.5,"businessId":1234567,'
        b'"createdAt":"2026-09-20T12:00:00Z"}',
        "chatId",
        "CHAT_CREATED",
    ),
    Malformed(
        "id beyond int64",
        b'{"notificationType":"CHAT_CREATED","chatId":9223372036854775808,"businessId":1234567,'
        b'"createdAt":"2026-09-20T12:00:00Z"}',
        "chatId",
        "CHAT_CREATED",
    ),
    Malformed(
        "campaignId below its minimum",
        b'{"notificationType":"ORDER_UPDATED","orderId":51234567890,"campaignId":0,'
        b'"updateType":"DELIVERY_DATE_UPDATED","updatedAt":"2026-09-21T07:05:10Z"}',
        "campaignId",
        "ORDER_UPDATED",
    ),
    Malformed(
        "messageId as a number",
        b'{"notificationType":"CHAT_MESSAGE_SENT","chatId":3344556677,"messageId":998877,'
        b'"businessId":1234567,"sentAt":"2026-09-20T12:01:30Z"}',
        "messageId",
        "CHAT_MESSAGE_SENT",
    ),
    Malformed(
        "statuses not an object",
        b'{"notificationType":"ORDER_RETURN_STATUS_UPDATED",' + _ORDER + b',"returnId":7781234,'
        b'"statuses":"REFUNDED","updatedAt":"2026-09-26T08:30:00Z"}',
        "statuses",
        "ORDER_RETURN_STATUS_UPDATED",
    ),
    Malformed(
        "time without offset",
        b'{"notificationType":"ORDER_CREATED",' + _ORDER + b"," + _ITEMS + b","
        b'"createdAt":"2026-09-20T09:15:42.318"}',
        "createdAt",
        "ORDER_CREATED",
    ),
    Malformed(
        "time as a Unix timestamp",
        b'{"notificationType":"QUESTION_CREATED","questionId":4455667,"businessId":1234567,'
        b'"createdAt":1789900000}',
        "createdAt",
        "QUESTION_CREATED",
    ),
    Malformed(
        "time that is not a date",
        b'{"notificationType":"CHAT_ARBITRAGE_STARTED","chatId":3344556677,"businessId":1234567,'
        b'"startedAt":"yesterday"}',
        "startedAt",
        "CHAT_ARBITRAGE_STARTED",
    ),
    Malformed("deep nesting, arrays", b"[" * 100_000 + b"]" * 100_000),
    Malformed("deep nesting, objects", b'{"a":' * 100_000 + b"1" + b"}" * 100_000),
    Malformed(
        "deep nesting inside a notification",
        b'{"notificationType":"ORDER_CREATED","extra":' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    ),
)
