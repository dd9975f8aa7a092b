"""Helpers: the admin URL of a ``ymnotify serve`` subprocess, and in-process servers."""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any, Literal

import uvicorn

from tests.processes import RunningServer
from ymnotify.receiver import server

_ADMIN = re.compile(r"admin listening on (\S+)")


def admin_url(running: RunningServer, timeout: float = 10) -> str:
    """Where the subprocess's admin listener is (it prints it right after the receiver's URL)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in list(running.output):
            match = _ADMIN.search(line)
            if match:
                return match.group(1)
        time.sleep(0.02)
    raise AssertionError("no admin URL printed:\n" + "".join(running.output))


class _QuietServer(uvicorn.Server):
    """Leaves the test process's signal handlers alone."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@contextlib.asynccontextmanager
async def serving(app: Any, *, lifespan: Literal["on", "off"] = "off") -> AsyncIterator[str]:
    """Serve ``app`` over real HTTP on a free loopback port for the block; yield its URL."""
    listener = server.Listener("127.0.0.1", 0)
    sock = server.bind(listener)
    config = uvicorn.Config(app, lifespan=lifespan, log_level="warning", access_log=False)
    instance = _QuietServer(config)
    task = asyncio.create_task(instance.serve(sockets=[sock]))
    try:
        deadline = time.monotonic() + 10
        while not instance.started:
            if task.done() or time.monotonic() > deadline:
                raise AssertionError("in-process server did not start")
            await asyncio.sleep(0.01)
        yield server.bound_url(sock, listener)
    finally:
        instance.should_exit = True
        await task
        sock.close()
