"""Issue 2, "Must show": HTTPS served by ``ymnotify serve`` itself with a certificate from a local
test CA, verified by a real client; a client that does not trust the CA refuses to talk."""

from __future__ import annotations

import json
import ssl
from pathlib import Path

import httpx
import pytest
import trustme

from tests.acceptance.answers import assert_success
from tests.acceptance.receivers import Receivers
from ymnotify.protocol import samples


def _client_trusting(ca: trustme.CA) -> httpx.Client:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return httpx.Client(verify=context, timeout=10)


def test_https_with_a_certificate_from_a_local_ca(receivers: Receivers, tmp_path: Path) -> None:
    ca = trustme.CA()
    certificate = ca.issue_cert("127.0.0.1", "localhost")
    cert_file, key_file = tmp_path / "chain.pem", tmp_path / "key.pem"
    cert_file.write_bytes(b"".join(blob.bytes() for blob in certificate.cert_chain_pems))
    certificate.private_key_pem.write_to_path(str(key_file))
    receiver = receivers.start("--tls-cert", str(cert_file), "--tls-key", str(key_file))
    assert receiver.url.startswith("https://127.0.0.1:")
    body = json.dumps(samples.sample("ORDER_CREATED")).encode()

    with _client_trusting(ca) as client:
        ping = client.post(f"{receiver.url}/notification", json={"notificationType": "PING"})
        assert_success(ping)
        created = client.post(
            f"{receiver.url}/notification",
            content=body,
            headers={"content-type": "application/json"},
        )
        assert_success(created)
        tls = created.extensions["network_stream"].get_extra_info("ssl_object")
        print(f"\nTLS: {tls.version()} {tls.cipher()[0]}")
        assert tls.version() in ("TLSv1.2", "TLSv1.3")

    # Not trusting the test CA (the system store, or another CA): verification fails.
    with httpx.Client(timeout=10) as system_trust, pytest.raises(httpx.ConnectError) as failure:
        system_trust.post(f"{receiver.url}/notification", content=body)
    assert "CERTIFICATE_VERIFY_FAILED" in str(failure.value)
    with _client_trusting(trustme.CA()) as other_ca, pytest.raises(httpx.ConnectError) as failure:
        other_ca.post(f"{receiver.url}/notification", content=body)
    assert "CERTIFICATE_VERIFY_FAILED" in str(failure.value)
    # Plain HTTP to the HTTPS port is not served.
    with pytest.raises(httpx.HTTPError):
        httpx.post(receiver.url.replace("https://", "http://") + "/notification", content=body)

    (row,) = receiver.inbox()
    assert row["payload"] == json.loads(body)
