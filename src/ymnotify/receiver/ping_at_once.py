"""PINGs answered inside the HTTP protocol's read callback, without an ASGI task.

uvicorn starts a task for every request as soon as its headers are parsed; the task first runs
in the next turn of the event loop, behind every callback already queued. Under load that turn
is long (each queued request costs tens of microseconds), and a PING, which Market allows one
second and ymnotify promises under 5 ms, waits for it like any notification.

Here, when a POST's whole body arrives in the same read as its headers, its task is held back
until the body is parsed. If the app's ``answer_ping_at_once(scope, body)`` (``body`` as uvicorn
buffered it, a ``bytearray``; ``ReceiverApp`` has this method) returns a body, the 200 is written
from the read callback itself; otherwise the task starts before the callback returns, as uvicorn
would have started it. A request whose body continues in a later read gets its task at the end
of the first read. ``bench/analysis.md`` has the measured difference.

This leans on uvicorn's ``HttpToolsProtocol`` internals (``_start_asgi_task``, the request
cycle's fields, ``on_response_complete``); uvicorn is pinned, and the tests drive a real server
through every path here (pipelined, split bodies, ``Connection: close``, refused sources).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from uvicorn.protocols.http.httptools_impl import RequestResponseCycle

from ymnotify.protocol.responses import JSON_CONTENT_TYPE
from ymnotify.receiver.one_write import OneWriteProtocol

logger = logging.getLogger("ymnotify.receiver")

_OK = b"HTTP/1.1 200 OK\r\n"
_CONTENT_TYPE = b"content-type: " + JSON_CONTENT_TYPE.encode() + b"\r\n"


class PingAtOnceProtocol(OneWriteProtocol):
    """uvicorn's protocol, answering PINGs from the read callback (see the module's doc); the
    other answers go out in one write (``one_write``)."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._reading = False
        # Looked up once per connection: the app is the server's for its whole life.
        self._answer_ping: Callable[[Any, bytearray], bytes | None] | None = getattr(
            self.app, "answer_ping_at_once", None
        )
        # A request whose task was held back in this read, waiting to see its whole body.
        self._held: tuple[RequestResponseCycle, Any] | None = None

    def data_received(self, data: bytes) -> None:
        self._reading = True
        try:
            super().data_received(data)
        finally:
            self._reading = False
            held, self._held = self._held, None
            if held is not None:  # the body continues in a later read: the app reads it
                super()._start_asgi_task(*held)

    def _start_asgi_task(self, cycle: RequestResponseCycle, app: Any) -> None:
        # Only a request starting in this read, with a body still to come, on a keep-alive
        # connection, for an app that knows PINGs; a pipelined request started later from
        # ``on_response_complete`` has its body already and is not held.
        if (
            self._reading
            and cycle.more_body
            and cycle.keep_alive
            and self._answer_ping is not None
            and app is self.app
        ):
            self._held = (cycle, app)
            return
        super()._start_asgi_task(cycle, app)

    def on_message_complete(self) -> None:
        super().on_message_complete()
        held, self._held = self._held, None
        if held is None:
            return
        cycle, app = held
        assert self._answer_ping is not None  # nothing is held otherwise
        try:
            answer = self._answer_ping(cycle.scope, cycle.body)
        except Exception:
            logger.exception("answering a PING at once failed; the app answers it instead")
            answer = None
        if answer is None:
            super()._start_asgi_task(cycle, app)
            return
        head = [_OK]
        for name, value in cycle.default_headers:  # uvicorn's date header, as on every answer
            head += (name, b": ", value, b"\r\n")
        head += (_CONTENT_TYPE, b"content-length: %d\r\n\r\n" % len(answer), answer)
        cycle.response_started = cycle.response_complete = True
        self.transport.write(b"".join(head))
        self.on_response_complete()
