"""Running the checks against an endpoint, in Market's order, with Market's client."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ymnotify.check import points
from ymnotify.check.points import Level, Point
from ymnotify.delivery.client import (
    NOTIFICATION_TIMEOUT,
    PING_TIMEOUT,
    Attempt,
    ClientOptions,
    DeliveryClient,
)
from ymnotify.delivery.targets import InvalidTarget, check_url, notification_url
from ymnotify.errors import ConfigError
from ymnotify.protocol.enums import NotificationType
from ymnotify.protocol.samples import sample

# A type no Market version has: how the endpoint treats the types Market will add later.
UNKNOWN_TYPE = "YMNOTIFY_CHECK_FUTURE_TYPE"


@dataclass(frozen=True)
class CheckOptions:
    """What to check and how to connect."""

    url: str
    allow_http: bool = False
    ca_bundle: str | None = None
    types: Sequence[str] = ()  # empty: every type but PING
    post_to_url_as_is: bool = False


@dataclass
class CheckReport:
    """Every point in order; ``ok`` when nothing Market requires failed."""

    url: str
    target: str
    points: list[Point] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Every point passed or only warned: a point not checked is no pass (Market's PING
        would not have been seen to succeed either)."""
        return all(point.level in (Level.PASS, Level.WARN) for point in self.points)

    def count(self, level: Level) -> int:
        return sum(point.level is level for point in self.points)


def selected_types(types: Sequence[str]) -> list[str]:
    """The notification types to sample, each once, in the order given (PING is always sent
    first, so naming it adds nothing); raise ``ConfigError`` for a name Market does not use."""
    known = [kind.value for kind in NotificationType if kind is not NotificationType.PING]
    if not types:
        return known
    unknown = [name for name in types if name not in known and name != NotificationType.PING]
    if unknown:
        raise ConfigError(
            f"--types: unknown type(s) {', '.join(unknown)}; known: {', '.join(known)}"
        )
    chosen = list(dict.fromkeys(name for name in types if name != NotificationType.PING))
    if not chosen:
        raise ConfigError("--types: PING is always sent; name at least one notification type")
    return chosen


def malformed_body() -> dict[str, Any]:
    """An ORDER_CREATED without its required order id and items: plainly malformed."""
    body = sample(NotificationType.ORDER_CREATED)
    del body["orderId"], body["items"]
    return body


def _encode(body: dict[str, Any]) -> bytes:
    return json.dumps(body, ensure_ascii=False).encode()


async def run_check(
    options: CheckOptions, on_point: Callable[[Point], None] = lambda point: None
) -> CheckReport:
    """Check ``options.url`` point by point; ``on_point`` sees each point as soon as it is known."""
    try:
        parsed = check_url(options.url, allow_http=options.allow_http)
    except InvalidTarget as exc:
        raise ConfigError(str(exc)) from exc
    types = selected_types(options.types)
    target = notification_url(parsed, as_is=options.post_to_url_as_is)
    report = CheckReport(url=options.url, target=target)

    def add(point: Point) -> None:
        report.points.append(point)
        on_point(point)

    client_options = ClientOptions(
        allow_http=options.allow_http,
        allow_private_targets=True,  # the user chose this URL; Market's SSRF rule is not ours
        ca_bundle=options.ca_bundle,
        user_agent="ymnotify-check",
    )
    async with DeliveryClient(client_options) as client:

        async def post(body: dict[str, Any] | bytes, limit: float) -> Attempt:
            data = body if isinstance(body, bytes) else _encode(body)
            return await client.post(target, data, timeout=limit)

        ping = await post(sample(NotificationType.PING), PING_TIMEOUT)
        first_sample = _encode(sample(types[0]))
        if ping.status == 403:
            probe = await post(first_sample, NOTIFICATION_TIMEOUT)
            filtered = points.source_filter_point([ping, probe])
            if filtered is not None:
                add(points.judge_transport(parsed.scheme, ping))
                add(filtered)
                for name in ("PING", *types, "duplicate", "malformed body", "unknown future type"):
                    add(Point(name, Level.NOT_CHECKED, "-", "refused by the source filter"))
                return report
        add(points.judge_transport(parsed.scheme, ping))
        add(points.judge_ping(ping))
        path_twice = points.path_twice_point(options.url, target, ping)
        if path_twice is not None:
            add(path_twice)
        if points.unreachable(ping):
            for name in (*types, "duplicate", "malformed body", "unknown future type"):
                add(Point(name, Level.NOT_CHECKED, "-", "no connection (see PING)"))
            return report
        for index, notification_type in enumerate(types):
            body = first_sample if index == 0 else _encode(sample(notification_type))
            add(
                points.judge_notification(notification_type, await post(body, NOTIFICATION_TIMEOUT))
            )
        add(points.judge_duplicate(await post(first_sample, NOTIFICATION_TIMEOUT)))
        add(points.judge_malformed(await post(malformed_body(), NOTIFICATION_TIMEOUT)))
        add(points.judge_unknown_type(await post(sample(UNKNOWN_TYPE), NOTIFICATION_TIMEOUT)))
    return report
