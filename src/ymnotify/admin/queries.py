"""Turning the query string of the inbox (page or API) into a ``NotificationFilter``."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from ymnotify.errors import YmnotifyError
from ymnotify.protocol.entities import entity_problem
from ymnotify.protocol.models import INT64_MAX  # no stored id is larger
from ymnotify.store import NotificationFilter, NotificationStatus

PAGE_SIZE = 50
MAX_LIMIT = 500
FILTER_PARAMS = ("type", "status", "entity", "since", "until", "q")


class BadQuery(YmnotifyError):
    """A query parameter that cannot be used; ``str(exc)`` names it and says why."""


def notification_filter(
    params: Mapping[str, str], *, default_limit: int = PAGE_SIZE
) -> NotificationFilter:
    """The filter for ``type``, ``status``, ``entity``, ``since``, ``until`` (UTC when no offset
    is given), ``q`` (bytes the body must contain), ``before_id`` and ``limit``.

    Empty values mean "any", as an HTML form sends them.
    """

    def text(name: str) -> str | None:
        value = params.get(name, "").strip()
        return value or None

    status = text("status")
    if status is not None and status not in {s.value for s in NotificationStatus}:
        choices = ", ".join(s.value for s in NotificationStatus)
        raise BadQuery(f"status: {status!r} is not one of {choices}")
    search = params.get("q", "")
    return NotificationFilter(
        notification_type=text("type"),
        status=NotificationStatus(status) if status else None,
        entity=_entity(text("entity")),
        received_since=utc_moment("since", text("since")),
        received_until=utc_moment("until", text("until")),
        before_id=bounded_integer("before_id", text("before_id"), 1, None),
        body_contains=search.encode("utf-8") if search.strip() else None,
        limit=bounded_integer("limit", text("limit"), 1, MAX_LIMIT) or default_limit,
    )


def _entity(value: str | None) -> str | None:
    if value is not None and (problem := entity_problem(value)):
        raise BadQuery(problem)
    return value


def utc_moment(name: str, value: str | None) -> datetime | None:
    """``value`` (ISO 8601, UTC when it has no offset) as a UTC time; ``name`` is for errors."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise BadQuery(f"{name}: {value!r} is not a time (e.g. 2026-09-20T09:15 in UTC)") from None
    try:
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00+01:00 is before the first UTC moment
        raise BadQuery(f"{name}: {value!r} is out of range") from None


def storable(notification_id: int) -> bool:
    """Whether an id from a URL could be a stored one (larger ones overflow the store's
    integers: they name nothing)."""
    return notification_id <= INT64_MAX


def bounded_integer(name: str, value: str | None, low: int, high: int | None) -> int | None:
    """``value`` as a whole number in ``low``–``high`` (``None`` stays ``None``)."""
    if value is None:
        return None
    try:
        number = int(value)
    except ValueError:
        raise BadQuery(f"{name}: {value!r} is not a whole number") from None
    if number < low or number > (INT64_MAX if high is None else high):
        bound = f"{low}–{high}" if high is not None else f"{low}–{INT64_MAX}"
        raise BadQuery(f"{name}: {number} is out of range ({bound})")
    return number
