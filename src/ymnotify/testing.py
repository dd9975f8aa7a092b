"""Unit-testing handlers: feed notification bodies through a Router, no HTTP, no server.

Each body goes the way a real one does, minus the network: it is parsed and validated by the
same models, accepted into an in-memory store (so duplicates are recognised and the stale flag
is decided against the bodies fed before it), planned against the router, and every matching
handler runs once through its middlewares with injected dependencies::

    from ymnotify.testing import feed

    async def test_cancelled_orders_are_closed() -> None:
        (fed,) = await feed(router, {"notificationType": "ORDER_STATUS_UPDATED", ...},
                            dependencies={"db": fake_db})
        assert fed.handled_by == ["shop.handlers.close_order"]

A handler that raises makes ``feed`` raise the same exception (pass ``raise_errors=False`` to
collect failures in the results instead). There are no retries: one attempt per handler.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ymnotify.dispatch.execution import execute
from ymnotify.dispatch.meta import EventMeta
from ymnotify.dispatch.router import Router
from ymnotify.protocol import wire
from ymnotify.protocol.models import Notification, Ping
from ymnotify.protocol.parse import parse_body
from ymnotify.store.base import AttemptOutcome, Incoming, JobFailure, JobPlan
from ymnotify.store.memory import MemoryStore

Body = Mapping[str, Any] | str | bytes

_WORKER = "ymnotify.testing"
_SOURCE = "127.0.0.1"


@dataclass(frozen=True, slots=True)
class HandlerRun:
    """One handler's run on one fed notification."""

    handler: str
    outcome: AttemptOutcome  # DONE, UNHANDLED or FAILED
    value: Any = None
    error: BaseException | None = None


@dataclass(frozen=True, slots=True)
class Fed:
    """What became of one fed body. ``notification_id`` is ``None`` for a PING (never handled)."""

    notification_id: int | None
    event: Notification
    stale: bool
    duplicate: bool
    runs: tuple[HandlerRun, ...]

    @property
    def handled_by(self) -> list[str]:
        """Names of the handlers that ran to completion (not those that declined or failed)."""
        return [run.handler for run in self.runs if run.outcome is AttemptOutcome.DONE]

    def run_of(self, handler: str) -> HandlerRun:
        """The run of the handler called ``handler`` (``KeyError`` if it did not run)."""
        for run in self.runs:
            if run.handler == handler:
                return run
        raise KeyError(f"{handler!r} did not run; ran: {[run.handler for run in self.runs]}")


async def feed(
    router: Router,
    *bodies: Body,
    dependencies: Mapping[str, Any] | None = None,
    use_lifespan: bool = True,
    raise_errors: bool = True,
    store: MemoryStore | None = None,
) -> list[Fed]:
    """Feed ``bodies`` (dicts, JSON text or raw bytes) through ``router``, in order.

    ``dependencies`` are injected by name and override what ``@router.lifespan`` provides
    (``use_lifespan=False`` skips the lifespans, e.g. when they would open a real database).
    Pass your own ``store`` (``MemoryStore()``, opened here if it is not) to feed in several
    steps against the same history.
    """
    target = MemoryStore() if store is None else store
    await target.open()  # a memory store's open only marks it usable: harmless when it is
    try:
        if use_lifespan:
            async with router.resources() as provided:
                injected = {**provided, **(dependencies or {})}
                return [
                    await _feed_one(router, target, body, injected, raise_errors) for body in bodies
                ]
        injected = dict(dependencies or {})
        return [await _feed_one(router, target, body, injected, raise_errors) for body in bodies]
    finally:
        if store is None:
            await target.close()


def feed_sync(router: Router, *bodies: Body, **options: Any) -> list[Fed]:
    """``feed`` for tests that are not async."""
    return asyncio.run(feed(router, *bodies, **options))


def read_corpus(path: str | Path) -> list[bytes]:
    """Bodies from a file: a JSON array or JSON Lines of notifications, or the output of
    ``ymnotify inbox list --json`` (whose ``payload`` fields are used, oldest first)."""
    text = Path(path).read_text("utf-8")
    if text.lstrip().startswith("["):
        items = list(wire.loads(text.encode()))
    else:
        items = [wire.loads(line.encode()) for line in text.splitlines() if line.strip()]
    if items and all(_is_inbox_record(item) for item in items):
        items = [item["payload"] for item in sorted(items, key=lambda item: item["id"])]
    return [wire.compact(item).encode() for item in items]


def _is_inbox_record(item: Any) -> bool:
    return isinstance(item, dict) and isinstance(item.get("payload"), dict) and "receivedAt" in item


async def _feed_one(
    router: Router,
    store: MemoryStore,
    body: Body,
    dependencies: Mapping[str, Any],
    raise_errors: bool,
) -> Fed:
    raw = _raw(body)
    parsed = parse_body(raw)  # a malformed body raises MalformedNotification, with its path
    event = parsed.notification
    if isinstance(event, Ping):
        return Fed(None, event, stale=False, duplicate=False, runs=())
    now = datetime.now(UTC)
    accepted = await store.accept(
        Incoming(
            dedup_key=parsed.dedup_key,
            body=raw,
            headers=(("content-type", "application/json"),),
            source=_SOURCE,
            received_at=now,
            notification_type=event.notification_type,
            entity=parsed.entity,
            event_time=event.event_time,
            state_changes=event.state_changes(),
        )
    )
    if accepted.duplicate:
        return Fed(accepted.notification_id, event, accepted.stale, duplicate=True, runs=())
    specs = await router.match(event)
    await store.plan_jobs([JobPlan(accepted.notification_id, tuple(s.name for s in specs))], now)
    runs = []
    # Earlier fed notifications are finished, so every job of this one is claimable at once.
    jobs = await store.claim_jobs(
        _WORKER, [s.name for s in specs], len(specs), now, now + timedelta(hours=1)
    )
    for job in jobs:
        row = job.notification
        meta = EventMeta(
            notification_id=row.id,
            notification_type=event.notification_type,
            handler=job.handler,
            entity=row.entity or "",
            stale=row.stale,
            attempt=1,
            max_attempts=1,
            received_at=row.received_at,
            event_time=row.event_time,
            duplicates=row.duplicates,
        )
        spec = router.handler(job.handler)
        execution = await execute(
            router, spec, event, meta, dependencies, time_limit=None, executor=None
        )
        if execution.outcome is AttemptOutcome.FAILED:
            failure = JobFailure(execution.error_text, execution.traceback_text, retry_at=None)
            await store.fail_job(job.id, _WORKER, now, failure)
            if raise_errors and execution.error is not None:
                raise execution.error
        else:
            await store.complete_job(job.id, _WORKER, now, execution.outcome)
        runs.append(HandlerRun(job.handler, execution.outcome, execution.value, execution.error))
    return Fed(accepted.notification_id, event, accepted.stale, duplicate=False, runs=tuple(runs))


def _raw(body: Body) -> bytes:
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode("utf-8")
    return json.dumps(body, ensure_ascii=False).encode("utf-8")
