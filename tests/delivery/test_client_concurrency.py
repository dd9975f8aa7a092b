"""The client's concurrency bounds: overall and per endpoint, and one endpoint's queue never
holds places another endpoint needs."""

from __future__ import annotations

import asyncio

from tests.endpoints import OK, SILENT, serve_endpoint
from ymnotify.delivery.client import ClientOptions, DeliveryClient
from ymnotify.delivery.outcome import Verdict

BODY = b'{"notificationType":"PING","time":"2026-01-01T00:00:00Z"}'
BOUNDS = ClientOptions(
    allow_http=True, allow_private_targets=True, max_connections=4, max_per_endpoint=2
)
HANGING = 30.0  # seconds; the hanging endpoint's attempts outlive the test


async def test_a_hanging_endpoints_backlog_does_not_hold_places_another_endpoint_needs() -> None:
    async with (
        serve_endpoint(SILENT) as hanging,
        serve_endpoint(OK) as healthy,
        DeliveryClient(BOUNDS) as client,
    ):
        backlog = [
            asyncio.create_task(client.post(f"{hanging.url}/notification", BODY, timeout=HANGING))
            for _ in range(10)
        ]
        try:
            for _ in range(500):
                if len(hanging.requests) >= BOUNDS.max_per_endpoint:
                    break
                await asyncio.sleep(0.01)
            else:
                raise AssertionError("the hanging endpoint's first attempts never arrived")
            async with asyncio.timeout(5):
                attempt = await client.post(f"{healthy.url}/notification", BODY, timeout=5)
            assert attempt.outcome.verdict is Verdict.DELIVERED, attempt.outcome
            # Past the per-endpoint bound nothing more reached the hanging endpoint, and all
            # of its attempts are still waiting: the healthy one did not wait for them.
            assert len(hanging.requests) == BOUNDS.max_per_endpoint
            assert not any(task.done() for task in backlog)
        finally:
            for task in backlog:
                task.cancel()
            await asyncio.gather(*backlog, return_exceptions=True)
