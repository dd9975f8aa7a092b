"""The OpenAPI 3.1 description of the Market sandbox's JSON API, served at ``/openapi.json``."""

from __future__ import annotations

from typing import Any

from ymnotify import __version__
from ymnotify.delivery.outcome import FailureSubtype, FailureType, Verdict
from ymnotify.market.rules import State


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*statuses: int) -> dict[str, Any]:
    meanings = {
        400: "invalid_request: malformed or inconsistent input",
        401: "user_required: no X-Market-User header",
        403: "forbidden: the user's role or cabinet does not allow it",
        404: "not_found: no such id",
        409: "conflict: the id or store is taken, or the clock is real",
        422: "ping_failed: the URL did not answer PING as Market requires",
    }
    return {str(s): _json(_ref("Error"), meanings[s]) for s in statuses}


_USER = {
    "name": "X-Market-User",
    "in": "header",
    "required": False,
    "description": "Login of the acting cabinet user (required to change settings).",
    "schema": {"type": "string"},
}
_ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}
_SUBSCRIPTION_CHANGE = _errors(400, 401, 403, 404, 422)


def _operation(
    summary: str,
    responses: dict[str, Any],
    *,
    body: dict[str, Any] | None = None,
    parameters: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    operation: dict[str, Any] = {"summary": summary, "responses": responses}
    if body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": body}},
        }
    if parameters:
        operation["parameters"] = parameters
    return operation


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }


_TIME = {"type": "string", "format": "date-time"}
_NULLABLE_TIME = {"type": ["string", "null"], "format": "date-time"}

SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {"type": "string"},
                    "message": {"type": "string"},
                    "url": {"type": "string", "description": "ping_failed: the URL PINGed"},
                    "errorType": {"enum": [t.value for t in FailureType]},
                    "errorSubtype": {"enum": [s.value for s in FailureSubtype]},
                    "detail": {"type": "string"},
                },
            }
        },
    },
    "User": {
        "type": "object",
        "required": ["login", "role"],
        "properties": {
            "login": {"type": "string"},
            "role": {
                "type": "string",
                "description": "owner, manager, content_manager, or any other (ordinary) role",
            },
        },
    },
    "NewBusiness": {
        "type": "object",
        "required": ["id", "name"],
        "properties": {
            "id": {"type": "integer", "minimum": 1},
            "name": {"type": "string"},
            "campaignIds": {"type": "array", "items": {"type": "integer", "minimum": 1}},
            "users": {"type": "array", "items": _ref("User")},
        },
    },
    "Business": {
        "allOf": [_ref("NewBusiness")],
        "properties": {"createdAt": _TIME},
    },
    "Scope": {
        "oneOf": [
            {
                "type": "object",
                "required": ["businessId"],
                "properties": {"businessId": {"type": "integer"}},
                "description": "The whole cabinet (owner or manager only).",
            },
            {
                "type": "object",
                "required": ["campaignId"],
                "properties": {"campaignId": {"type": "integer"}},
                "description": "One store (any role but content_manager).",
            },
        ]
    },
    "NewSubscription": {
        "type": "object",
        "required": ["name", "scope", "types", "url"],
        "properties": {
            "name": {"type": "string"},
            "scope": _ref("Scope"),
            "types": {"type": "array", "items": {"type": "string"}, "minItems": 1},
            "url": {"type": "string", "description": "Market posts to {url}/notification"},
        },
    },
    "Subscription": {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "name": {"type": "string"},
            "scope": _ref("Scope"),
            "businessId": {"type": "integer"},
            "types": {"type": "array", "items": {"type": "string"}},
            "url": {"type": "string"},
            "state": {"enum": [s.value for s in State]},
            "activatesAt": {
                **_NULLABLE_TIME,
                "description": "when the latest change takes effect; until then inEffect applies",
            },
            "inEffect": {
                "type": "object",
                "properties": {
                    "enabled": {"type": "boolean"},
                    "types": {"type": "array", "items": {"type": "string"}},
                    "url": {"type": "string"},
                },
            },
            "failingSince": {**_NULLABLE_TIME, "description": "start of the 14-day clock"},
            "disableAt": {
                **_NULLABLE_TIME,
                "description": "when Market disables it if still failing",
            },
            "disabledByMarketAt": _NULLABLE_TIME,
            "deliveries": {
                "type": "object",
                "description": "deliveries per state: pending, delivered, rejected, cancelled",
                "additionalProperties": {"type": "integer"},
            },
            "createdAt": _TIME,
            "updatedAt": _TIME,
        },
    },
    "Published": {
        "type": "object",
        "properties": {
            "events": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "eventId": {"type": "integer"},
                        "notificationType": {"type": "string"},
                        "deliveries": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "properties": {
                                    "id": {"type": "integer"},
                                    "subscriptionId": {"type": "integer"},
                                },
                            },
                        },
                        "note": {"type": ["string", "null"], "description": "why nothing matched"},
                    },
                },
            }
        },
    },
    "LogEntry": {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "at": _TIME,
            "subscriptionId": {"type": ["integer", "null"]},
            "deliveryId": {"type": ["integer", "null"], "description": "null for PING"},
            "attempt": {"type": "integer"},
            "notificationType": {"type": "string"},
            "url": {"type": "string"},
            "traceparent": {"type": "string"},
            "requestBody": {"type": "string"},
            "status": {"type": ["integer", "null"]},
            "responseContentType": {"type": ["string", "null"]},
            "responseBody": {"type": "string"},
            "latencyMs": {"type": "number"},
            "outcome": {"enum": [v.value for v in Verdict]},
            "errorType": {"enum": [*(t.value for t in FailureType), None]},
            "errorSubtype": {"enum": [*(s.value for s in FailureSubtype), None]},
            "detail": {"type": ["string", "null"]},
        },
    },
    "Clock": {
        "type": "object",
        "properties": {"now": _TIME, "virtual": {"type": "boolean"}},
    },
}


def document() -> dict[str, Any]:
    """The whole OpenAPI document."""
    subscription = _json(_ref("Subscription"), "the subscription")
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "ymnotify Market sandbox",
            "version": __version__,
            "description": (
                "Yandex.Market's notification side, for local testing: cabinets, notification"
                " settings, PING verification, delivery on Market's schedule, request log,"
                " virtual clock."
            ),
        },
        "paths": {
            "/api/businesses": {
                "post": _operation(
                    "Create a cabinet with its stores and users",
                    {"201": _json(_ref("Business"), "created"), **_errors(400, 409)},
                    body=_ref("NewBusiness"),
                ),
                "get": _operation(
                    "List cabinets",
                    {
                        "200": _json(
                            {
                                "type": "object",
                                "properties": {
                                    "businesses": {"type": "array", "items": _ref("Business")}
                                },
                            },
                            "cabinets",
                        )
                    },
                ),
            },
            "/api/businesses/{id}": {
                "get": _operation(
                    "One cabinet",
                    {"200": _json(_ref("Business"), "the cabinet"), **_errors(404)},
                    parameters=[_ID],
                ),
            },
            "/api/subscriptions": {
                "post": _operation(
                    "Create a notification setting (PING first)",
                    {"201": subscription, **_errors(400, 401, 403, 422)},
                    body=_ref("NewSubscription"),
                    parameters=[_USER],
                ),
                "get": _operation(
                    "List settings (the user's cabinets when X-Market-User is given)",
                    {
                        "200": _json(
                            {
                                "type": "object",
                                "properties": {
                                    "subscriptions": {
                                        "type": "array",
                                        "items": _ref("Subscription"),
                                    }
                                },
                            },
                            "settings",
                        )
                    },
                    parameters=[_USER],
                ),
            },
            "/api/subscriptions/{id}": {
                "get": _operation(
                    "One setting",
                    {"200": subscription, **_errors(403, 404)},
                    parameters=[_ID, _USER],
                ),
                "patch": _operation(
                    "Edit name, types or URL (a new URL is PINGed)",
                    {"200": subscription, **_SUBSCRIPTION_CHANGE},
                    body={
                        "type": "object",
                        "properties": {
                            "name": {"type": "string"},
                            "types": {"type": "array", "items": {"type": "string"}},
                            "url": {"type": "string"},
                        },
                    },
                    parameters=[_ID, _USER],
                ),
                "delete": _operation(
                    "Remove a setting; its pending deliveries are cancelled",
                    {"204": {"description": "removed"}, **_errors(401, 403, 404)},
                    parameters=[_ID, _USER],
                ),
            },
            "/api/subscriptions/{id}/disable": {
                "post": _operation(
                    "Unplug (after the activation delay)",
                    {"200": subscription, **_errors(401, 403, 404)},
                    parameters=[_ID, _USER],
                )
            },
            "/api/subscriptions/{id}/enable": {
                "post": _operation(
                    "Plug in again (PING first)",
                    {"200": subscription, **_SUBSCRIPTION_CHANGE},
                    parameters=[_ID, _USER],
                )
            },
            "/api/subscriptions/{id}/duplicate": {
                "post": _operation(
                    "Copy the settings to a store (PING first)",
                    {"201": subscription, **_SUBSCRIPTION_CHANGE},
                    body={
                        "type": "object",
                        "required": ["campaignId"],
                        "properties": {"campaignId": {"type": "integer"}},
                    },
                    parameters=[_ID, _USER],
                )
            },
            "/api/events": {
                "post": _operation(
                    "Publish one notification body or an array of them",
                    {"202": _json(_ref("Published"), "what was enqueued"), **_errors(400)},
                    body={
                        "oneOf": [
                            {"type": "object"},
                            {"type": "array", "items": {"type": "object"}},
                        ]
                    },
                )
            },
            "/api/log": {
                "get": _operation(
                    "Request log, newest first",
                    {
                        "200": _json(
                            {
                                "type": "object",
                                "properties": {
                                    "entries": {"type": "array", "items": _ref("LogEntry")},
                                    "nextBefore": {
                                        "type": ["integer", "null"],
                                        "description": "pass as before for the next (older)"
                                        " page; null on the last",
                                    },
                                },
                            },
                            "entries, and where the next page starts",
                        ),
                        **_errors(400, 404),
                    },
                    parameters=[
                        _query("subscription", {"type": "integer"}, "setting id"),
                        _query("type", {"type": "string"}, "notificationType"),
                        _query("outcome", {"enum": [v.value for v in Verdict]}, "verdict"),
                        _query("since", _TIME, "at or after (Market time)"),
                        _query("until", _TIME, "before (Market time)"),
                        _query("q", {"type": "string"}, "text in bodies, URL, traceparent, detail"),
                        _query(
                            "before",
                            {"type": "integer"},
                            "only entries older than this one (404 when no entry has this id)",
                        ),
                        _query("limit", {"type": "integer", "default": 100}, "at most this many"),
                    ],
                )
            },
            "/api/clock": {
                "get": _operation("Market's time", {"200": _json(_ref("Clock"), "now")})
            },
            "/api/clock/advance": {
                "post": _operation(
                    "Move the virtual clock; returns when all work due up to then has finished",
                    {"200": _json(_ref("Clock"), "the new time"), **_errors(400, 409)},
                    body={
                        "type": "object",
                        "required": ["seconds"],
                        "properties": {"seconds": {"type": "number", "minimum": 0}},
                    },
                )
            },
        },
        "components": {"schemas": SCHEMAS},
    }
