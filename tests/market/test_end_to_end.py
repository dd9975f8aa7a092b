"""End to end over HTTPS: the Market sandbox delivers every type to a real `ymnotify serve`.

Both run as real subprocesses of the CLI. The receiver serves TLS with a certificate from a local
test CA (trustme); Market trusts that CA through --ca-bundle and verifies the certificate as it
does by default, and may reach loopback only because of --allow-private-targets.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import trustme

from tests.processes import run_cli, start_server
from ymnotify.protocol import samples


def test_every_type_over_https_to_a_real_receiver(tmp_path: Path) -> None:
    ca = trustme.CA()
    cert = ca.issue_cert("localhost")
    cert_file, key_file, ca_file = tmp_path / "cert.pem", tmp_path / "key.pem", tmp_path / "ca.pem"
    cert.cert_chain_pems[0].write_to_path(str(cert_file))
    for extra in cert.cert_chain_pems[1:]:
        extra.write_to_path(str(cert_file), append=True)
    cert.private_key_pem.write_to_path(str(key_file))
    ca.cert_pem.write_to_path(str(ca_file))
    inbox = f"sqlite:///{tmp_path / 'inbox.db'}"

    receiver = start_server(
        [
            "serve",
            "--port",
            "0",
            "--db",
            inbox,
            "--tls-cert",
            str(cert_file),
            "--tls-key",
            str(key_file),
            "--allow-network",
            "127.0.0.0/8",
            "--allow-network",
            "::1/128",
        ]
    )
    market = start_server(
        [
            "market",
            "serve",
            "--port",
            "0",
            "--db",
            f"sqlite:///{tmp_path / 'market.db'}",
            "--clock",
            "virtual",
            "--ca-bundle",
            str(ca_file),
            "--allow-private-targets",
            "--activation-delay",
            "0",
        ]
    )
    try:
        assert receiver.url.startswith("https://")
        endpoint = receiver.url.replace("127.0.0.1", "localhost")  # the certificate's name
        api = ["--api", market.url, "--user", "ann"]

        def cli(*args: str) -> str:
            done = run_cli(["market", *args, *api])
            assert done.returncode == 0, done.stderr
            return done.stdout

        cli(
            "business",
            "create",
            "1",
            "--name",
            "Shop",
            "--campaign",
            "1001",
            "--member",
            "ann:owner",
        )
        subscribed = json.loads(
            cli(
                "subscribe",
                "--name",
                "everything",
                "--business",
                "1",
                "--all-types",
                "--url",
                endpoint,
                "--json",
            )
        )
        assert subscribed["state"] == "active"
        kinds = [kind for kind in samples.all_types() if kind != "PING"]
        assert len(kinds) == 17
        first, *rest = kinds
        cli("trigger", first)  # the CLI's own sample builder, for one of them
        bodies = [samples.sample(kind, campaign_id=1001, business_id=1) for kind in rest]
        published = httpx.post(f"{market.url}/api/events", json=bodies, timeout=30)
        assert published.status_code == 202, published.text
        assert all(len(e["deliveries"]) == 1 for e in published.json()["events"])
        cli("clock", "advance", "0s")  # returns when everything due now has been attempted

        log = json.loads(cli("log", "--json", "--limit", "100"))["entries"]
        delivered = [e for e in log if e["notificationType"] != "PING"]
        assert sorted(e["notificationType"] for e in delivered) == sorted(kinds)
        assert {(e["outcome"], e["status"]) for e in delivered} == {("delivered", 200)}
        assert all(e["url"] == f"{endpoint}/notification" for e in delivered)
    finally:
        assert market.stop() == 0
        assert receiver.stop() == 0

    listed = run_cli(["inbox", "list", "--db", inbox, "--json", "--limit", "100"])
    assert listed.returncode == 0, listed.stderr
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert sorted(row["notificationType"] for row in rows) == sorted(kinds)  # each stored once
    assert {row["duplicates"] for row in rows} == {0}
    assert {row["status"] for row in rows} == {"pending"}  # stored, waiting for handlers
    assert all(row["payload"]["notificationType"] == row["notificationType"] for row in rows)
