"""The JSON API's contract: routes, errors, events, the log, the clock, /openapi.json."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from tests.endpoints import OK, http_response, serve_endpoint
from tests.market.harness import OWNER, Options, run_market
from ymnotify.market.api import MAX_REQUEST_BODY, ROUTES
from ymnotify.protocol.samples import SAMPLE_ID_BASE, sample

JSON = {"content-type": "application/json"}


async def test_businesses(tmp_path: Path) -> None:
    async with run_market(tmp_path) as market:
        body = {
            "id": 7,
            "name": "Shop",
            "campaignIds": [70, 71],
            "users": [{"login": "ann", "role": "owner"}, {"login": "bo", "role": "warehouse"}],
        }
        created = await market.call("POST", "/api/businesses", body, expect=201)
        assert {k: created[k] for k in body} == body
        assert (await market.call("GET", "/api/businesses/7", expect=200)) == created
        assert (await market.call("GET", "/api/businesses"))["businesses"] == [created]
        again = await market.call("POST", "/api/businesses", body, expect=409)
        assert again["error"]["code"] == "conflict"
        taken = {**body, "id": 8, "campaignIds": [71]}
        clash = await market.call("POST", "/api/businesses", taken, expect=409)
        assert "71" in clash["error"]["message"]
        await market.call("GET", "/api/businesses/8", expect=404)  # nothing half-stored


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"name": "x"}, "id"),
        ({"id": 0, "name": "x"}, "id"),
        ({"id": 1, "name": ""}, "name"),
        ({"id": 1, "name": "x", "campaignIds": [1, 1]}, "repeats"),
        ({"id": 1, "name": "x", "campaignIds": ["1"]}, "campaignIds"),
        ({"id": 1, "name": "x", "users": [{"login": "a"}]}, "role"),
        ({"id": 1, "name": "x", "users": [{"login": "a", "role": "Boss"}]}, "role"),
        ([], "object"),
    ],
)
async def test_bad_business_bodies(tmp_path: Path, body: object, reason: str) -> None:
    async with run_market(tmp_path) as market:
        answer = await market.call("POST", "/api/businesses", body, expect=400)
        assert answer["error"]["code"] == "invalid_request"
        assert reason in answer["error"]["message"]


async def test_errors_are_json(tmp_path: Path) -> None:
    async with run_market(tmp_path) as market:
        missing = await market.call("GET", "/api/nothing", expect=404)
        assert missing["error"]["code"] == "not_found"
        wrong = await market.call("PUT", "/api/subscriptions", {}, expect=405)
        assert wrong["error"]["code"] == "method_not_allowed"
        response = await market.api.post("/api/businesses", content=b"{nope", headers=JSON)
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "invalid_request"
        assert (await market.call("GET", "/api/subscriptions/99", expect=404))["error"]


async def test_bodies_must_be_declared_json(tmp_path: Path) -> None:
    # A page on another site can POST text/plain or a form without asking: neither may move
    # the clock or publish (what needs X-Market-User is guarded by the pre-flight anyway).
    async with run_market(tmp_path, Options(virtual=True)) as market:
        before = await market.now()
        body = json.dumps({"seconds": 60}).encode()
        for content_type in ("text/plain", "application/x-www-form-urlencoded", None):
            headers = {"content-type": content_type} if content_type else {}
            for path, content in (
                ("/api/clock/advance", body),
                ("/api/events", json.dumps(sample("ORDER_CREATED")).encode()),
            ):
                refused = await market.api.post(path, content=content, headers=headers)
                assert refused.status_code == 415, (path, content_type)
                assert refused.json()["error"]["code"] == "unsupported_media_type"
        assert await market.now() == before
        assert await market.log() == []
        moved = await market.api.post(
            "/api/clock/advance", content=body, headers={"content-type": "application/json"}
        )
        assert moved.status_code == 200


async def test_oversized_bodies_and_ids_get_json_errors(tmp_path: Path) -> None:
    beyond = 2**64  # past SQLite's integers: once a 500 in plain text
    async with run_market(tmp_path) as market:
        too_large = b"[" + b"1," * (MAX_REQUEST_BODY // 2) + b"1]"

        async def chunks() -> AsyncIterator[bytes]:
            for start in range(0, len(too_large), 65536):
                yield too_large[start : start + 65536]

        for content in (too_large, chunks()):  # declared by Content-Length, and chunked
            response = await market.api.post("/api/events", content=content, headers=JSON)
            assert response.status_code == 413
            assert response.json()["error"]["code"] == "too_large"
        for path in (f"/api/subscriptions/{beyond}", f"/api/businesses/{beyond}"):
            assert (await market.call("GET", path, expect=404))["error"]["code"] == "not_found"
        log = await market.call("GET", f"/api/log?subscription={beyond}", expect=400)
        assert "subscription" in log["error"]["message"]
        business = {"id": beyond, "name": "x", "campaignIds": [1], "users": []}
        refused = await market.call("POST", "/api/businesses", business, expect=400)
        assert "at most" in refused["error"]["message"]
        event = sample("ORDER_CREATED") | {"campaignId": beyond}
        await market.call("POST", "/api/events", event, expect=400)


async def test_urls_must_be_https_unless_allowed(tmp_path: Path) -> None:
    options = Options(allow_http=False)
    async with serve_endpoint(OK) as endpoint, run_market(tmp_path, options) as market:
        await market.business()
        answer = await market.subscribe(endpoint.url, ["ORDER_CREATED"], expect=400)
        assert "HTTPS" in answer["error"]["message"]
        assert endpoint.requests == []


async def test_private_targets_are_refused_at_connect_time(tmp_path: Path) -> None:
    options = Options(allow_private_targets=False)
    async with serve_endpoint(OK) as endpoint, run_market(tmp_path, options) as market:
        await market.business()
        for url in (endpoint.url, endpoint.url.replace("127.0.0.1", "localhost")):
            answer = await market.subscribe(url, ["ORDER_CREATED"], expect=422)
            assert answer["error"]["errorSubtype"] == "CONNECTION_REFUSED"
            assert "loopback" in answer["error"]["detail"]
        assert endpoint.requests == []


async def test_post_to_url_as_is(tmp_path: Path) -> None:
    options = Options(post_to_url_as_is=True)
    async with serve_endpoint(OK) as endpoint, run_market(tmp_path, options) as market:
        await market.business()
        await market.subscribe(f"{endpoint.url}/hooks/market", ["ORDER_CREATED"], expect=201)
        await market.publish(sample("ORDER_CREATED", campaign_id=1001))
        await market.advance(timedelta(0))
    assert [r.path for r in endpoint.requests] == ["/hooks/market", "/hooks/market"]


async def test_publishing(tmp_path: Path) -> None:
    async with serve_endpoint(OK) as endpoint, run_market(tmp_path) as market:
        await market.business()
        await market.subscribe(endpoint.url, ["ORDER_CREATED", "ORDER_TELEPORTED"], expect=201)
        big = SAMPLE_ID_BASE + 123  # beyond 2**53: must reach the endpoint exactly
        raw = (
            f'{{"notificationType":"ORDER_CREATED","orderId":{big},"campaignId":1001,'
            '"items":[{"offerId":"A","count":1}],"createdAt":"2026-01-01T00:00:00.123456789Z",'
            '"extra":1.10}'
        )
        response = await market.api.post("/api/events", content=raw.encode(), headers=JSON)
        assert response.status_code == 202, response.text
        [event] = response.json()["events"]
        assert event["notificationType"] == "ORDER_CREATED"
        assert len(event["deliveries"]) == 1
        unknown = await market.publish({"notificationType": "ORDER_TELEPORTED", "campaignId": 1001})
        assert len(unknown[0]["deliveries"]) == 1  # a type this version does not know
        await market.advance(timedelta(0))
        bodies = sorted((r.body for r in endpoint.requests[1:]), key=len)
        assert json.loads(bodies[0])["notificationType"] == "ORDER_TELEPORTED"
        assert bodies[1] == raw.encode()  # exact: big ids, 9 fractional digits, 1.10

        cases = [
            ({"notificationType": "PING"}, "PING"),
            ({"notificationType": "ORDER_CREATED", "campaignId": 1001}, "orderId"),
            ({"orderId": 1}, "notificationType"),
            ([], "nothing to publish"),
            ([sample("CHAT_CREATED", business_id=1), "x"], "[1]"),
        ]
        for body, reason in cases:
            answer = await market.call("POST", "/api/events", body, expect=400)
            assert reason in answer["error"]["message"], answer
        nobody = await market.publish(sample("ORDER_CREATED", campaign_id=999))
        assert nobody[0]["deliveries"] == []
        assert "999" in nobody[0]["note"]


async def test_request_log(tmp_path: Path) -> None:
    async with serve_endpoint(OK) as good, serve_endpoint(OK) as bad, run_market(tmp_path) as m:
        await m.business(campaigns=(1001, 1002))
        one = (await m.subscribe(good.url, ["ORDER_CREATED"], expect=201))["id"]
        two = (await m.subscribe(bad.url, ["ORDER_CREATED"], {"campaignId": 1002}))["id"]
        bad.answer(http_response(200, b"hello", content_type="text/plain"))
        start = await m.now()
        await m.publish(sample("ORDER_CREATED", campaign_id=1001, orderId=11))
        await m.publish(sample("ORDER_CREATED", campaign_id=1002, orderId=424242))
        await m.advance(timedelta(minutes=2))

        everything = await m.log()
        assert [e["at"] for e in everything] == sorted((e["at"] for e in everything), reverse=True)
        failed = await m.log(outcome="failed")
        assert {e["subscriptionId"] for e in failed} == {two}
        assert len(failed) == 3  # at +0, +1, +2 minutes
        entry = failed[0]
        assert entry["errorType"] == "CANT_GET_RESPONSE"
        assert entry["errorSubtype"] == "UNSUPPORTED_MEDIA_TYPE"
        assert entry["responseBody"] == "hello"
        assert entry["responseContentType"] == "text/plain"
        assert entry["status"] == 200
        assert entry["url"] == f"{bad.url}/notification"
        assert json.loads(entry["requestBody"])["orderId"] == 424242
        assert entry["latencyMs"] > 0
        assert entry["traceparent"] == bad.requests[-1].headers["traceparent"]
        traces = [r.headers["traceparent"] for r in bad.requests]
        assert len(set(traces)) == len(traces)  # a fresh traceparent per request

        delivered = await m.log(subscription=one, type="ORDER_CREATED")
        assert [(e["outcome"], e["status"], e["errorType"]) for e in delivered] == [
            ("delivered", 200, None)
        ]
        assert len(await m.log(q="424242")) == 3
        assert len(await m.log(q=entry["traceparent"])) == 1
        later = start + timedelta(seconds=30)
        assert len(await m.log(since=later.isoformat(), outcome="failed")) == 2
        assert len(await m.log(until=later.isoformat(), outcome="failed")) == 1
        assert len(await m.log(limit=1)) == 1
        # Page by page, each starting after the last one's last entry, gives the whole log.
        pages, before = [], None
        for _ in range(len(everything) + 1):
            page = await m.call(
                "GET", "/api/log", limit=2, **({"before": before} if before else {})
            )
            pages.extend(page["entries"])
            before = page["nextBefore"]
            if before is None:
                break
            assert before == page["entries"][-1]["id"]
        assert pages == everything
        filtered = await m.call("GET", "/api/log", outcome="failed", limit=2)
        rest = await m.call("GET", "/api/log", outcome="failed", before=filtered["nextBefore"])
        assert filtered["entries"] + rest["entries"] == failed
        assert rest["nextBefore"] is None
        # From the oldest entry: nothing older, an empty last page. From an id that names no
        # entry: a 404, not an empty page that would look like the end of the log.
        oldest = await m.call("GET", "/api/log", before=everything[-1]["id"])
        assert oldest == {"entries": [], "nextBefore": None}
        for missing in (10**9, 0, -1):
            refused = await m.call("GET", "/api/log", expect=404, before=missing)
            assert refused["error"]["code"] == "not_found"
            assert f"no log entry {missing}" in refused["error"]["message"]
        for params in (
            {"outcome": "nope"},
            {"since": "yesterday"},
            {"limit": "0"},
            {"before": "x"},
            {"before": str(2**64)},
        ):
            await m.call("GET", "/api/log", expect=400, **params)


async def test_clock(tmp_path: Path) -> None:
    async with run_market(tmp_path) as market:
        before = await market.now()
        document = await market.call("GET", "/api/clock")
        assert document["virtual"] is True
        after = await market.advance(timedelta(days=14))
        assert after - before == timedelta(days=14)
        assert await market.now() == after
        for body in ({"seconds": -1}, {"seconds": "1"}, {}, {"seconds": 10**9}):
            await market.call("POST", "/api/clock/advance", body, expect=400)
    # The virtual time survives a restart.
    async with run_market(tmp_path) as market:
        assert await market.now() == after
    # The real clock on a file of its own (this one's virtual time is ahead: test_clock_kinds).
    (tmp_path / "real").mkdir()
    async with run_market(tmp_path / "real", Options(virtual=False)) as market:
        real = await market.call("GET", "/api/clock")
        assert real["virtual"] is False
        assert abs(datetime.fromisoformat(real["now"]) - datetime.now().astimezone()) < timedelta(
            minutes=1
        )
        refused = await market.call("POST", "/api/clock/advance", {"seconds": 1}, expect=409)
        assert "virtual" in refused["error"]["message"]


async def test_openapi_describes_every_route(tmp_path: Path) -> None:
    async with run_market(tmp_path) as market:
        document = await market.call("GET", "/openapi.json", expect=200)
    assert document["openapi"].startswith("3.")
    described = {
        (method.upper(), path) for path, item in document["paths"].items() for method in item
    }
    served = {(method, path.replace(":int}", "}")) for method, path, _ in ROUTES}
    assert described == served
    refs = json.dumps(document).count("#/components/schemas/")
    assert refs > 10
    for name in document["components"]["schemas"]:
        assert f"#/components/schemas/{name}" in json.dumps(document["paths"]) or name in {
            "User",
            "Scope",
            "NewBusiness",
        }


async def test_reads_filtered_by_user(tmp_path: Path) -> None:
    async with serve_endpoint(OK) as endpoint, run_market(tmp_path) as market:
        await market.business(1, (1001,))
        await market.business(2, (2002,), users=[{"login": "zed", "role": "owner"}])
        mine = await market.subscribe(endpoint.url, ["ORDER_CREATED"], expect=201)
        theirs = await market.subscribe(
            endpoint.url, ["ORDER_CREATED"], {"campaignId": 2002}, user="zed", expect=201
        )
        listed = await market.call("GET", "/api/subscriptions", user=OWNER)
        assert [s["id"] for s in listed["subscriptions"]] == [mine["id"]]
        everyone = await market.call("GET", "/api/subscriptions", user=None)
        assert [s["id"] for s in everyone["subscriptions"]] == [mine["id"], theirs["id"]]
        await market.call("GET", f"/api/subscriptions/{theirs['id']}", user=OWNER, expect=403)


async def test_real_clock_refills_its_room_while_a_backlog_waits(tmp_path: Path) -> None:
    # Four in flight at a time, and a poll interval longer than the test: all 40 arrive only
    # if finished attempts wake the loop to claim the rest.
    options = Options(virtual=False, extra={"max_in_flight": 4, "poll_interval": 60})
    async with serve_endpoint(OK) as endpoint, run_market(tmp_path, options) as market:
        await market.business()
        await market.subscribe(endpoint.url, ["ORDER_CREATED"], expect=201)
        events = [
            sample("ORDER_CREATED", campaign_id=1001, orderId=SAMPLE_ID_BASE + i) for i in range(40)
        ]
        await market.publish(*events)
        done = await market.log_of(40, seconds=20, type="ORDER_CREATED")
        assert len(done) == 40
        assert {e["outcome"] for e in done} == {"delivered"}
        orders = {
            r.json()["orderId"] for r in endpoint.requests if r.json()["notificationType"] != "PING"
        }
        assert orders == {SAMPLE_ID_BASE + i for i in range(40)}


async def test_real_clock_delivers_at_once_and_schedules_the_retry(tmp_path: Path) -> None:
    options = Options(virtual=False, extra={"poll_interval": 0.05})
    async with (
        serve_endpoint(OK) as good,
        serve_endpoint(OK) as bad,
        run_market(tmp_path, options) as market,
    ):
        await market.business(campaigns=(1001, 1002))
        good_id = (await market.subscribe(good.url, ["ORDER_CREATED"], expect=201))["id"]
        store_1002 = {"campaignId": 1002}
        bad_id = (await market.subscribe(bad.url, ["ORDER_CREATED"], store_1002, expect=201))["id"]
        bad.answer(http_response(502, b""))
        await market.publish(
            sample("ORDER_CREATED", campaign_id=1001), sample("ORDER_CREATED", campaign_id=1002)
        )
        done = await market.log_of(2, seconds=10, type="ORDER_CREATED")
        outcomes = {e["subscriptionId"]: (e["outcome"], e["status"]) for e in done}
        assert outcomes == {good_id: ("delivered", 200), bad_id: ("failed", 502)}
        failing = await market.call("GET", f"/api/subscriptions/{bad_id}")
        assert failing["deliveries"]["pending"] == 1
        first_attempt = datetime.fromisoformat(failing["failingSince"])
        assert datetime.fromisoformat(failing["disableAt"]) == first_attempt + timedelta(days=14)
        await asyncio.sleep(0.3)  # several poll intervals: the retry waits for its minute
        assert len(bad.requests) == 2  # PING and the first attempt, nothing more
