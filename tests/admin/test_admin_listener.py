"""The admin listener of the real ``ymnotify serve``: access, separation, metrics, API."""

from __future__ import annotations

import json
import ssl
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import trustme
from prometheus_client.parser import text_string_to_metric_families

from tests.admin.servers import admin_url
from tests.processes import RunningServer, run_cli, start_server
from ymnotify.protocol.samples import SAMPLE_ID_BASE, sample

TOKEN = "test-admin-token-7f3a"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
ADMIN_PATHS = (
    "/metrics",
    "/api/stats",
    "/api/notifications",
    "/api/notifications/1",
    f"/api/entities/order:{SAMPLE_ID_BASE + 51234567}",
    "/ui/",
    "/ui/inbox",
    "/ui/notifications/1",
    "/ui/quarantine",
)


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[tuple[RunningServer, str]]:
    """``ymnotify serve`` with its admin listener, the token from the environment."""
    running = start_server(
        [
            "serve",
            "--port",
            "0",
            "--admin-port",
            "0",
            "--db",
            f"sqlite:///{tmp_path / 'inbox.db'}",
            "--no-market-ranges",
            "--allow-network",
            "127.0.0.2/32",
            "--max-body",
            "64KiB",
        ],
        env={"YMNOTIFY_ADMIN_TOKEN": TOKEN},
    )
    try:
        yield running, admin_url(running)
    finally:
        assert running.stop() == 0


def from_allowed_source() -> httpx.Client:
    """A client whose connections come from 127.0.0.2, the one allowed source."""
    return httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.2"), timeout=10)


def test_public_listener_serves_no_admin_route(receiver: tuple[RunningServer, str]) -> None:
    running, admin = receiver
    with from_allowed_source() as market:
        body = sample("ORDER_CREATED")
        assert market.post(running.url + "/notification", json=body).status_code == 200
    for path in ADMIN_PATHS:
        public = httpx.get(running.url + path, headers=AUTH)
        assert public.status_code == 404, path
        assert httpx.get(admin + path, headers=AUTH).status_code == 200, path


def test_a_missing_or_wrong_token_gets_401(receiver: tuple[RunningServer, str]) -> None:
    _, admin = receiver
    for path in ("/metrics", "/api/stats", "/api/notifications", "/api/entities/order:1"):
        missing = httpx.get(admin + path)
        assert missing.status_code == 401, path
        assert missing.headers["www-authenticate"].startswith("Bearer")
        assert missing.json()["error"]["type"] == "UNAUTHORIZED"
        wrong = httpx.get(admin + path, headers={"Authorization": f"Bearer {TOKEN}x"})
        assert wrong.status_code == 401, path
        assert "wrong token" in wrong.json()["error"]["message"]
        basic = httpx.get(admin + path, headers={"Authorization": f"Basic {TOKEN}"})
        assert basic.status_code == 401, path


def test_the_dashboard_logs_in_once_with_a_strict_httponly_cookie(
    receiver: tuple[RunningServer, str],
) -> None:
    _, admin = receiver
    with httpx.Client(base_url=admin) as browser:
        first = browser.get("/ui/inbox?status=pending")
        assert first.status_code == 303
        assert first.headers["location"] == "/ui/login?next=%2Fui%2Finbox%3Fstatus%3Dpending"
        assert browser.get("/ui/login").status_code == 200
        refused = browser.post("/ui/login", data={"token": "guess", "next": "/ui/inbox"})
        assert refused.status_code == 401
        assert "not the admin token" in refused.text
        assert "ymnotify_admin" not in browser.cookies
        offsite = browser.post("/ui/login", data={"token": TOKEN, "next": "https://example.org/"})
        assert offsite.headers["location"] == "/ui/"  # never a redirect away from the dashboard
        logged_in = browser.post("/ui/login", data={"token": TOKEN, "next": "/ui/inbox"})
        assert logged_in.status_code == 303
        assert logged_in.headers["location"] == "/ui/inbox"
        cookie = logged_in.headers["set-cookie"]
        assert "httponly" in cookie.lower()
        assert "samesite=strict" in cookie.lower()
        assert TOKEN not in cookie
        assert browser.get("/ui/inbox").status_code == 200
        assert browser.get("/api/stats").status_code == 200  # links from the pages work too
        browser.post("/ui/logout")
        assert browser.get("/ui/inbox").status_code == 303


def test_metrics_count_what_was_posted(receiver: tuple[RunningServer, str]) -> None:
    running, admin = receiver
    url = running.url + "/notification"
    before = time.time()
    with from_allowed_source() as market:
        for _ in range(2):
            assert market.post(url, json={"notificationType": "PING"}).status_code == 200
        for index in range(3):
            body = sample("ORDER_CREATED", orderId=SAMPLE_ID_BASE + index)
            assert market.post(url, json=body).status_code == 200
        assert market.post(url, json=body).status_code == 200  # the last one again
        assert market.post(url, content=b'{"notificationType": "ORDER_CREATED"}').status_code == 400
        new_type = {"notificationType": "SOMETHING_NEW", "id": 1}
        assert market.post(url, json=new_type).status_code == 200
        assert market.post(url, content=b" " * 100_000).status_code == 413
    assert httpx.post(url, json={"notificationType": "PING"}).status_code == 403  # 127.0.0.1
    after = time.time()

    families = {
        family.name: family
        for family in text_string_to_metric_families(
            httpx.get(admin + "/metrics", headers=AUTH).text
        )
    }
    received = {
        (s.labels["type"], s.labels["outcome"]): s.value
        for s in families["ymnotify_notifications_received"].samples
        if s.name.endswith("_total")
    }
    assert received == {
        ("PING", "ping"): 2,
        ("ORDER_CREATED", "accepted"): 3,
        ("ORDER_CREATED", "duplicate"): 1,
        ("ORDER_CREATED", "quarantined"): 1,
        ("other", "accepted"): 1,
        ("none", "refused"): 1,
        ("none", "rejected"): 1,
    }
    counts = {
        s.labels["outcome"]: s.value
        for s in families["ymnotify_ack_latency_seconds"].samples
        if s.name.endswith("_count")
    }
    assert counts == {
        "ping": 2,
        "accepted": 4,
        "duplicate": 1,
        "quarantined": 1,
        "refused": 1,
        "rejected": 1,
    }

    def gauge(name: str) -> float:
        (only,) = families[name].samples
        return only.value

    assert gauge("ymnotify_store_up") == 1
    assert gauge("ymnotify_queue_depth") == 4
    assert gauge("ymnotify_quarantine_size") == 1
    assert 0 <= gauge("ymnotify_oldest_pending_age_seconds") <= after - before + 5
    deadline = time.monotonic() + 5  # the PING is written behind its answer
    while "ymnotify_last_ping_timestamp_seconds" not in families and time.monotonic() < deadline:
        text = httpx.get(admin + "/metrics", headers=AUTH).text
        families = {family.name: family for family in text_string_to_metric_families(text)}
    assert before - 1 <= gauge("ymnotify_last_ping_timestamp_seconds") <= after + 1
    store_errors = families["ymnotify_store_errors"].samples
    assert [s.value for s in store_errors if s.name.endswith("_total")] == [0]


def test_api_documents(receiver: tuple[RunningServer, str]) -> None:
    running, admin = receiver
    url = running.url + "/notification"
    order_id = SAMPLE_ID_BASE + 77  # far above 2**53: must come back exact
    now = datetime.now(UTC)
    with from_allowed_source() as market:
        for minutes, status in ((0, "DELIVERY"), (-10, "PROCESSING")):
            body = sample(
                "ORDER_STATUS_UPDATED",
                at=now + timedelta(minutes=minutes),
                orderId=order_id,
                status=status,
            )
            assert market.post(url, json=body).status_code == 200
        for index in range(3):
            body = sample("CHAT_CREATED", chatId=SAMPLE_ID_BASE + index, note=f"needle-{index}")
            assert market.post(url, json=body).status_code == 200

    with httpx.Client(base_url=admin, headers=AUTH) as api:
        page = api.get("/api/notifications", params={"type": "CHAT_CREATED", "limit": 2}).json()
        assert [n["payload"]["note"] for n in page["notifications"]] == ["needle-2", "needle-1"]
        rest = api.get(
            "/api/notifications",
            params={"type": "CHAT_CREATED", "limit": 2, "before_id": page["nextBeforeId"]},
        ).json()
        assert [n["payload"]["note"] for n in rest["notifications"]] == ["needle-0"]
        assert rest["nextBeforeId"] is None
        found = api.get("/api/notifications", params={"q": "needle-1"}).json()
        assert [n["notificationType"] for n in found["notifications"]] == ["CHAT_CREATED"]

        entity = api.get(f"/api/entities/order:{order_id}")
        assert entity.status_code == 200
        document = json.loads(entity.text)
        assert [n["stale"] for n in document["notifications"]] == [False, True]
        assert [s["value"]["status"] for s in document["state"]] == ["DELIVERY"]
        assert f'"orderId":{order_id}' in entity.text  # exact, not through a float

        first_id = document["notifications"][0]["id"]
        one = api.get(f"/api/notifications/{first_id}").json()
        assert one["payload"]["orderId"] == order_id
        assert ["content-type", "application/json"] in one["headers"]
        assert one["source"] == "127.0.0.2"

        assert api.get("/api/notifications/999999").status_code == 404
        assert api.get("/api/entities/order:1").status_code == 404
        bad = api.get("/api/notifications", params={"status": "lost"})
        assert bad.status_code == 400
        assert "status" in bad.json()["error"]["message"]
        stats = api.get("/api/stats").json()
        assert stats["total"] == 5
        assert stats["stale"] == 1
        assert stats["health"]["level"] == "unknown"  # no PING yet


def test_admin_beyond_loopback_needs_a_token(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'inbox.db'}"
    refused = run_cli(["serve", "--port", "0", "--admin-host", "0.0.0.0", "--db", db], timeout=30)
    assert refused.returncode == 2
    assert "without a token" in refused.stderr
    assert "Traceback" not in refused.stderr
    running = start_server(
        ["serve", "--port", "0", "--db", db, "--admin-host", "0.0.0.0", "--admin-port", "0"],
        env={"YMNOTIFY_ADMIN_TOKEN": TOKEN},
    )
    try:
        admin = admin_url(running).replace("0.0.0.0", "127.0.0.1")
        assert httpx.get(admin + "/api/stats").status_code == 401
        assert httpx.get(admin + "/api/stats", headers=AUTH).status_code == 200
        running.wait_for_output("its token travels in clear")  # plain HTTP beyond loopback
    finally:
        assert running.stop() == 0


def test_the_admin_listener_serves_https_and_marks_its_cookie_secure(tmp_path: Path) -> None:
    ca = trustme.CA()
    certificate = ca.issue_cert("127.0.0.1")
    cert_file, key_file = tmp_path / "chain.pem", tmp_path / "key.pem"
    cert_file.write_bytes(b"".join(blob.bytes() for blob in certificate.cert_chain_pems))
    certificate.private_key_pem.write_to_path(str(key_file))
    db = f"sqlite:///{tmp_path / 'inbox.db'}"
    running = start_server(
        [
            *("serve", "--port", "0", "--db", db, "--admin-port", "0"),
            *("--admin-tls-cert", str(cert_file), "--admin-tls-key", str(key_file)),
        ],
        env={"YMNOTIFY_ADMIN_TOKEN": TOKEN},
    )
    try:
        admin = admin_url(running)
        assert admin.startswith("https://127.0.0.1:")
        context = ssl.create_default_context()
        ca.configure_trust(context)
        with httpx.Client(verify=context, timeout=10) as client:
            assert client.get(admin + "/api/stats").status_code == 401
            assert client.get(admin + "/api/stats", headers=AUTH).status_code == 200
            login = client.post(admin + "/ui/login", data={"token": TOKEN, "next": "/ui/"})
            assert login.status_code == 303
            cookie = login.headers["set-cookie"].lower()
            assert "secure" in cookie
            assert "httponly" in cookie
        with pytest.raises(httpx.HTTPError):  # not served in clear
            httpx.get(admin.replace("https://", "http://") + "/api/stats", headers=AUTH)
        assert "travels in clear" not in "".join(running.output)
    finally:
        assert running.stop() == 0


def test_admin_tls_needs_both_files(tmp_path: Path) -> None:
    cert = tmp_path / "chain.pem"
    cert.write_text("not used")
    refused = run_cli(
        [
            "serve",
            "--port",
            "0",
            "--db",
            f"sqlite:///{tmp_path / 'i.db'}",
            "--admin-tls-cert",
            str(cert),
        ],
        timeout=30,
    )
    assert refused.returncode != 0
    assert "--admin-tls-cert and --admin-tls-key go together" in refused.stderr


def test_no_admin_starts_only_the_receiver(tmp_path: Path) -> None:
    running = start_server(
        ["serve", "--port", "0", "--no-admin", "--db", f"sqlite:///{tmp_path / 'inbox.db'}"]
    )
    try:
        assert httpx.get(running.url + "/healthz").status_code == 200
    finally:
        assert running.stop() == 0
    assert not any("admin listening" in line for line in running.output)


def test_test_servers_never_collide_on_the_default_admin_port(tmp_path: Path) -> None:
    started = [
        start_server(["serve", "--port", "0", "--db", f"sqlite:///{tmp_path / f'{n}.db'}"])
        for n in range(2)
    ]
    try:
        urls = {admin_url(running) for running in started}
        assert len(urls) == 2
        assert not any(url.endswith(":8081") for url in urls)
    finally:
        for running in started:
            assert running.stop() == 0
