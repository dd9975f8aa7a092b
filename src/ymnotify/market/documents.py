"""JSON in and out of the Market API: request bodies to typed values, records to documents.

Names on the wire are camelCase, as in Market's own documents. Bodies are parsed with
``protocol.wire.loads`` so ids beyond 2**53 stay exact.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from ymnotify.errors import NotFound
from ymnotify.market import rules, schedule
from ymnotify.market.errors import InvalidRequest
from ymnotify.market.records import Business, LogEntry, Published, Subscription, User
from ymnotify.market.service import Edit, ScopeRequest
from ymnotify.protocol import wire
from ymnotify.protocol.models import INT64_MAX  # Market's ids; the store holds no larger one
from ymnotify.protocol.responses import rfc3339

# -- reading requests -------------------------------------------------------------------------


def parse_json(body: bytes) -> Any:
    """A request body as JSON; ``InvalidRequest`` saying why not."""
    try:
        return wire.loads(body)
    except wire.MalformedJson as exc:
        raise InvalidRequest(f"the request body is not JSON: {exc}") from exc


def require_object(document: Any, what: str = "the request body") -> dict[str, Any]:
    if not isinstance(document, dict):
        raise InvalidRequest(f"{what} must be a JSON object")
    return document


def path_id(value: int, kind: str) -> int:
    """An id taken from a URL path; one beyond int64 names no ``kind`` that can exist."""
    if value > INT64_MAX:
        raise NotFound(f"no {kind} {value}")
    return value


def positive_int(value: Any, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidRequest(f"{field} must be a positive integer")
    if value > INT64_MAX:
        raise InvalidRequest(f"{field} must be at most {INT64_MAX}")
    return value


def string(value: Any, field: str) -> str:
    """A JSON string as given (its content is checked by the rules)."""
    if not isinstance(value, str):
        raise InvalidRequest(f"{field} must be a string")
    return value


def text(value: Any, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidRequest(f"{field} must be a non-empty string")
    return value.strip()


def business_from(document: Any, now: datetime) -> Business:
    """``{"id", "name", "campaignIds": [..], "users": [{"login", "role"}]}``."""
    body = require_object(document)
    campaign_ids = body.get("campaignIds", [])
    if not isinstance(campaign_ids, list):
        raise InvalidRequest("campaignIds must be an array of positive integers")
    campaigns = tuple(positive_int(c, "campaignIds[]") for c in campaign_ids)
    if len(set(campaigns)) != len(campaigns):
        raise InvalidRequest("campaignIds has repeats")
    raw_users = body.get("users", [])
    if not isinstance(raw_users, list):
        raise InvalidRequest('users must be an array of {"login", "role"}')
    users = []
    for index, raw in enumerate(raw_users):
        user = require_object(raw, f"users[{index}]")
        login = text(user.get("login"), f"users[{index}].login")
        role = text(user.get("role"), f"users[{index}].role")
        if problem := rules.login_problem(login):
            raise InvalidRequest(f"users[{index}]: {problem}")
        if problem := rules.role_problem(role):
            raise InvalidRequest(f"users[{index}]: {problem}")
        users.append(User(login, role))
    if len({u.login for u in users}) != len(users):
        raise InvalidRequest("users has a login twice")
    return Business(
        id=positive_int(body.get("id"), "id"),
        name=text(body.get("name"), "name"),
        campaign_ids=campaigns,
        users=tuple(users),
        created_at=now,
    )


def scope_from(value: Any) -> ScopeRequest:
    scope = require_object(value, 'scope ({"businessId": N} or {"campaignId": N})')
    if set(scope) == {"businessId"}:
        return ScopeRequest(business_id=positive_int(scope["businessId"], "scope.businessId"))
    if set(scope) == {"campaignId"}:
        return ScopeRequest(campaign_id=positive_int(scope["campaignId"], "scope.campaignId"))
    raise InvalidRequest('scope must be {"businessId": N} or {"campaignId": N}')


def types_from(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise InvalidRequest('types must be an array of notification types, e.g. ["ORDER_CREATED"]')
    return value


def edit_from(document: Any) -> Edit:
    body = require_object(document)
    unknown = set(body) - {"name", "types", "url"}
    if unknown:
        raise InvalidRequest(f"only name, types and url can be edited, not {sorted(unknown)}")
    if not body:
        raise InvalidRequest("nothing to change: give name, types or url")
    return Edit(
        name=None if "name" not in body else string(body["name"], "name"),
        types=None if "types" not in body else tuple(types_from(body["types"])),
        url=None if "url" not in body else string(body["url"], "url"),
    )


MAX_ADVANCE_SECONDS = 366 * 86400.0


def seconds_from(document: Any) -> float:
    body = require_object(document)
    value = body.get("seconds")
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise InvalidRequest('give {"seconds": N}, N ≥ 0')
    seconds = float(value)
    if not 0 <= seconds <= MAX_ADVANCE_SECONDS:
        raise InvalidRequest(f"seconds must be between 0 and {MAX_ADVANCE_SECONDS:.0f} (a year)")
    return seconds


# -- writing answers --------------------------------------------------------------------------


def _time(moment: datetime | None) -> str | None:
    return None if moment is None else rfc3339(moment)


def business_document(business: Business) -> dict[str, Any]:
    return {
        "id": business.id,
        "name": business.name,
        "campaignIds": list(business.campaign_ids),
        "users": [{"login": u.login, "role": u.role} for u in business.users],
        "createdAt": _time(business.created_at),
    }


def shown_failing_since(subscription: Subscription, now: datetime) -> datetime | None:
    """When the 14-day clock started, or None: nothing is sent while the setting is off, so no
    clock runs then (the store forgets it once its deadline passes:
    ``MarketStore.disable_failing``)."""
    if not subscription.settings.in_effect(now).enabled:
        return None
    return subscription.failing_since


def subscription_document(subscription: Subscription, now: datetime) -> dict[str, Any]:
    settings = subscription.settings
    in_effect = settings.in_effect(now)
    failing = shown_failing_since(subscription, now)
    return {
        "id": subscription.id,
        "name": settings.name,
        "scope": subscription.scope.document(),
        "businessId": subscription.scope.business_id,
        "types": list(settings.desired.types),
        "url": settings.desired.url,
        "state": settings.state(now).value,
        "activatesAt": _time(settings.pending_since(now)),
        "inEffect": {
            "enabled": in_effect.enabled,
            "types": list(in_effect.types),
            "url": in_effect.url,
        },
        "failingSince": _time(failing),
        "disableAt": _time(None if failing is None else schedule.disable_deadline(failing)),
        "disabledByMarketAt": _time(settings.disabled_by_market_at),
        "deliveries": subscription.deliveries,
        "createdAt": _time(subscription.created_at),
        "updatedAt": _time(subscription.updated_at),
    }


def published_document(published: Published) -> dict[str, Any]:
    return {
        "eventId": published.event_id,
        "notificationType": published.notification_type,
        "deliveries": [
            {"id": delivery_id, "subscriptionId": subscription_id}
            for delivery_id, subscription_id in published.deliveries
        ],
        "note": published.note,
    }


def log_document(entry: LogEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "at": _time(entry.at),
        "subscriptionId": entry.subscription_id,
        "deliveryId": entry.delivery_id,
        "attempt": entry.attempt,
        "notificationType": entry.notification_type,
        "url": entry.url,
        "traceparent": entry.traceparent,
        "requestBody": entry.request_body.decode("utf-8", errors="replace"),
        "status": entry.status,
        "responseContentType": entry.response_content_type,
        "responseBody": entry.response_body.decode("utf-8", errors="replace"),
        "latencyMs": entry.latency_ms,
        "outcome": entry.outcome.value,
        "errorType": entry.error_type,
        "errorSubtype": entry.error_subtype,
        "detail": entry.detail,
    }
