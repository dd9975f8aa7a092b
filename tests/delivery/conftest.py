"""Every delivery test runs on both event loops the client meets: asyncio's own (the checker,
embedding apps) and uvloop (``ymnotify market serve``, ``market/loop.py``), so that timeouts,
TLS failures and refusals are judged alike on both."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any

from ymnotify.market.loop import loop_factory


def pytest_asyncio_loop_factories(
    config: Any, item: Any
) -> Mapping[str, Callable[[], asyncio.AbstractEventLoop]]:
    factories: dict[str, Callable[[], asyncio.AbstractEventLoop]] = {
        "asyncio": asyncio.new_event_loop
    }
    sandbox_loop = loop_factory()
    if sandbox_loop is not None:
        factories["uvloop"] = sandbox_loop
    return factories
