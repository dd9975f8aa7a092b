"""The HTTP client that posts notifications the way Market does.

- ``POST`` with ``Content-Type: application/json`` and a fresh W3C ``traceparent`` per request.
- Keep-alive connections are reused; concurrency is bounded overall and per endpoint
  (scheme, host, port), so one slow endpoint cannot take every connection.
- One timeout covers the whole exchange (Market: 10 s for notifications, 1 s for PING); waiting
  for a concurrency slot does not count against it.
- Redirects are never followed: a 3xx is an answer like any other non-200 (an ``HTTP`` failure).
- HTTPS is verified against the system's CAs (certifi) plus an optional ``ca_bundle``; plain HTTP
  only when allowed; addresses checked at connect time (see ``network``).

Built on httpcore (httpx's transport layer) directly: the client needs the raw exchange and its
failure modes, not httpx's conveniences, and httpcore takes the custom network backend as a
public argument.

Every call returns an ``Attempt``: what was sent, what came back, how long it took, and Market's
verdict on it (``outcome``). Network errors never escape ``post``.
"""

from __future__ import annotations

import asyncio
import secrets
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import certifi
import httpcore

from ymnotify import __version__
from ymnotify.delivery import network
from ymnotify.delivery.outcome import (
    Outcome,
    TransportFailure,
    classify_failure,
    classify_response,
)
from ymnotify.errors import ConfigError
from ymnotify.protocol.responses import JSON_CONTENT_TYPE

NOTIFICATION_TIMEOUT = 10.0  # Market's timeout for ordinary notifications
PING_TIMEOUT = 1.0  # Market's timeout for PING since 2026-03-27
MAX_RESPONSE_BODY = 1024 * 1024  # a 200 body is ~100 bytes; reading stops past this
# Receivers close idle connections after some seconds (uvicorn: 5–15 s); dropping ours first
# avoids posting on a connection the server is closing at that instant.
KEEPALIVE_EXPIRY = 4.0


def new_traceparent() -> str:
    """A fresh W3C trace-context header value: version 00, random ids, sampled."""
    return f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01"


@dataclass(frozen=True, slots=True)
class ClientOptions:
    """How the client connects. Frozen; checked when the client is built."""

    allow_http: bool = False
    allow_private_targets: bool = False
    ca_bundle: str | None = None
    max_connections: int = 64
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
        connector: httpcore.AsyncNetworkBackend | None = None,
    ) -> None:
        """``resolver`` replaces the system's name resolution and ``connector`` the sockets
        (both for tests; the address check between them always runs)."""
        self.options = options or ClientOptions()
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context(self.options.ca_bundle),
            max_connections=self.options.max_connections,
            max_keepalive_connections=self.options.max_connections,
            keepalive_expiry=KEEPALIVE_EXPIRY,
            http1=True,
            http2=False,
            network_backend=network.CheckedBackend(
                allow_private=self.options.allow_private_targets,
                inner=connector,
                resolver=resolver,
            ),
        )
        self._overall = asyncio.Semaphore(self.options.max_connections)
        self._per_endpoint: dict[tuple[bytes, bytes, int | None], asyncio.Semaphore] = {}

    async def __aenter__(self) -> DeliveryClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close every pooled connection."""
        await self._pool.aclose()

    async def post(
        self,
        url: str,
        body: bytes,
        *,
        timeout: float = NOTIFICATION_TIMEOUT,  # noqa: ASYNC109 (Market's timeout is an input)
        headers: Mapping[str, str] | None = None,
    ) -> Attempt:
        """POST ``body`` to ``url`` (the final URL, ``/notification`` included) and judge it."""
        traceparent = new_traceparent()
        try:
            target = httpcore.URL(url)
        except Exception as exc:  # httpcore raises plain errors for unusable URLs
            return _failed(url, traceparent, body, TransportFailure.PROTOCOL, f"bad URL: {exc}")
        if target.scheme == b"http" and not self.options.allow_http:
            return _failed(
                url,
                traceparent,
                body,
                TransportFailure.TARGET_REFUSED,
                "plain HTTP refused: Market only sends over HTTPS (see --allow-http)",
            )
        if target.scheme not in (b"http", b"https"):
            return _failed(
                url, traceparent, body, TransportFailure.PROTOCOL, "the URL is not http(s)"
            )
        request_headers = [
            ("Content-Type", JSON_CONTENT_TYPE),
            ("traceparent", traceparent),
            ("User-Agent", self.options.user_agent),
            ("Accept", JSON_CONTENT_TYPE),
            *(headers or {}).items(),
        ]
        endpoint = (target.scheme, target.host, target.port)
        semaphore = self._per_endpoint.setdefault(
            endpoint, asyncio.Semaphore(self.options.max_per_endpoint)
        )
        async with self._overall, semaphore:
            return await self._exchange(url, target, request_headers, body, traceparent, timeout)

    async def _exchange(
        self,
        url: str,
        target: httpcore.URL,
        headers: list[tuple[str, str]],
        body: bytes,
        traceparent: str,
        timeout: float,  # noqa: ASYNC109
    ) -> Attempt:
        started_at = datetime.now(UTC)
        start = time.perf_counter()
        progress = _Progress()
        extensions: dict[str, Any] = {
            "timeout": {"connect": timeout, "read": timeout, "write": timeout, "pool": None},
            "trace": progress.trace,
        }

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

        try:
            async with asyncio.timeout(timeout):
                async with self._pool.stream(
                    "POST", target, headers=headers, content=body, extensions=extensions
                ) as response:
                    received, cut_at = await _read_capped(response)
        except TimeoutError:
            failure = (
                TransportFailure.READ_TIMEOUT
                if progress.connected
                else TransportFailure.CONNECT_TIMEOUT
            )
            what = "no complete answer" if progress.connected else "no connection"
            return finish(classify_failure(failure, f"{what} within {timeout:g}s"))
        except httpcore.ConnectTimeout as exc:
            return finish(classify_failure(TransportFailure.CONNECT_TIMEOUT, _text(exc, timeout)))
        except (httpcore.ReadTimeout, httpcore.WriteTimeout) as exc:
            return finish(classify_failure(TransportFailure.READ_TIMEOUT, _text(exc, timeout)))
        except network.TargetRefused as exc:
            return finish(classify_failure(TransportFailure.TARGET_REFUSED, str(exc)))
        except network.TlsFailed as exc:
            return finish(classify_failure(TransportFailure.TLS, str(exc)))
        except httpcore.ConnectError as exc:
            return finish(classify_failure(TransportFailure.CONNECTION_REFUSED, _text(exc)))
        except (httpcore.ReadError, httpcore.WriteError) as exc:
            return finish(classify_failure(TransportFailure.CONNECTION_LOST, _text(exc)))
        except httpcore.RemoteProtocolError as exc:
            text = _text(exc)
            # httpcore's wording for "the peer closed without a response"; anything else it
            # raises here means the answer was not HTTP.
            if "disconnected" in text.lower():
                return finish(classify_failure(TransportFailure.CONNECTION_LOST, text))
            return finish(classify_failure(TransportFailure.PROTOCOL, f"not HTTP: {text}"))
        except httpcore.NetworkError as exc:
            return finish(classify_failure(TransportFailure.CONNECTION_LOST, _text(exc)))
        except httpcore.ProtocolError as exc:
            return finish(classify_failure(TransportFailure.PROTOCOL, _text(exc)))
        response_headers = tuple(
            (name.decode("latin-1"), value.decode("latin-1")) for name, value in response.headers
        )
        content_type = next(
            (value for name, value in response_headers if name.lower() == "content-type"), None
        )
        outcome = classify_response(response.status, content_type, received, body_cut_at=cut_at)
        return finish(
            outcome,
            status=response.status,
            content_type=content_type,
            response_body=received,
            response_headers=response_headers,
        )


class _Progress:
    """Follows httpcore's trace events to know whether the connection was established."""

    def __init__(self) -> None:
        self.connected = False

    async def trace(self, event: str, info: dict[str, Any]) -> None:
        if event.startswith("http11.send_request_headers"):
            self.connected = True


async def _read_capped(response: httpcore.Response) -> tuple[bytes, int | None]:
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_stream():
        chunks.append(chunk)
        size += len(chunk)
        if size > MAX_RESPONSE_BODY:
            return b"".join(chunks)[:MAX_RESPONSE_BODY], MAX_RESPONSE_BODY
    return b"".join(chunks), None


def _text(exc: BaseException, timeout: float | None = None) -> str:
    text = str(exc) or type(exc).__name__
    return f"{text} (timeout {timeout:g}s)" if timeout is not None else text


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
