"""Issue 2: a store failure is answered 500 ``UNKNOWN`` so Market retries, never 200 and never
400; once the store is back, 200 again, and nothing answered 200 is missing."""

from __future__ import annotations

import json
import sqlite3
import threading
import time

import httpx

from tests.acceptance.answers import assert_success, error_problem, success_problem
from tests.acceptance.receivers import Receivers
from ymnotify.protocol import samples

JSON = {"content-type": "application/json"}


def _body(marker: str) -> bytes:
    return json.dumps(samples.sample("ORDER_CREATED", marker=marker)).encode()


def test_locked_database_answers_500_then_200_and_loses_nothing(receivers: Receivers) -> None:
    receiver = receivers.start("--db-timeout", "200ms")
    url = f"{receiver.url}/notification"
    acked: list[str] = []
    refused: list[str] = []
    other: list[str] = []
    stop = threading.Event()

    def background_load() -> None:
        # Posts all along, across the lock and its release; each answer is 200 or 500.
        with httpx.Client(timeout=10) as client:
            for index in range(10_000):
                if stop.is_set():
                    return
                marker = f"load-{index}"
                answer = client.post(url, content=_body(marker), headers=JSON)
                if success_problem(answer) is None:
                    acked.append(marker)
                elif error_problem(answer, 500, "UNKNOWN") is None:
                    refused.append(marker)
                else:
                    other.append(f"{marker}: {answer.status_code} {answer.text}")

    loader = threading.Thread(target=background_load)
    loader.start()
    lock = sqlite3.connect(receiver.db_path, isolation_level=None, timeout=10)
    try:
        with httpx.Client(timeout=10) as client:
            assert_success(client.post(url, content=_body("before"), headers=JSON))
            lock.execute("BEGIN EXCLUSIVE")  # another process holds the write lock
            during = client.post(url, content=_body("during"), headers=JSON)
            # Malformed too: a 400 would make Market drop it, but it is not quarantined yet.
            malformed = client.post(url, content=b'{"notificationType":"ORDER_CREATED"}')
            while not refused and loader.is_alive():  # the load also met the lock
                time.sleep(0.05)
            lock.execute("ROLLBACK")
            retried = client.post(url, content=_body("during"), headers=JSON)
            malformed_again = client.post(url, content=b'{"notificationType":"ORDER_CREATED"}')
            after = client.post(url, content=_body("after"), headers=JSON)
            acked_before_stop = len(acked)
            while len(acked) < acked_before_stop + 5 and loader.is_alive():
                time.sleep(0.05)  # the load gets through again too
    finally:
        stop.set()
        loader.join(30)
        lock.close()

    assert error_problem(during, 500, "UNKNOWN") is None
    assert error_problem(malformed, 500, "UNKNOWN") is None
    assert_success(retried)
    assert error_problem(malformed_again, 400, "WRONG_EVENT_FORMAT") is None
    assert_success(after)
    assert other == []
    assert refused, "the background load never met the lock"
    assert len(acked) > acked_before_stop >= 0

    print(f"\nstore locked: load acked {len(acked)}, answered 500 {len(refused)}")
    rows = receiver.inbox()
    stored = [row["payload"]["marker"] for row in rows if row["status"] == "pending"]
    assert sorted(stored) == sorted({"before", "during", "after", *acked}), (
        "every notification answered 200 is stored, exactly once, and only those"
        " (500s were retried or never stored)"
    )
    assert len(receiver.inbox("--status", "quarantined")) == 1
    assert "store failed" in receiver.log()
