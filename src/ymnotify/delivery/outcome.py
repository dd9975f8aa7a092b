"""How Market judges one delivery attempt: pure, shared by the sandbox and the checker.

Market's rules (PROTOCOL.md §3): a 200 with an ``application/json`` body holding a valid
``version``, ``name`` and ``time`` is delivered; a 400 is rejected and never retried; anything
else is a failure, retried, and logged with an error type and subtype:

| type                | subtype                  | when                                            |
|---------------------|--------------------------|-------------------------------------------------|
| CANT_GET_RESPONSE   | CONNECTION_REFUSED       | no connection (refused, reset, dropped, no DNS) |
| CANT_GET_RESPONSE   | CONNECTION_TIMED_OUT     | connecting took longer than the timeout         |
| CANT_GET_RESPONSE   | READ_TIMED_OUT           | no complete answer within the timeout           |
| CANT_GET_RESPONSE   | SSL_ERROR                | TLS handshake or certificate verification fails |
| CANT_GET_RESPONSE   | HTTP                     | a status other than 200 (3xx included), or an   |
|                     |                          | answer that is not HTTP                         |
| CANT_GET_RESPONSE   | UNSUPPORTED_MEDIA_TYPE   | 200 whose Content-Type is not application/json  |
| INVALID_RESPONSE    | CANT_PARSE_RESPONSE      | 200 whose body is not JSON                      |
| INVALID_RESPONSE    | INVALID_DATA             | 200 whose JSON lacks a valid version/name/time  |

A 400 is logged as ``CANT_GET_RESPONSE``/``HTTP`` too, with the verdict ``rejected``. Failures
that happen on our side before any packet leaves (a target refused because its address is not
globally routable) are reported as ``CONNECTION_REFUSED`` with the reason in ``detail``: Market
could not connect either.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from ymnotify.protocol import wire
from ymnotify.protocol.responses import JSON_CONTENT_TYPE, success_body_problem


class Verdict(enum.StrEnum):
    """What Market concludes from one attempt."""

    DELIVERED = "delivered"  # 200 with a valid body
    REJECTED = "rejected"  # 400: a bad notification in the receiver's view; never retried
    FAILED = "failed"  # anything else: retried on Market's schedule


class FailureType(enum.StrEnum):
    """Market's error type, as its request log shows it."""

    CANT_GET_RESPONSE = "CANT_GET_RESPONSE"
    INVALID_RESPONSE = "INVALID_RESPONSE"


class FailureSubtype(enum.StrEnum):
    """Market's error subtype, as its request log shows it."""

    CONNECTION_REFUSED = "CONNECTION_REFUSED"
    CONNECTION_TIMED_OUT = "CONNECTION_TIMED_OUT"
    READ_TIMED_OUT = "READ_TIMED_OUT"
    SSL_ERROR = "SSL_ERROR"
    HTTP = "HTTP"
    UNSUPPORTED_MEDIA_TYPE = "UNSUPPORTED_MEDIA_TYPE"
    CANT_PARSE_RESPONSE = "CANT_PARSE_RESPONSE"
    INVALID_DATA = "INVALID_DATA"


SUBTYPE_TYPE: dict[FailureSubtype, FailureType] = {
    FailureSubtype.CONNECTION_REFUSED: FailureType.CANT_GET_RESPONSE,
    FailureSubtype.CONNECTION_TIMED_OUT: FailureType.CANT_GET_RESPONSE,
    FailureSubtype.READ_TIMED_OUT: FailureType.CANT_GET_RESPONSE,
    FailureSubtype.SSL_ERROR: FailureType.CANT_GET_RESPONSE,
    FailureSubtype.HTTP: FailureType.CANT_GET_RESPONSE,
    FailureSubtype.UNSUPPORTED_MEDIA_TYPE: FailureType.CANT_GET_RESPONSE,
    FailureSubtype.CANT_PARSE_RESPONSE: FailureType.INVALID_RESPONSE,
    FailureSubtype.INVALID_DATA: FailureType.INVALID_RESPONSE,
}


class TransportFailure(enum.StrEnum):
    """Why no HTTP response came back; decided by the client from what the network did."""

    CONNECTION_REFUSED = "connection_refused"  # refused, unreachable, no such host
    CONNECTION_LOST = "connection_lost"  # connected, then reset or closed before an answer
    CONNECT_TIMEOUT = "connect_timeout"
    READ_TIMEOUT = "read_timeout"  # connected, but no complete answer in time
    TLS = "tls"  # handshake failed or the certificate was not trusted
    PROTOCOL = "protocol"  # the peer answered something that is not HTTP/1.1
    TARGET_REFUSED = "target_refused"  # our own refusal: address not globally routable


_TRANSPORT_SUBTYPE: dict[TransportFailure, FailureSubtype] = {
    TransportFailure.CONNECTION_REFUSED: FailureSubtype.CONNECTION_REFUSED,
    TransportFailure.CONNECTION_LOST: FailureSubtype.CONNECTION_REFUSED,
    TransportFailure.CONNECT_TIMEOUT: FailureSubtype.CONNECTION_TIMED_OUT,
    TransportFailure.READ_TIMEOUT: FailureSubtype.READ_TIMED_OUT,
    TransportFailure.TLS: FailureSubtype.SSL_ERROR,
    TransportFailure.PROTOCOL: FailureSubtype.HTTP,
    TransportFailure.TARGET_REFUSED: FailureSubtype.CONNECTION_REFUSED,
}


@dataclass(frozen=True, slots=True)
class Outcome:
    """The verdict on one attempt; ``subtype`` is ``None`` only when delivered."""

    verdict: Verdict
    subtype: FailureSubtype | None = None
    detail: str = ""
    # What the network did when no HTTP answer came back; Market's subtype folds some of these
    # together (a lost connection is logged as CONNECTION_REFUSED), the checker tells them apart.
    transport: TransportFailure | None = None

    @property
    def failure_type(self) -> FailureType | None:
        """Market's error type, derived from the subtype."""
        return None if self.subtype is None else SUBTYPE_TYPE[self.subtype]

    @property
    def answered(self) -> bool:
        """True for 200 and 400: the endpoint is reachable and took a position."""
        return self.verdict is not Verdict.FAILED

    def label(self) -> str:
        """``delivered`` or e.g. ``CANT_GET_RESPONSE/READ_TIMED_OUT``."""
        if self.subtype is None:
            return self.verdict.value
        return f"{self.failure_type}/{self.subtype}"


DELIVERED = Outcome(Verdict.DELIVERED)


def media_type(content_type: str | None) -> str:
    """``application/json; charset=utf-8`` → ``application/json`` (lower case)."""
    if not content_type:
        return ""
    return content_type.split(";", 1)[0].strip().lower()


def classify_response(
    status: int, content_type: str | None, body: bytes, *, body_cut_at: int | None = None
) -> Outcome:
    """Judge an HTTP answer as Market does (status first, then media type, then the body).

    ``body_cut_at`` says the client stopped reading the body at that many bytes: a 200 body
    that large cannot be an integration's ``{version, name, time}``.
    """
    if status == 400:
        return Outcome(Verdict.REJECTED, FailureSubtype.HTTP, "400 Bad Request: not retried")
    if status != 200:
        return Outcome(Verdict.FAILED, FailureSubtype.HTTP, f"status {status}, expected 200")
    if media_type(content_type) != JSON_CONTENT_TYPE:
        shown = content_type or "none"
        return Outcome(
            Verdict.FAILED,
            FailureSubtype.UNSUPPORTED_MEDIA_TYPE,
            f"Content-Type {shown}, expected {JSON_CONTENT_TYPE}",
        )
    if body_cut_at is not None:
        return Outcome(
            Verdict.FAILED,
            FailureSubtype.CANT_PARSE_RESPONSE,
            f"body longer than {body_cut_at} bytes",
        )
    try:
        document = wire.loads(body)
    except wire.MalformedJson as exc:
        return Outcome(Verdict.FAILED, FailureSubtype.CANT_PARSE_RESPONSE, str(exc))
    problem = success_body_problem(document)
    if problem is not None:
        return Outcome(Verdict.FAILED, FailureSubtype.INVALID_DATA, problem)
    return DELIVERED


def classify_failure(failure: TransportFailure, detail: str) -> Outcome:
    """Judge an attempt that got no HTTP answer."""
    return Outcome(Verdict.FAILED, _TRANSPORT_SUBTYPE[failure], detail, failure)
