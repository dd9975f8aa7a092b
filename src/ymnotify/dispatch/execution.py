"""One attempt of one handler on one notification: middlewares, injection, timeout, observers.

Shared by the worker and ``ymnotify.testing``, so a unit test exercises the very code that runs
in production. It never raises for a handler's failure (the failure is the result); only
cancellation propagates.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import traceback
from collections.abc import Mapping
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ymnotify.dispatch as dispatch_package
from ymnotify.dispatch.meta import EventMeta
from ymnotify.dispatch.router import UNHANDLED, HandlerSpec, Router
from ymnotify.errors import HandlerTimeout
from ymnotify.protocol.models import Notification
from ymnotify.store.base import AttemptOutcome

logger = logging.getLogger("ymnotify.dispatch")

# Frames from these directories say how a handler was called, not why it failed.
_PLUMBING = tuple(
    str(Path(module.__file__).parent) + os.sep
    for module in (dispatch_package, asyncio, concurrent.futures)
    if module.__file__ is not None
)


@dataclass(frozen=True, slots=True)
class Execution:
    """How an attempt ended: ``DONE`` (with the handler's return value), ``UNHANDLED`` or
    ``FAILED`` (with the exception)."""

    outcome: AttemptOutcome
    value: Any = None
    error: BaseException | None = None

    @property
    def error_text(self) -> str:
        """``ExceptionType: message``, as stored with the job."""
        if self.error is None:
            return ""
        return f"{type(self.error).__name__}: {self.error}"

    @property
    def traceback_text(self) -> str:
        """The traceback (causes included) as stored with the job, without the frames of
        ymnotify's dispatch machinery and of asyncio/thread plumbing: the seller's code shows."""
        if self.error is None:
            return ""
        return "".join(_without_plumbing(traceback.TracebackException.from_exception(self.error)))


async def execute(
    router: Router,
    spec: HandlerSpec,
    event: Notification,
    meta: EventMeta,
    dependencies: Mapping[str, Any],
    *,
    time_limit: float | None,
    executor: Executor | None,
) -> Execution:
    """Run ``spec`` once on ``event`` within ``time_limit`` seconds (``None``: no limit)."""
    data: dict[str, Any] = {**dependencies, "meta": meta}
    error: BaseException
    try:
        async with asyncio.timeout(time_limit) as scope:
            value = await router.call(spec, event, data, executor)
    except TimeoutError as exc:
        if not scope.expired():
            error = exc  # the handler's own TimeoutError
        else:
            assert time_limit is not None
            error = HandlerTimeout(spec.name, time_limit)
            error.__cause__ = exc  # its traceback shows where the handler was stuck
    except Exception as exc:
        error = exc
    else:
        outcome = AttemptOutcome.UNHANDLED if value is UNHANDLED else AttemptOutcome.DONE
        return Execution(outcome, value=value)
    for observer, failure in await router.observe_error(spec, event, error, data, executor):
        logger.error("error observer %s failed on handler %s: %r", observer, spec.name, failure)
    return Execution(AttemptOutcome.FAILED, error=error)


def _without_plumbing(error: traceback.TracebackException) -> list[str]:
    seen: set[int] = set()
    pending: list[traceback.TracebackException | None] = [error]
    while pending:  # the error, its cause and context chains (bounded: each once)
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        frames = [frame for frame in current.stack if not frame.filename.startswith(_PLUMBING)]
        current.stack = traceback.StackSummary.from_list(frames)
        pending.extend((current.__cause__, current.__context__))
    return list(error.format())
