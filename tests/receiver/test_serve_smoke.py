"""The real ``ymnotify serve`` answers a PING and stores a notification."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from tests.processes import run_cli, start_server


def test_ping_and_order_created_over_real_http(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'inbox.db'}"
    server = start_server(["serve", "--port", "0", "--db", db, "--allow-network", "127.0.0.0/8"])
    try:
        ping = httpx.post(f"{server.url}/notification", json={"notificationType": "PING"})
        assert ping.status_code == 200
        assert ping.headers["content-type"] == "application/json"
        assert set(ping.json()) == {"version", "name", "time"}
        body = {
            "notificationType": "ORDER_CREATED",
            "orderId": 51234567890,
            "campaignId": 21987654,
            "items": [{"offerId": "SKU-RED-42", "count": 2}],
            "createdAt": "2026-09-20T09:15:42.318Z",
        }
        created = httpx.post(f"{server.url}/notification", json=body)
        assert created.status_code == 200
    finally:
        assert server.stop() == 0
    listed = run_cli(["inbox", "list", "--db", db, "--json"])
    assert listed.returncode == 0, listed.stderr
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert [row["payload"] for row in rows] == [body]
    assert rows[0]["status"] == "pending"
