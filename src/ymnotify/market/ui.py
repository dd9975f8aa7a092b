"""The Market sandbox's dashboard (``/ui/`` of ``ymnotify market serve``), server-rendered.

Pages like Market's cabinet: the notification settings of the acting cabinet user (chosen from
a list: it is what the JSON API takes as ``X-Market-User``), their forms (create, edit, disable,
enable, duplicate, remove), the request log with filters, search and an error-rate chart, and
the virtual clock. Every form posts to the same ``MarketService`` calls as the JSON API, so the
two cannot disagree. The layout, stylesheet and charts are the receiver dashboard's.

The sandbox has no login (its API has none either); forms are guarded against other sites by
``ymnotify.admin.csrf``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlencode

from jinja2 import PackageLoader
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from ymnotify.admin import charts, csrf
from ymnotify.admin.queries import BadQuery, bounded_integer, utc_moment
from ymnotify.admin.templates import environment, render_with
from ymnotify.delivery.outcome import Verdict
from ymnotify.errors import NotFound, StoreError
from ymnotify.market.bodies import read_body
from ymnotify.market.documents import path_id, shown_failing_since
from ymnotify.market.errors import MarketRefusal, TooLarge, UserRequired
from ymnotify.market.records import LogEntry, LogFilter, Subscription
from ymnotify.market.runtime import MarketRuntime
from ymnotify.market.service import Edit, MarketService, ScopeRequest
from ymnotify.protocol.enums import NotificationType
from ymnotify.protocol.models import INT64_MAX

_ENV = environment(PackageLoader("ymnotify.market", "templates"))
_MAX_FORM = 16 * 1024
LOG_PAGE = 100
LOG_MAX = 1000  # the most attempts one page lists
CHART_SAMPLE = 10_000  # the newest attempts matching the filters that the chart counts
# Amounts the clock control offers: Market's retry steps and the 14-day rule, roughly.
ADVANCE_CHOICES = {
    "1m": 60,
    "10m": 600,
    "1h": 3600,
    "6h": 6 * 3600,
    "1d": 86400,
    "7d": 7 * 86400,
    "15d": 15 * 86400,
}
TYPES = [kind.value for kind in NotificationType if kind.value != "PING"]
ACTIONS = ("disable", "enable", "duplicate", "remove")


class _FormRejected(Exception):
    """A POST without a valid CSRF token."""


class MarketUi:
    """The dashboard's routes over a running sandbox."""

    def __init__(self, runtime: MarketRuntime, csrf_secret: bytes | None = None) -> None:
        self.runtime = runtime
        self.csrf_secret = csrf_secret or csrf.new_secret()

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/ui/", self._guard(self.home)),
            Route("/ui/settings", self._guard(self.settings), methods=["GET"]),
            Route("/ui/settings", self._guard(self.create), methods=["POST"]),
            Route("/ui/settings/{id:int}", self._guard(self.edit_form), methods=["GET"]),
            Route("/ui/settings/{id:int}", self._guard(self.edit), methods=["POST"]),
            Route("/ui/settings/{id:int}/{action}", self._guard(self.act), methods=["POST"]),
            Route("/ui/log", self._guard(self.log)),
            Route("/ui/clock/advance", self._guard(self.advance), methods=["POST"]),
            Mount("/ui/static", StaticFiles(packages=[("ymnotify.admin", "static")])),
        ]

    # -- plumbing ------------------------------------------------------------------------------

    def _guard(
        self, page: Callable[[Request, MarketService], Awaitable[Response]]
    ) -> Callable[[Request], Awaitable[Response]]:
        """Runs ``page`` with the service; store failures, bad queries and forged forms get a
        page saying so instead of a traceback."""

        async def endpoint(request: Request) -> Response:
            try:
                return await page(request, self.runtime.service)
            except _FormRejected:
                return self._error(request, 403, "Forbidden", _FORGED)
            except BadQuery as exc:
                return self._error(request, 400, "Bad request", str(exc))
            except NotFound as exc:
                return self._error(request, 404, "Not found", str(exc))
            except StoreError as exc:
                return self._error(request, 503, "Store unavailable", f"the store failed: {exc}")

        return endpoint

    def _error(self, request: Request, status: int, title: str, message: str) -> HTMLResponse:
        return render_with(
            _ENV,
            "error.html",
            status,
            title=title,
            message=message,
            path="",
            nav_links=[],
            token_set=False,
            bare=True,
            product="Market sandbox",
        )

    async def _page(
        self, name: str, request: Request, service: MarketService, **context: Any
    ) -> HTMLResponse:
        cookie = request.cookies.get(csrf.COOKIE)
        fresh = not cookie
        if not cookie:
            cookie = csrf.new_cookie()
        users = sorted(
            {member.login for business in await service.businesses() for member in business.users}
        )
        user = request.query_params.get("user", "")
        response = render_with(
            _ENV,
            name,
            path=request.url.path,
            here=_here(request),
            nav_links=[],
            token_set=False,
            bare=False,
            product="Market sandbox",
            csrf_field=csrf.FIELD,
            csrf_token=csrf.form_token(self.csrf_secret, cookie),
            now=service.now(),
            virtual=service.engine.clock.virtual,
            advance_choices=list(ADVANCE_CHOICES),
            users=users,
            user=user,
            # Logins may hold &, + or #: links carry the acting user URL-encoded.
            user_param=urlencode({"user": user}) if user else "",
            message=request.query_params.get("message", ""),
            error=request.query_params.get("error", ""),
            **context,
        )
        if fresh:
            response.set_cookie(csrf.COOKIE, cookie, httponly=True, samesite="strict", path="/")
        return response

    async def _form(self, request: Request) -> dict[str, list[str]]:
        try:
            body = await read_body(request, _MAX_FORM)
        except TooLarge:
            raise BadQuery("the form is too large") from None
        form = parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True)
        presented = (form.get(csrf.FIELD) or [""])[0]
        if not csrf.accepts(self.csrf_secret, request.cookies.get(csrf.COOKIE), presented):
            raise _FormRejected
        return form

    # -- settings ------------------------------------------------------------------------------

    async def home(self, request: Request, service: MarketService) -> Response:
        return RedirectResponse("/ui/settings", status_code=303)

    async def settings(self, request: Request, service: MarketService) -> Response:
        user = request.query_params.get("user") or None
        try:
            found = await service.subscriptions(user)
        except (MarketRefusal, NotFound) as exc:
            found, problem = [], str(exc)
        else:
            problem = ""
        now = service.now()
        businesses = await service.businesses()
        if user is not None:
            businesses = [b for b in businesses if b.role_of(user) is not None]
        return await self._page(
            "market_settings.html",
            request,
            service,
            rows=[_setting_view(s, now) for s in found],
            businesses=businesses,
            campaigns=[c for b in businesses for c in b.campaign_ids],
            types=TYPES,
            problem=problem,
        )

    async def create(self, request: Request, service: MarketService) -> Response:
        form = await self._form(request)
        user = _one(form, "user")
        scope = _one(form, "scope")
        kind, _, number = scope.partition(":")
        try:
            scope_id = int(number)
        except ValueError:
            return _back(user, error="choose a cabinet or a store")
        if not 1 <= scope_id <= INT64_MAX:
            return _back(user, error=f"no cabinet or store {scope_id}")
        request_scope = (
            ScopeRequest(business_id=scope_id)
            if kind == "business"
            else ScopeRequest(campaign_id=scope_id)
        )
        try:
            created = await service.create(
                user or None,
                name=_one(form, "name"),
                scope=request_scope,
                types=form.get("types", []),
                url=_one(form, "url").strip(),
            )
        except (MarketRefusal, NotFound) as exc:
            return _back(user, error=f"not created: {_refusal(exc)}")
        return _back(user, message=f"created setting {created.id} ({created.settings.name})")

    async def edit_form(self, request: Request, service: MarketService) -> Response:
        user = request.query_params.get("user") or None
        try:
            found = await service.subscription(_setting_id(request), user)
        except (MarketRefusal, NotFound) as exc:
            return _back(user or "", error=_refusal(exc))
        wanted = found.settings.desired.types
        return await self._page(
            "market_edit.html",
            request,
            service,
            row=_setting_view(found, service.now()),
            # Names Market may add later are kept (ticked) when the form is saved.
            types=[*TYPES, *(name for name in wanted if name not in TYPES)],
        )

    async def edit(self, request: Request, service: MarketService) -> Response:
        form = await self._form(request)
        user = _one(form, "user")
        try:
            subscription_id = _setting_id(request)
        except NotFound as exc:
            return _back(user, error=str(exc))
        change = Edit(
            name=_one(form, "name"),
            types=tuple(form.get("types", [])),
            url=_one(form, "url").strip(),
        )
        try:
            await service.edit(user or None, subscription_id, change)
        except (MarketRefusal, NotFound) as exc:
            return _back(user, error=f"setting {subscription_id} not changed: {_refusal(exc)}")
        return _back(user, message=f"setting {subscription_id} saved")

    async def act(self, request: Request, service: MarketService) -> Response:
        form = await self._form(request)
        user = _one(form, "user")
        action: str = request.path_params["action"]
        try:
            subscription_id = _setting_id(request)
        except NotFound as exc:
            return _back(user, error=str(exc))
        if action not in ACTIONS:
            return _back(user, error=f"no such action: {action}")
        acting = user or None
        try:
            if action == "disable":
                await service.disable(acting, subscription_id)
                done = f"setting {subscription_id} disabled"
            elif action == "enable":
                await service.enable(acting, subscription_id)
                done = f"setting {subscription_id} enabled"
            elif action == "duplicate":
                campaign = bounded_integer("store", _one(form, "campaign") or None, 1, None)
                if campaign is None:
                    return _back(user, error="choose the store to copy the setting to")
                copy = await service.duplicate(acting, subscription_id, campaign)
                done = f"setting {subscription_id} copied to store {campaign} as {copy.id}"
            else:
                await service.remove(acting, subscription_id)
                done = f"setting {subscription_id} removed"
        except (MarketRefusal, NotFound) as exc:
            return _back(user, error=f"{action} {subscription_id}: {_refusal(exc)}")
        return _back(user, message=done)

    # -- log and clock -------------------------------------------------------------------------

    async def log(self, request: Request, service: MarketService) -> Response:
        params = request.query_params
        query = _log_filter(params)
        entries, next_before = await service.log_page(query)
        cut_off = next_before is not None
        sample = await service.log(replace(query, before_id=None, limit=CHART_SAMPLE))
        # Links keep the filters; "older" starts after the last entry shown, "newest" drops that.
        filters = [
            (k, v) for k, v in params.multi_items() if k not in ("before", "message", "error")
        ]
        older = urlencode([*filters, ("before", str(next_before))]) if cut_off else ""
        newest = urlencode(filters) if query.before_id is not None else None
        larger = ""
        if cut_off and query.limit < LOG_MAX:
            unsized = [
                (k, v) for k, v in params.multi_items() if k not in ("limit", "message", "error")
            ]
            larger = urlencode([*unsized, ("limit", str(LOG_MAX))])
        subscriptions = await service.subscriptions(None)
        return await self._page(
            "market_log.html",
            request,
            service,
            entries=entries,
            cut_off=cut_off,
            older=older,
            newest=newest,
            larger=larger,
            chart=charts.rate_bars(_rates(sample)) if sample else "",
            sampled=len(sample),
            params=params,
            query=query,
            subscriptions=subscriptions,
            types=_log_types(subscriptions, query.notification_type),
            outcomes=[verdict.value for verdict in Verdict],
        )

    async def advance(self, request: Request, service: MarketService) -> Response:
        form = await self._form(request)
        amount = _one(form, "amount")
        back = _one(form, "back")
        target = back if back.startswith("/ui/") else "/ui/log"
        if amount not in ADVANCE_CHOICES:
            raise BadQuery(f"amount: choose one of {', '.join(ADVANCE_CHOICES)}")
        if not service.engine.clock.virtual:
            raise BadQuery("the clock is real: start with --clock virtual to move it")
        await service.advance(ADVANCE_CHOICES[amount])
        return RedirectResponse(target, status_code=303)


_FORGED = "This form is stale or came from another site: reload the page and try again."


def _here(request: Request) -> str:
    """This page's address without its one-off message, for forms that come back to it."""
    kept = urlencode(
        [(k, v) for k, v in request.query_params.multi_items() if k not in ("message", "error")]
    )
    return request.url.path + (f"?{kept}" if kept else "")


def _setting_id(request: Request) -> int:
    return path_id(int(request.path_params["id"]), "subscription")


def _refusal(exc: Exception) -> str:
    """Why the sandbox refused, in the page's words (the API's names a header)."""
    if isinstance(exc, UserRequired):
        return "choose the acting cabinet user at the top of the page: changing settings needs one"
    return str(exc)


def _one(form: dict[str, list[str]], name: str) -> str:
    return (form.get(name) or [""])[0]


def _back(user: str, *, message: str = "", error: str = "") -> Response:
    query = {"user": user, "message": message, "error": error}
    kept = urlencode({key: value for key, value in query.items() if value})
    return RedirectResponse("/ui/settings" + (f"?{kept}" if kept else ""), status_code=303)


def _setting_view(subscription: Subscription, now: datetime) -> dict[str, Any]:
    settings = subscription.settings
    return {
        "id": subscription.id,
        "name": settings.name,
        "scope": subscription.scope,
        "types": settings.desired.types,
        "url": settings.desired.url,
        "enabled": settings.desired.enabled,
        "state": settings.state(now).value,
        "activates_at": settings.pending_since(now),
        "failing_since": shown_failing_since(subscription, now),
        "disabled_by_market_at": settings.disabled_by_market_at,
        "deliveries": subscription.deliveries,
    }


def _log_filter(params: Any) -> LogFilter:
    def text(name: str) -> str | None:
        value = str(params.get(name, "")).strip()
        return value or None

    outcome = text("outcome")
    if outcome is not None and outcome not in {v.value for v in Verdict}:
        raise BadQuery(f"outcome: {outcome!r} is not one of delivered, rejected, failed")
    return LogFilter(
        subscription_id=bounded_integer("setting", text("setting"), 1, None),
        notification_type=text("type"),
        outcome=Verdict(outcome) if outcome else None,
        since=utc_moment("since", text("since")),
        until=utc_moment("until", text("until")),
        text=text("q"),
        before_id=bounded_integer("before", text("before"), 1, None),
        limit=bounded_integer("limit", text("limit"), 1, LOG_MAX) or LOG_PAGE,
    )


def _log_types(subscriptions: list[Subscription], chosen: str | None) -> list[str]:
    """The type filter's choices: PING, the known types, then names Market may add later that a
    setting subscribes to (their attempts are in the log too) and the one chosen in the URL."""
    known = ["PING", *TYPES]
    named = {
        name
        for subscription in subscriptions
        for delivering in (subscription.settings.desired, subscription.settings.previous)
        for name in delivering.types
    }
    if chosen:
        named.add(chosen)
    return [*known, *sorted(named.difference(known))]


def _rates(entries: list[LogEntry]) -> list[charts.Rate]:
    """Failed (not delivered) out of all attempts, per notification type, busiest first."""
    counts: dict[str, list[int]] = {}
    for entry in entries:
        tally = counts.setdefault(entry.notification_type, [0, 0])
        tally[0] += entry.outcome is not Verdict.DELIVERED
        tally[1] += 1
    ranked = sorted(counts.items(), key=lambda item: (-item[1][1], item[0]))
    return [charts.Rate(kind, failed, total) for kind, (failed, total) in ranked]
