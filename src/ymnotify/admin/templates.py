"""Jinja2 rendering for the dashboard: templates shipped in the package, always autoescaped."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from jinja2 import (
    BaseLoader,
    ChoiceLoader,
    Environment,
    PackageLoader,
    StrictUndefined,
    select_autoescape,
)
from starlette.responses import HTMLResponse

from ymnotify.admin.health import ago


def _utc(moment: datetime | None) -> str:
    if moment is None:
        return "—"
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _utc_input(moment: datetime | None) -> str:
    """The value of a ``datetime-local`` input (UTC, to the second)."""
    return "" if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


def _ago(moment: datetime | None) -> str:
    return "never" if moment is None else ago(datetime.now(UTC) - moment)


SHARED = PackageLoader("ymnotify.admin", "templates")


def environment(*own: BaseLoader) -> Environment:
    """A dashboard's templates: its ``own`` first, then the shared layout (``base.html``),
    partials and filters, so every dashboard looks alike without copying them."""
    env = Environment(
        loader=ChoiceLoader([*own, SHARED]),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,  # a misspelt name fails the page (and its test), never blanks
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(utc=_utc, utc_input=_utc_input, ago=_ago)
    return env


_ENVIRONMENT = environment()


def render_with(
    env: Environment, name: str, status_code: int = 200, **context: Any
) -> HTMLResponse:
    """The page ``name`` of ``env`` rendered with ``context``."""
    return HTMLResponse(env.get_template(name).render(**context), status_code=status_code)


def render(name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """The receiver dashboard's page ``name`` rendered with ``context``."""
    return render_with(_ENVIRONMENT, name, status_code, **context)
