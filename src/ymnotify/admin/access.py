"""Who may use the admin listener: pure decisions, no I/O.

The rules (PRODUCT.md, "Decisions pinned → Admin"):

- Bound beyond loopback, the listener needs a token; without one it refuses to start.
- With a token set, every client must present it, loopback included.
- Without a token, only loopback clients are admitted, and only when their ``Host`` header names
  loopback too: a page whose domain an attacker re-points to 127.0.0.1 (DNS rebinding) counts
  as same-origin in the browser, and its requests would come from loopback. It cannot name
  localhost in ``Host``; and where a token is set, it does not know it.

The client is the TCP peer: the admin listener never believes ``X-Forwarded-For``. A client that
presents wrong tokens too often is refused for a while, whatever it presents (``GuessLimiter``).
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import ipaddress
import time
from collections.abc import Callable


class Access(enum.Enum):
    """The answer to one request."""

    ADMIT = "admit"
    MISSING_TOKEN = "missing token"  # 401: a token is set and none was presented
    WRONG_TOKEN = "wrong token"  # 401: the presented token is not the one set
    LOOPBACK_ONLY = "loopback only"  # 403: no token is set, so only loopback is served
    FOREIGN_HOST = "foreign host"  # 403: no token is set and Host names no loopback address


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


def decide(
    client_host: str | None, presented: str | None, token: str | None, host_header: str | None
) -> Access:
    """Admit the request or say why not. ``presented`` is the token the client sent, if any;
    ``host_header`` the request's ``Host``."""
    if token:
        if not presented:
            return Access.MISSING_TOKEN
        if not hmac.compare_digest(presented.encode(), token.encode()):
            return Access.WRONG_TOKEN
        return Access.ADMIT
    if not is_loopback(client_host):
        return Access.LOOPBACK_ONLY
    return Access.ADMIT if names_loopback(host_header) else Access.FOREIGN_HOST


def names_loopback(host_header: str | None) -> bool:
    """Whether a ``Host`` header (``localhost:8081``, ``127.0.0.1``, ``[::1]:8081``) names a
    loopback address or the ``localhost`` name (RFC 6761: never resolved elsewhere)."""
    if not host_header:
        return False
    host = host_header.strip().lower()
    if host.startswith("["):
        host = host[1 : host.find("]")] if "]" in host else ""
    elif host.count(":") == 1:
        host = host.partition(":")[0]
    host = host.rstrip(".")
    return host == "localhost" or host.endswith(".localhost") or is_loopback(host)


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


DEFAULT_GUESSES = 10  # wrong tokens a client may present per window
DEFAULT_GUESS_WINDOW = 60.0  # seconds
_MAX_TRACKED_CLIENTS = 10_000  # bounds the memory an attacker with many addresses can take


class GuessLimiter:
    """Counts wrong tokens per client; after ``limit`` in a window the client waits it out.

    A token is long and random, so this is not what keeps it safe; it keeps a guessing client
    from costing the listener a request per guess for ever, and makes the guessing show up as
    429s. While a client waits, even the right token is refused (a limiter that let the right
    one through would answer "right" or "wrong" for every guess). ``clock`` is seconds,
    monotonic.
    """

    def __init__(
        self,
        limit: int = DEFAULT_GUESSES,
        window: float = DEFAULT_GUESS_WINDOW,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if limit < 1 or window <= 0:
            raise ValueError("the guess limit and its window must be positive")
        self.limit = limit
        self.window = window
        self._clock = clock
        self._failures: dict[str, tuple[float, int]] = {}  # client → (window start, count)

    def wait(self, client: str | None) -> float:
        """Seconds ``client`` must wait before its next try counts; 0 when it may try now."""
        entry = self._failures.get(client or "")
        if entry is None:
            return 0.0
        started, count = entry
        remaining = started + self.window - self._clock()
        if remaining <= 0:
            del self._failures[client or ""]
            return 0.0
        return remaining if count >= self.limit else 0.0

    def failed(self, client: str | None) -> None:
        """Note a wrong token from ``client``."""
        key = client or ""
        now = self._clock()
        started, count = self._failures.get(key, (now, 0))
        if now - started >= self.window:
            started, count = now, 0
        if key not in self._failures and len(self._failures) >= _MAX_TRACKED_CLIENTS:
            self._forget_expired(now)
        self._failures[key] = (started, count + 1)

    def _forget_expired(self, now: float) -> None:
        expired = [k for k, (started, _) in self._failures.items() if now - started >= self.window]
        for key in expired:
            del self._failures[key]
        if len(self._failures) >= _MAX_TRACKED_CLIENTS:  # all fresh: the oldest half goes
            for key in sorted(self._failures, key=lambda k: self._failures[k][0])[
                : _MAX_TRACKED_CLIENTS // 2
            ]:
                del self._failures[key]
