"""Cross-site request forgery guard for the dashboards' forms: pure decisions, no I/O.

A dashboard page sets a random cookie (SameSite=Strict, HttpOnly) and puts a token derived
from it with the app's secret in each form. A POST is accepted only with both, matching: a
page on another site can make the browser POST but cannot read the token, and the browser does
not send a Strict cookie with a cross-site request at all. This holds with no admin token set
too (loopback-only mode), where there is no login session to lean on.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

COOKIE = "ymnotify_csrf"
FIELD = "csrf"


def new_secret() -> bytes:
    """The app's key; a fresh one per process, so a restart invalidates open forms."""
    return secrets.token_bytes(32)


def new_cookie() -> str:
    """A browser's random cookie value."""
    return secrets.token_urlsafe(24)


def form_token(secret: bytes, cookie: str) -> str:
    """The token forms carry for the browser holding ``cookie``."""
    return hmac.new(secret, cookie.encode(), hashlib.sha256).hexdigest()


def accepts(secret: bytes, cookie: str | None, presented: str | None) -> bool:
    """Whether a form POST carries the cookie and the token that matches it."""
    if not cookie or not presented:
        return False
    return hmac.compare_digest(form_token(secret, cookie).encode(), presented.encode())
