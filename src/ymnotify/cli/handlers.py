"""What ``serve`` and ``worker`` share about handlers: ``--app`` and the worker flags."""

from __future__ import annotations

import importlib
import os
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

import ymnotify
from ymnotify.cli.options import Duration, option
from ymnotify.dispatch.retry import RetryPolicy
from ymnotify.dispatch.router import Router
from ymnotify.dispatch.worker import WorkerSettings
from ymnotify.errors import ConfigError

F = Callable[..., Any]

APP_HELP = "Your handlers: module:attribute of a ymnotify.Router, e.g. shop.handlers:router."


def worker_options(*, min_workers: int) -> Callable[[F], F]:
    """``--workers`` and the retry, timeout and lease flags, in one decorator."""
    flags = [
        option(
            "--workers",
            default=4,
            show_default=True,
            type=click.IntRange(min_workers, 1000),
            help="Handlers run at once in this process"
            + (" (0: store only, run `ymnotify worker` apart)." if min_workers == 0 else "."),
        ),
        option(
            "--retry-max-attempts",
            default=RetryPolicy().max_attempts,
            show_default=True,
            type=click.IntRange(1, 1000),
            help="Attempts per handler before its job is dead-lettered.",
        ),
        option(
            "--retry-base-delay",
            default="2s",
            show_default=True,
            type=Duration(),
            help="Wait after the first failure; doubles each time (with jitter).",
        ),
        option(
            "--retry-max-delay",
            default="10m",
            show_default=True,
            type=Duration(),
            help="Longest wait between attempts.",
        ),
        option(
            "--handler-timeout",
            default="60s",
            show_default=True,
            type=Duration(),
            help="A handler running longer fails this attempt.",
        ),
        option(
            "--lease",
            default="30s",
            show_default=True,
            type=Duration(),
            help="How long a job stays with a worker that stopped renewing it (killed, frozen).",
        ),
        option(
            "--poll-interval",
            default="1s",
            show_default=True,
            type=Duration(),
            help="How often to look for work other processes stored.",
        ),
        option(
            "--shutdown-grace",
            default="10s",
            show_default=True,
            type=Duration(),
            help="On SIGTERM, how long running handlers may finish before their jobs go back.",
        ),
    ]

    def decorate(command: F) -> F:
        for flag in reversed(flags):
            command = flag(command)
        return command

    return decorate


def settings_from_flags(flags: dict[str, Any]) -> WorkerSettings:
    """``WorkerSettings`` from the values of ``worker_options`` (``ConfigError`` if unusable)."""
    return WorkerSettings(
        concurrency=max(flags["workers"], 1),
        retry=RetryPolicy(
            max_attempts=flags["retry_max_attempts"],
            base_delay=flags["retry_base_delay"],
            max_delay=flags["retry_max_delay"],
        ),
        handler_timeout=flags["handler_timeout"],
        lease=flags["lease"],
        poll_interval=flags["poll_interval"],
        shutdown_grace=flags["shutdown_grace"],
    )


def load_router(spec: str) -> Router:
    """Import ``module:attribute`` (from the current directory too) and check it is a Router."""
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise ConfigError(f"--app {spec!r}: expected module:attribute, e.g. shop.handlers:router")
    if os.getcwd() not in sys.path:  # like `python -m`: the project you run it from is importable
        sys.path.insert(0, os.getcwd())
    try:
        target: Any = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and (
            exc.name == module_name or module_name.startswith(exc.name + ".")
        ):
            raise ConfigError(f"--app {spec!r}: no module named {exc.name!r}") from exc
        raise ConfigError(f"--app {spec!r}: importing it failed: {_where(exc)}") from exc
    except Exception as exc:
        raise ConfigError(f"--app {spec!r}: importing it failed: {_where(exc)}") from exc
    for part in attribute.split("."):
        if not hasattr(target, part):
            raise ConfigError(f"--app {spec!r}: {module_name} has no attribute {attribute!r}")
        target = getattr(target, part)
    if not isinstance(target, Router):
        raise ConfigError(f"--app {spec!r} is a {type(target).__name__}, not a ymnotify.Router")
    if not target.handlers():
        raise ConfigError(f"--app {spec!r}: the router has no handlers")
    return target


def _where(exc: BaseException) -> str:
    """``Type: message (file:line)`` of the innermost frame outside ymnotify (a ``router.on``
    that refuses its arguments raises inside ymnotify, but the line to fix is the user's)."""
    frames = traceback.extract_tb(exc.__traceback__)
    own = [frame for frame in frames if not _is_ours(frame.filename) and frame.filename[:1] != "<"]
    frame = own[-1] if own else (frames[-1] if frames else None)
    place = f" ({frame.filename}:{frame.lineno})" if frame else ""
    return f"{type(exc).__name__}: {exc}{place}"


_PACKAGE_DIR = str(Path(ymnotify.__file__).resolve().parent)


def _is_ours(filename: str) -> bool:
    return str(Path(filename).resolve()).startswith(_PACKAGE_DIR + os.sep)
