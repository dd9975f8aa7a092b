"""``ymnotify serve`` flags a user gets wrong, or reads back from the start-up lines."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import trustme

from tests.processes import run_cli, start_server


@pytest.mark.parametrize("prefix", ["--tls", "--admin-tls"])
def test_unusable_tls_files_are_a_usage_error_not_a_traceback(tmp_path: Path, prefix: str) -> None:
    cert = trustme.CA().issue_cert("127.0.0.1")
    cert_file, key_file, junk = tmp_path / "cert.pem", tmp_path / "key.pem", tmp_path / "junk.pem"
    cert.cert_chain_pems[0].write_to_path(cert_file)
    cert.private_key_pem.write_to_path(key_file)
    junk.write_text("not PEM\n")
    db = f"sqlite:///{tmp_path / 'i.db'}"
    for given_cert, given_key in ((key_file, cert_file), (junk, junk)):  # swapped; not PEM
        done = run_cli(
            ["serve", "--port", "0", "--db", db,
             f"{prefix}-cert", str(given_cert), f"{prefix}-key", str(given_key)],
            timeout=30,
        )  # fmt: skip
        assert done.returncode == 2, done.stderr
        assert f"{prefix}-cert/{prefix}-key: not a PEM certificate chain" in done.stderr
        assert "Traceback" not in done.stderr


def test_the_start_up_line_names_the_routes_under_the_base_path(tmp_path: Path) -> None:
    running = start_server(
        ["serve", "--port", "0", "--no-admin", "--db", f"sqlite:///{tmp_path / 'i.db'}",
         "--allow-network", "127.0.0.0/8", "--base-path", "market/"]
    )  # fmt: skip
    try:
        running.wait_for_output("(POST /market and /market/notification)")
        ping = httpx.post(f"{running.url}/market/notification", json={"notificationType": "PING"})
        assert ping.status_code == 200
    finally:
        assert running.stop() == 0
