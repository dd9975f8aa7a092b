"""Putting finished work back in the queue: ``ymnotify inbox replay``.

What replay does to each selected notification:

- quarantined: its body is parsed again with the current models; if it is valid now it becomes
  a pending notification (state applied, staleness decided as at intake) that workers plan like
  a new one; if not, it stays quarantined with the current reason;
- selected by ``status=dead``: only its dead jobs run again, with fresh attempts; the handlers
  that succeeded are not re-run;
- otherwise (by id, unhandled, done, type, time): it is planned again against the router the
  workers run now, and every matching handler runs again (new handlers included);
- a notification still in progress (pending or retrying) is skipped: its jobs are running or
  about to, and replaying it would race them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from ymnotify.protocol.parse import MalformedNotification, parse_body
from ymnotify.store.base import (
    Classification,
    NotificationFilter,
    NotificationStatus,
    Store,
)

PAGE = 1000


class ReplayAction(enum.StrEnum):
    """What replay did to one notification."""

    REQUEUED = "requeued"  # its dead jobs run again
    REPLANNED = "replanned"  # every matching handler runs again
    REQUALIFIED = "requalified"  # a quarantined body is valid now and pending
    STILL_MALFORMED = "still malformed"
    SKIPPED = "skipped"
    NOT_FOUND = "not found"


@dataclass(frozen=True, slots=True)
class ReplaySelection:
    """Which notifications to replay; every field narrows, ``None``/empty means any."""

    ids: tuple[int, ...] = ()
    status: NotificationStatus | None = None
    notification_type: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    @property
    def is_empty(self) -> bool:
        return (
            not self.ids
            and self.status is None
            and self.notification_type is None
            and (self.since is None and self.until is None)
        )


@dataclass(frozen=True, slots=True)
class ReplayItem:
    """The result for one notification."""

    notification_id: int
    action: ReplayAction
    detail: str = ""


async def select(store: Store, selection: ReplaySelection) -> list[int]:
    """The ids the selection names that exist, oldest first."""
    found: list[int] = []
    before: int | None = None
    while True:
        page = await store.list_notifications(
            NotificationFilter(
                notification_type=selection.notification_type,
                status=selection.status,
                received_since=selection.since,
                received_until=selection.until,
                ids=selection.ids,
                before_id=before,
                limit=PAGE,
            )
        )
        found.extend(row.id for row in page)
        if len(page) < PAGE:
            return sorted(found)
        before = page[-1].id


async def replay_one(
    store: Store, notification_id: int, *, dead_jobs_only: bool, now: datetime
) -> ReplayItem:
    """Replay one notification (see the module docstring for what that means)."""
    row = await store.get_notification(notification_id)
    if row is None:
        return ReplayItem(notification_id, ReplayAction.NOT_FOUND)
    if row.status is NotificationStatus.QUARANTINED:
        return await _requalify(store, notification_id, row.body)
    if row.status in (NotificationStatus.PENDING, NotificationStatus.RETRYING):
        return ReplayItem(notification_id, ReplayAction.SKIPPED, f"in progress ({row.status})")
    if dead_jobs_only:
        count = await store.requeue_dead(notification_id, now)
        if not count:
            return ReplayItem(notification_id, ReplayAction.SKIPPED, "no dead job")
        return ReplayItem(notification_id, ReplayAction.REQUEUED, f"{count} dead job(s)")
    if await store.replan(notification_id):
        return ReplayItem(notification_id, ReplayAction.REPLANNED)
    return ReplayItem(notification_id, ReplayAction.SKIPPED, "in progress")


async def _requalify(store: Store, notification_id: int, body: bytes) -> ReplayItem:
    try:
        parsed = parse_body(body)
    except MalformedNotification as exc:
        await store.requarantine(notification_id, str(exc))
        return ReplayItem(notification_id, ReplayAction.STILL_MALFORMED, str(exc))
    notification, entity = parsed.notification, parsed.entity
    if entity is None:  # only a PING has no entity
        reason = "a PING: answered at intake, never handled"
        await store.requarantine(notification_id, reason)
        return ReplayItem(notification_id, ReplayAction.STILL_MALFORMED, reason)
    # The row keeps its raw-body dedup key: Market never re-sends a body it got a 400 for.
    accepted = await store.requalify(
        notification_id,
        Classification(
            notification_type=notification.notification_type,
            entity=entity,
            event_time=notification.event_time,
            state_changes=notification.state_changes(),
        ),
    )
    return ReplayItem(notification_id, ReplayAction.REQUALIFIED, "stale" if accepted.stale else "")
