"""The ceiling: a raw ASGI app that reads the request body and answers a fixed 200 body.

It does nothing a receiver must do (no parsing, no storage), so no receiver served by the same
server program can be faster; its throughput is what uvicorn itself costs on this machine.
"""

from __future__ import annotations

from typing import Any

SUCCESS = b'{"version":"0.1.0","name":"noop","time":"2026-09-20T09:15:42.318000Z"}'
HEADERS = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(SUCCESS))]


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Answer every HTTP request 200 with ``SUCCESS`` once its body has been read."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    more_body = True
    while more_body:
        message = await receive()
        more_body = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": SUCCESS})


# Like the receiver, it sends its body right after its head, so the server writes both at once
# (``ymnotify.receiver.one_write``): same server, same treatment.
app.sends_body_with_head = True  # type: ignore[attr-defined]
