"""Replay and jobs through the admin JSON API, in this process over loopback HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from tests.admin.servers import serving
from ymnotify.admin import ReceiverMetrics, create_admin_app
from ymnotify.protocol.samples import sample
from ymnotify.receiver.app import ReceiverApp, ReceiverConfig
from ymnotify.receiver.sources import SourcePolicy
from ymnotify.store.base import JobFailure, JobPlan, JobStatus
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
