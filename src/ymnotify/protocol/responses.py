"""The answers a receiver gives Market, and the check Market applies to a 200's body."""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

from ymnotify.clock import utc_text
from ymnotify.protocol.enums import ErrorType

JSON_CONTENT_TYPE = "application/json"
NAME_MAX_LENGTH = 100
VERSION_MAX_LENGTH = 100


def rfc3339(moment: datetime) -> str:
    """UTC time as RFC 3339 with microseconds and a ``Z``."""
    return utc_text(moment)


def success_body(*, name: str, version: str, time: datetime) -> bytes:
    """The 200 body: ``{"version", "name", "time"}``, time being when processing started."""
    return json.dumps(
        {"version": version, "name": name, "time": rfc3339(time)}, separators=(",", ":")
    ).encode()


class SuccessBodies:
    """``success_body`` for one receiver: the constant part encoded once, only the time per call.

    The same bytes as ``success_body`` (a test holds them together); this is on the hot path.
    """

    def __init__(self, *, name: str, version: str) -> None:
        head = json.dumps({"version": version, "name": name, "time": ""}, separators=(",", ":"))
        # head ends with '""}': keep the opening quote, the time and '"}' go after it.
        self._head = head[:-2].encode()

    def body(self, time: datetime) -> bytes:
        return self._head + rfc3339(time).encode() + b'"}'


def error_body(error_type: ErrorType, message: str) -> bytes:
    """The 400/500 body: ``{"error": {"type", "message"}}``."""
    payload = {"error": {"type": error_type.value, "message": message}}
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


def integration_name_problem(name: str) -> str | None:
    """Why ``name`` cannot be an integration name (ASCII, 1–100 characters), or ``None``."""
    if not 1 <= len(name) <= NAME_MAX_LENGTH:
        return f"name must be 1–{NAME_MAX_LENGTH} characters, got {len(name)}"
    if not name.isascii():
        return "name must be ASCII only"
    return None


def success_body_problem(document: Any) -> str | None:
    """Why a parsed 200 body would not satisfy Market (``INVALID_DATA``), or ``None``."""
    if not isinstance(document, dict):
        return "body is not a JSON object"
    for field, limit in (("version", VERSION_MAX_LENGTH), ("name", NAME_MAX_LENGTH)):
        value = document.get(field)
        if not isinstance(value, str):
            return f"{field} is missing or not a string"
        if not 1 <= len(value) <= limit:
            return f"{field} must be 1–{limit} characters"
    name_problem = integration_name_problem(document["name"])
    if name_problem:
        return name_problem
    time = document.get("time")
    if not isinstance(time, str):
        return "time is missing or not a string"
    shape = _RFC3339_DATE_TIME.fullmatch(time)
    if shape is None:
        return f"time {time!r} is not an RFC 3339 date-time"
    if shape["offset"] is None:
        return f"time {time!r} has no UTC offset"
    try:  # the shape is right; are the values (month 13, hour 25, Feb 30)?
        datetime.fromisoformat(time.upper())
    except ValueError:
        return f"time {time!r} is not an RFC 3339 date-time"
    return None


# RFC 3339's date-time: full date, "T", time with seconds, optional fraction, "Z" or ±hh:mm
# ("T" and "Z" in either case). ``datetime.fromisoformat`` alone is wider: it also takes a space
# for "T", basic and week formats, minutes without seconds and offsets without a colon, which a
# strict parser such as Market's refuses. The offset is optional here only so that its absence
# gets its own message.
_RFC3339_DATE_TIME = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?P<offset>[Zz]|[+-]\d{2}:\d{2})?"
)
