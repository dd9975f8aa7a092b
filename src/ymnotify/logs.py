"""Logging set-up: one line per event, as text for people or JSON for machines."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Protocol

import click

LOG_FORMATS = ("text", "json")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, and the exception if any."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure(log_format: str = "text", level: str = "info") -> None:
    """Send ymnotify's (and uvicorn's) logs to stderr in the chosen format."""
    handler = logging.StreamHandler(sys.stderr)
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


class Announce(Protocol):
    """Writes one start-up line to stderr."""

    def __call__(self, message: str, level: str = "info") -> None: ...


def announcer(log_format: str) -> Announce:
    """How a command's start-up lines (where it listens, warnings) reach stderr.

    As plain lines for ``text``; for ``json`` as one event object each, like every other line,
    so a log shipper parses all of stderr. They are shown whatever the log level: scripts and
    tests wait for the "listening on" line.
    """
    if log_format != "json":

        def say_text(message: str, level: str = "info") -> None:
            click.echo(message, err=True)

        return say_text

    def say_json(message: str, level: str = "info") -> None:
        entry = {
            "time": datetime.now(UTC).isoformat(),
            "level": level,
            "logger": "ymnotify.cli",
            "message": message,
        }
        click.echo(json.dumps(entry, ensure_ascii=False), err=True)

    return say_json
