"""The ``running`` fixture: a receiver served in-process (``inprocess.serving``); parametrize
it indirectly with a ``SourcePolicy`` to change who may send."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.receiver.inprocess import LOOPBACK_ONLY, Running, serving


@pytest.fixture
async def running(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Running]:
    async with serving(tmp_path / "inbox.db", getattr(request, "param", LOOPBACK_ONLY)) as it:
        yield it
