"""Issue 2: on SIGTERM the receiver stops accepting, finishes the requests in flight (each
answered, and stored when answered 200) and exits 0."""

from __future__ import annotations

import json
import signal
import socket
import threading
import time
from urllib.parse import urlsplit

import httpx

from tests.acceptance import rawhttp
from tests.acceptance.answers import success_problem
from tests.acceptance.receivers import Receivers
from ymnotify.protocol import samples

IN_FLIGHT = 4


def _listening(url: str) -> bool:
    parts = urlsplit(url)
    assert parts.hostname is not None
    assert parts.port is not None
    try:
        socket.create_connection((parts.hostname, parts.port), timeout=1).close()
    except ConnectionRefusedError:
        return False
    return True


def test_sigterm_finishes_requests_in_flight_and_exits_0(receivers: Receivers) -> None:
    receiver = receivers.start()
    bodies = [
        json.dumps(samples.sample("ORDER_CREATED", orderId=index + 1)).encode()
        for index in range(IN_FLIGHT)
    ]
    # Requests in flight: headers sent and half of each body; the rest comes after SIGTERM.
    halves = [len(body) // 2 for body in bodies]
    sockets = [rawhttp.connect(receiver.url) for _ in bodies]
    for sock, body, half in zip(sockets, bodies, halves, strict=True):
        sock.sendall(rawhttp.request_head("/notification", content_length=len(body)) + body[:half])
    # A full round trip after them: the server has read what was sent before it.
    assert httpx.get(f"{receiver.url}/healthz").status_code == 200

    acked: list[int] = []
    wrong: list[str] = []
    stop_load = threading.Event()

    def load() -> None:  # other clients keep posting across the stop
        with httpx.Client(timeout=10) as client:
            for seq in range(1000, 100_000):
                if stop_load.is_set():
                    return
                body = json.dumps(samples.sample("ORDER_CREATED", orderId=seq)).encode()
                try:
                    answer = client.post(f"{receiver.url}/notification", content=body)
                except httpx.HTTPError:
                    continue  # refused or closed after the stop began: no answer, no ack
                problem = success_problem(answer)
                if problem:
                    wrong.append(f"{seq}: {problem}")
                else:
                    acked.append(seq)

    loader = threading.Thread(target=load)
    loader.start()
    try:
        while len(acked) < 20 and loader.is_alive():
            time.sleep(0.01)
        receiver.server.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        while _listening(receiver.url) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not _listening(receiver.url), "still accepting connections after SIGTERM"
        assert receiver.server.process.poll() is None, "exited with requests in flight"

        answers = []
        for sock, body, half in zip(sockets, bodies, halves, strict=True):
            sock.sendall(body[half:])
            answers.append(rawhttp.read_response(sock))
        code = receiver.server.process.wait(20)
    finally:
        stop_load.set()
        loader.join(30)
        for sock in sockets:
            sock.close()

    for answer in answers:
        assert answer.status == 200, answer.body
        assert answer.headers["content-type"] == "application/json"
        assert set(answer.json()) == {"version", "name", "time"}
    assert code == 0, receiver.log()
    assert wrong == []
    assert "Traceback" not in receiver.log()
    stored = {row["payload"]["orderId"] for row in receiver.inbox()}
    assert stored >= set(range(1, IN_FLIGHT + 1)) | set(acked)
