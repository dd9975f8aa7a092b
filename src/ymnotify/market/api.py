"""The Market sandbox's JSON API (routes as in PRODUCT.md), described at ``/openapi.json``.

The acting cabinet user is named by ``X-Market-User``. Every refusal is a 4xx answer
``{"error": {"code", "message"}}`` (a failed PING also says Market's error type and subtype).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from ymnotify.delivery.client import SendingStopped
from ymnotify.delivery.outcome import Verdict, media_type
from ymnotify.errors import NotFound, StoreError
from ymnotify.market import documents, openapi
from ymnotify.market.bodies import read_body
from ymnotify.market.errors import InvalidRequest, MarketRefusal, NotJson, PingFailed
from ymnotify.market.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from ymnotify.market.metrics import MarketMetrics
from ymnotify.market.records import LogFilter, Subscription
from ymnotify.market.runtime import MarketRuntime
from ymnotify.market.service import MarketService
from ymnotify.market.ui import MarketUi
from ymnotify.protocol.models import INT64_MAX
from ymnotify.protocol.responses import JSON_CONTENT_TYPE, rfc3339

logger = logging.getLogger("ymnotify.market")

USER_HEADER = "x-market-user"
MAX_REQUEST_BODY = 1024 * 1024
Handler = Callable[[Request, MarketService], Awaitable[Response]]


def _user(request: Request) -> str | None:
    value = request.headers.get(USER_HEADER, "").strip()
    return value or None


async def _body(request: Request) -> Any:
    declared = media_type(request.headers.get("content-type"))
    if declared != JSON_CONTENT_TYPE:
        raise NotJson(
            f"send the body with Content-Type: {JSON_CONTENT_TYPE} (not {declared or 'none'})"
        )
    return documents.parse_json(await read_body(request, MAX_REQUEST_BODY))


def _id(request: Request, kind: str = "subscription") -> int:
    return documents.path_id(int(request.path_params["id"]), kind)


def _json(document: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(document, status_code=status)


def _subscription(
    service: MarketService, subscription: Subscription, status: int = 200
) -> JSONResponse:
    return _json(documents.subscription_document(subscription, service.now()), status)


# -- handlers -----------------------------------------------------------------------------------


async def create_business(request: Request, service: MarketService) -> Response:
    business = documents.business_from(await _body(request), service.now())
    created = await service.create_business(business)
    return _json(documents.business_document(created), 201)


async def list_businesses(request: Request, service: MarketService) -> Response:
    found = await service.businesses()
    return _json({"businesses": [documents.business_document(b) for b in found]})


async def get_business(request: Request, service: MarketService) -> Response:
    return _json(documents.business_document(await service.business(_id(request, "business"))))


async def create_subscription(request: Request, service: MarketService) -> Response:
    body = documents.require_object(await _body(request))
    created = await service.create(
        _user(request),
        name=documents.string(body.get("name"), "name"),
        scope=documents.scope_from(body.get("scope")),
        types=documents.types_from(body.get("types")),
        url=documents.string(body.get("url"), "url"),
    )
    return _subscription(service, created, 201)


async def list_subscriptions(request: Request, service: MarketService) -> Response:
    now = service.now()
    found = await service.subscriptions(_user(request))
    return _json({"subscriptions": [documents.subscription_document(s, now) for s in found]})


async def get_subscription(request: Request, service: MarketService) -> Response:
    return _subscription(service, await service.subscription(_id(request), _user(request)))


async def edit_subscription(request: Request, service: MarketService) -> Response:
    edit = documents.edit_from(await _body(request))
    return _subscription(service, await service.edit(_user(request), _id(request), edit))


async def disable_subscription(request: Request, service: MarketService) -> Response:
    return _subscription(service, await service.disable(_user(request), _id(request)))


async def enable_subscription(request: Request, service: MarketService) -> Response:
    return _subscription(service, await service.enable(_user(request), _id(request)))


async def duplicate_subscription(request: Request, service: MarketService) -> Response:
    body = documents.require_object(await _body(request))
    campaign_id = documents.positive_int(body.get("campaignId"), "campaignId")
    copy = await service.duplicate(_user(request), _id(request), campaign_id)
    return _subscription(service, copy, 201)


async def remove_subscription(request: Request, service: MarketService) -> Response:
    await service.remove(_user(request), _id(request))
    return Response(status_code=204)


async def publish(request: Request, service: MarketService) -> Response:
    body = await _body(request)
    payloads = body if isinstance(body, list) else [body]
    published = await service.publish(payloads)
    return _json({"events": [documents.published_document(p) for p in published]}, 202)


async def request_log(request: Request, service: MarketService) -> Response:
    query = _log_filter(request.query_params)
    page, next_before = await service.log_page(query)
    return _json({"entries": [documents.log_document(e) for e in page], "nextBefore": next_before})


async def clock(request: Request, service: MarketService) -> Response:
    return _json(_clock_document(service))


async def advance_clock(request: Request, service: MarketService) -> Response:
    seconds = documents.seconds_from(await _body(request))
    await service.advance(seconds)
    return _json(_clock_document(service))


def _clock_document(service: MarketService) -> dict[str, Any]:
    return {"now": rfc3339(service.now()), "virtual": service.engine.clock.virtual}


def _log_filter(params: Any) -> LogFilter:
    def integer(name: str, default: int | None = None) -> int | None:
        raw = params.get(name)
        if raw in (None, ""):
            return default
        try:
            value = int(raw)
        except ValueError:
            raise InvalidRequest(f"{name} must be an integer") from None
        if abs(value) > INT64_MAX:
            raise InvalidRequest(f"{name} must be at most {INT64_MAX}")
        return value

    def moment(name: str) -> datetime | None:
        raw = params.get(name)
        if not raw:
            return None
        try:
            parsed = datetime.fromisoformat(raw)
        except ValueError:
            raise InvalidRequest(
                f"{name} must be an RFC 3339 time, e.g. 2026-01-01T00:00:00Z"
            ) from None
        if parsed.tzinfo is None:
            raise InvalidRequest(f"{name} needs a UTC offset (Z or +hh:mm)")
        return parsed

    outcome = params.get("outcome") or None
    if outcome is not None and outcome not in {v.value for v in Verdict}:
        raise InvalidRequest(f"outcome is one of {', '.join(v.value for v in Verdict)}")
    limit = integer("limit", 100)
    assert limit is not None
    if not 1 <= limit <= 10_000:
        raise InvalidRequest("limit must be between 1 and 10000")
    return LogFilter(
        subscription_id=integer("subscription"),
        notification_type=params.get("type") or None,
        outcome=Verdict(outcome) if outcome else None,
        since=moment("since"),
        until=moment("until"),
        text=params.get("q") or None,
        before_id=integer("before"),
        limit=limit,
    )


# -- errors -------------------------------------------------------------------------------------


def error_response(status: int, code: str, message: str, **extra: Any) -> JSONResponse:
    """The API's error answer: ``{"error": {"code", "message", …}}``."""
    return JSONResponse({"error": {"code": code, "message": message, **extra}}, status_code=status)


def _refusal_response(exc: Exception) -> JSONResponse:
    if isinstance(exc, PingFailed):
        return error_response(
            exc.status,
            exc.code,
            str(exc),
            url=exc.url,
            errorType=None if exc.outcome.failure_type is None else exc.outcome.failure_type.value,
            errorSubtype=None if exc.outcome.subtype is None else exc.outcome.subtype.value,
            detail=exc.outcome.detail,
        )
    if isinstance(exc, MarketRefusal):
        return error_response(exc.status, exc.code, str(exc))
    if isinstance(exc, NotFound):
        return error_response(404, "not_found", str(exc))
    if isinstance(exc, StoreError):
        logger.error("Market store failed: %s", exc)
        return error_response(503, "unavailable", str(exc))
    if isinstance(exc, SendingStopped):  # an advance cut short by a stop
        return error_response(503, "unavailable", "the Market sandbox is stopping")
    raise exc


def _handle(handler: Handler, runtime: MarketRuntime) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        try:
            return await handler(request, runtime.service)
        except (MarketRefusal, NotFound, StoreError, SendingStopped) as exc:
            return _refusal_response(exc)

    return endpoint


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    codes = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}
    return error_response(exc.status_code, codes.get(exc.status_code, "http_error"), exc.detail)


# -- the application ----------------------------------------------------------------------------

ROUTES: list[tuple[str, str, Handler]] = [
    ("POST", "/api/businesses", create_business),
    ("GET", "/api/businesses", list_businesses),
    ("GET", "/api/businesses/{id:int}", get_business),
    ("POST", "/api/subscriptions", create_subscription),
    ("GET", "/api/subscriptions", list_subscriptions),
    ("GET", "/api/subscriptions/{id:int}", get_subscription),
    ("PATCH", "/api/subscriptions/{id:int}", edit_subscription),
    ("DELETE", "/api/subscriptions/{id:int}", remove_subscription),
    ("POST", "/api/subscriptions/{id:int}/disable", disable_subscription),
    ("POST", "/api/subscriptions/{id:int}/enable", enable_subscription),
    ("POST", "/api/subscriptions/{id:int}/duplicate", duplicate_subscription),
    ("POST", "/api/events", publish),
    ("GET", "/api/log", request_log),
    ("GET", "/api/clock", clock),
    ("POST", "/api/clock/advance", advance_clock),
]


def create_app(runtime: MarketRuntime) -> Starlette:
    """The ASGI app; its lifespan runs ``runtime`` (store, engine, clock)."""
    by_path: dict[str, dict[str, Handler]] = {}
    for method, path, handler in ROUTES:
        by_path.setdefault(path, {})[method] = handler
    routes: list[BaseRoute] = [
        Route(path, _dispatch(handlers, runtime), methods=list(handlers))
        for path, handlers in by_path.items()
    ]
    routes.append(Route("/openapi.json", _openapi, methods=["GET"]))
    metrics = MarketMetrics()

    async def metrics_endpoint(_request: Request) -> Response:
        text = await metrics.exposition(runtime.service.store)
        return Response(text, media_type=METRICS_CONTENT_TYPE)

    async def root(_request: Request) -> Response:
        return RedirectResponse("/ui/", status_code=303)

    routes.append(Route("/metrics", metrics_endpoint, methods=["GET"]))
    routes.append(Route("/", root, methods=["GET"]))
    routes.extend(MarketUi(runtime).routes())

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        async with runtime.running():
            yield

    return Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={HTTPException: _http_error},
    )


def _dispatch(
    handlers: dict[str, Handler], runtime: MarketRuntime
) -> Callable[[Request], Awaitable[Response]]:
    wrapped = {method: _handle(handler, runtime) for method, handler in handlers.items()}

    async def endpoint(request: Request) -> Response:
        return await wrapped[request.method](request)

    return endpoint


async def _openapi(request: Request) -> Response:
    return _json(openapi.document())
