"""Each answer's head and body in one write to the socket.

uvicorn writes a response's status line and headers when the app sends ``http.response.start``
and the body when it sends ``http.response.body``: two ``transport.write`` calls, and on an idle
socket two ``send`` system calls and usually two TCP segments per answer. The receiver sends its
body right after its head, always, so holding the head back until the body comes costs nothing
and saves a system call per notification (measured in ``bench/analysis.md``).

``HeadHeldUntilBody`` stands in for the transport of one request cycle: the first write that is a
response head (not a ``100 Continue``) is kept and joined to the next write. uvicorn writes the
body even when it is empty, except for ``HEAD`` requests, which therefore never get one of
these. A close writes a held head first. ``OneWriteProtocol`` gives one to every request cycle
of an app that declares ``sends_body_with_head`` (it relies on uvicorn's ``_start_asgi_task``
and the cycle's ``transport`` attribute; uvicorn is pinned).
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle

_CONTINUE = b"HTTP/1.1 100 "
_END_OF_HEAD = b"\r\n\r\n"


class HeadHeldUntilBody:
    """The part of a transport a uvicorn request cycle uses, with the head held (see above)."""

    __slots__ = ("_head", "_head_seen", "_transport")

    def __init__(self, transport: asyncio.Transport) -> None:
        self._transport = transport
        self._head: bytes | None = None
        self._head_seen = False  # later writes are the body's, whatever they end with

    def write(self, data: bytes) -> None:
        head = self._head
        if head is not None:
            self._head = None
            self._transport.write(head + data)
        elif not self._head_seen and data.endswith(_END_OF_HEAD) and not data.startswith(_CONTINUE):
            self._head = data
            self._head_seen = True
        else:
            self._transport.write(data)

    def close(self) -> None:
        head, self._head = self._head, None
        if head is not None:
            self._transport.write(head)
        self._transport.close()

    def is_closing(self) -> bool:
        return self._transport.is_closing()


class OneWriteProtocol(HttpToolsProtocol):
    """uvicorn's protocol, writing each answer in one piece for apps that allow it."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        # Looked up once per connection: the app is the server's for its whole life.
        self._one_write: bool = getattr(self.app, "sends_body_with_head", False)

    def _start_asgi_task(self, cycle: RequestResponseCycle, app: Any) -> None:
        if self._one_write and app is self.app and cycle.scope["method"] != "HEAD":
            cycle.transport = HeadHeldUntilBody(self.transport)  # type: ignore[assignment]
        super()._start_asgi_task(cycle, app)
