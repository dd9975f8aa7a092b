"""A setting whose endpoint hangs, with a backlog, on the real clock: the other settings'
deliveries go out at once all the same, each attempt is logged when it went out, and stopping
waits for one attempt's timeout, not for the whole backlog."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from tests.endpoints import OK, SILENT, Endpoint, Request, serve_endpoint
from tests.market.harness import Market, Options, run_market
from ymnotify.protocol.samples import SAMPLE_ID_BASE, sample

HANGS = 6.0  # the hanging endpoint's attempts time out after this (Market: 10 s)


def answers_ping_then_hangs(request: Request) -> bytes:
    return OK if request.json()["notificationType"] == "PING" else SILENT


def orders(count: int, campaign: int = 1001, first: int = SAMPLE_ID_BASE) -> list[dict[str, Any]]:
    """``count`` ORDER_CREATED events of one store, each its own order."""
    return [sample("ORDER_CREATED", campaign_id=campaign, orderId=first + i) for i in range(count)]


def notifications(endpoint: Endpoint) -> list[Request]:
    """What the endpoint received, PINGs left out."""
    return [r for r in endpoint.requests if r.json()["notificationType"] != "PING"]


async def until_received(endpoint: Endpoint, count: int) -> None:
    """Wait (5 s at most) until the endpoint has received ``count`` notifications."""
    for _ in range(500):
        if len(notifications(endpoint)) >= count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"the endpoint did not receive {count} notifications")


@contextlib.asynccontextmanager
async def two_hanging_and_one_healthy(
    tmp_path: Path, options: Options
) -> AsyncIterator[tuple[Market, Endpoint, Endpoint]]:
    """The sandbox with stores 1001 and 1002 subscribed to ORDER_CREATED at two endpoints that
    hang (given back) and store 1003 at one that answers."""
    async with (
        serve_endpoint(answers_ping_then_hangs) as first,
        serve_endpoint(answers_ping_then_hangs) as second,
        serve_endpoint(OK) as healthy,
        run_market(tmp_path, options) as market,
    ):
        await market.business(campaigns=(1001, 1002, 1003))
        for endpoint, campaign in ((first, 1001), (second, 1002), (healthy, 1003)):
            scope = {"campaignId": campaign}
            await market.subscribe(endpoint.url, ["ORDER_CREATED"], scope, expect=201)
        yield market, first, second


async def test_a_hanging_endpoints_backlog_leaves_room_for_the_other_settings(
    tmp_path: Path,
) -> None:
    # Room for 96 attempts in flight; the hanging setting's 120 would take them all if claims
    # went by age alone, and the healthy setting's 5 would wait for the first timeouts.
    options = Options(
        virtual=False, notification_timeout=HANGS, extra={"max_in_flight": 96, "poll_interval": 60}
    )
    async with (
        serve_endpoint(answers_ping_then_hangs) as hanging,
        serve_endpoint(OK) as healthy,
        run_market(tmp_path, options) as market,
    ):
        await market.business(campaigns=(1001, 1002))
        slow = (await market.subscribe(hanging.url, ["ORDER_CREATED"], expect=201))["id"]
        fast = (
            await market.subscribe(healthy.url, ["ORDER_CREATED"], {"campaignId": 1002}, expect=201)
        )["id"]
        await market.publish(*orders(120))
        await market.publish(*orders(5, campaign=1002, first=SAMPLE_ID_BASE + 1000))
        delivered = await market.log_of(
            5, seconds=HANGS / 2, type="ORDER_CREATED", subscription=fast
        )
        assert [entry["outcome"] for entry in delivered] == ["delivered"] * 5
        # ...while every attempt to the hanging endpoint is still waiting for its answer.
        assert await market.log(type="ORDER_CREATED", subscription=slow) == []
        assert notifications(hanging)


async def test_attempts_are_logged_when_they_went_out_not_when_claimed(tmp_path: Path) -> None:
    # The endpoint takes 8 requests at a time and times each out after a second: of 16
    # claimed together, the second 8 go out a second after the first.
    options = Options(virtual=False, notification_timeout=1.0, extra={"poll_interval": 60})
    async with (
        serve_endpoint(answers_ping_then_hangs) as hanging,
        run_market(tmp_path, options) as market,
    ):
        await market.business()
        await market.subscribe(hanging.url, ["ORDER_CREATED"], expect=201)
        await market.publish(*orders(16))
        entries = await market.log_of(16, seconds=10, type="ORDER_CREATED")
    times = sorted(datetime.fromisoformat(entry["at"]) for entry in entries)
    assert len(times) == 16
    assert times[8] - times[7] >= timedelta(seconds=0.9), times
    arrivals = sorted(r.received_at for r in notifications(hanging))
    assert abs(times[8] - arrivals[-8]) < timedelta(seconds=0.5), (times, arrivals)


async def test_stopping_waits_one_attempt_timeout_and_keeps_the_rest(tmp_path: Path) -> None:
    # 64 claimed, 8 at a time to an endpoint that never answers within 1 s: waiting for all of
    # them would take 8 s; stop gives the ones on the wire their second and leaves the rest.
    options = Options(virtual=False, notification_timeout=1.0, extra={"poll_interval": 60})
    async with serve_endpoint(answers_ping_then_hangs) as hanging:
        async with contextlib.AsyncExitStack() as stack:
            market = await stack.enter_async_context(run_market(tmp_path, options))
            await market.business()
            await market.subscribe(hanging.url, ["ORDER_CREATED"], expect=201)
            await market.publish(*orders(64))
            await until_received(hanging, 8)  # every connection's attempt is out
            started = time.monotonic()
            await stack.aclose()
            stopped_in = time.monotonic() - started
        assert stopped_in < 4.0, stopped_in
        received = notifications(hanging)
        hanging.answer(OK)
        async with run_market(tmp_path, options) as market:
            entries = await market.log(type="ORDER_CREATED")
            failed = {e["deliveryId"] for e in entries if e["outcome"] == "failed"}
            entries = await market.log_of(64, seconds=20, type="ORDER_CREATED")
            delivered = {e["deliveryId"] for e in entries if e["outcome"] == "delivered"}
    # Nothing was lost: what timed out before the stop waits for its retry (a minute on), the
    # rest went out after the restart.
    assert 8 <= len(failed) < 64
    assert len(received) == len(failed)  # nothing went out at the stop that was not logged
    assert not failed & delivered
    assert len(failed | delivered) == 64


async def test_a_ping_does_not_wait_behind_the_endpoints_backlog(tmp_path: Path) -> None:
    # The endpoint's connections are all taken by attempts that hang; a setting saved for the
    # same endpoint is verified at once, as Market does, not after the backlog.
    options = Options(virtual=False, notification_timeout=HANGS, extra={"poll_interval": 60})
    async with (
        serve_endpoint(answers_ping_then_hangs) as hanging,
        run_market(tmp_path, options) as market,
    ):
        await market.business(campaigns=(1001, 1002))
        await market.subscribe(hanging.url, ["ORDER_CREATED"], expect=201)
        await market.publish(*orders(40))
        await until_received(hanging, 8)  # every connection's attempt is out
        started = time.monotonic()
        await market.subscribe(hanging.url, ["ORDER_CREATED"], {"campaignId": 1002}, expect=201)
        verified_in = time.monotonic() - started
        assert await market.log(type="ORDER_CREATED") == []  # the backlog still hangs
    assert verified_in < HANGS / 2, verified_in


async def test_when_every_place_is_taken_a_freed_one_goes_to_a_setting_with_none(
    tmp_path: Path,
) -> None:
    # Two hanging settings take all 16 places (8 each); a third setting's events get the first
    # places freed, not the two older backlogs, and at once, not at the next poll.
    hangs = 2.0
    options = Options(
        virtual=False,
        notification_timeout=hangs,
        extra={"max_in_flight": 16, "max_per_setting": 8, "poll_interval": 60},
    )
    async with two_hanging_and_one_healthy(tmp_path, options) as (market, _, _):
        for campaign in (1001, 1002):
            await market.publish(*orders(24, campaign=campaign, first=campaign * 100))
        await market.publish(*orders(3, campaign=1003))
        started = time.monotonic()
        delivered = await market.log_of(
            3, seconds=2 * hangs, type="ORDER_CREATED", outcome="delivered"
        )
        waited = time.monotonic() - started
        timed_out = await market.log(type="ORDER_CREATED", outcome="failed")
    assert len(delivered) == 3, (waited, len(timed_out))
    assert len(timed_out) < 48  # the two backlogs were still waiting


async def test_settings_whose_endpoints_hang_hold_only_a_few_places(tmp_path: Path) -> None:
    # Two settings with hanging endpoints and backlogs; room for 96 attempts. With the full
    # share (64) from the start they took all 96 and a third setting's events waited for the
    # first timeouts; starting at a few places, and never answered, they keep to those.
    options = Options(
        virtual=False, notification_timeout=HANGS, extra={"max_in_flight": 96, "poll_interval": 60}
    )
    async with two_hanging_and_one_healthy(tmp_path, options) as (market, first, second):
        for campaign in (1001, 1002):
            await market.publish(*orders(80, campaign=campaign, first=campaign * 1000))
        await until_received(first, 8)
        await until_received(second, 8)
        await market.publish(*orders(5, campaign=1003))
        delivered = await market.log_of(
            5, seconds=HANGS / 2, type="ORDER_CREATED", outcome="delivered"
        )
        assert len(delivered) == 5
        assert await market.log(type="ORDER_CREATED", outcome="failed") == []  # still hanging


def hangs_for_campaign(campaign: int) -> Callable[[Request], bytes]:
    """An integrator's endpoint where one seller's processing hangs: that campaign's
    notifications get no answer, everything else (PINGs included) a 200."""

    def answer(request: Request) -> bytes:
        return SILENT if request.json().get("campaignId") == campaign else OK

    return answer


async def test_settings_sharing_an_endpoint_take_its_connections_in_turn(
    tmp_path: Path,
) -> None:
    # One endpoint, two sellers' settings. The first seller's 40 notifications hang, 8 at a
    # time; the second seller's one notification gets the first connection freed after it was
    # claimed, not the one after the first seller's whole backlog (5 timeouts, first come first
    # served).
    hangs = 2.0
    options = Options(virtual=False, notification_timeout=hangs, extra={"poll_interval": 60})
    async with (
        serve_endpoint(hangs_for_campaign(1001)) as shared,
        run_market(tmp_path, options) as market,
    ):
        await market.business(campaigns=(1001, 1002))
        for campaign in (1001, 1002):
            scope = {"campaignId": campaign}
            await market.subscribe(shared.url, ["ORDER_CREATED"], scope, expect=201)
        await market.publish(*orders(40))
        await until_received(shared, 8)  # every connection is held by a hanging attempt
        await market.publish(*orders(1, campaign=1002, first=SAMPLE_ID_BASE + 1000))
        delivered = await market.log_of(
            1, seconds=3 * hangs, type="ORDER_CREATED", outcome="delivered"
        )
        arrivals = [request.json()["campaignId"] for request in notifications(shared)]
    assert len(delivered) == 1, arrivals
    # Among the second batch of 8 (the first seller's next waiter was queued first).
    assert arrivals.index(1002) < 16, arrivals


async def test_stopping_during_an_advance_sends_nothing_more(tmp_path: Path) -> None:
    # On the virtual clock too: an advance running attempts to a hanging endpoint is cut short
    # at a stop; what went out is logged, the rest waits in the file, and the clock resumes
    # where it stopped.
    options = Options(notification_timeout=1.0)
    async with serve_endpoint(answers_ping_then_hangs) as hanging:
        async with contextlib.AsyncExitStack() as stack:
            market = await stack.enter_async_context(run_market(tmp_path, options))
            await market.business()
            await market.subscribe(hanging.url, ["ORDER_CREATED"], expect=201)
            await market.publish(*orders(24))
            start = await market.now()
            advancing = asyncio.create_task(market.advance(timedelta(hours=1)))
            await until_received(hanging, 8)
            started = time.monotonic()
            await stack.aclose()
            stopped_in = time.monotonic() - started
        with contextlib.suppress(Exception):
            await advancing  # answered 503 or cut off by the server's stop
        assert stopped_in < 4.0, stopped_in
        received = notifications(hanging)
        hanging.answer(OK)
        async with run_market(tmp_path, options) as market:
            logged = await market.log(type="ORDER_CREATED")
            assert len(logged) == len(received)  # nothing went out unlogged
            assert len(logged) < 24
            resumed = await market.now()
        assert start <= resumed < start + timedelta(hours=1)  # where it stopped, not the target
