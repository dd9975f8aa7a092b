"""The receiver as an ASGI application: what Market reaches.

Routes (under ``base_path``): ``POST /`` and ``POST /notification`` take notifications;
``GET /notification`` says the endpoint is up; ``GET /healthz`` and ``GET /readyz`` report on the
process and the store. Nothing else is served here: the admin listener is a separate app.

A notification is answered 200 only after ``Store.accept`` returned, i.e. after a durable commit.
The hot path is written against raw ASGI (no framework) because it is the product's core and
every microsecond before the 200 counts against Market's timeout under load.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from ymnotify.errors import StoreError
from ymnotify.protocol import parse as protocol_parse
from ymnotify.protocol import wire
from ymnotify.protocol.enums import ErrorType
from ymnotify.protocol.models import Ping
from ymnotify.protocol.responses import JSON_CONTENT_TYPE, SuccessBodies, error_body
from ymnotify.receiver.deadlines import BodyDeadlines
from ymnotify.receiver.observe import IntakeObserver, IntakeOutcome
from ymnotify.receiver.sources import SourcePolicy
from ymnotify.store.base import Incoming, Store

logger = logging.getLogger("ymnotify.receiver")

# The ASGI spec's types (as Starlette and HTTPX spell them), so the app mounts type-cleanly.
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

DEFAULT_MAX_BODY = 1024 * 1024
DEFAULT_BODY_TIMEOUT = 10.0


class Service(Protocol):
    """Something that runs beside the receiver for its lifetime (e.g. handler workers)."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


@dataclass(frozen=True)
class ReceiverConfig:
    """How the receiver answers. Built once from flags; see ``ymnotify serve --help``."""

    name: str = "ymnotify"
    version: str = "0.1.0"
    sources: SourcePolicy = field(default_factory=SourcePolicy)
    max_body: int = DEFAULT_MAX_BODY
    body_timeout: float = DEFAULT_BODY_TIMEOUT
    base_path: str = ""

    def __post_init__(self) -> None:
        base = self.base_path.strip()
        if base and not base.startswith("/"):
            base = "/" + base
        object.__setattr__(self, "base_path", base.rstrip("/"))


class _RequestRejected(Exception):
    def __init__(self, status: int, error_type: ErrorType, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error_type = error_type
        self.message = message


class ReceiverApp:
    """ASGI app. Opens the store and starts ``services`` in its lifespan.

    ``observers`` are told the type, outcome and answer time of every POST (see ``observe``).
    """

    # Every answer's body is sent right after its head (``_send_raw``), so ``ymnotify serve``
    # may hold the head back and write both at once (``receiver.one_write``).
    sends_body_with_head = True

    def __init__(
        self,
        store: Store,
        config: ReceiverConfig,
        services: Sequence[Service] = (),
        observers: Sequence[IntakeObserver] = (),
    ) -> None:
        self.store = store
        self.config = config
        self.services = tuple(services)
        self.observers = tuple(observers)
        self._started = False  # set by running(): a closed store is then an operational fault
        base = config.base_path
        self._intake_paths = {base + "/notification", base + "/", base or "/"}
        self._probe_path = base + "/notification"
        self._body_deadlines = BodyDeadlines(config.body_timeout)
        self._success_bodies = SuccessBodies(name=config.name, version=config.version)

    # -- lifecycle -----------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[ReceiverApp]:
        """Open the store and run the services; for embedding in another app's lifespan."""
        self._started = True
        await self.store.open()
        started: list[Service] = []
        try:
            for service in self.services:
                await service.start()
                started.append(service)
            yield self
        finally:
            for service in reversed(started):
                await service.stop()
            await self.store.close()

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        message = await receive()
        assert message["type"] == "lifespan.startup"
        stack = contextlib.AsyncExitStack()
        try:
            await stack.enter_async_context(self.running())
        except StoreError as exc:  # an operator's problem (path, permissions): the reason suffices
            logger.error("receiver failed to start: %s", exc)
            await send({"type": "lifespan.startup.failed", "message": str(exc)})
            return
        except Exception as exc:
            logger.exception("receiver failed to start")
            await send({"type": "lifespan.startup.failed", "message": str(exc)})
            return
        await send({"type": "lifespan.startup.complete"})
        message = await receive()
        try:
            await stack.aclose()
        except Exception as exc:
            logger.exception("receiver failed to stop cleanly")
            await send({"type": "lifespan.shutdown.failed", "message": str(exc)})
            return
        await send({"type": "lifespan.shutdown.complete"})

    def _start_hint(self) -> str:
        """Why the store may be closed, when nothing ever started this app."""
        if self._started:
            return ""
        return (
            " (this receiver was never started: serve it as an ASGI app with its lifespan, or"
            " enter `receiver.running()` in your own app's lifespan; docs/handlers.md)"
        )

    # -- ASGI ----------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return  # websockets are not part of the protocol; closing is the answer
        path = _path_below_mount(scope)
        method: str = scope["method"]
        if path in self._intake_paths:
            if method == "POST":
                await self._intake(scope, receive, send)
            elif method in ("GET", "HEAD") and path == self._probe_path:
                await _send_json(send, 200, {"status": "ok", "accepts": "POST"})
            else:
                await _send_json(send, 405, _error("UNKNOWN", f"{method} not allowed; use POST"))
        elif path == "/healthz" and method in ("GET", "HEAD"):
            await _send_json(send, 200, {"status": "alive"})
        elif path == "/readyz" and method in ("GET", "HEAD"):
            await self._ready(send)
        else:
            await _send_json(send, 404, _error("UNKNOWN", f"no route {path}"))

    async def _ready(self, send: Send) -> None:
        try:
            await self.store.check()
        except StoreError as exc:
            await _send_json(send, 503, {"status": "unavailable", "reason": str(exc)})
        else:
            await _send_json(send, 200, {"status": "ready"})

    def answer_ping_at_once(self, scope: Scope, body: bytes | bytearray) -> bytes | None:
        """The 200 body for a PING that may be answered without running the ASGI app, or
        ``None`` for anything else (the app then answers as usual).

        ``ymnotify serve``'s HTTP protocol calls this when a POST's whole body came in one read
        (``receiver.ping_at_once``): the PING is answered in that same callback instead of in a
        task that waits its turn behind every request queued on the loop. Only a PING from an
        admitted source on an intake path qualifies; refusals and everything else keep the one
        path that logs and answers them.
        """
        # A substring test first: no notification pays for a copy or a second parse here.
        if b'"PING"' not in body or scope["method"] != "POST":
            return None
        if _path_below_mount(scope) not in self._intake_paths or len(body) > self.config.max_body:
            return None
        started = time.perf_counter()
        received_at = datetime.now(UTC)
        _, client, allowed = self._admit(scope)
        if not allowed:
            return None
        try:
            parsed = protocol_parse.parse_body(bytes(body))
        except protocol_parse.MalformedNotification:
            return None
        if not isinstance(parsed.notification, Ping):
            return None
        answer = self._ping(client, received_at)
        elapsed = time.perf_counter() - started
        for observer in self.observers:
            observer.observe(parsed.notification.notification_type, IntakeOutcome.PING, elapsed)
        return answer

    def _ping(self, client: str | None, received_at: datetime) -> bytes:
        """Note the PING on the side (no write is awaited) and return its 200 body."""
        self.store.record_ping(client or "", received_at)
        return self._success_bodies.body(received_at)

    def _admit(self, scope: Scope) -> tuple[str | None, str | None, bool]:
        """The TCP peer, the client's address and whether it may send (``SourcePolicy.admit``)."""
        headers: list[tuple[bytes, bytes]] = scope["headers"]
        peer = scope["client"][0] if scope.get("client") else None
        forwarded = [v.decode("latin-1") for k, v in headers if k == b"x-forwarded-for"]
        return (peer, *self.config.sources.admit(peer, forwarded))

    async def _intake(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        notification_type, outcome = await self._answer(scope, receive, send)
        elapsed = time.perf_counter() - started
        for observer in self.observers:
            observer.observe(notification_type, outcome, elapsed)

    async def _answer(
        self, scope: Scope, receive: Receive, send: Send
    ) -> tuple[str | None, IntakeOutcome]:
        """Answer one POST; return the declared type and the outcome for the observers."""
        received_at = datetime.now(UTC)
        headers: list[tuple[bytes, bytes]] = scope["headers"]
        peer, client, allowed = self._admit(scope)
        if not allowed:
            logger.warning("refused source %s (peer %s)", client, peer)
            hint = self.config.sources.refusal_hint(client, peer)
            await _send_error(send, 403, ErrorType.UNKNOWN, hint)
            return None, IntakeOutcome.REFUSED
        try:
            body = await self._read_body(headers, receive)
        except _RequestRejected as exc:
            await _send_error(send, exc.status, exc.error_type, exc.message, close=True)
            return None, IntakeOutcome.REJECTED
        try:
            parsed = protocol_parse.parse_body(body)
        except protocol_parse.MalformedNotification as exc:
            return await self._quarantine(body, headers, client or "", received_at, exc, send)
        if isinstance(parsed.notification, Ping):
            # Market allows PING one second; answer before any write, note it on the side.
            await _send_raw(send, 200, self._ping(client, received_at))
            return parsed.notification.notification_type, IntakeOutcome.PING
        notification = parsed.notification
        incoming = Incoming(
            dedup_key=parsed.dedup_key,
            body=body,
            headers=_decode_headers(headers),
            source=client or "",
            received_at=received_at,
            notification_type=notification.notification_type,
            entity=parsed.entity,
            event_time=notification.event_time,
            state_changes=notification.state_changes(),
        )
        try:
            accepted = await self.store.accept(incoming)
        except StoreError as exc:
            logger.error(
                "store failed, answering 500 so Market retries: %s%s", exc, self._start_hint()
            )
            await _send_error(send, 500, ErrorType.UNKNOWN, "notification not stored; retry later")
            return incoming.notification_type, IntakeOutcome.STORE_ERROR
        await self._send_success(send, received_at)
        outcome = IntakeOutcome.DUPLICATE if accepted.duplicate else IntakeOutcome.ACCEPTED
        return incoming.notification_type, outcome

    async def _quarantine(
        self,
        body: bytes,
        headers: list[tuple[bytes, bytes]],
        client: str,
        received_at: datetime,
        problem: protocol_parse.MalformedNotification,
        send: Send,
    ) -> tuple[str | None, IntakeOutcome]:
        notification_type = _declared_type(body)
        incoming = Incoming(
            dedup_key=wire.raw_dedup_key(body),
            body=body,
            headers=_decode_headers(headers),
            source=client,
            received_at=received_at,
            notification_type=notification_type,
            quarantine_reason=str(problem),
        )
        try:
            await self.store.accept(incoming)
        except StoreError as exc:
            # Answering 400 would make Market drop it; 500 keeps the body coming back.
            logger.error(
                "store failed while quarantining, answering 500: %s%s", exc, self._start_hint()
            )
            await _send_error(send, 500, ErrorType.UNKNOWN, "notification not stored; retry later")
            return notification_type, IntakeOutcome.STORE_ERROR
        await _send_error(send, 400, ErrorType.WRONG_EVENT_FORMAT, str(problem))
        return notification_type, IntakeOutcome.QUARANTINED

    async def _read_body(self, headers: list[tuple[bytes, bytes]], receive: Receive) -> bytes:
        limit = self.config.max_body
        for name, value in headers:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    raise _RequestRejected(
                        400, ErrorType.WRONG_EVENT_FORMAT, "Content-Length is not a number"
                    ) from None
                if declared > limit:
                    raise _RequestRejected(413, ErrorType.UNKNOWN, _too_large(limit))
        reading = self._body_deadlines.begin()
        try:
            body = await _receive_body(receive, limit)
        except asyncio.CancelledError:
            if self._body_deadlines.end(reading):
                raise _RequestRejected(
                    408,
                    ErrorType.UNKNOWN,
                    f"body not received within {self.config.body_timeout:g}s (--body-timeout)",
                ) from None
            raise
        except BaseException:
            self._body_deadlines.end(reading)
            raise
        self._body_deadlines.end(reading)
        return body

    async def _send_success(self, send: Send, received_at: datetime) -> None:
        await _send_raw(send, 200, self._success_bodies.body(received_at))


async def _receive_body(receive: Receive, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _RequestRejected(400, ErrorType.UNKNOWN, "client disconnected")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _RequestRejected(413, ErrorType.UNKNOWN, _too_large(limit))
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _path_below_mount(scope: Scope) -> str:
    # Mounted inside another app (Starlette's Mount, FastAPI), "path" still holds the mount
    # prefix and "root_path" names it; route on what is below the mount point.
    path: str = scope["path"]
    root_path: str = scope.get("root_path", "")
    if root_path and path.startswith(root_path):
        return path[len(root_path) :] or "/"
    return path


def _too_large(limit: int) -> str:
    return f"body larger than the {limit}-byte limit (--max-body)"


def _declared_type(body: bytes) -> str | None:
    """The ``notificationType`` a malformed body claims, if it says one, for the listing."""
    try:
        payload = wire.loads(body)
    except wire.MalformedJson:
        return None
    kind = payload.get("notificationType") if isinstance(payload, dict) else None
    return kind if isinstance(kind, str) else None


def _decode_headers(headers: list[tuple[bytes, bytes]]) -> tuple[tuple[str, str], ...]:
    return tuple((k.decode("latin-1"), v.decode("latin-1")) for k, v in headers)


def _error(error_type: str, message: str) -> dict[str, Any]:
    return {"error": {"type": error_type, "message": message}}


async def _send_error(
    send: Send, status: int, error_type: ErrorType, message: str, *, close: bool = False
) -> None:
    await _send_raw(send, status, error_body(error_type, message), close=close)


async def _send_json(send: Send, status: int, document: dict[str, Any]) -> None:
    await _send_raw(send, status, json.dumps(document).encode())


_CONTENT_TYPE_HEADER = (b"content-type", JSON_CONTENT_TYPE.encode())


async def _send_raw(send: Send, status: int, body: bytes, *, close: bool = False) -> None:
    headers = [
        _CONTENT_TYPE_HEADER,
        (b"content-length", str(len(body)).encode()),
    ]
    if close:  # the rest of an unread body would otherwise be parsed as the next request
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
