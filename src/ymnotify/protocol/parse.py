"""From a request body to a typed notification, or a precise reason why not."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import ValidationError

from ymnotify.protocol import wire
from ymnotify.protocol.models import KNOWN_TYPES, Notification, UnknownNotification


class MalformedNotification(ValueError):
    """The body is not a notification; ``path`` names the offending field ("" for the body)."""

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"{path}: {reason}" if path else reason)


@dataclass(frozen=True, slots=True)
class ParsedBody:
    """A body that parsed: its model, the parsed JSON and its dedup key."""

    notification: Notification
    payload: wire.JsonValue
    dedup_key: str

    @property
    def is_known(self) -> bool:
        return not isinstance(self.notification, UnknownNotification)

    @property
    def entity(self) -> str | None:
        """The notification's lane: its entity, ``unknown:<dedup key>`` for an unknown type,
        ``None`` for a PING (which has none)."""
        if isinstance(self.notification, UnknownNotification):
            return f"unknown:{self.dedup_key}"
        return self.notification.entity


def parse_body(body: bytes) -> ParsedBody:
    """Parse and validate a request body; raise ``MalformedNotification``."""
    payload = _loads(body)
    notification = parse_payload(payload)
    return ParsedBody(notification, payload, wire.dedup_key(payload))


def parse_notification(body: bytes) -> Notification:
    """The notification a stored body holds, for handlers; raise ``MalformedNotification``.
    Without the dedup key, which the receiver computed at intake (it costs as much again as
    the parse)."""
    return parse_payload(_loads(body))


def _loads(body: bytes) -> wire.JsonValue:
    try:
        return wire.loads(body)
    except wire.MalformedJson as exc:
        raise MalformedNotification("", str(exc)) from exc


def parse_payload(payload: wire.JsonValue) -> Notification:
    """Validate parsed JSON against the model its ``notificationType`` names."""
    if not isinstance(payload, dict):
        raise MalformedNotification("", f"body must be a JSON object, not {_json_kind(payload)}")
    if "notificationType" not in payload:
        raise MalformedNotification("notificationType", "required field is missing")
    kind = payload["notificationType"]
    if not isinstance(kind, str) or not kind:
        raise MalformedNotification("notificationType", "must be a non-empty string")
    model = KNOWN_TYPES.get(kind, UnknownNotification)
    try:
        # Wire names only: the models also take snake_case names, but for Python callers; a body
        # saying "order_id" instead of "orderId" is not a notification Market sends.
        return model.model_validate(payload, by_alias=True, by_name=False)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        raise MalformedNotification(_format_path(first["loc"]), first["msg"]) from exc


def _format_path(loc: tuple[int | str, ...]) -> str:
    # pydantic may add a union branch's tag ("str-enum[OrderStatus]", "function-after[...]") to
    # a location; it means nothing to a reader of the wire format, so only wire names (camelCase
    # identifiers) and list indexes are kept.
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part.isidentifier() and part[:1].islower():
            path += f".{part}" if path else part
    return path


def _json_kind(value: wire.JsonValue) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    return "a number"
