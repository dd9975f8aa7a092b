"""Issue 2, "Must show": kill -9 of the server while a load loop posts unique notifications,
many times over, on one database file. Every notification that got a 200 is in the store
afterwards: loss 0. The figures are printed (``pytest -s``).

``YMNOTIFY_KILL_ROUNDS`` sets the number of rounds (default 20) for a longer run;
``YMNOTIFY_KILL_SEED`` replays the random kill moments of an earlier run.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import random
import time

import httpx
import pytest

from tests.acceptance.answers import success_problem
from tests.acceptance.receivers import Receivers
from ymnotify.protocol import samples

ROUNDS = int(os.environ.get("YMNOTIFY_KILL_ROUNDS", "20"))
CLIENTS = 6
# After the first 200 of a round, the kill comes within this many seconds, at random.
KILL_WITHIN = 0.4
FIRST_ACK_DEADLINE = 15.0


@pytest.mark.slow
async def test_kill_9_loses_no_acknowledged_notification(receivers: Receivers) -> None:
    seed = int(os.environ.get("YMNOTIFY_KILL_SEED", str(random.randrange(2**32))))
    chance = random.Random(seed)
    sequence = itertools.count(1)
    acked: set[int] = set()
    unacked: set[int] = set()  # no answer: the connection died with the server
    wrong_answers: list[str] = []
    started = time.monotonic()
    receiver = receivers.start()

    for round_number in range(ROUNDS):
        if round_number:
            receiver.restart()
        url = f"{receiver.url}/notification"
        first_ack = asyncio.Event()
        stop = asyncio.Event()

        async def post_until_stopped(client: httpx.AsyncClient) -> None:
            while not stop.is_set():
                seq = next(sequence)
                body = samples.sample("ORDER_CREATED", orderId=seq, seq=seq)
                try:
                    answer = await client.post(
                        url,
                        content=json.dumps(body).encode(),
                        headers={"content-type": "application/json"},
                    )
                except httpx.HTTPError:
                    unacked.add(seq)
                    continue
                problem = success_problem(answer)
                if problem is None:
                    acked.add(seq)
                    first_ack.set()
                else:
                    wrong_answers.append(f"{seq}: {problem}")

        async with httpx.AsyncClient(timeout=10) as client:
            load = [asyncio.create_task(post_until_stopped(client)) for _ in range(CLIENTS)]
            try:
                await asyncio.wait_for(first_ack.wait(), FIRST_ACK_DEADLINE)
                await asyncio.sleep(chance.uniform(0, KILL_WITHIN))
            finally:
                receiver.server.kill()  # SIGKILL: nothing of the server's own runs after this
                stop.set()
                await asyncio.gather(*load)

    rows = receiver.inbox()
    stored_list = [row["payload"]["seq"] for row in rows]
    stored = set(stored_list)
    lost = acked - stored
    print(
        f"\nkill -9: seed {seed}, rounds {ROUNDS}, acked {len(acked)}, stored {len(stored)},"
        f" lost {len(lost)}, in flight at a kill {len(unacked)} of which stored anyway"
        f" {len(stored & unacked)}, {time.monotonic() - started:.1f}s"
    )
    assert wrong_answers == []
    assert len(acked) >= ROUNDS
    assert sorted(lost) == [], f"acknowledged but lost (seed {seed})"
    assert len(stored_list) == len(stored), "a notification was stored twice"
    assert stored <= acked | unacked, "stored something that was never sent"
    assert all(row["status"] == "pending" for row in rows)
