"""Who may use the admin listener: pure decisions, no I/O.

The rules (PRODUCT.md, "Decisions pinned → Admin"):

- Bound beyond loopback, the listener needs a token; without one it refuses to start.
- With a token set, every client must present it, loopback included.
- Without a token, only loopback clients are admitted.

The client is the TCP peer: the admin listener never believes ``X-Forwarded-For``.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import ipaddress


class Access(enum.Enum):
    """The answer to one request."""

    ADMIT = "admit"
    MISSING_TOKEN = "missing token"  # 401: a token is set and none was presented
    WRONG_TOKEN = "wrong token"  # 401: the presented token is not the one set
    LOOPBACK_ONLY = "loopback only"  # 403: no token is set, so only loopback is served


def is_loopback(host: str | None) -> bool:
    """Whether ``host`` is a loopback address (127.0.0.0/8, ::1, IPv4-mapped loopback)."""
    if not host:
        return False
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


def binding_problem(bound_host: str, token: str | None) -> str | None:
    """Why the listener must not start on ``bound_host`` (the address actually bound), if so."""
    if token or is_loopback(bound_host):
        return None
    return (
        f"the admin listener would be reachable beyond loopback ({bound_host}) without a token:"
        " set --admin-token (or YMNOTIFY_ADMIN_TOKEN), bind --admin-host 127.0.0.1,"
        " or turn it off with --no-admin"
    )


def decide(client_host: str | None, presented: str | None, token: str | None) -> Access:
    """Admit the request or say why not. ``presented`` is the token the client sent, if any."""
    if token:
        if not presented:
            return Access.MISSING_TOKEN
        if not hmac.compare_digest(presented.encode(), token.encode()):
            return Access.WRONG_TOKEN
        return Access.ADMIT
    return Access.ADMIT if is_loopback(client_host) else Access.LOOPBACK_ONLY


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, or ``None``."""
    if not authorization:
        return None
    scheme, _, value = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def session_value(token: str) -> str:
    """What the UI's cookie holds: derived from the token, so the cookie is no API token."""
    return hmac.new(token.encode(), b"ymnotify admin ui session", hashlib.sha256).hexdigest()


def token_from_session(cookie: str | None, token: str | None) -> str | None:
    """The token a session cookie stands for, when it matches the one set now."""
    if not cookie or not token:
        return None
    return token if hmac.compare_digest(cookie.encode(), session_value(token).encode()) else None
