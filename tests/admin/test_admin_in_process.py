"""The admin app and the intake observer served in this process, over real loopback HTTP.

Here the store can be left closed (so every operation fails the way a dead database does) and
an extension can be plugged in, which a ``serve`` subprocess would not allow.
"""

from __future__ import annotations

from collections.abc import Sequence

import httpx
from markupsafe import Markup, escape
from prometheus_client.parser import text_string_to_metric_families
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from tests.admin.servers import serving
from ymnotify.admin import NavLink, ReceiverMetrics, Section, access, create_admin_app
from ymnotify.admin.app import AdminConfig
from ymnotify.protocol.samples import sample
from ymnotify.receiver.app import ReceiverApp, ReceiverConfig
from ymnotify.receiver.sources import SourcePolicy
from ymnotify.store import StoredNotification
from ymnotify.store.memory import MemoryStore

LOOPBACK = SourcePolicy.build(allow_networks=["127.0.0.0/8"], market_ranges=False)


def samples(text: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample_ in family.samples:
            if sample_.name == name:
                found[tuple(sorted(sample_.labels.items()))] = sample_.value
    return found


async def test_store_failures_are_counted_and_shown_as_such() -> None:
    store = MemoryStore()  # never opened: every operation fails like an unreachable database
    metrics = ReceiverMetrics()
    receiver = ReceiverApp(store, ReceiverConfig(sources=LOOPBACK), observers=[metrics])
    admin = create_admin_app(store, metrics)
    async with serving(receiver) as public, serving(admin) as admin_url, httpx.AsyncClient() as c:
        answer = await c.post(public + "/notification", json=sample("ORDER_CREATED"))
        assert answer.status_code == 500
        quarantined = await c.post(public + "/notification", content=b"{")
        assert quarantined.status_code == 500  # not 400: Market must keep the body coming
        text = (await c.get(admin_url + "/metrics")).text
        stats = await c.get(admin_url + "/api/stats")
        home = await c.get(admin_url + "/ui/")
    assert samples(text, "ymnotify_store_errors_total") == {(): 2}
    assert samples(text, "ymnotify_notifications_received_total") == {
        (("outcome", "store_error"), ("type", "ORDER_CREATED")): 1,
        (("outcome", "store_error"), ("type", "none")): 1,
    }
    assert samples(text, "ymnotify_store_up") == {(): 0}
    assert samples(text, "ymnotify_queue_depth") == {}  # unknown, so not reported as 0
    assert stats.status_code == 503
    assert stats.json()["error"]["type"] == "STORE_UNAVAILABLE"
    assert home.status_code == 503
    assert "Store unavailable" in home.text


class CountingExtension:
    """A stand-in for the handler workers' extension: a page, a link, a section."""

    def routes(self) -> Sequence[BaseRoute]:
        async def jobs(_request: Request) -> Response:
            return PlainTextResponse("jobs page")

        return [Route("/ui/jobs", jobs)]

    def nav_links(self) -> Sequence[NavLink]:
        return [NavLink("Jobs", "/ui/jobs")]

    async def notification_sections(self, notification: StoredNotification) -> Sequence[Section]:
        text = f"<b>{escape(notification.notification_type or '')}</b> has 0 jobs"
        return [Section("Handler jobs", Markup(text))]


async def test_an_extension_adds_routes_links_and_sections_behind_the_same_check() -> None:
    store = MemoryStore()
    await store.open()
    metrics = ReceiverMetrics()
    receiver = ReceiverApp(store, ReceiverConfig(sources=LOOPBACK), observers=[metrics])
    admin = create_admin_app(
        store, metrics, AdminConfig(token="tok"), extensions=[CountingExtension()]
    )
    auth = {"Authorization": "Bearer tok"}
    async with serving(receiver) as public, serving(admin) as admin_url, httpx.AsyncClient() as c:
        assert (await c.post(public, json=sample("CHAT_CREATED"))).status_code == 200
        page = await c.get(admin_url + "/ui/notifications/1", headers=auth)
        assert (await c.get(admin_url + "/ui/jobs")).status_code == 303  # to the login form
        jobs = await c.get(admin_url + "/ui/jobs", headers=auth)
    await store.close()
    assert page.status_code == 200
    assert "<h2>Handler jobs</h2>" in page.text
    assert "<b>CHAT_CREATED</b> has 0 jobs" in page.text
    assert 'href="/ui/jobs"' in page.text
    assert ">Jobs</a>" in page.text
    assert jobs.text == "jobs page"


async def test_pages_escape_what_came_from_outside() -> None:
    store = MemoryStore()
    await store.open()
    metrics = ReceiverMetrics()
    receiver = ReceiverApp(store, ReceiverConfig(sources=LOOPBACK), observers=[metrics])
    admin = create_admin_app(store, metrics)
    hostile = b'{"notificationType": "<script>alert(1)</script>", "x": "</pre><img src=x>"'
    async with serving(receiver) as public, serving(admin) as admin_url, httpx.AsyncClient() as c:
        assert (await c.post(public, content=hostile)).status_code == 400
        pages = [
            await c.get(admin_url + path)
            for path in ("/ui/notifications/1", "/ui/quarantine", "/ui/inbox", "/ui/")
        ]
    await store.close()
    for page in pages:
        assert page.status_code == 200, page.url
        assert "<script>alert" not in page.text
        assert "<img src=x>" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in pages[1].text


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_a_client_guessing_the_token_is_refused_for_a_while_then_admitted() -> None:
    clock = _Clock()
    guesses = access.GuessLimiter(limit=3, window=60, clock=clock)
    admin = create_admin_app(
        MemoryStore(), ReceiverMetrics(), AdminConfig(token="right", guesses=guesses)
    )
    right = {"Authorization": "Bearer right"}
    async with serving(admin) as url, httpx.AsyncClient() as client:
        wrong = [
            await client.get(url + "/metrics", headers={"Authorization": f"Bearer guess{n}"})
            for n in range(3)
        ]
        assert [answer.status_code for answer in wrong] == [401, 401, 401]
        blocked = await client.get(url + "/metrics", headers=right)
        assert blocked.status_code == 429  # even the right token, while it waits
        assert blocked.headers["retry-after"] == "60"
        assert blocked.json()["error"]["type"] == "TOO_MANY_REQUESTS"
        form = await client.post(url + "/ui/login", data={"token": "right", "next": "/ui/"})
        assert form.status_code == 429
        assert "Too many wrong tokens" in form.text
        assert form.headers["retry-after"] == "60"
        page = await client.get(url + "/ui/", headers=right)  # a page, for a browser
        assert page.status_code == 429
        assert page.headers["content-type"].startswith("text/html")
        assert page.headers["retry-after"] == "60"
        clock.now += 60
        admitted = await client.get(url + "/metrics", headers=right)
        assert admitted.status_code == 200
        missing = [await client.get(url + "/metrics") for _ in range(5)]
        assert {answer.status_code for answer in missing} == {401}  # no token is not a guess
        assert (await client.get(url + "/metrics", headers=right)).status_code == 200


async def test_without_a_token_a_foreign_host_name_is_refused() -> None:
    admin = create_admin_app(MemoryStore(), ReceiverMetrics())
    async with serving(admin) as url, httpx.AsyncClient() as client:
        port = httpx.URL(url).port
        assert (await client.get(url + "/metrics")).status_code == 200
        local = await client.get(url + "/metrics", headers={"Host": f"localhost:{port}"})
        assert local.status_code == 200
        # DNS rebinding: the browser thinks it talks to attacker.example, which now resolves
        # to 127.0.0.1; the peer is loopback, the Host header tells the difference.
        rebound = {"Host": f"attacker.example:{port}"}
        stats = await client.get(url + "/api/stats", headers=rebound)
        assert stats.status_code == 403
        assert "Host header" in stats.json()["error"]["message"]
        replay = await client.post(url + "/api/notifications/1/replay", json={}, headers=rebound)
        assert replay.status_code == 403
        assert (await client.get(url + "/ui/", headers=rebound)).status_code == 403
