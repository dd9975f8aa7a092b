"""``ymnotify check`` as a subprocess against our own receiver and deliberately broken endpoints."""

from __future__ import annotations

import json
import socket
import ssl
from pathlib import Path
from typing import Any

import pytest
import trustme

from tests.check.endpoints import broken_endpoint
from tests.processes import loopback_serve, run_cli, start_server


def _check(url: str, *args: str) -> tuple[int, dict[str, Any]]:
    result = run_cli(["check", url, "--json", *args], timeout=90)
    assert result.returncode in (0, 1), result.stderr
    return result.returncode, json.loads(result.stdout)


def _point(report: dict[str, Any], name: str) -> dict[str, Any]:
    return next(point for point in report["points"] if point["name"] == name)


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def test_our_receiver_over_https_passes_every_point(tmp_path: Path, ca: trustme.CA) -> None:
    cert = ca.issue_cert("127.0.0.1", "localhost")
    cert_file, key_file, ca_file = tmp_path / "cert.pem", tmp_path / "key.pem", tmp_path / "ca.pem"
    cert.cert_chain_pems[0].write_to_path(cert_file)
    for pem in cert.cert_chain_pems[1:]:
        pem.write_to_path(cert_file, append=True)
    cert.private_key_pem.write_to_path(key_file)
    ca.cert_pem.write_to_path(ca_file)
    server = start_server(
        loopback_serve(
            tmp_path / "inbox.db", "--tls-cert", str(cert_file), "--tls-key", str(key_file)
        )
    )
    try:
        code, report = _check(server.url, "--ca-bundle", str(ca_file))
    finally:
        server.stop()
    assert code == 0
    assert report["ok"] is True
    assert report["summary"]["fail"] == 0
    assert report["summary"]["warn"] == 0
    names = [point["name"] for point in report["points"]]
    assert names[:2] == ["TLS certificate", "PING"]
    assert len(names) == 2 + 17 + 3  # TLS, PING, 17 types, duplicate, malformed, unknown type
    assert all(point["level"] == "pass" for point in report["points"])
    assert report["target"] == f"{server.url}/notification"


def test_a_url_that_already_ends_in_notification_is_explained(tmp_path: Path) -> None:
    server = start_server(loopback_serve(tmp_path / "inbox.db", "--no-admin"))
    try:
        given = f"{server.url}/notification"
        code, report = _check(given, "--allow-http", "--types", "ORDER_CREATED")
        as_is, _ = _check(given, "--allow-http", "--types", "ORDER_CREATED", "--post-to-url-as-is")
    finally:
        server.stop()
    assert code == 1  # Market would post to .../notification/notification and get 404s
    assert _point(report, "PING")["label"] == "CANT_GET_RESPONSE/HTTP"
    warning = _point(report, "URL")
    assert (warning["level"], warning["label"]) == ("warn", "NOTIFICATION_PATH_TWICE")
    assert f"{given}/notification" in warning["detail"]
    assert as_is == 0  # the receiver does answer at the URL itself


@pytest.mark.parametrize(
    ("mode", "point", "label"),
    [
        ("slow_ping", "PING", "CANT_GET_RESPONSE/READ_TIMED_OUT"),
        ("wrong_content_type", "PING", "CANT_GET_RESPONSE/UNSUPPORTED_MEDIA_TYPE"),
        ("missing_version", "ORDER_CREATED", "INVALID_RESPONSE/INVALID_DATA"),
        ("non_ascii_name", "PING", "INVALID_RESPONSE/INVALID_DATA"),
        ("status_500", "ORDER_CREATED", "CANT_GET_RESPONSE/HTTP"),
        ("accepts_everything", "malformed body", "MALFORMED_ACCEPTED"),
    ],
)
def test_each_broken_endpoint_is_named_with_markets_class(
    mode: str, point: str, label: str
) -> None:
    with broken_endpoint(mode) as url:
        code, report = _check(url, "--allow-http", "--types", "ORDER_CREATED")
    assert code == 1
    assert report["ok"] is False
    found = _point(report, point)
    assert found["level"] == "fail"
    assert found["label"] == label
    assert found["hint"]


def test_a_well_behaved_plain_http_endpoint_passes_with_a_warning() -> None:
    with broken_endpoint("good") as url:
        code, report = _check(url, "--allow-http", "--types", "ORDER_CREATED")
    assert code == 0
    assert _point(report, "TLS certificate")["label"] == "PLAIN_HTTP"
    assert _point(report, "malformed body")["level"] == "pass"


def test_refused_connections() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    code, report = _check(f"http://127.0.0.1:{port}", "--allow-http", "--types", "ORDER_CREATED")
    assert code == 1
    assert _point(report, "PING")["label"] == "CANT_GET_RESPONSE/CONNECTION_REFUSED"
    assert _point(report, "ORDER_CREATED")["level"] == "not checked"


def test_self_signed_certificate_is_an_ssl_error(ca: trustme.CA) -> None:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    with broken_endpoint("good", tls=context) as url:  # its CA is not given to the checker
        code, report = _check(url, "--types", "ORDER_CREATED")
    assert code == 1
    assert _point(report, "TLS certificate")["label"] == "CANT_GET_RESPONSE/SSL_ERROR"
    assert _point(report, "PING")["label"] == "CANT_GET_RESPONSE/SSL_ERROR"


def test_source_filter_reported_as_a_pass_with_the_address_to_allow(tmp_path: Path) -> None:
    server = start_server(["serve", "--port", "0", "--db", f"sqlite:///{tmp_path / 'i.db'}"])
    try:
        code, report = _check(server.url, "--allow-http", "--types", "ORDER_CREATED")
    finally:
        server.stop()
    filtered = _point(report, "source filter")
    assert filtered["level"] == "pass"
    assert "127.0.0.1" in filtered["detail"]
    assert _point(report, "ORDER_CREATED")["level"] == "not checked"
    assert "--allow-network 127.0.0.1/32" in filtered["detail"]
    # Nothing Market requires was seen to pass: a gate on the exit status must not let it by.
    assert (code, report["ok"]) == (1, False)


def test_a_connection_dropped_on_ping_is_not_taken_for_an_unreachable_endpoint() -> None:
    with broken_endpoint("drops_ping") as url:
        code, report = _check(url, "--allow-http", "--types", "ORDER_CREATED")
    assert code == 1
    ping = _point(report, "PING")
    assert (ping["level"], ping["label"]) == ("fail", "CANT_GET_RESPONSE/CONNECTION_REFUSED")
    assert ping["detail"].startswith("connected, then the connection closed")
    assert "closed without an answer" in ping["hint"]
    assert _point(report, "ORDER_CREATED")["level"] == "pass"  # checked all the same


def test_ping_answered_400_is_named_with_markets_class() -> None:
    with broken_endpoint("rejects_everything") as url:
        code, report = _check(url, "--allow-http", "--types", "ORDER_CREATED")
    assert code == 1
    ping = _point(report, "PING")
    assert (ping["level"], ping["label"]) == ("fail", "CANT_GET_RESPONSE/HTTP")
    created = _point(report, "ORDER_CREATED")
    assert (created["level"], created["label"]) == ("fail", "VALID_NOTIFICATION_REJECTED")


def test_the_live_system_warning_is_given_with_json_too() -> None:
    # An unknown type stops the check before anything is sent: no request leaves loopback.
    result = run_cli(["check", "https://shop.example.com/market", "--json", "--types", "NOPE"])
    assert result.returncode == 2
    assert "WARNING: test notifications will reach a live system" in result.stderr
    assert result.stdout == ""


def test_usage_errors_exit_2() -> None:
    assert run_cli(["check", "ftp://example.com"]).returncode == 2
    assert run_cli(["check", "http://127.0.0.1:9"]).returncode == 2  # http without --allow-http
    bad_type = run_cli(["check", "https://127.0.0.1:9", "--types", "NOPE"])
    assert bad_type.returncode == 2
    assert "unknown type" in bad_type.stderr


def test_human_report_names_failures_and_hints() -> None:
    with broken_endpoint("status_500") as url:
        result = run_cli(["check", url, "--allow-http", "--types", "ORDER_CREATED"], timeout=60)
    assert result.returncode == 1
    assert "FAIL  PING" in result.stdout
    assert "CANT_GET_RESPONSE/HTTP" in result.stdout
    assert "→ answer 200 to every valid notification" in result.stdout
    assert "Market would NOT accept this endpoint." in result.stdout
