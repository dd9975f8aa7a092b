"""Fixtures of the acceptance tests: real ``ymnotify serve`` subprocesses on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.acceptance.receivers import Receivers


@pytest.fixture
def receivers(tmp_path: Path) -> Iterator[Receivers]:
    """Start receivers with ``receivers.start(...)``; all are stopped when the test ends."""
    started = Receivers(tmp_path)
    try:
        yield started
    finally:
        started.stop_all()
