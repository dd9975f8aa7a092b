"""Fixtures of the chaos tests (the acceptance tests' ``receivers``)."""

from __future__ import annotations

from tests.acceptance.conftest import receivers

__all__ = ["receivers"]
