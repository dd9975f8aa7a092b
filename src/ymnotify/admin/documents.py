"""JSON documents of the admin API, with payloads exactly as received.

Market's ids exceed 2^53, so a payload never passes through ``json.dumps`` of floats: its text
is spliced in from ``wire.compact`` (numbers as written). A body that is not JSON is given as
``rawBody`` (UTF-8, invalid bytes replaced) and ``rawBodyBase64`` (exact).
"""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any

from ymnotify.admin.health import Health
from ymnotify.dispatch.replay import ReplayItem
from ymnotify.protocol import wire
from ymnotify.protocol.responses import rfc3339
from ymnotify.store import Backlog, EntityState, InboxStats, StoredNotification
from ymnotify.store.base import JobRecord


def notification_meta(row: StoredNotification) -> dict[str, Any]:
    """Everything about a notification but its headers and body."""
    return {
        "id": row.id,
        "notificationType": row.notification_type,
        "status": row.status.value,
        "entity": row.entity,
        "eventTime": rfc3339(row.event_time) if row.event_time else None,
        "stale": row.stale,
        "duplicates": row.duplicates,
        "receivedAt": rfc3339(row.received_at),
        "lastReceivedAt": rfc3339(row.last_received_at),
        "source": row.source,
        "quarantineReason": row.error,
    }


def notification_json(row: StoredNotification, *, with_headers: bool) -> str:
    """One notification as JSON text: metadata, optionally headers, and the payload."""
    meta = notification_meta(row)
    if with_headers:
        meta["headers"] = [[name, value] for name, value in row.headers]
    try:
        payload = wire.compact(wire.loads(row.body))
    except wire.MalformedJson:
        meta["rawBody"] = row.body.decode("utf-8", errors="replace")
        meta["rawBodyBase64"] = base64.b64encode(row.body).decode("ascii")
        payload = "null"
    return json.dumps(meta, ensure_ascii=False)[:-1] + f',"payload":{payload}}}'


def listing_json(rows: list[StoredNotification], next_before_id: int | None) -> str:
    """A page of the inbox; ``nextBeforeId`` is the ``before_id`` of the next page, if any."""
    items = ",".join(notification_json(row, with_headers=False) for row in rows)
    return f'{{"notifications":[{items}],"nextBeforeId":{json.dumps(next_before_id)}}}'


def entity_json(
    entity: str, states: list[EntityState], rows: list[StoredNotification], *, truncated: bool
) -> str:
    """An entity's current state (one entry per slot) and its notifications, oldest first.

    ``truncated``: there are more notifications than listed (page the rest with
    ``/api/notifications?entity=…``).
    """
    state = [
        {
            "slot": item.slot,
            "value": item.value,
            "eventTime": rfc3339(item.event_time),
            "notificationId": item.notification_id,
        }
        for item in states
    ]
    head = json.dumps(
        {"entity": entity, "state": state, "truncated": truncated}, ensure_ascii=False
    )[:-1]
    items = ",".join(notification_json(row, with_headers=False) for row in rows)
    return f'{head},"notifications":[{items}]}}'


def stats_document(stats: InboxStats, backlog: Backlog, health: Health) -> dict[str, Any]:
    """Totals, the backlog and the endpoint's health, for ``/api/stats``."""
    ping = stats.last_ping
    return {
        "total": stats.total,
        "byStatus": stats.by_status,
        "byType": stats.by_type,
        "duplicates": stats.duplicates,
        "stale": stats.stale,
        "pending": backlog.pending,
        "oldestPendingAt": rfc3339(backlog.oldest_pending_at)
        if backlog.oldest_pending_at
        else None,
        "quarantined": backlog.quarantined,
        "lastPing": None
        if ping is None
        else {"receivedAt": rfc3339(ping.received_at), "source": ping.source, "count": ping.count},
        "lastReceivedAt": rfc3339(stats.last_received_at) if stats.last_received_at else None,
        "health": {
            "level": health.level.value,
            "summary": health.summary,
            "details": list(health.details),
        },
    }


def _moment(moment: datetime | None) -> str | None:
    return rfc3339(moment) if moment is not None else None


def jobs_document(notification_id: int, jobs: list[JobRecord]) -> dict[str, Any]:
    """A notification's handler jobs, each with its attempts (errors and tracebacks)."""
    return {
        "notificationId": notification_id,
        "jobs": [
            {
                "id": job.id,
                "handler": job.handler,
                "status": job.status.value,
                "attempts": job.attempts,
                "runAt": _moment(job.run_at),
                "finishedAt": _moment(job.finished_at),
                "lockedBy": job.locked_by,
                "error": job.error,
                "traceback": job.traceback,
                "history": [
                    {
                        "attempt": attempt.attempt,
                        "worker": attempt.worker,
                        "startedAt": _moment(attempt.started_at),
                        "finishedAt": _moment(attempt.finished_at),
                        "outcome": attempt.outcome.value if attempt.outcome else None,
                        "error": attempt.error,
                        "traceback": attempt.traceback,
                    }
                    for attempt in job.history
                ],
            }
            for job in jobs
        ],
    }


def replay_document(item: ReplayItem) -> dict[str, Any]:
    """What a replay did to one notification."""
    return {"id": item.notification_id, "action": item.action.value, "detail": item.detail}
