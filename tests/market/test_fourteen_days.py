"""Two weeks of an endpoint that always fails, in virtual time, against a real HTTP endpoint.

Market retries every minute for the first hour, every 15 minutes for the rest of the first day,
then hourly; 14 days after the first undelivered notification it disables the setting, cancels
what is pending and sends nothing new. Enabling again sends PING first, then deliveries resume.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from pathlib import Path

from tests.endpoints import OK, Request, http_response, serve_endpoint
from tests.market.harness import run_market
from ymnotify.market import schedule
from ymnotify.protocol.responses import rfc3339
from ymnotify.protocol.samples import sample

DAY = timedelta(days=1)
DOWN = http_response(500, b'{"error":{"type":"UNKNOWN","message":"down"}}')


class Switch:
    """The endpoint's mood: healthy (200 to everything) or down (500 to everything)."""

    def __init__(self) -> None:
        self.down = False

    def __call__(self, request: Request) -> bytes:
        return DOWN if self.down else OK


def _at(entry: dict[str, object]) -> datetime:
    return datetime.fromisoformat(str(entry["at"]))


async def test_fourteen_days_down_then_disabled_then_enabled_again(tmp_path: Path) -> None:
    switch = Switch()
    async with serve_endpoint(switch) as endpoint, run_market(tmp_path) as market:
        await market.business()
        created = await market.subscribe(endpoint.url, ["ORDER_CREATED"], expect=201)
        sid = created["id"]
        assert created["state"] == "active"  # activation delay 0 in this test
        switch.down = True

        t0 = await market.now()
        [first] = await market.publish(sample("ORDER_CREATED", at=t0, campaign_id=1001))
        [(first_delivery, _)] = [(d["id"], d["subscriptionId"]) for d in first["deliveries"]]

        started = time.perf_counter()
        await market.advance(10 * DAY)
        # A second notification, ten days in: still pending when the setting is disabled.
        [second] = await market.publish(
            sample("ORDER_CREATED", at=t0 + 10 * DAY, campaign_id=1001, orderId=77)
        )
        second_delivery = second["deliveries"][0]["id"]
        during = await market.call("GET", f"/api/subscriptions/{sid}", expect=200)
        assert during["failingSince"] == rfc3339(t0)
        assert datetime.fromisoformat(during["disableAt"]) == t0 + 14 * DAY
        await market.advance(4 * DAY + timedelta(hours=1))
        elapsed = time.perf_counter() - started

        log = await market.log(subscription=sid)
        attempts = sorted(
            (e for e in log if e["deliveryId"] == first_delivery), key=lambda e: e["id"]
        )
        expected = schedule.retry_times(t0, t0 + 14 * DAY)
        assert [_at(e) for e in attempts] == expected  # every attempt exactly on the schedule
        assert len(attempts) == 465
        assert [e["attempt"] for e in attempts] == list(range(1, 466))
        assert {(e["status"], e["errorType"], e["errorSubtype"]) for e in attempts} == {
            (500, "CANT_GET_RESPONSE", "HTTP")
        }
        second_attempts = [e for e in log if e["deliveryId"] == second_delivery]
        assert [_at(e) for e in sorted(second_attempts, key=lambda e: e["id"])] == (
            schedule.retry_times(t0 + 10 * DAY, t0 + 14 * DAY)
        )
        posted = [r for r in endpoint.requests if r.json()["notificationType"] != "PING"]
        assert len(posted) == len(attempts) + len(second_attempts)

        disabled = await market.call("GET", f"/api/subscriptions/{sid}", expect=200)
        assert disabled["state"] == "disabled_by_market"
        assert datetime.fromisoformat(disabled["disabledByMarketAt"]) == t0 + 14 * DAY
        assert disabled["deliveries"] == {
            "pending": 0,
            "delivered": 0,
            "rejected": 0,
            "cancelled": 2,  # the second one was still pending: cancelled
        }
        assert disabled["failingSince"] is None

        # Nothing new is sent while disabled by Market.
        [third] = await market.publish(sample("ORDER_CREATED", at=t0, campaign_id=1001))
        assert third["deliveries"] == []
        before = len(endpoint.requests)
        await market.advance(DAY)
        assert len(endpoint.requests) == before

        # Enabling while the endpoint is still down: PING fails, the setting stays off.
        refused = await market.call("POST", f"/api/subscriptions/{sid}/enable", {}, expect=422)
        assert refused["error"]["code"] == "ping_failed"
        assert refused["error"]["errorType"] == "CANT_GET_RESPONSE"
        assert refused["error"]["errorSubtype"] == "HTTP"
        still = await market.call("GET", f"/api/subscriptions/{sid}", expect=200)
        assert still["state"] == "disabled_by_market"

        # The endpoint is back: enable → PING first, then deliveries again.
        switch.down = False
        before = len(endpoint.requests)
        enabled = await market.call("POST", f"/api/subscriptions/{sid}/enable", {}, expect=200)
        assert enabled["state"] == "active"
        assert enabled["disabledByMarketAt"] is None
        assert endpoint.requests[before].json()["notificationType"] == "PING"
        [fourth] = await market.publish(sample("ORDER_CREATED", campaign_id=1001, orderId=99))
        assert len(fourth["deliveries"]) == 1
        await market.advance(timedelta(0))
        assert [r.json()["notificationType"] for r in endpoint.requests[before:]] == [
            "PING",
            "ORDER_CREATED",
        ]
        assert endpoint.requests[-1].json()["orderId"] == 99
        latest = await market.log(subscription=sid, limit=2)
        assert [e["notificationType"] for e in latest[:2]] == ["ORDER_CREATED", "PING"]
        assert [e["outcome"] for e in latest[:2]] == ["delivered", "delivered"]
    print(f"14 days + 1 h of virtual time ({len(posted)} attempts) in {elapsed:.1f} s")


async def test_an_answer_resets_the_fourteen_day_clock(tmp_path: Path) -> None:
    switch = Switch()
    async with serve_endpoint(switch) as endpoint, run_market(tmp_path) as market:
        await market.business()
        sid = (await market.subscribe(endpoint.url, ["ORDER_CREATED"], expect=201))["id"]
        switch.down = True
        t0 = await market.now()
        await market.publish(sample("ORDER_CREATED", at=t0, campaign_id=1001))
        await market.advance(10 * DAY)
        switch.down = False  # the pending delivery gets through at its next hourly retry
        await market.advance(timedelta(hours=1))
        switch.down = True
        await market.publish(sample("ORDER_CREATED", campaign_id=1001, orderId=5))
        restarted = await market.now()
        await market.advance(13 * DAY)
        during = await market.call("GET", f"/api/subscriptions/{sid}", expect=200)
        assert during["state"] == "active"  # 23 days of trouble, but never 14 in a row
        assert datetime.fromisoformat(during["failingSince"]) == restarted
        await market.advance(DAY)
        after = await market.call("GET", f"/api/subscriptions/{sid}", expect=200)
        assert after["state"] == "disabled_by_market"
        assert datetime.fromisoformat(after["disabledByMarketAt"]) == restarted + 14 * DAY
        assert len(endpoint.requests) > 0


async def test_a_setting_the_seller_disabled_shows_no_fourteen_day_clock(tmp_path: Path) -> None:
    switch = Switch()
    async with serve_endpoint(switch) as endpoint, run_market(tmp_path) as market:
        await market.business()
        sid = (await market.subscribe(endpoint.url, ["ORDER_CREATED"], expect=201))["id"]
        switch.down = True
        await market.publish(sample("ORDER_CREATED", at=await market.now(), campaign_id=1001))
        await market.advance(timedelta(minutes=5))
        failing = await market.call("GET", f"/api/subscriptions/{sid}", expect=200)
        assert failing["failingSince"] is not None
        await market.call("POST", f"/api/subscriptions/{sid}/disable", expect=200)
        await market.advance(timedelta(minutes=5))  # the pending delivery is cancelled
        off = await market.call("GET", f"/api/subscriptions/{sid}", expect=200)
        assert off["state"] == "disabled"
        assert off["deliveries"]["pending"] == 0
        # Nothing is sent, so Market has no date to disable it at.
        assert (off["failingSince"], off["disableAt"]) == (None, None)
