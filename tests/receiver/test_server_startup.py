"""``server.serve`` freezes what startup built before it reports itself started."""

from __future__ import annotations

import gc
import os
import signal
from typing import Any

from ymnotify.receiver import server


async def noop_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            await send({"type": message["type"] + ".complete"})
            if message["type"] == "lifespan.shutdown":
                return


async def test_startup_objects_are_frozen_before_the_server_reports_started() -> None:
    listener = server.Listener(host="127.0.0.1", port=0)
    sock = server.bind(listener)
    built_at_startup: list[str] = ["stands in for what the app holds"]  # lists are GC-tracked
    seen: dict[str, Any] = {}

    def started() -> None:
        seen["frozen"] = gc.get_freeze_count()
        # The collector lists what it would scan; a frozen object is not among them.
        seen["scanned"] = any(found is built_at_startup for found in gc.get_objects())
        os.kill(os.getpid(), signal.SIGTERM)  # serve's own handler turns it into a clean stop

    gc.unfreeze()
    try:
        assert any(found is built_at_startup for found in gc.get_objects())  # scanned before
        await server.serve([(server.uvicorn_config(noop_app, listener), sock)], started)
    finally:
        gc.unfreeze()  # give the test process's objects back to the collector
        sock.close()
    assert seen["frozen"] > 1000  # the whole process's objects, modules included
    assert seen["scanned"] is False
    assert any(found is built_at_startup for found in gc.get_objects())  # unfrozen again
