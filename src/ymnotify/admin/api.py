"""The admin JSON API (``/api/…``): the dashboard's data for scripts and other tools."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ymnotify.admin import documents
from ymnotify.admin.health import DEFAULT_PING_RECENT
from ymnotify.admin.pages import TIMELINE_LIMIT, store_health
from ymnotify.admin.queries import notification_filter, storable
from ymnotify.store import NotificationFilter, Store

JSON = "application/json"


def error_response(status: int, error_type: str, message: str) -> JSONResponse:
    """The admin API's error body, shaped like the receiver's: ``{"error": {type, message}}``."""
    return JSONResponse({"error": {"type": error_type, "message": message}}, status_code=status)


class Api:
    """``/api/notifications``, ``/api/notifications/{id}``, ``/api/stats``, ``/api/entities/…``."""

    def __init__(self, store: Store, *, ping_recent: timedelta = DEFAULT_PING_RECENT) -> None:
        self.store = store
        self.ping_recent = ping_recent

    def routes(self) -> list[Route]:
        return [
            Route("/api/notifications", self.notifications),
            Route("/api/notifications/{notification_id:int}", self.notification),
            Route("/api/stats", self.stats),
            Route("/api/entities/{entity:path}", self.entity),
        ]

    async def notifications(self, request: Request) -> Response:
        """A page of notifications, newest first; follow ``nextBeforeId`` for the next one."""
        query = notification_filter(request.query_params)
        rows = await self.store.list_notifications(replace(query, limit=query.limit + 1))
        next_before_id = rows[query.limit - 1].id if len(rows) > query.limit else None
        body = documents.listing_json(rows[: query.limit], next_before_id)
        return Response(body, media_type=JSON)

    async def notification(self, request: Request) -> Response:
        notification_id: int = request.path_params["notification_id"]
        row = (
            await self.store.get_notification(notification_id)
            if storable(notification_id)
            else None
        )
        if row is None:
            return error_response(404, "NOT_FOUND", f"no notification with id {notification_id}")
        return Response(documents.notification_json(row, with_headers=True), media_type=JSON)

    async def stats(self, request: Request) -> Response:
        now = datetime.now(UTC)
        health = await store_health(self.store, now, self.ping_recent)
        stats = await self.store.stats()
        backlog = await self.store.backlog()
        return JSONResponse(documents.stats_document(stats, backlog, health))

    async def entity(self, request: Request) -> Response:
        entity: str = request.path_params["entity"]
        rows = await self.store.list_notifications(
            NotificationFilter(entity=entity, newest_first=False, limit=TIMELINE_LIMIT + 1)
        )
        states = await self.store.entity_states(entity)
        if not rows and not states:
            return error_response(404, "NOT_FOUND", f"nothing is known about {entity}")
        body = documents.entity_json(
            entity, states, rows[:TIMELINE_LIMIT], truncated=len(rows) > TIMELINE_LIMIT
        )
        return Response(body, media_type=JSON)
