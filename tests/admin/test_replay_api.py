"""Replay and jobs through the admin JSON API, in this process over loopback HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from tests.admin.servers import serving
from ymnotify.admin import ReceiverMetrics, create_admin_app
from ymnotify.protocol.samples import sample
from ymnotify.receiver.app import ReceiverApp, ReceiverConfig
from ymnotify.receiver.sources import SourcePolicy
from ymnotify.store.base import AttemptOutcome, JobFailure, JobPlan, JobStatus
from ymnotify.store.memory import MemoryStore

LOOPBACK = SourcePolicy.build(allow_networks=["127.0.0.0/8"], market_ranges=False)
JSON = {"content-type": "application/json"}


async def test_a_dead_notification_is_replayed_through_the_api() -> None:
    store = MemoryStore()
    await store.open()
    metrics = ReceiverMetrics()
    receiver = ReceiverApp(store, ReceiverConfig(sources=LOOPBACK), observers=[metrics])
    admin = create_admin_app(store, metrics)
    now = datetime.now(UTC)
    async with serving(receiver) as public, serving(admin) as url, httpx.AsyncClient() as c:
        assert (await c.post(public, json=sample("ORDER_CREATED"))).status_code == 200
        await store.plan_jobs([JobPlan(1, ("shop.crm",))], now)
        [job] = await store.claim_jobs("w1", {"shop.crm"}, 1, now, now + timedelta(seconds=30))
        failure = JobFailure("ValueError: no CRM", "Traceback…\nValueError: no CRM\n", None)
        assert await store.fail_job(job.id, "w1", now, failure)

        jobs = (await c.get(url + "/api/notifications/1/jobs")).json()
        first = await c.post(url + "/api/notifications/1/replay", content=b"{}", headers=JSON)
        again = await c.post(url + "/api/notifications/1/replay", content=b"{}", headers=JSON)
        missing = await c.post(url + "/api/notifications/9/replay", content=b"{}", headers=JSON)
        missing_jobs = await c.get(url + "/api/notifications/9/jobs")
        metrics_text = (await c.get(url + "/metrics")).text
    records = await store.jobs_for(1)
    await store.close()
    [document] = jobs["jobs"]
    assert (document["handler"], document["status"]) == ("shop.crm", "dead")
    assert document["history"][0]["outcome"] == "failed"
    assert document["history"][0]["traceback"].endswith("ValueError: no CRM\n")
    assert first.json() == {"id": 1, "action": "requeued", "detail": "1 dead job(s)"}
    assert again.json()["action"] == "skipped"  # pending now: its job waits for a worker
    assert missing.status_code == 404
    assert missing_jobs.status_code == 404
    assert records[0].status is JobStatus.QUEUED
    assert 'ymnotify_jobs{status="queued"} 1.0' in metrics_text


async def test_replaying_twice_never_reruns_the_handlers_that_succeeded() -> None:
    store = MemoryStore()
    await store.open()
    admin = create_admin_app(store, ReceiverMetrics())
    receiver = ReceiverApp(store, ReceiverConfig(sources=LOOPBACK))
    now = datetime.now(UTC)
    later = now + timedelta(seconds=30)
    async with serving(receiver) as public, serving(admin) as url, httpx.AsyncClient() as c:
        assert (await c.post(public, json=sample("ORDER_CREATED"))).status_code == 200
        await store.plan_jobs([JobPlan(1, ("shop.crm", "shop.mail"))], now)
        jobs = await store.claim_jobs("w1", {"shop.crm", "shop.mail"}, 2, now, later)
        crm = next(job for job in jobs if job.handler == "shop.crm")
        mail = next(job for job in jobs if job.handler == "shop.mail")
        assert await store.complete_job(mail.id, "w1", now, AttemptOutcome.DONE)
        assert await store.fail_job(crm.id, "w1", now, JobFailure("ValueError", "tb", None))
        first = await c.post(url + "/api/notifications/1/replay", json={})
        retried = datetime.now(UTC)  # the replay queued the job for the moment it ran
        [again] = await store.claim_jobs(
            "w1", {"shop.crm", "shop.mail"}, 2, retried, retried + timedelta(seconds=30)
        )
        assert await store.complete_job(again.id, "w1", retried, AttemptOutcome.DONE)
        # The same button pressed again (a reload, a double click): nothing failed any more.
        second = await c.post(url + "/api/notifications/1/replay", json={})
    records = {job.handler: job for job in await store.jobs_for(1)}
    await store.close()
    assert first.json()["action"] == "requeued"
    assert second.json()["action"] == "skipped"
    assert second.json()["detail"].startswith("done: nothing failed")
    assert {handler: job.status for handler, job in records.items()} == {
        "shop.crm": JobStatus.DONE,
        "shop.mail": JobStatus.DONE,
    }
    assert records["shop.mail"].attempts == 1  # never run again


async def test_ids_and_times_beyond_what_can_be_stored_are_readable_errors() -> None:
    store = MemoryStore()
    await store.open()
    admin = create_admin_app(store, ReceiverMetrics())
    beyond = 2**64
    async with serving(admin) as url, httpx.AsyncClient() as c:
        for path in (f"/api/notifications/{beyond}", f"/api/notifications/{beyond}/jobs"):
            missing = await c.get(url + path)
            assert (missing.status_code, missing.json()["error"]["type"]) == (404, "NOT_FOUND")
        replay = await c.post(url + f"/api/notifications/{beyond}/replay", json={})
        assert replay.status_code == 404
        assert (await c.get(url + f"/ui/notifications/{beyond}")).status_code == 404
        for query in (
            f"before_id={beyond}",
            "since=0001-01-01T00:00:00%2B01:00",
            "until=9999-12-31T23:59:59-01:00",
        ):
            bad = await c.get(url + "/api/notifications?" + query)
            assert (bad.status_code, bad.json()["error"]["type"]) == (400, "BAD_REQUEST"), query
            assert (await c.get(url + "/ui/inbox?" + query)).status_code == 400
    await store.close()


async def test_a_method_a_route_does_not_serve_gets_the_error_shape() -> None:
    store = MemoryStore()
    await store.open()
    async with serving(create_admin_app(store, ReceiverMetrics())) as url, httpx.AsyncClient() as c:
        wrong = await c.post(url + "/api/notifications", json={})
        page = await c.delete(url + "/ui/inbox")
    await store.close()
    assert (wrong.status_code, wrong.json()["error"]["type"]) == (405, "METHOD_NOT_ALLOWED")
    assert (page.status_code, page.headers["content-type"].split(";")[0]) == (405, "text/html")


async def test_the_older_page_link_keeps_the_filters_and_the_page_size() -> None:
    store = MemoryStore()
    await store.open()
    receiver = ReceiverApp(store, ReceiverConfig(sources=LOOPBACK))
    admin = create_admin_app(store, ReceiverMetrics())
    async with serving(receiver) as public, serving(admin) as url, httpx.AsyncClient() as c:
        for order in range(4):
            body = sample("ORDER_CREATED", orderId=1000 + order)
            assert (await c.post(public, json=body)).status_code == 200
        page = (await c.get(url + "/ui/inbox?limit=2&type=ORDER_CREATED")).text
    await store.close()
    assert 'href="/ui/inbox?type=ORDER_CREATED&amp;limit=2&amp;before_id=3"' in page
