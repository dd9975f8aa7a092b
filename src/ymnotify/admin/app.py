"""The admin listener's ASGI app: ``/metrics``, ``/api/…`` and the dashboard under ``/ui/``.

It is a separate app on a separate socket from the receiver, so the public listener cannot
serve any of it. Every request passes ``access.decide`` first: ``/api/…`` and ``/metrics`` take
``Authorization: Bearer <token>``; a browser sends the session cookie set by the login form
(HttpOnly, SameSite=Strict, so no other site can make it send it), and a dashboard page
requested without either sends the browser to that form.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from ymnotify.admin import access, csrf
from ymnotify.admin.actions import Actions
from ymnotify.admin.api import Api, error_response
from ymnotify.admin.extensions import AdminExtension
from ymnotify.admin.health import DEFAULT_PING_RECENT
from ymnotify.admin.metrics import CONTENT_TYPE, ReceiverMetrics
from ymnotify.admin.pages import Pages
from ymnotify.admin.queries import BadQuery
from ymnotify.admin.templates import render
from ymnotify.errors import StoreError
from ymnotify.store import Store

SESSION_COOKIE = "ymnotify_admin"
LOGIN_PATH = "/ui/login"
_OPEN_PATHS = ("/", LOGIN_PATH)
_MAX_FORM = 4096

Scope = dict[str, Any]
Receive = Any
Send = Any


@dataclass(frozen=True)
class AdminConfig:
    """How the admin listener admits clients and judges health."""

    token: str | None = None
    ping_recent: timedelta = DEFAULT_PING_RECENT
    guesses: access.GuessLimiter | None = None  # default: 10 wrong tokens a minute per client


def create_admin_app(
    store: Store,
    metrics: ReceiverMetrics,
    config: AdminConfig | None = None,
    extensions: Sequence[AdminExtension] = (),
) -> AdminApp:
    """The admin app over ``store`` (opened by the receiver's lifespan, not by this app)."""
    config = config or AdminConfig()
    guesses = config.guesses or access.GuessLimiter()  # one count for the API and the login form
    csrf_secret = csrf.new_secret()
    pages = Pages(
        store,
        extensions=extensions,
        token_set=bool(config.token),
        ping_recent=config.ping_recent,
        csrf_secret=csrf_secret,
    )
    actions = Actions(store, csrf_secret)
    api = Api(store, ping_recent=config.ping_recent)

    async def metrics_endpoint(_request: Request) -> Response:
        text = await metrics.exposition(store, datetime.now(UTC))
        return Response(text, media_type=CONTENT_TYPE)

    async def root(_request: Request) -> Response:
        return RedirectResponse("/ui/", status_code=303)

    routes = [
        Route("/", root),
        Route("/metrics", metrics_endpoint),
        Route(LOGIN_PATH, _login_form(config.token, guesses), methods=["GET", "POST"]),
        Route("/ui/logout", _logout, methods=["POST"]),
        Mount("/ui/static", StaticFiles(packages=[("ymnotify.admin", "static")]), name="static"),
        *pages.routes(),
        *api.routes(),
        *actions.routes(),
        *(route for extension in extensions for route in extension.routes()),
    ]
    starlette = Starlette(
        routes=routes,
        exception_handlers={
            BadQuery: _bad_query,
            StoreError: _store_failed,
            404: _not_found,
            405: _method_not_allowed,
        },
    )
    return AdminApp(starlette, config.token, guesses)


class AdminApp:
    """The access check in front of the routes; lifespan passes straight through."""

    def __init__(self, routes: Starlette, token: str | None, guesses: access.GuessLimiter) -> None:
        self.routes = routes
        self.token = token
        self.guesses = guesses

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or _open(scope["path"]):
            await self.routes(scope, receive, send)
            return
        request = Request(scope)
        presented = access.bearer_token(request.headers.get("authorization"))
        if presented is None:  # a logged-in browser following a link to /api/… or /metrics
            presented = access.token_from_session(request.cookies.get(SESSION_COOKIE), self.token)
        client = scope["client"][0] if scope.get("client") else None
        wait = self.guesses.wait(client)
        if wait:
            await _too_many_guesses(wait, request.url.path)(scope, receive, send)
            return
        decision = access.decide(client, presented, self.token, request.headers.get("host"))
        if decision is access.Access.ADMIT:
            await self.routes(scope, receive, send)
            return
        if decision is access.Access.WRONG_TOKEN:
            self.guesses.failed(client)
        await _refusal(request, decision)(scope, receive, send)


def _open(path: str) -> bool:
    """Paths served without a token: the redirect, the login form and its stylesheet."""
    return path in _OPEN_PATHS or path.startswith("/ui/static/")


def _refusal(request: Request, decision: access.Access) -> Response:
    path = request.url.path
    if decision in (access.Access.LOOPBACK_ONLY, access.Access.FOREIGN_HOST):
        message = "no --admin-token is set, so only loopback clients are served"
        if decision is access.Access.FOREIGN_HOST:
            message += ", at a loopback address or localhost (the Host header names another)"
        if path.startswith("/ui/"):
            return render("error.html", 403, title="Forbidden", message=message, **_bare())
        return error_response(403, "FORBIDDEN", message)
    if path.startswith("/ui/") and request.method in ("GET", "HEAD"):
        target = path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"{LOGIN_PATH}?{urlencode({'next': target})}", status_code=303)
    response = error_response(
        401, "UNAUTHORIZED", f"{decision.value}: send Authorization: Bearer <admin token>"
    )
    response.headers["www-authenticate"] = 'Bearer realm="ymnotify admin"'
    return response


def _too_many_guesses(wait: float, path: str) -> Response:
    seconds = max(1, math.ceil(wait))
    message = f"too many wrong admin tokens; try again in {seconds} s"
    if path.startswith("/ui/"):
        response: Response = render("error.html", 429, title="Too many tries", message=message,
                                    **_bare())  # fmt: skip
    else:
        response = error_response(429, "TOO_MANY_REQUESTS", message)
    response.headers["retry-after"] = str(seconds)
    return response


def _login_form(token: str | None, guesses: access.GuessLimiter) -> Any:
    async def login(request: Request) -> Response:
        target = _safe_next(request.query_params.get("next"))
        if not token:
            return RedirectResponse(target, status_code=303)  # nothing to log in to
        if request.method == "GET":
            return render("login.html", next=target, error=None, **_bare())
        body = await request.body()
        if len(body) > _MAX_FORM:
            return PlainTextResponse("form too large", status_code=413)
        form = parse_qs(body.decode("utf-8", errors="replace"))
        presented = (form.get("token") or [""])[0]
        target = _safe_next((form.get("next") or [target])[0])
        client = request.client.host if request.client else None
        wait = guesses.wait(client)
        if wait:
            seconds = max(1, math.ceil(wait))
            error = f"Too many wrong tokens; try again in {seconds} s."
            refused = render("login.html", 429, next=target, error=error, **_bare())
            refused.headers["retry-after"] = str(seconds)
            return refused
        if access.decide(client, presented, token, None) is not access.Access.ADMIT:
            guesses.failed(client)
            return render(
                "login.html", 401, next=target, error="That is not the admin token.", **_bare()
            )
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(
            SESSION_COOKIE,
            access.session_value(token),
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",  # over HTTPS, never sent back in clear
            path="/",
        )
        return response

    return login


async def _logout(_request: Request) -> Response:
    response = RedirectResponse(LOGIN_PATH, status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return response


def _safe_next(target: str | None) -> str:
    """Only our own dashboard pages: a login link must not send the browser elsewhere."""
    if target and target.startswith("/ui/") and not target.startswith("/ui/login"):
        return target
    return "/ui/"


def _bare() -> dict[str, Any]:
    """Context for pages shown outside the dashboard's navigation (login, refusals)."""
    return {"path": "", "nav_links": [], "token_set": False, "bare": True}


async def _bad_query(request: Request, exc: Exception) -> Response:
    if request.url.path.startswith("/api/"):
        return error_response(400, "BAD_REQUEST", str(exc))
    return render("error.html", 400, title="Bad request", message=str(exc), **_bare())


async def _store_failed(request: Request, exc: Exception) -> Response:
    message = f"the store failed: {exc}"
    if request.url.path.startswith("/api/"):
        return error_response(503, "STORE_UNAVAILABLE", message)
    return render("error.html", 503, title="Store unavailable", message=message, **_bare())


async def _method_not_allowed(request: Request, exc: Exception) -> Response:
    message = f"{request.method} is not served at {request.url.path}"
    if request.url.path.startswith("/ui/"):
        return render("error.html", 405, title="Not allowed", message=message, **_bare())
    return error_response(405, "METHOD_NOT_ALLOWED", message)


async def _not_found(request: Request, exc: Exception) -> Response:
    if request.url.path.startswith("/ui/"):
        return render("error.html", 404, title="Not found", message="No such page.", **_bare())
    return error_response(404, "NOT_FOUND", f"no route {request.url.path}")
