"""Shares: a setting starts with a few places, doubles them with every attempt that did not time
out, up to the most, and drops back to a few when one times out."""

from __future__ import annotations

from typing import Any, cast

import pytest

from ymnotify.delivery.outcome import (
    Outcome,
    TransportFailure,
    Verdict,
    classify_failure,
    classify_response,
)
from ymnotify.market.engine import Engine, EngineConfig
from ymnotify.market.shares import Shares

DELIVERED = classify_response(
    200, "application/json", b'{"version":"1","name":"x","time":"2026-01-01T00:00:00Z"}'
)
REJECTED = classify_response(500, "text/plain", b"oops")
TIMED_OUT = classify_failure(TransportFailure.READ_TIMEOUT, "no complete answer within 10s")
NO_CONNECTION = classify_failure(TransportFailure.CONNECT_TIMEOUT, "no connection within 10s")
REFUSED = classify_failure(TransportFailure.CONNECTION_REFUSED, "refused")


def test_the_outcomes_are_what_they_say() -> None:
    assert DELIVERED.verdict is Verdict.DELIVERED
    assert REJECTED.verdict is Verdict.FAILED
    assert TIMED_OUT.transport is TransportFailure.READ_TIMEOUT


def test_a_setting_starts_with_a_few_and_doubles_up_to_the_most() -> None:
    shares = Shares(8, 64)
    assert shares.of(1) == 8
    grown = []
    for _ in range(4):
        shares.after(1, DELIVERED)
        grown.append(shares.of(1))
    assert grown == [16, 32, 64, 64]
    assert shares.of(2) == 8  # another setting is not affected
    assert shares.all() == {1: 64}
    shares.forget(1)  # removed
    assert shares.all() == {}


@pytest.mark.parametrize("answer", [REJECTED, REFUSED], ids=["500", "refused"])
def test_a_quick_failure_holds_no_place_long_and_counts_like_an_answer(answer: Outcome) -> None:
    shares = Shares(8, 64)
    shares.after(1, answer)
    assert shares.of(1) == 16


@pytest.mark.parametrize("timeout", [TIMED_OUT, NO_CONNECTION], ids=["read", "connect"])
def test_a_timeout_sets_the_share_back(timeout: Outcome) -> None:
    shares = Shares(8, 64)
    for _ in range(3):
        shares.after(1, DELIVERED)
    shares.after(1, timeout)
    assert shares.of(1) == 8
    assert shares.all() == {}


def test_the_bounds_are_checked() -> None:
    with pytest.raises(ValueError, match="few <= most"):
        Shares(0, 64)
    with pytest.raises(ValueError, match="few <= most"):
        Shares(65, 64)


def test_an_engine_with_a_share_below_the_first_starts_there() -> None:
    # max_per_setting under the first share (8) was a valid config before shares existed.
    nothing = cast(Any, None)  # the constructor only keeps them
    engine = Engine(nothing, nothing, nothing, EngineConfig(max_per_setting=4))
    assert engine._shares.of(1) == 4
