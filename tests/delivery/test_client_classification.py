"""Every failure kind Market distinguishes, produced on a real loopback socket and classified.

Market's classes (PROTOCOL.md §3): CANT_GET_RESPONSE with CONNECTION_REFUSED,
CONNECTION_TIMED_OUT, READ_TIMED_OUT, SSL_ERROR, HTTP, UNSUPPORTED_MEDIA_TYPE; INVALID_RESPONSE
with CANT_PARSE_RESPONSE, INVALID_DATA. Timeouts are shortened (the client takes the timeout as
an argument) so the table runs in about a second.
"""

from __future__ import annotations

import datetime as dt
import json
import ssl
from pathlib import Path

import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.endpoints import (
    CLOSE,
    OK,
    SILENT,
    closed_port,
    full_backlog,
    http_response,
    serve_endpoint,
    server_tls,
    valid_body,
)
from ymnotify.delivery.client import ClientOptions, DeliveryClient
from ymnotify.delivery.outcome import FailureSubtype, FailureType, Verdict

SHORT = 0.5  # seconds; stands in for Market's 10 s
BODY = b'{"notificationType":"PING","time":"2026-01-01T00:00:00Z"}'
LOCAL = ClientOptions(allow_http=True, allow_private_targets=True)

ANSWERS = [
    ("200 valid", OK, Verdict.DELIVERED, None),
    (
        "200 json with charset",
        http_response(200, valid_body(), content_type="application/json; charset=utf-8"),
        Verdict.DELIVERED,
        None,
    ),
    ("400", http_response(400, b'{"error":{}}'), Verdict.REJECTED, FailureSubtype.HTTP),
    ("500", http_response(500, b'{"error":{}}'), Verdict.FAILED, FailureSubtype.HTTP),
    ("503", http_response(503, b""), Verdict.FAILED, FailureSubtype.HTTP),
    ("201", http_response(201, valid_body()), Verdict.FAILED, FailureSubtype.HTTP),
    (
        "302 redirect (never followed)",
        http_response(302, b"", extra=(("Location", "/elsewhere"),)),
        Verdict.FAILED,
        FailureSubtype.HTTP,
    ),
    (
        "200 text/plain",
        http_response(200, valid_body(), content_type="text/plain"),
        Verdict.FAILED,
        FailureSubtype.UNSUPPORTED_MEDIA_TYPE,
    ),
    (
        "200 no content type",
        http_response(200, valid_body(), content_type=None),
        Verdict.FAILED,
        FailureSubtype.UNSUPPORTED_MEDIA_TYPE,
    ),
    (
        "200 unparsable body",
        http_response(200, b"{not json"),
        Verdict.FAILED,
        FailureSubtype.CANT_PARSE_RESPONSE,
    ),
    ("200 empty body", http_response(200, b""), Verdict.FAILED, FailureSubtype.CANT_PARSE_RESPONSE),
    (
        "200 missing version",
        http_response(200, json.dumps({"name": "shop", "time": "2026-01-01T00:00:00Z"}).encode()),
        Verdict.FAILED,
        FailureSubtype.INVALID_DATA,
    ),
    (
        "200 non-ASCII name",
        http_response(
            200,
            json.dumps(
                {"version": "1", "name": "магазин", "time": "2026-01-01T00:00:00Z"}
            ).encode(),
        ),
        Verdict.FAILED,
        FailureSubtype.INVALID_DATA,
    ),
    (
        "200 time without offset",
        http_response(
            200, json.dumps({"version": "1", "name": "s", "time": "2026-01-01T00:00:00"}).encode()
        ),
        Verdict.FAILED,
        FailureSubtype.INVALID_DATA,
    ),
    ("not HTTP at all", b"hello, this is not HTTP\r\n\r\n", Verdict.FAILED, FailureSubtype.HTTP),
    ("closed without answer", CLOSE, Verdict.FAILED, FailureSubtype.CONNECTION_REFUSED),
    ("never answers", SILENT, Verdict.FAILED, FailureSubtype.READ_TIMED_OUT),
]


@pytest.mark.parametrize(
    ("answer", "verdict", "subtype"),
    [case[1:] for case in ANSWERS],
    ids=[case[0] for case in ANSWERS],
)
async def test_answers_are_classified_as_market_does(
    answer: bytes, verdict: Verdict, subtype: FailureSubtype | None
) -> None:
    async with serve_endpoint(answer) as endpoint, DeliveryClient(LOCAL) as client:
        attempt = await client.post(f"{endpoint.url}/notification", BODY, timeout=SHORT)
    assert attempt.outcome.verdict is verdict, attempt.outcome
    assert attempt.outcome.subtype is subtype, attempt.outcome
    assert len(endpoint.requests) == 1  # one attempt, no redirect followed, no client retry
    sent = endpoint.requests[0]
    assert sent.method == "POST"
    assert sent.path == "/notification"
    assert sent.headers["content-type"] == "application/json"
    assert sent.body == BODY
    assert sent.headers["traceparent"] == attempt.traceparent
    print(
        f"{attempt.outcome.label():<45} {attempt.latency * 1000:7.1f} ms  {attempt.outcome.detail}"
    )


async def test_connection_refused() -> None:
    async with DeliveryClient(LOCAL) as client:
        attempt = await client.post(f"http://127.0.0.1:{closed_port()}/notification", BODY)
    assert attempt.outcome.failure_type is FailureType.CANT_GET_RESPONSE
    assert attempt.outcome.subtype is FailureSubtype.CONNECTION_REFUSED
    assert attempt.status is None


async def test_connect_timeout_on_a_listener_with_a_full_accept_queue() -> None:
    with full_backlog() as port:
        async with DeliveryClient(LOCAL) as client:
            attempt = await client.post(
                f"http://127.0.0.1:{port}/notification", BODY, timeout=SHORT
            )
    assert attempt.outcome.subtype is FailureSubtype.CONNECTION_TIMED_OUT, attempt.outcome
    assert SHORT * 0.9 <= attempt.latency < SHORT * 4


async def test_read_timeout_takes_the_given_timeout() -> None:
    async with serve_endpoint(SILENT) as endpoint, DeliveryClient(LOCAL) as client:
        attempt = await client.post(endpoint.url, BODY, timeout=SHORT)
    assert attempt.outcome.subtype is FailureSubtype.READ_TIMED_OUT
    assert attempt.latency >= SHORT * 0.9


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def ca_file(ca: trustme.CA, tmp_path: Path) -> str:
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


def self_signed_tls(host: str, folder: Path) -> ssl.SSLContext:
    """A server context whose certificate signs itself (no CA anyone trusts)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "self-signed.pem", folder / "self-signed.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_path, key_path)
    return context


async def test_https_with_the_local_ca_is_delivered(ca: trustme.CA, ca_file: str) -> None:
    options = ClientOptions(ca_bundle=ca_file, allow_private_targets=True)
    async with (
        serve_endpoint(OK, tls=server_tls(ca, "localhost")) as endpoint,
        DeliveryClient(options) as client,
    ):
        url = endpoint.url.replace("127.0.0.1", "localhost")
        first = await client.post(url, BODY, timeout=SHORT)
        second = await client.post(url, BODY, timeout=SHORT)
    assert first.outcome.verdict is Verdict.DELIVERED, first.outcome
    assert second.outcome.verdict is Verdict.DELIVERED
    assert endpoint.connections == 1  # keep-alive: the second POST reused the connection
    assert first.traceparent != second.traceparent


TLS_FAILURES = ["unknown CA", "self-signed", "wrong host name", "plain HTTP server"]


@pytest.mark.parametrize("case", TLS_FAILURES)
async def test_tls_failures_are_ssl_errors(
    case: str, ca: trustme.CA, ca_file: str, tmp_path: Path
) -> None:
    trusted = ClientOptions(ca_bundle=ca_file, allow_private_targets=True)
    untrusted = ClientOptions(allow_private_targets=True)
    if case == "unknown CA":
        tls, options = server_tls(ca, "localhost"), untrusted
    elif case == "self-signed":
        tls, options = self_signed_tls("localhost", tmp_path), trusted
    elif case == "wrong host name":
        tls, options = server_tls(ca, "shop.example"), trusted
    else:
        tls, options = None, trusted
    async with serve_endpoint(OK, tls=tls) as endpoint, DeliveryClient(options) as client:
        url = endpoint.url.replace("http://", "https://").replace("127.0.0.1", "localhost")
        attempt = await client.post(url, BODY, timeout=SHORT)
    assert attempt.outcome.failure_type is FailureType.CANT_GET_RESPONSE
    assert attempt.outcome.subtype is FailureSubtype.SSL_ERROR, attempt.outcome
    assert endpoint.requests == []  # nothing was sent over an untrusted connection
    print(f"{case}: {attempt.outcome.detail}")


async def test_loopback_targets_are_refused_unless_allowed() -> None:
    async with serve_endpoint(OK) as endpoint:
        async with DeliveryClient(ClientOptions(allow_http=True)) as client:
            refused = await client.post(endpoint.url, BODY, timeout=SHORT)
            by_name = await client.post(
                endpoint.url.replace("127.0.0.1", "localhost"), BODY, timeout=SHORT
            )
        async with DeliveryClient(LOCAL) as client:
            allowed = await client.post(endpoint.url, BODY, timeout=SHORT)
    for attempt in (refused, by_name):
        assert attempt.outcome.subtype is FailureSubtype.CONNECTION_REFUSED
        assert "loopback" in attempt.outcome.detail
        assert "--allow-private-targets" in attempt.outcome.detail
    assert allowed.outcome.verdict is Verdict.DELIVERED
    assert len(endpoint.requests) == 1  # the refused ones never reached the socket


async def test_plain_http_is_refused_unless_allowed() -> None:
    async with serve_endpoint(OK) as endpoint:
        options = ClientOptions(allow_private_targets=True)
        async with DeliveryClient(options) as client:
            attempt = await client.post(endpoint.url, BODY, timeout=SHORT)
    assert attempt.outcome.verdict is Verdict.FAILED
    assert "HTTPS" in attempt.outcome.detail
    assert endpoint.requests == []
