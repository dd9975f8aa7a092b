"""One file, both clock kinds: a file whose virtual time is ahead of the wall clock is refused
on the real clock, and a file served on the real clock no longer goes back to an old virtual
time."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.endpoints import OK, serve_endpoint
from tests.market.harness import Options, run_market
from tests.market.test_fairness import answers_ping_then_hangs, until_received
from tests.processes import run_cli
from ymnotify.market.clock import ClockMismatch, RealClock, VirtualClock, starting_clock
from ymnotify.market.runtime import MarketConfig, MarketRuntime
from ymnotify.market.store import MarketStore
from ymnotify.protocol.samples import sample

WALL = datetime(2026, 11, 29, 12, tzinfo=UTC)
FILE = Path("m.db")


def test_the_clock_a_file_starts_with() -> None:
    ahead, behind = WALL + timedelta(days=3), WALL - timedelta(days=3)
    assert starting_clock(True, None, WALL, file=FILE).now() == WALL
    assert starting_clock(True, ahead, WALL, file=FILE).now() == ahead
    assert starting_clock(True, behind, WALL, file=FILE).now() == behind
    assert isinstance(starting_clock(False, None, WALL, file=FILE), RealClock)
    assert isinstance(starting_clock(False, behind, WALL, file=FILE), RealClock)
    assert isinstance(starting_clock(False, WALL, WALL, file=FILE), RealClock)
    with pytest.raises(ClockMismatch, match=r"m\.db: its virtual Market time is 2026-12-02"):
        starting_clock(False, ahead, WALL, file=FILE)
    assert isinstance(starting_clock(True, None, WALL, file=FILE), VirtualClock)


async def test_an_advanced_file_is_refused_on_the_real_clock_and_kept(tmp_path: Path) -> None:
    async with run_market(tmp_path) as market:  # the virtual clock
        advanced_to = await market.advance(timedelta(days=3))
    real = MarketRuntime(MarketConfig(db_path=tmp_path / "market.db", virtual_clock=False))
    with pytest.raises(ClockMismatch, match="ahead of the wall clock"):
        async with real.running():
            pass
    async with run_market(tmp_path) as market:
        assert await market.now() == advanced_to  # the refusal changed nothing


async def test_after_the_real_clock_a_virtual_start_begins_at_the_wall_clock(
    tmp_path: Path,
) -> None:
    async with MarketStore(tmp_path / "market.db") as store:  # virtual time a day behind
        await store.save_clock(datetime.now(UTC) - timedelta(days=1))
    async with run_market(tmp_path, Options(virtual=False)):
        started_real = datetime.now(UTC)
    async with run_market(tmp_path) as market:
        assert await market.now() >= started_real


def test_market_serve_says_so_in_one_line(tmp_path: Path) -> None:
    ahead = datetime.now(UTC) + timedelta(days=3)

    async def save() -> None:
        async with MarketStore(tmp_path / "m.db") as store:
            await store.save_clock(ahead)

    asyncio.run(save())
    done = run_cli(["market", "serve", "--db", f"sqlite:///{tmp_path / 'm.db'}", "--port", "0"])
    assert done.returncode == 1, done.stderr
    assert done.stderr.count("\n") == 1, done.stderr
    assert "ahead of the wall clock" in done.stderr
    assert "--clock virtual" in done.stderr


async def test_an_advance_saves_its_target_before_running_the_work(tmp_path: Path) -> None:
    # The work of an advance writes times up to its target; cut short (a crash), the file must
    # still not hold times ahead of its saved clock, or a real-clock start would take it.
    async with (
        serve_endpoint(answers_ping_then_hangs) as endpoint,
        run_market(tmp_path, Options(notification_timeout=2.0)) as market,
    ):
        await market.business()
        await market.subscribe(endpoint.url, ["ORDER_CREATED"], expect=201)
        start = await market.now()
        advancing = asyncio.create_task(market.advance(timedelta(hours=1)))
        await market.publish(sample("ORDER_CREATED", campaign_id=1001))
        await until_received(endpoint, 1)  # the attempt hanging in the advance
        connection = sqlite3.connect(tmp_path / "market.db")
        saved = connection.execute("SELECT now FROM clock").fetchone()
        connection.close()
        assert not advancing.done()
        endpoint.answer(OK)  # the retry a minute on is delivered, and the advance ends
        await advancing
    assert saved is not None
    assert datetime.fromisoformat(saved[0]) == start + timedelta(hours=1)


async def test_a_virtual_clock_never_advanced_keeps_its_time_across_a_restart(
    tmp_path: Path,
) -> None:
    async with run_market(tmp_path) as market:
        stopped_at = await market.now()
    await asyncio.sleep(0.2)  # the wall clock moves on; the virtual one must not
    async with run_market(tmp_path) as market:
        assert await market.now() == stopped_at
