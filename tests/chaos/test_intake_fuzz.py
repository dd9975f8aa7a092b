"""Issue 8, hostile input: Hypothesis drives the intake (the real ASGI app on a real SQLite store,
in process) with arbitrary bodies, content types and headers.

Whatever comes in: the answer is 200 (a valid success body), 400 (a valid error body), 413 or
403 — never a 5xx while the store is healthy, never an exception out of the app — and nothing
answered 200 or 400 is missing from the store. ``YMNOTIFY_FUZZ_EXAMPLES`` sets the number of
requests (``make chaos`` tries thousands).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.acceptance.answers import error_problem, success_problem
from tests.chaos.budget import count
from ymnotify import ReceiverConfig, SourcePolicy
from ymnotify.protocol import samples
from ymnotify.protocol.models import Ping
from ymnotify.protocol.parse import MalformedNotification, parse_body
from ymnotify.protocol.wire import raw_dedup_key
from ymnotify.receiver.app import ReceiverApp
from ymnotify.store import NotificationFilter
from ymnotify.store.sqlite import SqliteStore

EXAMPLES = count("YMNOTIFY_FUZZ_EXAMPLES", quick=300, chaos=3000)
MAX_BODY = 64 * 1024

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner),
    max_leaves=20,
)


@st.composite
def mutated_samples(draw: st.DrawFn) -> bytes:
    """A valid sample of some type with a few fields replaced, removed or added."""
    kind = draw(st.sampled_from(samples.all_types()))
    document: dict[str, Any] = samples.sample(kind)
    for _ in range(draw(st.integers(0, 3))):
        keys = sorted(document)
        action = draw(st.sampled_from(["replace", "remove", "add"]))
        if action == "replace" and keys:
            document[draw(st.sampled_from(keys))] = draw(json_values)
        elif action == "remove" and keys:
            document.pop(draw(st.sampled_from(keys)))
        else:
            document[draw(st.text(max_size=12))] = draw(json_values)
    return json.dumps(document, default=str).encode()


bodies = st.one_of(
    mutated_samples(),
    json_values.map(lambda value: json.dumps(value).encode()),
    st.binary(max_size=512),
    st.text(max_size=200).map(lambda text: text.encode("utf-8", "surrogatepass")),
    st.binary(min_size=MAX_BODY - 8, max_size=MAX_BODY + 8),
)
content_types = st.one_of(
    st.sampled_from(
        [
            "application/json",
            "application/json; charset=utf-8",
            "text/plain",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "",
        ]
    ),
    st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=40),
)
header_names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz-0123456789", min_size=1, max_size=20)
header_values = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=80)
extra_headers = st.lists(st.tuples(header_names, header_values), max_size=8)


def _expected_key(body: bytes) -> str | None:
    """The dedup key the store must hold for an answered ``body`` (``None``: a PING, not kept)."""
    try:
        parsed = parse_body(body)
    except MalformedNotification:
        return raw_dedup_key(body)
    if isinstance(parsed.notification, Ping):
        return None
    return parsed.dedup_key


async def _post(client: httpx.AsyncClient, body: bytes, content_type: str, headers: Any) -> Any:
    request_headers = [("content-type", content_type), *headers]
    return await client.post("/notification", content=body, headers=request_headers)


def test_the_intake_survives_arbitrary_requests(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "fuzz.db")
    app = ReceiverApp(
        store, ReceiverConfig(sources=SourcePolicy.build(allow_any=True), max_body=MAX_BODY)
    )
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    answered: dict[int, int] = {}
    kept: list[bytes] = []  # bodies answered 200 or 400 (PING aside): the store must hold them
    with asyncio.Runner() as runner:
        client = httpx.AsyncClient(transport=transport, base_url="http://receiver")
        running = app.running()
        runner.run(running.__aenter__())
        try:

            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
            )
            @given(body=bodies, content_type=content_types, headers=extra_headers)
            def one_request(body: bytes, content_type: str, headers: Any) -> None:
                # ASGITransport re-raises anything the app raises: a crash fails the example.
                response = runner.run(_post(client, body, content_type, headers))
                answered[response.status_code] = answered.get(response.status_code, 0) + 1
                status = response.status_code
                assert status in (200, 400, 413), (status, response.text[:300], body[:200])
                if status == 200:
                    assert success_problem(response) is None, success_problem(response)
                    kept.append(body)
                elif status == 400:
                    problem = error_problem(response, 400, "WRONG_EVENT_FORMAT")
                    assert problem is None, problem
                    kept.append(body)
                else:
                    assert error_problem(response, 413, "UNKNOWN") is None

            one_request()
            stored = runner.run(store.list_notifications(NotificationFilter(limit=1_000_000)))
        finally:
            runner.run(running.__aexit__(None, None, None))
            runner.run(client.aclose())
    stored_keys = {row.dedup_key for row in stored}
    expected = {body: _expected_key(body) for body in kept}
    missing = [body for body, key in expected.items() if key is not None and key not in stored_keys]
    print(f"\nintake fuzz: {sum(answered.values())} requests, answers {sorted(answered.items())}")
    assert sum(answered.values()) >= EXAMPLES
    assert missing == [], f"{len(missing)} answered bodies not stored, e.g. {missing[0][:200]!r}"
