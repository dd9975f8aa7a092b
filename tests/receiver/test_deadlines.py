"""BodyDeadlines: a late read is cancelled and reported; others are left alone."""

from __future__ import annotations

import asyncio

import pytest

from ymnotify.receiver.deadlines import BodyDeadlines


async def _read(deadlines: BodyDeadlines, never: asyncio.Event) -> str:
    reading = deadlines.begin()
    try:
        await never.wait()
    except asyncio.CancelledError:
        if deadlines.end(reading):
            return "expired"
        raise
    deadlines.end(reading)
    return "read"


async def test_a_read_past_its_deadline_is_cancelled_and_reported_expired() -> None:
    deadlines = BodyDeadlines(0.02)
    task = asyncio.create_task(_read(deadlines, asyncio.Event()))
    assert await asyncio.wait_for(task, timeout=10) == "expired"
    assert task.cancelling() == 0  # the deadline's cancel was undone, nothing leaks upward


async def test_a_read_that_finishes_is_not_cancelled_and_the_timer_stops() -> None:
    deadlines = BodyDeadlines(0.02)
    ready = asyncio.Event()
    ready.set()
    assert await _read(deadlines, ready) == "read"
    await asyncio.sleep(deadlines.period * 3)
    assert deadlines._timer is None


async def test_a_cancel_from_elsewhere_is_not_taken_for_a_deadline() -> None:
    deadlines = BodyDeadlines(60)
    task = asyncio.create_task(_read(deadlines, asyncio.Event()))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_only_the_late_reads_expire() -> None:
    short, long = BodyDeadlines(0.02), BodyDeadlines(60)
    never = asyncio.Event()
    late = asyncio.create_task(_read(short, never))
    patient = asyncio.create_task(_read(long, never))
    assert await asyncio.wait_for(late, timeout=10) == "expired"
    assert not patient.done()
    never.set()
    assert await asyncio.wait_for(patient, timeout=10) == "read"
