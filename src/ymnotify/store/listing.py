"""The inbox listing query, built once for every SQL dialect from a ``NotificationFilter``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ymnotify.store.base import NotificationFilter


def listing_sql(
    query: NotificationFilter,
    *,
    placeholder: Callable[[str], str],
    encode_time: Callable[[Any], Any],
    body_contains: str,
) -> tuple[str, dict[str, Any]]:
    """``SELECT`` text and parameters; ``placeholder("x")`` is the dialect's ``:x``/``%(x)s``.

    ``body_contains`` is the dialect's byte-substring test with ``{}`` for the needle, e.g.
    ``instr(body, {}) > 0``. It scans bodies, newest first, and stops at ``limit`` matches.
    """
    clauses: list[str] = []
    params: dict[str, Any] = {"limit": query.limit}

    def where(sql: str, name: str, value: Any) -> None:
        clauses.append(sql.format(placeholder(name)))
        params[name] = value

    if query.notification_type is not None:
        where("notification_type = {}", "notification_type", query.notification_type)
    if query.status is not None:
        where("status = {}", "status", query.status.value)
    if query.entity is not None:
        where("entity = {}", "entity", query.entity)
    if query.received_since is not None:
        where("received_at >= {}", "since", encode_time(query.received_since))
    if query.received_until is not None:
        where("received_at < {}", "until", encode_time(query.received_until))
    if query.before_id is not None:
        where("id < {}", "before_id", query.before_id)
    if query.body_contains:
        where(body_contains, "body_contains", query.body_contains)
    if query.ids:
        names = [f"id{index}" for index in range(len(query.ids))]
        clauses.append(f"id IN ({', '.join(placeholder(name) for name in names)})")
        params.update(zip(names, query.ids, strict=True))
    condition = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    order = "DESC" if query.newest_first else "ASC"
    limit = placeholder("limit")
    return f"SELECT * FROM notifications {condition} ORDER BY id {order} LIMIT {limit}", params
