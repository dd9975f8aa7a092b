"""The no-op ceiling app that also notes when each notification arrived (for lag figures).

Answers like ``noop_app``; for every POST it keeps ``(orderId, wall-clock arrival)``.
``GET /recorded`` returns those pairs as JSON and forgets them. Wall-clock time, because the
publisher measuring the lag is another process on the same machine.
"""

from __future__ import annotations

import json
import time
from typing import Any

from bench.baselines.noop_app import HEADERS, SUCCESS

_arrivals: list[tuple[int, float]] = []


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """``noop_app.app``, plus the arrival note and ``GET /recorded``."""
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
    if scope["method"] == "GET" and scope["path"] == "/recorded":
        body = json.dumps(_arrivals).encode()
        _arrivals.clear()
        headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        return
    chunks = []
    more_body = True
    while more_body:
        message = await receive()
        chunks.append(message.get("body", b""))
        more_body = message.get("more_body", False)
    arrived = time.time()
    order_id = json.loads(b"".join(chunks)).get("orderId")
    if isinstance(order_id, int):
        _arrivals.append((order_id, arrived))
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": SUCCESS})
