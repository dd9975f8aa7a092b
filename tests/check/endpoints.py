"""Deliberately broken notification endpoints on loopback, each broken in one way."""

from __future__ import annotations

import json
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

VALID_BODY = {"version": "1.0", "name": "shop", "time": "2026-01-01T00:00:00Z"}


def _behaviour(mode: str, request: dict[str, object]) -> tuple[int, str, bytes, float] | None:
    """(status, content type, body, delay) for one request under ``mode``; ``None``: close the
    connection without answering."""
    valid = json.dumps({**VALID_BODY, "time": datetime.now(UTC).isoformat()}).encode()
    is_ping = request.get("notificationType") == "PING"
    if mode == "drops_ping" and is_ping:
        return None
    if mode == "rejects_everything":
        return 400, "application/json", b'{"error":{"type":"WRONG_EVENT_FORMAT"}}', 0
    if mode == "slow_ping" and is_ping:
        return 200, "application/json", valid, 1.4
    if mode == "wrong_content_type":
        return 200, "text/plain", valid, 0
    if mode == "missing_version":
        return (
            200,
            "application/json",
            json.dumps({"name": "shop", "time": "2026-01-01T00:00:00Z"}).encode(),
            0,
        )
    if mode == "non_ascii_name":
        body = {**VALID_BODY, "name": "магазин"}
        return 200, "application/json", json.dumps(body, ensure_ascii=False).encode(), 0
    if mode == "status_500":
        return 500, "application/json", b'{"error":{"type":"UNKNOWN","message":"boom"}}', 0
    # "accepts_everything" and "good": a valid 200 for anything that parses as JSON
    if (
        mode == "good"
        and "orderId" not in request
        and request.get("notificationType") == "ORDER_CREATED"
    ):
        return (
            400,
            "application/json",
            b'{"error":{"type":"WRONG_EVENT_FORMAT","message":"orderId"}}',
            0,
        )
    return 200, "application/json", valid, 0


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(length)
        try:
            request = json.loads(raw)
        except ValueError:
            request = {}
        behaviour = _behaviour(self.server.mode, request)
        if behaviour is None:
            self.close_connection = True
            return
        status, content_type, body, delay = behaviour
        if delay:
            time.sleep(delay)
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    mode: str


@contextmanager
def broken_endpoint(mode: str, tls: ssl.SSLContext | None = None) -> Iterator[str]:
    """Serve ``mode``'s behaviour on a free loopback port; yield the base URL."""
    server = _Server(("127.0.0.1", 0), _Handler)
    server.mode = mode
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    scheme = "https" if tls else "http"
    try:
        yield f"{scheme}://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
