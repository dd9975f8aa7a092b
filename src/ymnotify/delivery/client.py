"""The HTTP client that posts notifications the way Market does.

- ``POST`` with ``Content-Type: application/json`` and a fresh W3C ``traceparent`` per request.
- Keep-alive connections are reused; concurrency is bounded overall and per endpoint
  (scheme, host, port), so one slow endpoint cannot take every connection. The callers that
  share an endpoint take its connections in turn, lane by lane (``fair``), so one caller's
  backlog does not hold up the others.
- One timeout covers the whole exchange (Market: 10 s for notifications, 1 s for PING); waiting
  for a concurrency slot does not count against it.
- Redirects are never followed: a 3xx is an answer like any other non-200 (an ``HTTP`` failure).
- HTTPS is verified against the system's CAs (certifi) plus an optional ``ca_bundle``; plain HTTP
  only when allowed; addresses checked at connect time (see ``network``).

Built on aiohttp's client: its connector takes the checked resolver and socket factory of
``network`` as public arguments, and it costs a fifth of the CPU per request that httpcore did
(docs/benchmarks.md, Market side). Cookies are never kept, bodies never decompressed, proxies
from the environment never used: each attempt is one plain exchange, as Market's.

Every call returns an ``Attempt``: what was sent, what came back, how long it took, and Market's
verdict on it (``outcome``). Network errors never escape ``post``; after ``stop_sending`` a post
still waiting for its turn raises ``SendingStopped`` instead of going out.
"""

from __future__ import annotations

import asyncio
import contextvars
import secrets
import socket
import ssl
import time
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiohttp
import certifi
import yarl

from ymnotify import __version__
from ymnotify.delivery import network
from ymnotify.delivery.fair import FairSlots
from ymnotify.delivery.outcome import (
    Outcome,
    TransportFailure,
    classify_failure,
    classify_response,
)
from ymnotify.errors import ConfigError, YmnotifyError
from ymnotify.protocol.responses import JSON_CONTENT_TYPE

NOTIFICATION_TIMEOUT = 10.0  # Market's timeout for ordinary notifications
PING_TIMEOUT = 1.0  # Market's timeout for PING since 2026-03-27
MAX_RESPONSE_BODY = 1024 * 1024  # a 200 body is ~100 bytes; reading stops past this
# Receivers close idle connections after some seconds (uvicorn: 5–15 s); dropping ours first
# avoids posting on a connection the server is closing at that instant.
KEEPALIVE_EXPIRY = 4.0


class SendingStopped(YmnotifyError):
    """The client stopped sending (``stop_sending``) before this request's turn came: nothing
    was sent."""


def new_traceparent() -> str:
    """A fresh W3C trace-context header value: version 00, random ids, sampled."""
    return f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01"


@dataclass(frozen=True, slots=True)
class ClientOptions:
    """How the client connects. Frozen; checked when the client is built."""

    allow_http: bool = False
    allow_private_targets: bool = False
    ca_bundle: str | None = None
    max_connections: int = 256  # 32 hanging endpoints at 8 each fill them
    max_per_endpoint: int = 8
    user_agent: str = f"ymnotify-market-sandbox/{__version__}"

    def __post_init__(self) -> None:
        if self.max_connections < 1 or self.max_per_endpoint < 1:
            raise ConfigError("connection limits must be at least 1")


@dataclass(frozen=True, slots=True)
class Attempt:
    """One POST and what came of it."""

    url: str
    traceparent: str
    request_body: bytes
    started_at: datetime  # wall clock, UTC
    latency: float  # seconds, wall clock, from the first byte sent (or connect) to the verdict
    outcome: Outcome
    status: int | None = None
    content_type: str | None = None
    response_body: bytes = b""
    response_headers: tuple[tuple[str, str], ...] = field(default=())


def ssl_context(ca_bundle: str | None) -> ssl.SSLContext:
    """Certificate-verifying TLS context: certifi's CAs plus ``ca_bundle`` (PEM) if given."""
    context = ssl.create_default_context(cafile=certifi.where())
    if ca_bundle:
        try:
            context.load_verify_locations(cafile=ca_bundle)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"--ca-bundle {ca_bundle}: cannot load it: {exc}") from exc
    return context


class DeliveryClient:
    """Posts JSON bodies to notification endpoints. Use as ``async with DeliveryClient(...)``."""

    def __init__(
        self,
        options: ClientOptions | None = None,
        *,
        resolver: network.Resolver | None = None,
        make_socket: network.SocketMaker | None = None,
        address_problem: network.AddressPolicy | None = None,
    ) -> None:
        """``resolver`` replaces the system's name resolution, ``make_socket`` the making of
        sockets and ``address_problem`` the address rule (all three for tests; the rule runs on
        every resolved address and again on every socket's address)."""
        self.options = options or ClientOptions()
        policy = address_problem or network.address_policy(
            allow_private=self.options.allow_private_targets
        )
        self._connector_arguments: dict[str, Any] = {
            "limit": self.options.max_connections,
            "limit_per_host": self.options.max_per_endpoint,
            "use_dns_cache": False,  # resolve (and check) on every new connection
            "resolver": network.CheckedResolver(policy, resolver),
            "socket_factory": network.checked_socket_factory(policy, make_socket),
            "ssl": ssl_context(self.options.ca_bundle),
            "keepalive_timeout": KEEPALIVE_EXPIRY,
        }
        self._session: aiohttp.ClientSession | None = None
        self._overall = asyncio.Semaphore(self.options.max_connections)
        self._per_endpoint: dict[tuple[str, str, int | None], FairSlots] = {}
        self._targets: dict[str, yarl.URL | str] = {}
        self._sending = True

    def stop_sending(self) -> None:
        """Let no further request out: those on the wire finish, those still waiting for a
        connection raise ``SendingStopped`` when their turn comes (at a stop, so that nothing
        goes out that its caller may not live to record)."""
        self._sending = False

    async def __aenter__(self) -> DeliveryClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close every pooled connection."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _open_session(self) -> aiohttp.ClientSession:
        # Made on first use: aiohttp binds a session to the running event loop.
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=_MarkingConnector(**self._connector_arguments),
                cookie_jar=aiohttp.DummyCookieJar(),
                timeout=aiohttp.ClientTimeout(total=None),  # ours covers the whole exchange
                auto_decompress=False,
                skip_auto_headers=("Accept-Encoding",),
                trust_env=False,
            )
        return self._session

    async def post(
        self,
        url: str,
        body: bytes,
        *,
        timeout: float = NOTIFICATION_TIMEOUT,  # noqa: ASYNC109 (Market's timeout is an input)
        headers: Mapping[str, str] | None = None,
        lane: Hashable = None,
    ) -> Attempt:
        """POST ``body`` to ``url`` (the final URL, ``/notification`` included) and judge it.

        ``lane`` names the caller's queue for the endpoint's connections (the Market sandbox
        gives each setting its own); waiting lanes take the connections in turn.
        """
        traceparent = new_traceparent()
        target = self._target(url)
        if isinstance(target, str):
            return _failed(url, traceparent, body, TransportFailure.PROTOCOL, target)
        if target.scheme == "http" and not self.options.allow_http:
            return _failed(
                url,
                traceparent,
                body,
                TransportFailure.TARGET_REFUSED,
                "plain HTTP refused: Market only sends over HTTPS (see --allow-http)",
            )
        request_headers = {
            "Content-Type": JSON_CONTENT_TYPE,
            "traceparent": traceparent,
            "User-Agent": self.options.user_agent,
            "Accept": JSON_CONTENT_TYPE,
            **(headers or {}),
        }
        endpoint = (target.scheme, target.raw_host or "", target.port)
        slots = self._per_endpoint.get(endpoint)
        if slots is None:
            slots = self._per_endpoint[endpoint] = FairSlots(self.options.max_per_endpoint)
        # The endpoint's place first: waiting behind its own backlog must not hold one of the
        # places every other endpoint shares (a slow endpoint then starved all the others).
        async with slots.hold(lane), self._overall:
            if not self._sending:
                raise SendingStopped(f"not sent to {url}: sending has stopped")
            return await self._exchange(url, target, request_headers, body, traceparent, timeout)

    def _target(self, url: str) -> yarl.URL | str:
        """The parsed URL, or why it cannot be posted to; remembered per URL text."""
        known = self._targets.get(url)
        if known is None:
            if len(self._targets) >= MAX_REMEMBERED_TARGETS:
                self._targets.clear()
            known = self._targets[url] = _parse_target(url)
        return known

    async def _exchange(
        self,
        url: str,
        target: yarl.URL,
        headers: dict[str, str],
        body: bytes,
        traceparent: str,
        timeout: float,  # noqa: ASYNC109
    ) -> Attempt:
        started_at = datetime.now(UTC)
        start = time.perf_counter()
        progress = _Progress()

        def finish(outcome: Outcome, **response: Any) -> Attempt:
            return Attempt(
                url=url,
                traceparent=traceparent,
                request_body=body,
                started_at=started_at,
                latency=time.perf_counter() - start,
                outcome=outcome,
                **response,
            )

        session = self._open_session()
        marking = _PROGRESS.set(progress)
        try:
            async with (
                asyncio.timeout(timeout),
                session.post(target, data=body, headers=headers, allow_redirects=False) as response,
            ):
                received, cut_at = await _read_capped(response)
                if cut_at is not None:
                    response.close()  # the rest is never read: the connection cannot be reused
        except TimeoutError:
            failure = (
                TransportFailure.READ_TIMEOUT
                if progress.connected
                else TransportFailure.CONNECT_TIMEOUT
            )
            what = "no complete answer" if progress.connected else "no connection"
            return finish(classify_failure(failure, f"{what} within {timeout:g}s"))
        except aiohttp.ClientError as exc:
            return finish(_transport_outcome(exc))
        finally:
            _PROGRESS.reset(marking)
        response_headers = tuple(
            (name.decode("latin-1"), value.decode("latin-1"))
            for name, value in response.raw_headers
        )
        content_type = response.headers.get("Content-Type")
        outcome = classify_response(response.status, content_type, received, body_cut_at=cut_at)
        return finish(
            outcome,
            status=response.status,
            content_type=content_type,
            response_body=received,
            response_headers=response_headers,
        )


MAX_REMEMBERED_TARGETS = 4096  # parsed URLs kept; a sandbox has far fewer subscriptions
_IPV4_LITERAL_CHARACTERS = frozenset("0123456789abcdefx.")


class _Progress:
    """Whether the request got a connection: a timeout before that is a connect timeout."""

    __slots__ = ("connected",)

    def __init__(self) -> None:
        self.connected = False


# The request in progress in this task, for the connector to mark. aiohttp's request tracing
# could tell the same, but with it every request paid ~13 % more CPU (bench/analysis.md).
_PROGRESS: contextvars.ContextVar[_Progress | None] = contextvars.ContextVar(
    "ymnotify_delivery_progress", default=None
)


class _MarkingConnector(aiohttp.TCPConnector):
    """aiohttp's connector; marks the request in progress once it has its connection, new or
    reused (``connect`` runs in the task that posts)."""

    async def connect(
        self,
        req: aiohttp.ClientRequest,
        traces: list[Any],
        timeout: aiohttp.ClientTimeout,  # noqa: ASYNC109 (aiohttp's signature)
    ) -> aiohttp.connector.Connection:
        connection = await super().connect(req, traces, timeout)
        progress = _PROGRESS.get()
        if progress is not None:
            progress.connected = True
        return connection


def _parse_target(url: str) -> yarl.URL | str:
    try:
        target = yarl.URL(url)
    except (ValueError, TypeError) as exc:
        return f"bad URL: {exc}"
    if target.scheme not in ("http", "https") or not target.raw_host:
        return "the URL is not http(s)"
    return _canonical_ipv4(target)


def _canonical_ipv4(target: yarl.URL) -> yarl.URL:
    """``http://127.1/`` → ``http://127.0.0.1/``: the address the system's resolver would give.

    Short, octal, hex and single-number IPv4 forms name an address as surely as the dotted
    form; aiohttp refuses some of them outright, so they are rewritten before it sees them.
    """
    host = target.raw_host or ""
    if not host or not set(host.lower()) <= _IPV4_LITERAL_CHARACTERS:
        return target
    try:
        canonical = socket.inet_ntoa(socket.inet_aton(host))
    except OSError:
        return target
    return target if canonical == host else target.with_host(canonical)


def _transport_outcome(exc: aiohttp.ClientError) -> Outcome:
    """Market's verdict on an exchange that ended in an aiohttp error (order matters: the
    classes nest)."""
    text = str(exc) or type(exc).__name__
    if isinstance(exc, aiohttp.ClientConnectorError | aiohttp.ClientSSLError):
        refused = exc.os_error if isinstance(exc, aiohttp.ClientConnectorError) else None
        if isinstance(refused, network.TargetRefused):
            return classify_failure(TransportFailure.TARGET_REFUSED, str(refused))
        if isinstance(exc, aiohttp.ClientSSLError):
            host = exc.host if isinstance(exc, aiohttp.ClientConnectorError) else "the peer"
            underlying = (
                exc.certificate_error
                if isinstance(exc, aiohttp.ClientConnectorCertificateError)
                else getattr(exc, "os_error", exc)
            )
            reason = network.tls_reason(underlying)
            return classify_failure(
                TransportFailure.TLS, f"TLS handshake with {host} failed: {reason}"
            )
        cause = str(refused) if refused is not None else text
        return classify_failure(TransportFailure.CONNECTION_REFUSED, cause)
    lost = f"connected, then the connection closed before a complete answer: {text}"
    if isinstance(exc, aiohttp.ServerDisconnectedError | aiohttp.ClientPayloadError):
        return classify_failure(TransportFailure.CONNECTION_LOST, lost)
    if isinstance(exc, aiohttp.ClientResponseError):  # the answer could not be parsed as HTTP
        return classify_failure(TransportFailure.PROTOCOL, f"not HTTP: {text}")
    if isinstance(exc, aiohttp.ClientOSError):
        return classify_failure(TransportFailure.CONNECTION_LOST, lost)
    return classify_failure(TransportFailure.PROTOCOL, text)


async def _read_capped(response: aiohttp.ClientResponse) -> tuple[bytes, int | None]:
    chunks: list[bytes] = []
    size = 0
    while chunk := await response.content.read(MAX_RESPONSE_BODY + 1 - size):
        chunks.append(chunk)
        size += len(chunk)
        if size > MAX_RESPONSE_BODY:
            return b"".join(chunks)[:MAX_RESPONSE_BODY], MAX_RESPONSE_BODY
    return b"".join(chunks), None


def _failed(
    url: str, traceparent: str, body: bytes, failure: TransportFailure, detail: str
) -> Attempt:
    return Attempt(
        url=url,
        traceparent=traceparent,
        request_body=body,
        started_at=datetime.now(UTC),
        latency=0.0,
        outcome=classify_failure(failure, detail),
    )
