"""Click options that also read ``YMNOTIFY_<FLAG>`` from the environment, shown in ``--help``."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import click

from ymnotify.logs import LOG_FORMATS

ENV_PREFIX = "YMNOTIFY_"
MARKET_ENV_PREFIX = "YMNOTIFY_MARKET_"

F = Callable[..., Any]


def env_name(flag: str, prefix: str = ENV_PREFIX) -> str:
    """``--integration-version`` → ``YMNOTIFY_INTEGRATION_VERSION``."""
    return prefix + flag.lstrip("-").replace("-", "_").upper()


def option(*decls: str, env_prefix: str = ENV_PREFIX, **attrs: Any) -> Callable[[F], F]:
    """``click.option`` with an environment fallback named after the first long flag.

    Repeatable options take a comma-separated list from the environment (and on the command
    line each occurrence may also hold a comma-separated list).
    """
    flag = next(d for d in decls if d.startswith("--")).split("/")[0]
    attrs.setdefault("envvar", env_name(flag, env_prefix))
    attrs.setdefault("show_envvar", True)
    if attrs.get("multiple"):
        attrs.setdefault("callback", _split_commas)
    return click.option(*decls, **attrs)


def log_options(env_prefix: str = ENV_PREFIX) -> Callable[[F], F]:
    """``--log-format`` and ``--log-level``, alike on every command that runs a service."""

    def add(command: F) -> F:
        command = option(
            "--log-level",
            env_prefix=env_prefix,
            default="info",
            show_default=True,
            type=click.Choice(["debug", "info", "warning", "error"]),
            help="Least severe log records shown.",
        )(command)
        return option(
            "--log-format",
            env_prefix=env_prefix,
            default="text",
            show_default=True,
            type=click.Choice(LOG_FORMATS),
            help="text for people, json for log collectors (one object per line).",
        )(command)

    return add


def _split_commas(
    _ctx: click.Context, _param: click.Parameter, values: tuple[str, ...]
) -> tuple[str, ...]:
    return tuple(part.strip() for value in values for part in value.split(",") if part.strip())


_SIZE = re.compile(r"^\s*(\d+)\s*([kmg]i?b?|b)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


class ByteSize(click.ParamType[int]):
    """A size like ``1MiB``, ``512k`` or ``1048576``; binary units."""

    name = "size"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int):
            return value
        match = _SIZE.match(str(value))
        if not match:
            self.fail(f"{value!r} is not a size (e.g. 1MiB, 512KiB, 1048576)", param, ctx)
        unit = (match.group(2) or "").lower()[:1]
        size = int(match.group(1)) * _UNITS[unit]
        if size < 1:
            self.fail("size must be at least 1 byte", param, ctx)
        return size


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$", re.IGNORECASE)
_SECONDS = {"ms": 0.001, "s": 1, "": 1, "m": 60, "h": 3600, "d": 86400}


class Duration(click.ParamType[float]):
    """A duration like ``30d``, ``12h``, ``90s``, ``250ms`` or plain seconds."""

    name = "duration"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        if isinstance(value, int | float):
            return float(value)
        match = _DURATION.match(str(value))
        if not match:
            self.fail(f"{value!r} is not a duration (e.g. 30d, 12h, 90s, 250ms)", param, ctx)
        return float(match.group(1)) * _SECONDS[(match.group(2) or "").lower()]


class Moment(click.ParamType[datetime]):
    """A point in time: RFC 3339 (``2026-09-20T09:15:00Z``), a UTC date (``2026-09-20``), or
    a duration ago (``24h``, ``7d``)."""

    name = "time"

    def __init__(self, now: Callable[[], datetime] | None = None) -> None:
        self._now = now or (lambda: datetime.now(UTC))

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> datetime:
        if isinstance(value, datetime):
            return value
        text = str(value).strip()
        if _DURATION.match(text):
            ago = Duration().convert(text, param, ctx)
            return self._now() - timedelta(seconds=ago)
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            self.fail(
                f"{value!r} is not a time (e.g. 2026-09-20T09:15:00Z, 2026-09-20, 24h ago as 24h)",
                param,
                ctx,
            )
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
