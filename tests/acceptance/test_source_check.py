"""Issue 2, "Must show": the source check over real HTTP. Loopback refused unless allowed, with a
403 that says what was seen and which flag admits it; ``X-Forwarded-For`` believed only from a
``--trust-proxy`` peer, read from the right; Market's three /25 ranges to the address."""

from __future__ import annotations

import json
from collections.abc import Sequence

import httpx

from tests.acceptance.answers import assert_success, error_message, error_problem
from tests.acceptance.receivers import Receivers
from ymnotify.protocol import samples

JSON = {"content-type": "application/json"}


def _post(
    client: httpx.Client, url: str, marker: str, forwarded: Sequence[str] = ()
) -> httpx.Response:
    body = json.dumps(samples.sample("CHAT_CREATED", marker=marker)).encode()
    headers = [("content-type", "application/json")]
    headers += [("x-forwarded-for", value) for value in forwarded]
    return client.post(f"{url}/notification", content=body, headers=headers)


def test_loopback_is_refused_without_allow_network(receivers: Receivers) -> None:
    receiver = receivers.start(loopback=False)
    with httpx.Client(timeout=10) as client:
        refused = _post(client, receiver.url, "direct")
        forged = _post(client, receiver.url, "forged", ["5.45.207.10"])
        ping = client.post(f"{receiver.url}/", json={"notificationType": "PING"})

    for answer in (refused, forged, ping):
        assert error_problem(answer, 403, "UNKNOWN") is None
        message = error_message(answer)
        assert "127.0.0.1" in message
        assert "--allow-network" in message
    assert "5.45.207.10" not in error_message(forged)  # the forged header was not believed
    assert receiver.inbox() == []
    assert receiver.stats()["lastPing"] is None


# (X-Forwarded-For header values in order, the source that decides or None when refused)
PROXY_TABLE: list[tuple[list[str], str | None]] = [
    (["5.45.207.10"], "5.45.207.10"),
    (["5.45.207.10, 8.8.8.8"], None),  # a client put Market's address on the left: forged
    (["8.8.8.8, 5.45.207.10"], "5.45.207.10"),  # the left side is the client's, ignored
    (["5.45.207.10, 127.0.0.1"], "5.45.207.10"),  # trusted proxy hops are skipped
    (["5.45.207.10", "8.8.8.8"], None),  # two header lines count as one list
    (["8.8.8.8", "141.8.142.1"], "141.8.142.1"),
    ([], None),  # the proxy itself is not an allowed source
    (["not-an-address"], None),
    (["5.45.207.10, garbage"], None),
    # The edges of each of Market's /25 ranges, and the addresses just outside.
    (["5.45.207.0"], "5.45.207.0"),
    (["5.45.207.127"], "5.45.207.127"),
    (["5.45.207.128"], None),
    (["5.45.206.255"], None),
    (["141.8.142.0"], "141.8.142.0"),
    (["141.8.142.127"], "141.8.142.127"),
    (["141.8.142.128"], None),
    (["141.8.141.255"], None),
    (["5.255.253.0"], "5.255.253.0"),
    (["5.255.253.127"], "5.255.253.127"),
    (["5.255.253.128"], None),
    (["5.255.252.255"], None),
]


def test_trusted_proxy_rightmost_untrusted_hop_decides(receivers: Receivers) -> None:
    receiver = receivers.start("--trust-proxy", "127.0.0.1/32", loopback=False)
    problems = []
    with httpx.Client(timeout=10) as client:
        for index, (forwarded, source) in enumerate(PROXY_TABLE):
            answer = _post(client, receiver.url, f"row-{index}", forwarded)
            if source is None:
                problem = error_problem(answer, 403, "UNKNOWN")
                if problem is None and "--allow-network" not in error_message(answer):
                    problem = f"403 names no flag: {error_message(answer)}"
            else:
                problem = None if answer.status_code == 200 else answer.text
            if problem:
                problems.append(f"{forwarded}: {problem}")
        forged_message = error_message(_post(client, receiver.url, "x", ["5.45.207.10, 8.8.8.8"]))
    assert problems == []
    # The 403 says which address decided, and that a trusted proxy forwarded it.
    assert "8.8.8.8" in forged_message
    assert "127.0.0.1" in forged_message

    stored = {row["payload"]["marker"]: row["source"] for row in receiver.inbox()}
    expected = {
        f"row-{index}": source
        for index, (_, source) in enumerate(PROXY_TABLE)
        if source is not None
    }
    assert stored == expected


def test_forwarded_for_from_an_untrusted_peer_is_ignored(receivers: Receivers) -> None:
    # The peer 127.0.0.2 is not the trusted proxy 127.0.0.1: its header is a forgery.
    receiver = receivers.start("--trust-proxy", "127.0.0.1/32", loopback=False)
    transport = httpx.HTTPTransport(local_address="127.0.0.2")
    with httpx.Client(transport=transport, timeout=10) as client:
        answer = _post(client, receiver.url, "forged", ["5.45.207.10"])
    assert error_problem(answer, 403, "UNKNOWN") is None
    assert "127.0.0.2" in error_message(answer)
    assert receiver.inbox() == []


def test_without_trust_proxy_the_header_is_ignored(receivers: Receivers) -> None:
    receiver = receivers.start()  # loopback allowed, no proxy trusted
    with httpx.Client(timeout=10) as client:
        assert_success(_post(client, receiver.url, "outsider", ["8.8.8.8"]))
        assert_success(_post(client, receiver.url, "market", ["5.45.207.10"]))
    assert [row["source"] for row in receiver.inbox()] == ["127.0.0.1", "127.0.0.1"]
