"""Unique notification bodies for load generation, shared by wrk's Lua script and Python.

Every body must be new to the receiver, otherwise its dedup turns a write into a cheap counter
bump and flatters the result. Both generators fill one template (built here from the package's
own sample) with an ``orderId`` made of a run number, a worker number and a counter, so two
bodies of one benchmark never share an order id and never collide with a real one.

The id is built as decimal text, not arithmetic, because wrk's LuaJIT numbers are doubles and
lose integer precision above 2**53; both sides use the same digits: ``90 RRRR WWW CCCCCCCCCC``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from ymnotify.protocol import samples

ORDER_ID_PLACEHOLDER = "@ORDER_ID@"
BODY_TYPE = "ORDER_STATUS_UPDATED"  # the commonest notification; it also updates entity state
EVENT_TIME = datetime(2026, 9, 20, 9, 15, 42, 318000, tzinfo=UTC)

MAX_RUN = 9_999
MAX_WORKER = 999
MAX_COUNTER = 9_999_999_999
ORDER_ID_FORMAT = "90%04d%03d%010d"  # printf style: the Lua script uses the same string


def template() -> str:
    """The body text with ``ORDER_ID_PLACEHOLDER`` where the order id goes."""
    body = samples.sample(BODY_TYPE, at=EVENT_TIME, orderId=ORDER_ID_PLACEHOLDER)
    text = json.dumps(body, separators=(",", ":"))
    return text.replace(json.dumps(ORDER_ID_PLACEHOLDER), ORDER_ID_PLACEHOLDER)


def order_id(run: int, worker: int, counter: int) -> int:
    """The order id of the ``counter``-th body of ``worker`` in benchmark run ``run``."""
    if not (0 <= run <= MAX_RUN and 0 <= worker <= MAX_WORKER and 0 <= counter <= MAX_COUNTER):
        raise ValueError(f"order id parts out of range: run={run} worker={worker} n={counter}")
    return int(ORDER_ID_FORMAT % (run, worker, counter))


class BodyMaker:
    """Makes the bodies of one worker of one run, each with the next counter value."""

    def __init__(self, run: int, worker: int) -> None:
        order_id(run, worker, 0)  # validates the range once
        self._run = run
        self._worker = worker
        self._counter = 0
        self._head, self._tail = template().encode().split(ORDER_ID_PLACEHOLDER.encode())

    def next(self) -> bytes:
        """The next unique body."""
        self._counter += 1
        digits = (ORDER_ID_FORMAT % (self._run, self._worker, self._counter)).encode()
        return self._head + digits + self._tail


def ping_body() -> bytes:
    """A PING as Market sends it."""
    return json.dumps(samples.sample("PING", at=EVENT_TIME), separators=(",", ":")).encode()
