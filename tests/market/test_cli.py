"""The `ymnotify market` commands as a user runs them: real subprocesses, real sockets."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from tests.processes import loopback_serve, run_cli, start_server
from ymnotify.protocol.samples import sample


def test_sandbox_session_from_the_command_line(tmp_path: Path) -> None:
    receiver = start_server(loopback_serve(tmp_path / "inbox.db"))
    market = start_server(
        ["market", "serve", "--dev", "--clock", "virtual", "--port", "0"], cwd=tmp_path
    )
    env = {"YMNOTIFY_MARKET_API": market.url, "YMNOTIFY_MARKET_USER": "dev"}

    def ok(*args: str) -> str:
        done = run_cli(["market", *args], env=env)
        assert done.returncode == 0, done.stderr
        return done.stdout

    def refused(*args: str) -> str:
        done = run_cli(["market", *args], env=env)
        assert done.returncode != 0
        assert "Traceback" not in done.stderr
        return done.stderr

    try:
        market.wait_for_output("ymnotify-market.db")  # the default file, in cwd
        assert (tmp_path / "ymnotify-market.db").exists()
        created = json.loads(
            ok(
                "subscribe",
                "--name",
                "orders",
                "--campaign",
                "1001",
                "--type",
                "ORDER_CREATED,ORDER_CANCELLED",
                "--url",
                receiver.url,
                "--json",
            )
        )
        sid = str(created["id"])
        assert created["types"] == ["ORDER_CREATED", "ORDER_CANCELLED"]
        assert created["state"] == "active"  # --dev: no activation delay

        triggered = ok(
            "trigger",
            "ORDER_CREATED",
            "--set",
            "orderId=4242",
            "--set",
            'items=[{"offerId":"X,Y","count":3}]',
        )
        assert f"subscription {sid}" in triggered
        assert "advancing" in run_cli(["market", "clock", "advance", "1h"], env=env).stderr
        log = json.loads(ok("log", "--json", "--type", "ORDER_CREATED"))["entries"]
        assert [(e["outcome"], json.loads(e["requestBody"])["orderId"]) for e in log] == [
            ("delivered", 4242)
        ]
        assert json.loads(log[0]["requestBody"])["items"] == [{"offerId": "X,Y", "count": 3}]
        assert isinstance(log[0]["latencyMs"], float)  # the API's number, not a string
        # From the environment, --set items are comma-separated like every repeatable flag's,
        # split only where the next FIELD= starts.
        from_env = run_cli(
            ["market", "trigger", "ORDER_CREATED"],
            env={**env, "YMNOTIFY_MARKET_SET": "orderId=4243, note=a,b"},
        )
        assert from_env.returncode == 0, from_env.stderr
        assert "note: --set orderId=4243,note=a,b is from $YMNOTIFY_MARKET_SET" in from_env.stderr
        ok("clock", "advance", "1h")
        newest = json.loads(ok("log", "--json", "--limit", "1"))["entries"][0]
        paged = run_cli(["market", "log", "--limit", "1"], env=env)
        assert f"add --before {newest['id']}" in paged.stderr
        assert paged.stdout.splitlines()[1].split()[0] == str(newest["id"])  # the ID column
        older = json.loads(ok("log", "--json", "--limit", "1", "--before", str(newest["id"])))
        assert older["entries"][0]["id"] != newest["id"]
        unknown = run_cli(["market", "log", "--before", "999999"], env=env)
        assert unknown.returncode != 0
        assert "no log entry 999999" in unknown.stderr, unknown.stderr
        assert {k: json.loads(newest["requestBody"])[k] for k in ("orderId", "note")} == {
            "orderId": 4243,
            "note": "a,b",
        }
        assert "(virtual clock)" in ok("clock")  # the bare group reads YMNOTIFY_MARKET_API too
        assert "'renamed'" in ok("edit", sid, "--name", "renamed")
        # A YMNOTIFY_MARKET_NAME left from another command renames a setting on edit: said.
        ambient = run_cli(["market", "edit", sid], env={**env, "YMNOTIFY_MARKET_NAME": "Shop"})
        assert ambient.returncode == 0, ambient.stderr
        assert "note: --name Shop is from $YMNOTIFY_MARKET_NAME" in ambient.stderr
        assert "note:" not in run_cli(["market", "edit", sid, "--name", "renamed"], env=env).stderr
        # Where duplicate copies to, too (said before the sandbox answers, whatever it answers).
        ambient_store = {**env, "YMNOTIFY_MARKET_CAMPAIGN": "1001"}
        copied = run_cli(["market", "duplicate", sid], env=ambient_store)
        assert "note: --campaign 1001 is from $YMNOTIFY_MARKET_CAMPAIGN" in copied.stderr
        assert "disabled" in ok("disable", sid)
        assert "active" in ok("enable", sid)
        table = ok("list")
        assert "store 1001" in table
        assert "'renamed'" in table

        # Refusals are readable one-liners, never tracebacks.
        assert "business scope" in refused(
            "subscribe",
            "--name",
            "x",
            "--campaign",
            "1001",
            "--type",
            "CHAT_CREATED",
            "--url",
            receiver.url,
        )
        assert "ping_failed" in refused(
            "subscribe",
            "--name",
            "x",
            "--campaign",
            "1001",
            "--type",
            "ORDER_CREATED",
            "--url",
            "http://127.0.0.1:9",
        )
        assert "use FIELD=VALUE" in refused("trigger", "ORDER_CREATED", "--set", "orderId")
        assert "not both" in refused(
            "subscribe", "--name", "x", "--campaign", "1001", "--type", "ORDER_CREATED",
            "--all-types", "--url", receiver.url,
        )  # fmt: skip
        assert "is not a duration" in refused("clock", "advance", "-1d")
        assert "ASCII" in refused("list", "--user", "анна")
        assert "printable ASCII" in refused(
            "business", "create", "60", "--name", "Кабинет", "--campaign", "600",
            "--member", "анна:owner",
        )  # fmt: skip
        # Without an acting user the API names its header; the command names its own flag.
        anonymous = run_cli(["market", "disable", sid], env={"YMNOTIFY_MARKET_API": market.url})
        assert anonymous.returncode != 0
        assert "user_required" in anonymous.stderr
        assert "--user LOGIN" in anonymous.stderr
        assert "YMNOTIFY_MARKET_USER" in anonymous.stderr
        ok("remove", sid)
        assert "not_found" in refused("get", sid)
    finally:
        assert market.stop() == 0
        assert receiver.stop() == 0
    unreachable = run_cli(["market", "list"], env=env)
    assert unreachable.returncode != 0
    assert "cannot reach the Market sandbox" in unreachable.stderr

    inbox = run_cli(["inbox", "list", "--json", "--db", f"sqlite:///{tmp_path / 'inbox.db'}"])
    rows = [json.loads(line) for line in inbox.stdout.splitlines()]
    assert [row["payload"]["orderId"] for row in rows] == [4243, 4242]  # newest first


def test_serve_flags_dev_keeps_an_explicit_delay_and_a_bad_ca_bundle_is_a_usage_error(
    tmp_path: Path,
) -> None:
    bundle = tmp_path / "bad.pem"
    bundle.write_text("not a certificate\n")
    bad = run_cli(["market", "serve", "--port", "0", "--ca-bundle", str(bundle)], cwd=tmp_path)
    assert bad.returncode == 2
    assert "--ca-bundle" in bad.stderr
    assert "Traceback" not in bad.stderr

    receiver = start_server(loopback_serve(tmp_path / "inbox.db"))
    market = start_server(
        ["market", "serve", "--dev", "--activation-delay", "30", "--port", "0"], cwd=tmp_path
    )
    try:
        env = {"YMNOTIFY_MARKET_API": market.url, "YMNOTIFY_MARKET_USER": "dev"}
        done = run_cli(
            ["market", "subscribe", "--name", "o", "--campaign", "1001", "--type",
             "ORDER_CREATED", "--url", receiver.url, "--json"],
            env=env,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["state"] == "pending_activation"  # not --dev's 0
        # A second sandbox on the same file would send the first one's deliveries again.
        second = run_cli(["market", "serve", "--port", "0"], cwd=tmp_path, timeout=30)
        assert second.returncode == 1
        assert "another `ymnotify market serve` is using" in second.stderr
        assert "Traceback" not in second.stderr
    finally:
        assert market.stop() == 0
        assert receiver.stop() == 0


# An endpoint in its own process: a valid answer to PING, silence (60 s) to everything else;
# it prints its port, then one line per notification it receives.
HANGING_ENDPOINT = """
import http.server, json, sys, time
class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if body["notificationType"] != "PING":
            print("received", flush=True)
            time.sleep(60)
            return
        answer = json.dumps({"version": "1", "name": "x", "time": "2026-01-01T00:00:00Z"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)
    def log_message(self, *args):
        pass
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
server.daemon_threads = True
print(server.server_address[1], flush=True)
server.serve_forever()
"""


def test_a_stop_signal_during_an_advance_sends_nothing_more(tmp_path: Path) -> None:
    endpoint = subprocess.Popen(
        [sys.executable, "-c", HANGING_ENDPOINT], stdout=subprocess.PIPE, text=True
    )
    assert endpoint.stdout is not None
    port = endpoint.stdout.readline().strip()
    received: list[str] = []
    threading.Thread(target=lambda: received.extend(endpoint.stdout or []), daemon=True).start()
    serve = ["market", "serve", "--dev", "--clock", "virtual", "--port", "0"]
    market = start_server(serve, cwd=tmp_path)
    env = {"YMNOTIFY_MARKET_API": market.url, "YMNOTIFY_MARKET_USER": "dev"}
    try:
        subscribed = run_cli(
            ["market", "subscribe", "--name", "s", "--campaign", "1001", "--type",
             "ORDER_CREATED", "--url", f"http://127.0.0.1:{port}"],
            env=env,
        )  # fmt: skip
        assert subscribed.returncode == 0, subscribed.stderr
        events = [
            {**sample("ORDER_CREATED", campaign_id=1001), "orderId": 7_000_000 + i}
            for i in range(12)
        ]
        httpx.post(f"{market.url}/api/events", json=events, headers={"X-Market-User": "dev"})
        advance = threading.Thread(
            target=run_cli, args=(["market", "clock", "advance", "1h"],), kwargs={"env": env}
        )
        advance.start()  # the round of the 12: 8 on the wire, 4 waiting for a connection
        for _ in range(500):
            if len(received) >= 8:
                break
            time.sleep(0.02)
        started = time.monotonic()
        assert market.stop() == 0
        stopped_in = time.monotonic() - started
        advance.join(30)
    finally:
        market.stop(signal.SIGKILL)
        endpoint.kill()
        endpoint.wait()
        endpoint.stdout.close()
    # The 8 on the wire time out (10 s) and are logged; the 4 waiting never go out, even though
    # the advance (a request in flight) was let finish first.
    assert stopped_in < 15, stopped_in
    assert len(received) == 8
    restarted = start_server(serve, cwd=tmp_path)
    try:
        log = run_cli(
            ["market", "log", "--json", "--type", "ORDER_CREATED"],
            env={**env, "YMNOTIFY_MARKET_API": restarted.url},
        )
        assert len(json.loads(log.stdout)["entries"]) >= 8
    finally:
        restarted.stop()
