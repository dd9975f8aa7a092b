"""Checks of the receiver's HTTP answers against what Market requires (PROTOCOL.md §3)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx

from ymnotify import __version__
from ymnotify.protocol.responses import success_body_problem

# The receive time in a 200 must be "now"; a generous bound only catches a wrong clock or zone.
CLOCK_SLACK = timedelta(minutes=5)


def success_problem(response: httpx.Response, *, name: str = "ymnotify") -> str | None:
    """Why ``response`` is not the 200 Market accepts, or ``None``."""
    if response.status_code != 200:
        return f"status {response.status_code}: {response.text[:300]}"
    content_type = response.headers.get("content-type", "")
    if content_type.split(";")[0].strip() != "application/json":
        return f"content-type {content_type!r}"
    try:
        document = response.json()
    except json.JSONDecodeError:
        return f"body is not JSON: {response.text[:300]!r}"
    if not isinstance(document, dict) or set(document) != {"version", "name", "time"}:
        return f"body is not exactly {{version, name, time}}: {document!r}"
    problem = success_body_problem(document)
    if problem:
        return problem
    if document["name"] != name or document["version"] != __version__:
        return f"name/version {document['name']!r}/{document['version']!r}"
    moment = datetime.fromisoformat(document["time"])
    if moment.utcoffset() != timedelta(0):
        return f"time {document['time']!r} is not UTC"
    if abs(datetime.now(UTC) - moment) > CLOCK_SLACK:
        return f"time {document['time']!r} is not the receive time"
    return None


def assert_success(response: httpx.Response, *, name: str = "ymnotify") -> None:
    problem = success_problem(response, name=name)
    assert problem is None, problem


def error_problem(response: httpx.Response, status: int, error_type: str) -> str | None:
    """Why ``response`` is not a ``status`` answer with a valid ``{"error": {type, message}}``."""
    if response.status_code != status:
        return f"status {response.status_code} (expected {status}): {response.text[:300]}"
    if response.headers.get("content-type", "").split(";")[0] != "application/json":
        return f"content-type {response.headers.get('content-type')!r}"
    try:
        document = response.json()
    except json.JSONDecodeError:
        return f"body is not JSON: {response.text[:300]!r}"
    error = document.get("error") if isinstance(document, dict) else None
    if not isinstance(document, dict) or set(document) != {"error"} or not isinstance(error, dict):
        return f"body is not {{error: {{...}}}}: {document!r}"
    if set(error) != {"type", "message"}:
        return f"error has fields {sorted(error)}, expected type and message"
    if error["type"] != error_type:
        return f"error type {error['type']!r} (expected {error_type})"
    if not isinstance(error["message"], str) or not error["message"]:
        return f"error message {error['message']!r}"
    return None


def error_message(response: httpx.Response) -> str:
    message: str = response.json()["error"]["message"]
    return message


def exactly_equal(left: Any, right: Any) -> bool:
    """Equal as JSON values, strictly: same types, same key order, numbers as written.

    ``Decimal("1.10") == Decimal("1.1")`` and ``True == 1`` in Python; neither is "unchanged".
    """
    if type(left) is not type(right):
        return False
    if isinstance(left, dict):
        return list(left) == list(right) and all(exactly_equal(left[k], right[k]) for k in left)
    if isinstance(left, list):
        return len(left) == len(right) and all(
            exactly_equal(a, b) for a, b in zip(left, right, strict=True)
        )
    if isinstance(left, Decimal):
        return str(left) == str(right)
    return bool(left == right)
