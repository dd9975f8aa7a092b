"""Serving an ASGI app with uvicorn, hardened the way the receiver needs.

- Proxy headers are never applied by the server: the source check needs the raw TCP peer and
  trusts ``X-Forwarded-For`` only through ``--trust-proxy`` (see ``sources``).
- A client must finish its request headers within ``header_timeout`` of connecting (or of the
  previous response), otherwise the connection is closed: uvicorn bounds idle keep-alive time but
  not a slow trickle of header bytes, so a subclass of its protocol adds that deadline.
- PINGs whose body comes with their headers are answered from the protocol's read callback,
  without an ASGI task (``ping_at_once``).
- The listening socket is bound here, before the server starts, so ``--port 0`` works and the
  real address can be printed.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import socket
import ssl
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import uvicorn

from ymnotify.protocol.enums import ErrorType
from ymnotify.protocol.responses import JSON_CONTENT_TYPE, error_body
from ymnotify.receiver.ping_at_once import PingAtOnceProtocol

logger = logging.getLogger("ymnotify.receiver")

DEFAULT_HEADER_TIMEOUT = 10.0
# A request's line and headers may take this many bytes. Market's take a few hundred; without a
# bound, httptools buffers a header of any size until it ends (an 8 MiB one cost ~16 MiB).
MAX_HEAD_BYTES = 64 * 1024


def _closing_answer(status: str, error_type: ErrorType, message: str) -> bytes:
    """A whole error answer, in the receiver's JSON shape, after which the connection closes.
    For what the server refuses before any app sees the request (uvicorn's own answers are
    plain text)."""
    body = error_body(error_type, message)
    head = (
        f"HTTP/1.1 {status}\r\ncontent-type: {JSON_CONTENT_TYPE}\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


_HEAD_TOO_LARGE = _closing_answer(
    "431 Request Header Fields Too Large",
    ErrorType.UNKNOWN,
    f"the request line and headers are over {MAX_HEAD_BYTES} bytes",
)
# A request asking to switch protocols (``Connection: upgrade`` with ``Upgrade: h2c``…): the
# HTTP parser then stops at its headers and its body never reaches the app, which would see an
# empty body and answer 400, a loss Market never retries. Market sends no such request (a proxy
# that forwards Upgrade might); it gets a status Market retries, and nothing is stored.
_UPGRADE_REFUSED = _closing_answer(
    "501 Not Implemented",
    ErrorType.UNKNOWN,
    "protocol upgrades are not served; send the notification as a plain HTTP/1.1 request",
)
_NOT_HTTP = _closing_answer(
    "400 Bad Request",
    ErrorType.WRONG_EVENT_FORMAT,
    "the request is not valid HTTP/1.1",
)
_BEGAN_IN_THIS_CHUNK = -1  # head byte count of a request that began in the chunk being parsed


class _HeaderDeadlineProtocol(PingAtOnceProtocol):
    """uvicorn's protocol with a deadline and a size bound for each request's headers (and
    PINGs answered from the read callback, see ``ping_at_once``).

    One timer per connection, not per request: the request's start is noted (an attribute
    write), and the timer, when it fires, either closes a connection whose headers are late or
    re-arms itself for the current request's deadline. Arming and cancelling a timer for every
    request was a tenth of the intake's event loop time.

    The size bound counts the bytes of every chunk read while a request's headers are still
    incomplete after it was parsed; past ``MAX_HEAD_BYTES`` the answer is a 431 and the
    connection closes. The chunk in which a request begins is not counted (part of it may be the
    previous request's body), so a head is cut off within one read (≤ 256 KiB) of the bound.
    """

    header_timeout: float = DEFAULT_HEADER_TIMEOUT

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        # Loop time since which headers are awaited: from the connection's start, then from each
        # request's first byte; None once they are complete (an idle keep-alive connection is
        # uvicorn's keep-alive timeout's business).
        self._awaiting_headers_since: float | None = self.loop.time()
        self._header_deadline: asyncio.TimerHandle | None = self.loop.call_later(
            self.header_timeout, self._check_headers
        )
        self._head_bytes = 0
        self._refused_upgrade = False

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._awaiting_headers_since is None:
            return  # no request's headers are incomplete
        if self._head_bytes == _BEGAN_IN_THIS_CHUNK:
            self._head_bytes = 0
            return
        self._head_bytes += len(data)
        if self._head_bytes > MAX_HEAD_BYTES and not self.transport.is_closing():
            self.transport.write(_HEAD_TOO_LARGE)
            self.transport.close()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._awaiting_headers_since = self.loop.time()
        self._head_bytes = _BEGAN_IN_THIS_CHUNK

    def on_headers_complete(self) -> None:
        self._awaiting_headers_since = None
        if self.parser.should_upgrade():  # no WebSocket here: every upgrade is refused
            self._refused_upgrade = True
            logger.warning(
                "refused a request asking to upgrade to %s: its body cannot be read (answered"
                " 501, so the sender retries); Market sends none: does a proxy forward Upgrade?",
                dict(self.headers).get(b"upgrade", b"?").decode("latin-1"),
            )
            if not self.transport.is_closing():
                self.transport.write(_UPGRADE_REFUSED)
                self.transport.close()
            return
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        if self._refused_upgrade:
            return  # no request cycle was made for it
        super().on_message_complete()

    def send_400_response(self, msg: str) -> None:
        # uvicorn's answer to bytes its parser rejects, in plain text; ours in the JSON shape
        # of every other error answer (``msg`` is uvicorn's fixed sentence, logged by it).
        if not self.transport.is_closing():
            self.transport.write(_NOT_HTTP)
            self.transport.close()

    def _unsupported_upgrade_warning(self) -> None:
        return  # said above, with what was done about it (uvicorn's advice is for WebSockets)

    def connection_lost(self, exc: Exception | None) -> None:
        deadline, self._header_deadline = self._header_deadline, None
        if deadline is not None:
            deadline.cancel()
        super().connection_lost(exc)

    def _check_headers(self) -> None:
        self._header_deadline = None
        if self.transport.is_closing():
            return
        since = self._awaiting_headers_since
        now = self.loop.time()
        if since is not None and now - since >= self.header_timeout:
            self.transport.close()
            return
        due = (since if since is not None else now) + self.header_timeout
        self._header_deadline = self.loop.call_at(due, self._check_headers)


def protocol_with_header_timeout(seconds: float) -> type[asyncio.Protocol]:
    """The HTTP protocol class to hand uvicorn, with its header deadline set."""
    return type("HeaderDeadlineProtocol", (_HeaderDeadlineProtocol,), {"header_timeout": seconds})


@dataclass(frozen=True)
class Listener:
    """Where and how to listen."""

    host: str
    port: int
    tls_cert: str | None = None
    tls_key: str | None = None
    header_timeout: float = DEFAULT_HEADER_TIMEOUT

    @property
    def scheme(self) -> str:
        return "https" if self.tls_cert else "http"


def tls_problem(cert: str, key: str) -> str | None:
    """Why the certificate and key files cannot serve TLS, or None. Checked before the server
    starts: uvicorn would find out only at startup, with a traceback."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_cert_chain(cert, key)
    except ssl.SSLError as exc:  # before OSError, its base class
        why = f" ({exc.reason})" if exc.reason else ""
        return f"not a PEM certificate chain with its matching private key{why}"
    except OSError as exc:
        return f"{exc.strerror or exc}"
    return None


def bind(listener: Listener) -> socket.socket:
    """Bind and return the listening socket (raises ``OSError`` with the reason)."""
    infos = socket.getaddrinfo(
        listener.host, listener.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if family == socket.AF_INET6:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    sock.bind(address)
    sock.listen(2048)
    sock.setblocking(False)
    return sock


def bound_url(sock: socket.socket, listener: Listener) -> str:
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"{listener.scheme}://{shown}:{port}"


def uvicorn_config(app: Any, listener: Listener, *, log_level: str = "warning") -> uvicorn.Config:
    """A uvicorn config for ``app`` on ``listener``; TLS when a certificate is given."""
    tls: dict[str, Any] = {}
    if listener.tls_cert:
        tls = {
            "ssl_certfile": listener.tls_cert,
            "ssl_keyfile": listener.tls_key,
            "ssl_version": ssl.PROTOCOL_TLS_SERVER,
        }
    return uvicorn.Config(
        app,
        http=protocol_with_header_timeout(listener.header_timeout),
        ws="none",  # nothing here speaks WebSocket: every upgrade is refused (see above)
        lifespan="on",
        proxy_headers=False,
        server_header=False,
        date_header=True,
        access_log=False,
        log_config=None,  # uvicorn's lines go through ymnotify's handler (text or JSON)
        log_level=log_level,
        timeout_keep_alive=15,
        timeout_graceful_shutdown=10,
        **tls,
    )


class _Server(uvicorn.Server):
    """A uvicorn server that leaves signals to ``serve`` below.

    uvicorn re-raises SIGTERM after its graceful shutdown, so the process would end "killed by
    SIGTERM"; a clean stop should exit 0, and several servers should stop together.
    """

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def freeze_startup_objects() -> None:
    """Take what startup built (modules, models, the app, the store) out of the cyclic GC's
    scans for good.

    Without it, every full collection walks all of those objects while requests wait: measured
    under open-loop load (4,000 notifications/s, SQLite), full collections stopped the event loop
    for ~20 ms each, a few times in 5 s, and PING answers took up to 24 ms; with the startup
    objects frozen the same collections took 1.3–1.6 ms. Frozen objects are never freed, which is
    what startup objects of a server process are anyway.
    """
    gc.collect()
    gc.freeze()


async def _serve_one(server: uvicorn.Server, sock: socket.socket) -> None:
    # uvicorn ends a failed lifespan startup with sys.exit() inside this task; the app has
    # logged why, and ``serve`` reports the failure as an error instead of a SystemExit trace.
    with contextlib.suppress(SystemExit):
        await server.serve(sockets=[sock])


async def serve(
    servers: list[tuple[uvicorn.Config, socket.socket]],
    on_started: Callable[[], None] | None = None,
    on_stopping: Callable[[], None] | None = None,
) -> None:
    """Run one or more uvicorn servers (e.g. public and admin listeners) until SIGTERM/SIGINT.

    On a signal every server stops accepting, finishes the requests in flight and runs its
    lifespan shutdown (which stops workers); a second SIGINT forces the exit. ``on_stopping``
    runs at the first signal, before the requests in flight are waited for (the Market
    sandbox stops sending there: an advance in flight would go on for the whole grace).
    """
    instances = [_Server(config) for config, _ in servers]
    loop = asyncio.get_running_loop()

    def request_exit(sig: signal.Signals) -> None:
        if on_stopping is not None and not any(server.should_exit for server in instances):
            on_stopping()
        for server in instances:
            if server.should_exit and sig == signal.SIGINT:
                server.force_exit = True
            server.should_exit = True

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, request_exit, sig)
    tasks = [
        asyncio.create_task(_serve_one(server, sock))
        for server, (_, sock) in zip(instances, servers, strict=True)
    ]
    try:
        while not all(server.started for server in instances):
            if any(task.done() for task in tasks):
                break
            await asyncio.sleep(0.02)
        if all(server.started for server in instances):
            freeze_startup_objects()
            if on_started is not None:
                on_started()
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for server in instances:
            server.should_exit = True
        await asyncio.gather(*tasks)
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
    if not all(server.started for server in instances):
        raise RuntimeError("the server failed to start (see the log above)")
