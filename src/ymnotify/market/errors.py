"""Why the Market sandbox refuses a request. Each maps to a 4xx answer of the JSON API.

MarketRefusal (ymnotify.errors.YmnotifyError)
├── InvalidRequest   400 invalid_request    malformed or inconsistent input
├── UserRequired     401 user_required      no X-Market-User header
├── Forbidden        403 forbidden          the user's role does not allow it
├── Conflict         409 conflict           the id or store is taken
├── TooLarge         413 too_large          the request body is over the API's limit
├── NotJson          415 unsupported_media_type  a body sent as anything but application/json
└── PingFailed       422 ping_failed        the URL did not answer PING as Market requires

``ymnotify.errors.NotFound`` answers 404 ``not_found``.
"""

from __future__ import annotations

from ymnotify.delivery.outcome import Outcome
from ymnotify.errors import YmnotifyError


class MarketRefusal(YmnotifyError):
    """A request the Market side refuses; ``status`` and ``code`` go into the answer."""

    status = 400
    code = "invalid_request"


class InvalidRequest(MarketRefusal):
    """Malformed or inconsistent input."""


class UserRequired(MarketRefusal):
    """The acting cabinet user (``X-Market-User``) is missing."""

    status = 401
    code = "user_required"


class Forbidden(MarketRefusal):
    """The acting user may not do this (role or cabinet)."""

    status = 403
    code = "forbidden"


class Conflict(MarketRefusal):
    """Something with this id exists already."""

    status = 409
    code = "conflict"


class TooLarge(MarketRefusal):
    """The request body is larger than the API takes."""

    status = 413
    code = "too_large"


class NotJson(MarketRefusal):
    """A request body not declared ``application/json``: a form or a ``text/plain`` POST is what
    a page on another site can send without asking, so the API takes neither."""

    status = 415
    code = "unsupported_media_type"


class PingFailed(MarketRefusal):
    """The URL did not answer PING with a timely 200 and a valid body."""

    status = 422
    code = "ping_failed"

    def __init__(self, url: str, outcome: Outcome) -> None:
        super().__init__(f"PING to {url} failed: {outcome.label()}: {outcome.detail}")
        self.url = url
        self.outcome = outcome
