"""What the checker concludes from each request: pure judgements, no I/O.

Every point gets a level (pass, warn, fail, or not checked), a label — Market's own error class
where Market has one (``CANT_GET_RESPONSE/READ_TIMED_OUT``…), ours otherwise
(``MALFORMED_ACCEPTED``…) — and a one-line hint on how to fix it. A point "Market requires"
failing makes the whole check fail.
"""

from __future__ import annotations

import enum
import ipaddress
import json
import re
from dataclasses import dataclass

from ymnotify.delivery.client import Attempt
from ymnotify.delivery.outcome import FailureSubtype, TransportFailure, Verdict, media_type
from ymnotify.delivery.targets import NOTIFICATION_PATH
from ymnotify.protocol.enums import ErrorType
from ymnotify.protocol.responses import JSON_CONTENT_TYPE

# Latencies above these are allowed but close enough to Market's limits (1 s, 10 s) to worry.
PING_SLOW = 0.5
NOTIFICATION_SLOW = 5.0


class Level(enum.StrEnum):
    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"
    NOT_CHECKED = "not checked"


class OurLabel(enum.StrEnum):
    """Labels for findings Market has no error class for."""

    OK = "OK"
    SLOW = "SLOW"
    PLAIN_HTTP = "PLAIN_HTTP"
    VALID_REJECTED = "VALID_NOTIFICATION_REJECTED"
    DUPLICATE_REJECTED = "DUPLICATE_REJECTED"
    MALFORMED_ACCEPTED = "MALFORMED_ACCEPTED"
    INVALID_ERROR_BODY = "INVALID_ERROR_BODY"
    UNKNOWN_TYPE_REJECTED = "UNKNOWN_TYPE_REJECTED"
    SOURCE_FILTER = "SOURCE_FILTER_ACTIVE"
    PATH_TWICE = "NOTIFICATION_PATH_TWICE"


HINTS: dict[str, str] = {
    FailureSubtype.CONNECTION_REFUSED: "nothing accepts connections there: is the server up,"
    " the port open to the internet, the firewall open?",
    FailureSubtype.CONNECTION_TIMED_OUT: "the connection was never established: check DNS, the"
    " firewall and that the host is reachable from outside",
    FailureSubtype.READ_TIMED_OUT: "answer first, work later: store the notification, answer 200,"
    " and process it in the background",
    FailureSubtype.SSL_ERROR: "use a certificate from a recognised CA, with the full chain, valid"
    " for this host name (self-signed ones are refused)",
    FailureSubtype.HTTP: "answer 200 to every valid notification (redirects are not followed;"
    " register the final URL)",
    FailureSubtype.UNSUPPORTED_MEDIA_TYPE: "send the answer with Content-Type: application/json",
    FailureSubtype.CANT_PARSE_RESPONSE: 'answer with a JSON body {"version","name","time"}',
    FailureSubtype.INVALID_DATA: 'the 200 body needs "version" and "name" (ASCII, 1-100'
    ' characters) and "time" (RFC 3339, with an offset)',
    OurLabel.SLOW: "close to Market's limit: answer before doing any slow work",
    OurLabel.PLAIN_HTTP: "Market only delivers to https:// URLs; fine for a local test only",
    OurLabel.VALID_REJECTED: "400 means Market never retries: this valid notification would be"
    " lost. Accept every valid body (and unknown fields and enum values)",
    OurLabel.DUPLICATE_REJECTED: "Market resends notifications; answer 200 to a repeat (a 400"
    " shows up as an error in Market's log)",
    OurLabel.MALFORMED_ACCEPTED: "answer 400 WRONG_EVENT_FORMAT to a broken body; a 200 tells"
    " Market a broken notification was processed",
    OurLabel.INVALID_ERROR_BODY: 'answer errors as JSON {"error": {"type": "WRONG_EVENT_FORMAT",'
    ' "message": "..."}}',
    OurLabel.UNKNOWN_TYPE_REJECTED: "Market adds notification types; store unknown ones and"
    " answer 200, or they are lost (400 is never retried)",
    OurLabel.PATH_TWICE: "Market appends /notification to the URL registered in the cabinet:"
    " register (and check) the URL without it, or check with --post-to-url-as-is",
    OurLabel.SOURCE_FILTER: "the endpoint refuses this machine's address, as it should refuse"
    " everyone but Market: allow this address temporarily to check the rest",
}

# Hints for situations whose label is shared with another that needs a different fix.
PING_REJECTED_HINT = (
    "Market switches notifications on only after a 200 to PING: answer PING with 200 and the"
    " {version, name, time} body (never 400)"
)
CONNECTION_LOST_HINT = (
    "the connection was accepted, then closed without an answer: look in the server's (or its"
    " proxy's) log for a crash or a dropped request"
)
MALFORMED_STATUS_HINT = "answer 400 WRONG_EVENT_FORMAT to a body that is not a valid notification"
# No connection at all (as opposed to one lost after it was made): nothing more to learn.
_NO_CONNECTION = frozenset(
    {
        TransportFailure.CONNECTION_REFUSED,
        TransportFailure.CONNECT_TIMEOUT,
        TransportFailure.TLS,
        TransportFailure.TARGET_REFUSED,
    }
)


@dataclass(frozen=True, slots=True)
class Point:
    """One line of the report."""

    name: str
    level: Level
    label: str
    detail: str = ""
    latency: float | None = None
    status: int | None = None
    traceparent: str | None = None
    fix: str = ""  # the hint, when the label's usual one does not fit this point

    @property
    def hint(self) -> str:
        if self.level in (Level.PASS, Level.NOT_CHECKED):
            return ""
        if self.fix:
            return self.fix
        # Market's labels read TYPE/SUBTYPE; the hint depends on the subtype alone.
        return HINTS.get(self.label) or HINTS.get(self.label.rsplit("/", 1)[-1], "")


def _from_attempt(
    name: str, attempt: Attempt, level: Level, label: str, detail: str, fix: str = ""
) -> Point:
    return Point(
        name=name,
        level=level,
        label=label,
        detail=detail,
        latency=attempt.latency,
        status=attempt.status,
        traceparent=attempt.traceparent,
        fix=fix,
    )


def _market_failure(name: str, attempt: Attempt, *, fix: str = "") -> Point:
    outcome = attempt.outcome
    if not fix and outcome.transport is TransportFailure.CONNECTION_LOST:
        fix = CONNECTION_LOST_HINT
    return _from_attempt(name, attempt, Level.FAIL, outcome.label(), outcome.detail, fix)


def judge_delivery(name: str, attempt: Attempt, *, slow_after: float) -> Point:
    """A valid notification (or PING): Market needs a timely 200 with a valid body."""
    outcome = attempt.outcome
    if outcome.verdict is Verdict.DELIVERED:
        if attempt.latency > slow_after:
            detail = f"answered in {attempt.latency:.2f}s"
            return _from_attempt(name, attempt, Level.WARN, OurLabel.SLOW, detail)
        return _from_attempt(name, attempt, Level.PASS, OurLabel.OK, "200, valid body")
    if outcome.verdict is Verdict.REJECTED:
        return _from_attempt(name, attempt, Level.FAIL, OurLabel.VALID_REJECTED, outcome.detail)
    return _market_failure(name, attempt)


def judge_ping(attempt: Attempt) -> Point:
    """PING: a 400 is no rejection of one notification but a refused integration, which
    Market logs under its own class (``CANT_GET_RESPONSE/HTTP``)."""
    outcome = attempt.outcome
    if outcome.verdict is Verdict.REJECTED:
        detail = "status 400, expected 200"
        return _from_attempt(
            "PING", attempt, Level.FAIL, outcome.label(), detail, PING_REJECTED_HINT
        )
    return judge_delivery("PING", attempt, slow_after=PING_SLOW)


def judge_notification(notification_type: str, attempt: Attempt) -> Point:
    return judge_delivery(notification_type, attempt, slow_after=NOTIFICATION_SLOW)


def judge_duplicate(attempt: Attempt) -> Point:
    """An exact repeat: 200 is right; 400 only clutters Market's log; anything else fails."""
    outcome = attempt.outcome
    if outcome.verdict is Verdict.REJECTED:
        return _from_attempt(
            "duplicate", attempt, Level.WARN, OurLabel.DUPLICATE_REJECTED, outcome.detail
        )
    return judge_delivery("duplicate", attempt, slow_after=NOTIFICATION_SLOW)


def error_body_problem(attempt: Attempt) -> str | None:
    """Why a 400's body is not ``{"error": {"type", "message"}}`` JSON, or ``None``."""
    if media_type(attempt.content_type) != JSON_CONTENT_TYPE:
        return f"Content-Type {attempt.content_type or 'none'}, expected {JSON_CONTENT_TYPE}"
    try:
        document = json.loads(attempt.response_body)
    except (ValueError, UnicodeDecodeError):
        return "body is not JSON"
    error = document.get("error") if isinstance(document, dict) else None
    if not isinstance(error, dict):
        return 'no "error" object'
    if "type" in error and error["type"] not in {kind.value for kind in ErrorType}:
        return f"error.type {error['type']!r} is not one of {', '.join(ErrorType)}"
    if "message" in error and not isinstance(error["message"], str):
        return "error.message is not a string"
    return None


def judge_malformed(attempt: Attempt) -> Point:
    """A broken body must be answered 400 with an error body, never 200."""
    name = "malformed body"
    outcome = attempt.outcome
    if outcome.verdict is Verdict.REJECTED:
        problem = error_body_problem(attempt)
        if problem:
            return _from_attempt(name, attempt, Level.WARN, OurLabel.INVALID_ERROR_BODY, problem)
        return _from_attempt(name, attempt, Level.PASS, OurLabel.OK, "400 with an error body")
    if attempt.status == 200:
        detail = "answered 200 to a notification missing required fields"
        return _from_attempt(name, attempt, Level.FAIL, OurLabel.MALFORMED_ACCEPTED, detail)
    if attempt.status is not None:  # Market's classifier expects 200; this point expects 400
        detail = f"status {attempt.status}, expected 400"
        return _from_attempt(
            name, attempt, Level.FAIL, outcome.label(), detail, MALFORMED_STATUS_HINT
        )
    return _market_failure(name, attempt)


def judge_unknown_type(attempt: Attempt) -> Point:
    """A type Market may add tomorrow: stored with a 200 is best; a 5xx or no answer fails."""
    name = "unknown future type"
    outcome = attempt.outcome
    if outcome.verdict is Verdict.DELIVERED:
        return _from_attempt(name, attempt, Level.PASS, OurLabel.OK, "200, valid body")
    if outcome.verdict is Verdict.REJECTED:
        return _from_attempt(
            name, attempt, Level.WARN, OurLabel.UNKNOWN_TYPE_REJECTED, outcome.detail
        )
    return _market_failure(name, attempt)


def judge_transport(scheme: str, first: Attempt) -> Point:
    """TLS and certificate, judged from the first exchange."""
    name = "TLS certificate"
    subtype = first.outcome.subtype
    if scheme == "http":
        detail = "plain HTTP (allowed by --allow-http)"
        return Point(name, Level.WARN, OurLabel.PLAIN_HTTP, detail)
    if subtype is FailureSubtype.SSL_ERROR:
        return _market_failure(name, first)
    if unreachable(first):
        return Point(name, Level.NOT_CHECKED, "-", "no connection")
    return Point(name, Level.PASS, OurLabel.OK, "certificate verified")


def path_twice_point(url: str, target: str, ping: Attempt) -> Point | None:
    """A warning when the PING found nothing (404) at a target whose path names
    ``/notification`` twice: the URL given already ended in it, and Market adds it again."""
    doubled = NOTIFICATION_PATH + NOTIFICATION_PATH
    if ping.status != 404 or not target.split("?", 1)[0].rstrip("/").endswith(doubled):
        return None
    return Point(
        "URL",
        Level.WARN,
        OurLabel.PATH_TWICE,
        f"{url} already ends in {NOTIFICATION_PATH}; Market posts to {target}, which answered 404",
        status=404,
    )


_SOURCE_IN_REFUSAL = re.compile(r"source (\S+) is not")


def unreachable(attempt: Attempt) -> bool:
    """No connection was made at all: nothing more can be learnt from this endpoint. (One that
    was made and then lost, or timed out waiting for an answer, says nothing of the next.)"""
    return attempt.outcome.transport in _NO_CONNECTION


def source_filter_point(attempts: list[Attempt]) -> Point | None:
    """Every answer a 403: the endpoint filters sources (as it should); say so as a pass.

    The detail names the address to allow temporarily: the one the endpoint says it saw (a
    ymnotify receiver says it in its 403 body), else this machine's public address.
    """
    if not attempts or any(attempt.status != 403 for attempt in attempts):
        return None
    seen = _SOURCE_IN_REFUSAL.search(attempts[0].response_body.decode("utf-8", "replace"))
    network = _single_address_network(seen.group(1)) if seen else None
    if network is None:
        allow = "allow this machine's public address temporarily (ymnotify serve:"
        allow += " --allow-network ADDRESS/32)"
    else:
        allow = f"allow {network.network_address} temporarily"
        allow += f" (ymnotify serve: --allow-network {network})"
    return Point(
        "source filter",
        Level.PASS,
        OurLabel.SOURCE_FILTER,
        f"every request was answered 403; to check the rest, {allow}",
        status=403,
    )


def _single_address_network(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    """``10.1.2.3`` → ``10.1.2.3/32`` (``/128`` for IPv6); ``None`` if it is no address."""
    try:
        return ipaddress.ip_network(text)
    except ValueError:
        return None
