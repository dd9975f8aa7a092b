"""The receiver dashboard's pages (``/ui/``): server-rendered HTML, no script needed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from ymnotify.admin import charts, csrf
from ymnotify.admin.extensions import AdminExtension, Section
from ymnotify.admin.health import DEFAULT_PING_RECENT, Health, endpoint_health
from ymnotify.admin.queries import FILTER_PARAMS, notification_filter, storable
from ymnotify.admin.templates import render
from ymnotify.dispatch.replay import ReplayAction
from ymnotify.errors import StoreError
from ymnotify.protocol import wire
from ymnotify.protocol.enums import NotificationType
from ymnotify.store import NotificationFilter, NotificationStatus, Store, StoredNotification

# Chart windows: (span, bucket). The bucket divides a day so bars line up with clock hours.
WINDOWS = {
    "24h": (timedelta(hours=24), 3600),
    "7d": (timedelta(days=7), 6 * 3600),
    "30d": (timedelta(days=30), 86400),
}
TIMELINE_LIMIT = 1000
QUARANTINE_PAGE = 50
DEAD_PAGE = 50
# What the Replay button does to a notification in each status (others show no button).
REPLAY_EXPLAINED = {
    NotificationStatus.DEAD: "runs its dead handler jobs again (the others are not re-run)",
    NotificationStatus.QUARANTINED: "parses the body again; if it is valid now, handlers run",
}


async def store_health(store: Store, now: datetime, recent: timedelta) -> Health:
    """The endpoint's health from cheap reads: the store check, the last PING, the newest row."""
    try:
        await store.check()
        last_ping = await store.last_ping()
        newest = await store.list_notifications(NotificationFilter(limit=1))
    except StoreError as exc:
        return endpoint_health(
            store_problem=str(exc), last_ping=None, last_received_at=None, now=now
        )
    return endpoint_health(
        store_problem=None,
        last_ping=last_ping,
        last_received_at=newest[0].received_at if newest else None,
        now=now,
        recent=recent,
    )


class Pages:
    """The dashboard, bound to a store and the extensions that add to it."""

    def __init__(
        self,
        store: Store,
        *,
        extensions: Sequence[AdminExtension] = (),
        token_set: bool = False,
        ping_recent: timedelta = DEFAULT_PING_RECENT,
        csrf_secret: bytes | None = None,
    ) -> None:
        self.store = store
        self.csrf_secret = csrf_secret or csrf.new_secret()
        self.extensions = tuple(extensions)
        self.token_set = token_set
        self.ping_recent = ping_recent

    def routes(self) -> list[Route]:
        return [
            Route("/ui/", self.home, name="home"),
            Route("/ui/inbox", self.inbox, name="inbox"),
            Route("/ui/notifications/{notification_id:int}", self.notification),
            Route("/ui/entity/{entity:path}", self.entity),
            Route("/ui/quarantine", self.quarantine, name="quarantine"),
            Route("/ui/dead", self.dead, name="dead"),
        ]

    def _page(
        self, name: str, request: Request, status_code: int = 200, **context: object
    ) -> HTMLResponse:
        nav = [link for extension in self.extensions for link in extension.nav_links()]
        cookie = request.cookies.get(csrf.COOKIE)
        fresh = not cookie
        if not cookie:
            cookie = csrf.new_cookie()
        response = render(
            name,
            status_code,
            path=request.url.path,
            nav_links=nav,
            token_set=self.token_set,
            bare=False,
            csrf_field=csrf.FIELD,
            csrf_token=csrf.form_token(self.csrf_secret, cookie),
            **context,
        )
        if fresh:
            response.set_cookie(csrf.COOKIE, cookie, httponly=True, samesite="strict", path="/")
        return response

    async def home(self, request: Request) -> Response:
        now = datetime.now(UTC)
        window = request.query_params.get("window", "24h")
        if window not in WINDOWS:
            window = "24h"
        span, bucket = WINDOWS[window]
        end = datetime.fromtimestamp((int(now.timestamp()) // bucket + 1) * bucket, UTC)
        since = end - span
        health = await store_health(self.store, now, self.ping_recent)
        stats = await self.store.stats()
        backlog = await self.store.backlog()
        counts = await self.store.counts_over_time(since, end, bucket)
        chart = charts.stacked_bars(
            counts, since=since, bucket_seconds=bucket, buckets=int(span.total_seconds()) // bucket
        )
        return self._page(
            "home.html",
            request,
            health=health,
            stats=stats,
            backlog=backlog,
            chart=chart,
            window=window,
            windows=list(WINDOWS),
            statuses=[s.value for s in NotificationStatus],
        )

    async def inbox(self, request: Request) -> Response:
        params = dict(request.query_params)
        query = notification_filter(params)
        rows = await self.store.list_notifications(replace(query, limit=query.limit + 1))
        older = None
        if len(rows) > query.limit:
            rows = rows[: query.limit]
            older = _older_page(params, (*FILTER_PARAMS, "limit"), rows[-1].id)
        return self._page(
            "inbox.html",
            request,
            rows=rows,
            query=query,
            params=params,
            older=older,
            first_page=query.before_id is None,
            newest="?" + urlencode({k: v for k, v in params.items() if k in FILTER_PARAMS and v}),
            types=[kind.value for kind in NotificationType],
            statuses=[s.value for s in NotificationStatus],
        )

    async def notification(self, request: Request) -> Response:
        notification_id: int = request.path_params["notification_id"]
        row = (
            await self.store.get_notification(notification_id)
            if storable(notification_id)
            else None
        )
        if row is None:
            return self._page(
                "error.html",
                request,
                404,
                title="Not found",
                message=f"There is no notification {notification_id}.",
            )
        sections: list[Section] = []
        for extension in self.extensions:
            sections.extend(await extension.notification_sections(row))
        jobs = await self.store.jobs_for(notification_id)
        replayed = request.query_params.get("replayed")
        return self._page(
            "notification.html",
            request,
            row=row,
            body=_readable_body(row),
            sections=sections,
            jobs=jobs,
            replay_explained=REPLAY_EXPLAINED.get(row.status),
            replayed=replayed if replayed in set(ReplayAction) else None,
            replayed_detail=request.query_params.get("detail", ""),
        )

    async def entity(self, request: Request) -> Response:
        entity: str = request.path_params["entity"]
        rows = await self.store.list_notifications(
            NotificationFilter(entity=entity, newest_first=False, limit=TIMELINE_LIMIT + 1)
        )
        states = await self.store.entity_states(entity)
        if not rows and not states:
            return self._page(
                "error.html",
                request,
                404,
                title="Not found",
                message=f"Nothing is known about {entity}.",
            )
        return self._page(
            "entity.html",
            request,
            entity=entity,
            rows=rows[:TIMELINE_LIMIT],
            truncated=len(rows) > TIMELINE_LIMIT,
            states=states,
            inbox_link="/ui/inbox?" + urlencode({"entity": entity}),
        )

    async def quarantine(self, request: Request) -> Response:
        params = {**request.query_params, "status": NotificationStatus.QUARANTINED.value}
        query = notification_filter(params, default_limit=QUARANTINE_PAGE)
        rows = await self.store.list_notifications(replace(query, limit=query.limit + 1))
        older = None
        if len(rows) > query.limit:
            rows = rows[: query.limit]
            older = _older_page(request.query_params, ("limit",), rows[-1].id)
        backlog = await self.store.backlog()
        return self._page(
            "quarantine.html",
            request,
            rows=rows,
            older=older,
            first_page=query.before_id is None,
            total=backlog.quarantined,
            snippets={row.id: _snippet(row.body) for row in rows},
        )

    async def dead(self, request: Request) -> Response:
        """The dead-letter list: notifications with a handler job out of attempts."""
        params = {**request.query_params, "status": NotificationStatus.DEAD.value}
        query = notification_filter(params, default_limit=DEAD_PAGE)
        rows = await self.store.list_notifications(replace(query, limit=query.limit + 1))
        older = None
        if len(rows) > query.limit:
            rows = rows[: query.limit]
            older = _older_page(request.query_params, ("limit",), rows[-1].id)
        dead_jobs = {
            row.id: [job for job in await self.store.jobs_for(row.id) if job.status == "dead"]
            for row in rows
        }
        return self._page(
            "dead.html",
            request,
            rows=rows,
            dead_jobs=dead_jobs,
            older=older,
            first_page=query.before_id is None,
        )


def _readable_body(row: StoredNotification) -> str:
    """The body indented when it is JSON, else as received (invalid UTF-8 shown as ``�``)."""
    try:
        return wire.pretty(wire.loads(row.body))
    except wire.MalformedJson:
        return row.body.decode("utf-8", errors="replace")


def _snippet(body: bytes, length: int = 160) -> str:
    text = body.decode("utf-8", errors="replace")
    return text if len(text) <= length else text[:length] + "…"


def _older_page(params: Mapping[str, str], kept: Sequence[str], last_id: int) -> str:
    """The query of the next (older) page: the same filters and page size, below ``last_id``."""
    same = {name: params[name] for name in kept if params.get(name)}
    return "?" + urlencode({**same, "before_id": last_id})
