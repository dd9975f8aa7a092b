"""Each answer's head and body in one write to the socket.

uvicorn writes a response's status line and headers when the app sends ``http.response.start``
and the body when it sends ``http.response.body``: two ``transport.write`` calls, and on an idle
socket two ``send`` system calls and usually two TCP segments per answer. The receiver sends its
body right after its head, always, so holding the head back until the body comes costs nothing
and saves a system call per notification (measured in ``bench/analysis.md``).

``HeadHeldUntilBody`` stands in for the transport of one request cycle: the first write that is a
response head (not a ``100 Continue``) is kept and joined to the next write. uvicorn writes the
body even when it is empty, except for ``HEAD`` requests, which therefore never get one of
these. A close writes a held head first.
"""

from __future__ import annotations

import asyncio

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
