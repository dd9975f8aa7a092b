"""The admin listener's one write: replay a notification, from the dashboard or the API.

Both call ``dispatch.replay.replay_one``, the code behind ``ymnotify inbox replay``. A dead
notification has only its dead jobs run again (handlers that succeeded are not re-run); a
quarantined one is parsed again. Anything else is skipped: the button is for what failed, and a
form sent twice (a double click, a reload) must not run every handler again once the first
replay succeeded; ``ymnotify inbox replay ID`` is there to re-run a finished notification on
purpose. The dashboard's form is guarded by ``csrf``; the API POST must be JSON, which a page on
another site cannot send here without a CORS pre-flight we never allow.
"""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import parse_qs, urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from ymnotify.admin import csrf, documents
from ymnotify.admin.api import error_response
from ymnotify.admin.queries import storable
from ymnotify.admin.templates import render
from ymnotify.dispatch.replay import ReplayAction, ReplayItem, replay_one
from ymnotify.store import NotificationStatus, Store

_MAX_FORM = 4096


_NOTHING_FAILED = (NotificationStatus.DONE, NotificationStatus.UNHANDLED)


async def replay_notification(store: Store, notification_id: int) -> ReplayItem:
    """Replay one notification as the dashboard's button does (see the module docstring)."""
    row = await store.get_notification(notification_id) if storable(notification_id) else None
    if row is None:
        return ReplayItem(notification_id, ReplayAction.NOT_FOUND)
    if row.status in _NOTHING_FAILED:
        return ReplayItem(
            notification_id,
            ReplayAction.SKIPPED,
            f"{row.status}: nothing failed (`ymnotify inbox replay {notification_id}` runs"
            " every handler again)",
        )
    dead = row.status is NotificationStatus.DEAD
    return await replay_one(store, notification_id, dead_jobs_only=dead, now=datetime.now(UTC))


class Actions:
    """``POST /ui/notifications/{id}/replay``, ``POST /api/notifications/{id}/replay`` and
    ``GET /api/notifications/{id}/jobs``."""

    def __init__(self, store: Store, csrf_secret: bytes) -> None:
        self.store = store
        self.csrf_secret = csrf_secret

    def routes(self) -> list[Route]:
        return [
            Route(
                "/ui/notifications/{notification_id:int}/replay", self.replay_form, methods=["POST"]
            ),
            Route(
                "/api/notifications/{notification_id:int}/replay",
                self.replay_api,
                methods=["POST"],
            ),
            Route("/api/notifications/{notification_id:int}/jobs", self.jobs_api),
        ]

    async def replay_form(self, request: Request) -> Response:
        notification_id: int = request.path_params["notification_id"]
        body = await request.body()
        if len(body) > _MAX_FORM:
            return PlainTextResponse("form too large", status_code=413)
        form = parse_qs(body.decode("utf-8", errors="replace"))
        presented = (form.get(csrf.FIELD) or [""])[0]
        if not csrf.accepts(self.csrf_secret, request.cookies.get(csrf.COOKIE), presented):
            return render(
                "error.html",
                403,
                title="Forbidden",
                message="This form is stale or came from another site: reload the page and"
                " press Replay again.",
                path="",
                nav_links=[],
                token_set=False,
                bare=True,
            )
        item = await replay_notification(self.store, notification_id)
        query = urlencode({"replayed": item.action.value, "detail": item.detail})
        return RedirectResponse(
            f"/ui/notifications/{notification_id}?{query}#handlers", status_code=303
        )

    async def replay_api(self, request: Request) -> Response:
        notification_id: int = request.path_params["notification_id"]
        media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media_type != "application/json":
            return error_response(
                415, "UNSUPPORTED_MEDIA_TYPE", "send Content-Type: application/json (body {})"
            )
        item = await replay_notification(self.store, notification_id)
        if item.action is ReplayAction.NOT_FOUND:
            return error_response(404, "NOT_FOUND", f"no notification with id {notification_id}")
        return JSONResponse(documents.replay_document(item))

    async def jobs_api(self, request: Request) -> Response:
        notification_id: int = request.path_params["notification_id"]
        if (
            not storable(notification_id)
            or await self.store.get_notification(notification_id) is None
        ):
            return error_response(404, "NOT_FOUND", f"no notification with id {notification_id}")
        jobs = await self.store.jobs_for(notification_id)
        return JSONResponse(documents.jobs_document(notification_id, jobs))
