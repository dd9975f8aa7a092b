"""FairSlots: never more holders than slots, waiting lanes served in turn, and a cancelled
waiter neither keeps a place in the queue nor swallows a slot."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from ymnotify.delivery.fair import FairSlots


async def _holders(slots: FairSlots, lanes: list[str]) -> tuple[list[str], list[asyncio.Event]]:
    """Start one holder per lane name, in order; each holds its slot until its event is set.
    Returns the order in which they got a slot and their release events."""
    order: list[str] = []
    releases = [asyncio.Event() for _ in lanes]

    async def hold(lane: str, release: asyncio.Event) -> None:
        async with slots.hold(lane):
            order.append(lane)
            await release.wait()

    for lane, release in zip(lanes, releases, strict=True):
        asyncio.create_task(hold(lane, release))  # noqa: RUF006 (each finishes when released)
        await asyncio.sleep(0)  # queued in this order
    await asyncio.sleep(0)
    return order, releases


async def test_a_lanes_backlog_does_not_hold_up_a_later_lane() -> None:
    slots = FairSlots(2)
    lanes = ["a"] * 6 + ["b", "c"]
    order, releases = await _holders(slots, lanes)
    assert order == ["a", "a"]  # two slots, both taken
    assert slots.waiting() == 6
    # Free the slots one at a time, always the oldest holder's, and see who comes next.
    for released in range(len(lanes)):
        releases[_index_of_holder(order, lanes, released)].set()
        expected = min(len(lanes), released + 3)
        await _until(lambda: len(order) == expected)  # noqa: B023 (awaited in this iteration)
    # First come first served would give a, a, a, a, a, a, b, c. In turn: a's third waiter was
    # queued first, then b and c each get the next slot, then a's backlog.
    assert order == ["a", "a", "a", "b", "c", "a", "a", "a"]
    assert slots.waiting() == 0


async def _until(condition: Callable[[], bool]) -> None:
    for _ in range(100):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("the slot was not handed on")


def _index_of_holder(order: list[str], lanes: list[str], nth: int) -> int:
    """The index in ``lanes`` of the ``nth`` holder to have got a slot (lanes of one name are
    served in their own arrival order)."""
    lane = order[nth]
    same_lane_before = order[:nth].count(lane)
    positions = [index for index, name in enumerate(lanes) if name == lane]
    return positions[same_lane_before]


async def test_never_more_holders_than_slots() -> None:
    slots = FairSlots(3)
    holding = 0
    most = 0

    async def work(lane: int) -> None:
        nonlocal holding, most
        async with slots.hold(lane):
            holding += 1
            most = max(most, holding)
            await asyncio.sleep(0.001)
            holding -= 1

    await asyncio.gather(*(work(n % 4) for n in range(40)))
    assert most == 3
    assert slots.waiting() == 0


async def test_a_cancelled_waiter_leaves_the_queue_and_the_slot_goes_on() -> None:
    slots = FairSlots(1)
    order, releases = await _holders(slots, ["a"])
    waiter = asyncio.create_task(_take(slots, "b", order))
    await asyncio.sleep(0)
    assert slots.waiting() == 1
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert slots.waiting() == 0
    later = asyncio.create_task(_take(slots, "c", order))
    await asyncio.sleep(0)
    releases[0].set()
    await asyncio.wait_for(later, 1)
    assert order == ["a", "c"]


async def test_a_waiter_cancelled_as_its_slot_arrives_passes_the_slot_on() -> None:
    slots = FairSlots(1)
    order, releases = await _holders(slots, ["a"])
    unlucky = asyncio.create_task(_take(slots, "b", order))
    next_in_line = asyncio.create_task(_take(slots, "c", order))
    await asyncio.sleep(0)
    releases[0].set()  # a's holder leaves at the next turn of the loop, granting b's future
    await asyncio.sleep(0)
    unlucky.cancel()  # ...and b is cancelled before it could run with it
    with pytest.raises(asyncio.CancelledError):
        await unlucky
    await asyncio.wait_for(next_in_line, 1)
    assert order == ["a", "c"]
    assert slots.waiting() == 0


async def _take(slots: FairSlots, lane: str, order: list[str]) -> None:
    async with slots.hold(lane):
        order.append(lane)


def test_at_least_one_slot() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        FairSlots(0)
