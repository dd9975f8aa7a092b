"""The settings rules through the JSON API, with real PINGs to real loopback endpoints."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from tests.endpoints import OK, SILENT, Request, closed_port, http_response, serve_endpoint
from tests.market.harness import OWNER, Options, run_market
from ymnotify.protocol.samples import sample

USERS = [
    {"login": OWNER, "role": "owner"},
    {"login": "max", "role": "manager"},
    {"login": "cora", "role": "content_manager"},
    {"login": "otto", "role": "operator"},
]


@pytest.mark.parametrize(
    ("user", "scope", "status"),
    [
        (OWNER, {"businessId": 1}, 201),
        ("max", {"businessId": 1}, 201),
        ("cora", {"businessId": 1}, 403),
        ("otto", {"businessId": 1}, 403),
        (OWNER, {"campaignId": 1001}, 201),
        ("max", {"campaignId": 1001}, 201),
        ("otto", {"campaignId": 1001}, 201),
        ("cora", {"campaignId": 1001}, 403),
        ("stranger", {"campaignId": 1001}, 403),
        (None, {"campaignId": 1001}, 401),
    ],
)
async def test_roles(tmp_path: Path, user: str | None, scope: dict[str, int], status: int) -> None:
    async with serve_endpoint(OK) as endpoint, run_market(tmp_path) as market:
        await market.business(users=USERS)
        answer = await market.subscribe(
            endpoint.url, ["ORDER_CREATED"], scope, user=user, expect=status
        )
        if status != 201:
            assert set(answer) == {"error"}
            assert set(answer["error"]) == {"code", "message"}
            assert answer["error"]["code"] in {"forbidden", "user_required"}
            assert endpoint.requests == []  # refused before any PING
            listed = await market.call("GET", "/api/subscriptions", user=None)
            assert listed["subscriptions"] == []


async def test_roles_also_guard_changes(tmp_path: Path) -> None:
    async with serve_endpoint(OK) as endpoint, run_market(tmp_path) as market:
        await market.business(users=USERS)
        cabinet = await market.subscribe(endpoint.url, ["CHAT_CREATED"], {"businessId": 1})
        store = await market.subscribe(endpoint.url, ["ORDER_CREATED"], user="otto")
        disable = f"/api/subscriptions/{cabinet['id']}/disable"
        await market.call("POST", disable, {}, user="otto", expect=403)
        await market.call("POST", disable, {}, user="max", expect=200)
        await market.call(
            "PATCH", f"/api/subscriptions/{store['id']}", {"name": "x"}, user="cora", expect=403
        )
        await market.call("DELETE", f"/api/subscriptions/{store['id']}", user="otto", expect=204)
        await market.call("GET", f"/api/subscriptions/{store['id']}", expect=404)


async def test_scope_types(tmp_path: Path) -> None:
    async with serve_endpoint(OK) as endpoint, run_market(tmp_path) as market:
        await market.business()
        refused = await market.subscribe(
            endpoint.url, ["ORDER_CREATED", "CHAT_MESSAGE_SENT"], {"campaignId": 1001}, expect=400
        )
        assert "CHAT_MESSAGE_SENT" in refused["error"]["message"]
        assert "business scope" in refused["error"]["message"]
        await market.subscribe(
            endpoint.url, ["ORDER_CREATED", "CHAT_MESSAGE_SENT"], {"businessId": 1}, expect=201
        )
        # The same check on edit and on duplicate to a store.
        store = await market.subscribe(endpoint.url, ["ORDER_CREATED"], expect=201)
        path = f"/api/subscriptions/{store['id']}"
        await market.call("PATCH", path, {"types": ["QUESTION_CREATED"]}, expect=400)
        cabinet_id = (await market.call("GET", "/api/subscriptions"))["subscriptions"][0]["id"]
        await market.call(
            "POST", f"/api/subscriptions/{cabinet_id}/duplicate", {"campaignId": 1001}, expect=400
        )


async def test_overlap_only_the_store_url_gets_it(tmp_path: Path) -> None:
    async with (
        serve_endpoint(OK) as cabinet_end,
        serve_endpoint(OK) as store_end,
        run_market(tmp_path) as market,
    ):
        await market.business(campaigns=(1001, 1002))
        types = ["ORDER_CREATED", "ORDER_CANCELLED", "CHAT_CREATED"]
        cabinet = await market.subscribe(cabinet_end.url, types, {"businessId": 1}, expect=201)
        store = await market.subscribe(store_end.url, ["ORDER_CREATED"], expect=201)
        events = await market.publish(
            sample("ORDER_CREATED", campaign_id=1001),  # store 1001 follows it: store URL only
            sample("ORDER_CANCELLED", campaign_id=1001),  # store does not follow it: cabinet
            sample("ORDER_CREATED", campaign_id=1002),  # other store: cabinet
            sample("CHAT_CREATED", business_id=1),  # cabinet event
        )
        receivers = [[d["subscriptionId"] for d in e["deliveries"]] for e in events]
        assert receivers == [[store["id"]], [cabinet["id"]], [cabinet["id"]], [cabinet["id"]]]
        await market.advance(timedelta(0))
        got = [
            (r.json()["notificationType"], r.json().get("campaignId")) for r in cabinet_end.requests
        ]
        # Deliveries run concurrently: their order at the endpoint is not fixed.
        assert sorted(got[1:], key=str) == sorted(
            [("ORDER_CANCELLED", 1001), ("ORDER_CREATED", 1002), ("CHAT_CREATED", None)], key=str
        )
        assert [r.json()["notificationType"] for r in store_end.requests] == [
            "PING",
            "ORDER_CREATED",
        ]


async def test_activation_delay(tmp_path: Path) -> None:
    options = Options(activation_delay=timedelta(seconds=120))
    async with (
        serve_endpoint(OK) as first,
        serve_endpoint(OK) as second,
        run_market(tmp_path, options) as market,
    ):
        await market.business()
        created = await market.subscribe(first.url, ["ORDER_CREATED"], expect=201)
        sid, path = created["id"], f"/api/subscriptions/{created['id']}"
        assert created["state"] == "pending_activation"
        assert created["inEffect"]["enabled"] is False
        [event] = await market.publish(sample("ORDER_CREATED", campaign_id=1001))
        assert event["deliveries"] == []
        assert "no active setting" in event["note"]
        await market.advance(timedelta(seconds=119))
        assert (await market.call("GET", path))["state"] == "pending_activation"
        await market.advance(timedelta(seconds=1))
        assert (await market.call("GET", path))["state"] == "active"
        [event] = await market.publish(sample("ORDER_CREATED", campaign_id=1001))
        assert [d["subscriptionId"] for d in event["deliveries"]] == [sid]

        # An edit shows at once, the previous URL keeps getting deliveries for 120 s.
        edited = await market.call("PATCH", path, {"url": second.url}, expect=200)
        assert edited["url"] == second.url
        assert edited["state"] == "pending_activation"
        assert edited["inEffect"]["url"] == first.url
        assert [r.json()["notificationType"] for r in second.requests] == ["PING"]
        await market.publish(sample("ORDER_CREATED", campaign_id=1001, orderId=1))
        await market.advance(timedelta(seconds=120))
        await market.publish(sample("ORDER_CREATED", campaign_id=1001, orderId=2))
        await market.advance(timedelta(0))
        assert [r.json().get("orderId") for r in first.requests][-1] == 1
        assert [r.json().get("orderId") for r in second.requests] == [None, 2]

        # Disabling shows at once; deliveries stop after the delay.
        disabled = await market.call("POST", f"{path}/disable", {}, expect=200)
        assert disabled["state"] == "disabled"
        [during] = await market.publish(sample("ORDER_CREATED", campaign_id=1001))
        assert len(during["deliveries"]) == 1
        await market.advance(timedelta(seconds=120))
        [after] = await market.publish(sample("ORDER_CREATED", campaign_id=1001))
        assert after["deliveries"] == []


async def test_ping_rules(tmp_path: Path) -> None:
    options = Options(ping_timeout=0.3)
    async with (
        serve_endpoint(OK) as good,
        serve_endpoint(SILENT) as slow,
        serve_endpoint(http_response(200, b"{}")) as empty,
        run_market(tmp_path, options) as market,
    ):
        await market.business()
        refused_cases = [
            (f"http://127.0.0.1:{closed_port()}", "CONNECTION_REFUSED"),
            (slow.url, "READ_TIMED_OUT"),
            (empty.url, "INVALID_DATA"),
        ]
        for url, subtype in refused_cases:
            answer = await market.subscribe(url, ["ORDER_CREATED"], expect=422)
            error = answer["error"]
            assert error["code"] == "ping_failed"
            assert error["errorSubtype"] == subtype
            assert subtype in error["message"]
            assert error["url"] == f"{url}/notification"
        assert (await market.call("GET", "/api/subscriptions"))["subscriptions"] == []
        failed_pings = await market.log(type="PING", outcome="failed")
        assert len(failed_pings) == 3

        created = await market.subscribe(good.url, ["ORDER_CREATED"], expect=201)
        path = f"/api/subscriptions/{created['id']}"
        assert [r.json()["notificationType"] for r in good.requests] == ["PING"]
        assert good.requests[0].path == "/notification"

        # Changing types or name does not PING; a failing new URL refuses the edit.
        await market.call("PATCH", path, {"types": ["ORDER_CANCELLED"], "name": "n"}, expect=200)
        assert len(good.requests) == 1
        refused = await market.call("PATCH", path, {"url": empty.url}, expect=422)
        assert refused["error"]["errorType"] == "INVALID_RESPONSE"
        assert (await market.call("GET", path))["url"] == good.url
        # Disable does not PING; enable does.
        await market.call("POST", f"{path}/disable", {}, expect=200)
        assert len(good.requests) == 1
        await market.call("POST", f"{path}/enable", {}, expect=200)
        assert [r.json()["notificationType"] for r in good.requests] == ["PING", "PING"]
        # Duplicate to another store is a creation: PING.
        await market.call(
            "POST",
            "/api/businesses",
            {
                "id": 2,
                "name": "b",
                "campaignIds": [2002],
                "users": [{"login": OWNER, "role": "owner"}],
            },
            expect=201,
        )
        copy = await market.call("POST", f"{path}/duplicate", {"campaignId": 2002}, expect=201)
        assert copy["scope"] == {"campaignId": 2002}
        assert copy["types"] == ["ORDER_CANCELLED"]
        assert len(good.requests) == 3
        pings = await market.log(type="PING", outcome="delivered")
        assert [p["subscriptionId"] for p in pings] == [copy["id"], created["id"], created["id"]]


async def test_a_400_is_rejected_and_never_retried(tmp_path: Path) -> None:
    def answer(request: Request) -> bytes:
        if request.json()["notificationType"] == "PING":
            return OK
        return http_response(400, b'{"error":{"type":"WRONG_EVENT_FORMAT","message":"no"}}')

    async with serve_endpoint(answer) as endpoint, run_market(tmp_path) as market:
        await market.business()
        sid = (await market.subscribe(endpoint.url, ["ORDER_CREATED"], expect=201))["id"]
        await market.publish(sample("ORDER_CREATED", campaign_id=1001))
        await market.advance(timedelta(days=2))
        log = await market.log(subscription=sid, type="ORDER_CREATED")
        assert [(e["outcome"], e["status"]) for e in log] == [("rejected", 400)]
        state = await market.call("GET", f"/api/subscriptions/{sid}")
        assert state["deliveries"]["rejected"] == 1
        assert state["failingSince"] is None
        assert state["state"] == "active"


async def test_remove_cancels_pending_deliveries(tmp_path: Path) -> None:
    async with serve_endpoint(OK) as endpoint, run_market(tmp_path) as market:
        await market.business()
        sid = (await market.subscribe(endpoint.url, ["ORDER_CREATED"], expect=201))["id"]
        endpoint.answer(http_response(503, b""))
        await market.publish(sample("ORDER_CREATED", campaign_id=1001))
        await market.advance(timedelta(minutes=3))
        sent = len(endpoint.requests)
        assert sent == 1 + 4  # PING, then attempts at +0, +1, +2, +3 min
        await market.call("DELETE", f"/api/subscriptions/{sid}", expect=204)
        await market.advance(timedelta(hours=2))
        assert len(endpoint.requests) == sent
