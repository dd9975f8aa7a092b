"""Issue 2: the public listener serves the notification routes, ``/healthz`` and ``/readyz``,
and nothing else."""

from __future__ import annotations

import httpx

from tests.acceptance.answers import error_problem
from tests.acceptance.receivers import Receivers


def test_public_listener_serves_only_its_routes(receivers: Receivers) -> None:
    receiver = receivers.start()
    with httpx.Client(base_url=receiver.url, timeout=10) as client:
        probe = client.get("/notification")
        assert probe.status_code == 200
        assert probe.headers["content-type"] == "application/json"
        assert isinstance(probe.json(), dict)
        assert client.get("/healthz").status_code == 200
        ready = client.get("/readyz")
        assert ready.status_code == 200
        assert ready.headers["content-type"] == "application/json"

        assert error_problem(client.get("/"), 405, "UNKNOWN") is None
        assert error_problem(client.put("/notification", content=b"{}"), 405, "UNKNOWN") is None
        assert client.delete("/notification").status_code == 405
        for path in ("/nope", "/metrics", "/ui/", "/api/inbox", "/notification/extra"):
            assert error_problem(client.get(path), 404, "UNKNOWN") is None, path
        assert client.post("/nope", json={"notificationType": "PING"}).status_code == 404

    assert receiver.inbox() == []
    assert receiver.stats()["lastPing"] is None
