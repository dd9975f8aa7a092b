"""The Market dashboard's forms, over HTTP against the sandbox in this event loop.

Each form must do what the JSON API does (same service calls, same checks), show Market's
refusals on the page, and refuse a POST that lacks the page's CSRF token.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from tests.endpoints import OK, SILENT, closed_port, serve_endpoint
from tests.market.harness import OWNER, Market, run_market
from ymnotify.protocol.samples import sample

_TOKEN = re.compile(r'name="csrf" value="([0-9a-f]+)"')


async def form_token(market: Market, path: str = f"/ui/settings?user={OWNER}") -> str:
    """Open a page as a browser would (its cookie kept by the client) and take the token."""
    page = await market.api.get(path)
    assert page.status_code == 200, page.text
    match = _TOKEN.search(page.text)
    assert match is not None
    return match.group(1)


async def post(market: Market, path: str, fields: dict[str, Any]) -> tuple[str, str]:
    """POST a form with the token; return where it sent the browser and that page's text."""
    token = await form_token(market)
    answer = await market.api.post(path, data={"csrf": token, "user": OWNER, **fields})
    assert answer.status_code == 303, answer.text
    target = answer.headers["location"]
    return target, (await market.api.get(target)).text


async def test_every_settings_form_goes_through_the_service(tmp_path: Path) -> None:
    async with serve_endpoint(OK) as endpoint, run_market(tmp_path) as market:
        await market.business(campaigns=(1001, 1002))
        fields = {
            "name": "CRM",
            "scope": "campaign:1001",
            "url": endpoint.url,
            "types": ["ORDER_CREATED", "ORDER_CANCELLED"],
        }
        target, page = await post(market, "/ui/settings", fields)
        assert target == f"/ui/settings?user={OWNER}&message=created+setting+1+%28CRM%29"
        assert "created setting 1 (CRM)" in page
        created = await market.call("GET", "/api/subscriptions/1", expect=200)
        assert created["types"] == ["ORDER_CREATED", "ORDER_CANCELLED"]
        assert created["scope"] == {"campaignId": 1001}

        edit = {"name": "CRM 2", "url": endpoint.url, "types": ["ORDER_CREATED"]}
        _, page = await post(market, "/ui/settings/1", edit)
        assert "setting 1 saved" in page
        edited = await market.call("GET", "/api/subscriptions/1", expect=200)
        assert (edited["name"], edited["types"]) == ("CRM 2", ["ORDER_CREATED"])

        _, page = await post(market, "/ui/settings/1/disable", {})
        assert "setting 1 disabled" in page
        assert (await market.call("GET", "/api/subscriptions/1"))["state"] == "disabled"
        _, page = await post(market, "/ui/settings/1/enable", {})
        assert "setting 1 enabled" in page
        assert (await market.call("GET", "/api/subscriptions/1"))["state"] == "active"

        _, page = await post(market, "/ui/settings/1/duplicate", {"campaign": "1002"})
        assert "copied to store 1002 as 2" in page
        copy = await market.call("GET", "/api/subscriptions/2", expect=200)
        assert (copy["scope"], copy["name"]) == ({"campaignId": 1002}, "CRM 2")

        _, page = await post(market, "/ui/settings/2/remove", {})
        assert "setting 2 removed" in page
        await market.call("GET", "/api/subscriptions/2", expect=404)
        pings = [r for r in endpoint.requests if r.json()["notificationType"] == "PING"]
        assert len(pings) == 3  # create, enable and duplicate PING; edit kept the URL


async def test_refusals_are_shown_and_change_nothing(tmp_path: Path) -> None:
    async with serve_endpoint(SILENT) as silent, run_market(tmp_path) as market:
        await market.business()
        fields = {"name": "x", "scope": "campaign:1001", "url": f"http://127.0.0.1:{closed_port()}"}
        _, page = await post(market, "/ui/settings", {**fields, "types": ["ORDER_CREATED"]})
        assert 'role="alert"' in page
        assert "not created" in page
        assert "CANT_GET_RESPONSE" in page
        _, page = await post(market, "/ui/settings", {**fields, "url": silent.url, "types": []})
        assert "not created" in page
        assert await market.call("GET", "/api/subscriptions") == {"subscriptions": []}


async def test_a_post_without_the_page_token_is_refused(tmp_path: Path) -> None:
    async with run_market(tmp_path) as market:
        await market.business()
        await form_token(market)  # the client now has the cookie, but not this token
        fields = {"csrf": "0" * 64, "user": OWNER, "name": "x", "scope": "campaign:1001"}
        forged = await market.api.post("/ui/settings", data=fields)
        assert forged.status_code == 403
        advance = await market.api.post("/ui/clock/advance", data={"amount": "1d"})
        assert advance.status_code == 403
        assert await market.call("GET", "/api/subscriptions") == {"subscriptions": []}


async def test_the_log_page_rejects_a_bad_filter_with_a_message(tmp_path: Path) -> None:
    async with run_market(tmp_path) as market:
        page = await market.api.get("/ui/log", params={"outcome": "lost", "since": "yesterday"})
        assert page.status_code == 400
        assert "outcome" in page.text
        assert "admin token" not in page.text  # the sandbox has none


async def test_ids_beyond_int64_are_said_not_to_exist(tmp_path: Path) -> None:
    beyond = 2**64
    async with run_market(tmp_path) as market:
        await market.business()
        page = await market.api.get(
            f"/ui/settings/{beyond}", params={"user": OWNER}, follow_redirects=True
        )
        assert page.status_code == 200  # back on the list, saying why (once a 500)
        assert f"no subscription {beyond}" in page.text
        for path in (f"/ui/settings/{beyond}", f"/ui/settings/{beyond}/disable"):
            _, shown = await post(market, path, {})
            assert f"no subscription {beyond}" in shown, path
        _, shown = await post(
            market,
            "/ui/settings",
            {"name": "x", "scope": f"campaign:{beyond}", "types": ["ORDER_CREATED"], "url": "x"},
        )
        assert f"no cabinet or store {beyond}" in shown


async def test_the_any_user_is_told_to_choose_one(tmp_path: Path) -> None:
    async with serve_endpoint(OK) as endpoint, run_market(tmp_path) as market:
        await market.business()
        token = await form_token(market, "/ui/settings")
        fields = {"csrf": token, "user": "", "name": "x", "scope": "campaign:1001"}
        answer = await market.api.post(
            "/ui/settings", data={**fields, "types": ["ORDER_CREATED"], "url": endpoint.url}
        )
        page = (await market.api.get(answer.headers["location"])).text
        assert "choose the acting cabinet user" in page
        assert "X-Market-User" not in page.split("<footer>")[0]  # the header is the API's word


async def test_editing_keeps_types_the_form_does_not_list(tmp_path: Path) -> None:
    async with serve_endpoint(OK) as endpoint, run_market(tmp_path) as market:
        await market.business()
        await market.subscribe(endpoint.url, ["ORDER_TELEPORTED", "ORDER_CREATED"], expect=201)
        form = await market.api.get("/ui/settings/1", params={"user": OWNER})
        assert 'value="ORDER_TELEPORTED" checked' in form.text
        # A browser sends every ticked box: the future type among them.
        _, page = await post(
            market,
            "/ui/settings/1",
            {
                "name": "renamed",
                "url": endpoint.url,
                "types": ["ORDER_CREATED", "ORDER_TELEPORTED"],
            },
        )
        assert "setting 1 saved" in page
        saved = await market.call("GET", "/api/subscriptions/1")
        assert saved["types"] == ["ORDER_TELEPORTED", "ORDER_CREATED"]  # not even reordered
        # The log's type filter offers it too (its attempts are logged like any other's), and
        # keeps a type chosen in the URL that no setting names.
        log = (await market.api.get("/ui/log", params={"type": "ORDER_VANISHED"})).text
        assert '<option value="ORDER_TELEPORTED" >' in log
        assert '<option value="ORDER_VANISHED" selected>' in log


async def test_links_carry_the_acting_user_encoded(tmp_path: Path) -> None:
    async with serve_endpoint(OK) as endpoint, run_market(tmp_path) as market:
        await market.business(users=[{"login": "r&d", "role": "owner"}])
        await market.call(
            "POST",
            "/api/subscriptions",
            {"name": "t", "scope": {"campaignId": 1001}, "types": ["ORDER_CREATED"],
             "url": endpoint.url},
            expect=201,
            user="r&d",
        )  # fmt: skip
        page = (await market.api.get("/ui/settings", params={"user": "r&d"})).text
        assert 'href="/ui/settings/1?user=r%26d"' in page
        assert 'href="/ui/log?setting=1&amp;user=r%26d"' in page
        assert 'href="/ui/log?user=r%26d"' in page  # the navigation keeps the user too


async def test_a_log_page_cut_off_says_so(tmp_path: Path) -> None:
    async with serve_endpoint(OK) as endpoint, run_market(tmp_path) as market:
        await market.business()
        await market.subscribe(endpoint.url, ["ORDER_CREATED"], expect=201)
        await market.publish(sample("ORDER_CREATED", campaign_id=1001, orderId=1))
        await market.publish(sample("ORDER_CREATED", campaign_id=1001, orderId=2))
        assert len(await market.log_of(2, seconds=10, type="ORDER_CREATED")) == 2
        cut = (await market.api.get("/ui/log", params={"limit": "1", "type": "ORDER_CREATED"})).text
        whole = (await market.api.get("/ui/log", params={"type": "ORDER_CREATED"})).text
        newest = (await market.log(type="ORDER_CREATED"))[0]["id"]
        older = (await market.api.get(f"/ui/log?type=ORDER_CREATED&limit=1&before={newest}")).text
        unknown = await market.api.get("/ui/log?before=999999")
    assert unknown.status_code == 404
    assert "no log entry 999999" in unknown.text
    assert "Only the newest 1 are shown" in cut
    assert 'href="/ui/log?type=ORDER_CREATED&amp;limit=1000"' in cut
    assert f'href="/ui/log?limit=1&amp;type=ORDER_CREATED&amp;before={newest}"' in cut
    assert "Only the newest" not in whole
    # The older page: the first order's attempt, the way back, and nothing older.
    bodies = older.replace("&#34;", '"').replace("&quot;", '"')
    assert '"orderId":1,' in bodies
    assert '"orderId":2,' not in bodies
    assert 'href="/ui/log?type=ORDER_CREATED&amp;limit=1">Back to the newest' in older
    assert "older attempts match too" not in older
