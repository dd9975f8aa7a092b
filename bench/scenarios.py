"""The receiver scenarios: which programs are measured side by side, and how each is started.

Every scenario is one server process on loopback serving ``POST /notification`` with uvicorn as
``ymnotify.receiver.server`` configures it (same protocol class and flags, one process, one
event loop); only the application behind it differs. A scenario that cannot run yet carries the
reason in ``unavailable`` and is listed in the report as not measured, never faked.

Further suites (dispatch, the Market side) bring their own scenario lists; see bench/README.md.
"""

from __future__ import annotations

import enum
import sys
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path

from bench import postgres

INTAKE_PATH = "/notification"
CEILING_APP = "bench.baselines.noop_app:app"


class Role(enum.StrEnum):
    """What a scenario stands for in the comparison."""

    CEILING = "ceiling"  # the fastest any app on this server program can be
    SUBJECT = "ymnotify"  # what we ship
    BASELINE = "baseline"  # what people write today


@dataclass(frozen=True)
class Command:
    """How to start a server: argv, extra environment, working directory."""

    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    cwd: Path | None = None


@dataclass(frozen=True)
class Scenario:
    """One system under test. ``command(scratch)`` starts it with its data in ``scratch``."""

    name: str
    title: str
    role: Role
    command: Callable[[Path], Command] | None
    unavailable: str | None = None  # why it cannot be measured yet; then ``command`` is None
    durable: bool = True  # an acked notification survives an OS crash / power loss
    # Runs around the server (e.g. a database cluster); what it yields joins the server's env.
    service: Callable[[], AbstractContextManager[dict[str, str]]] | None = None

    def __post_init__(self) -> None:
        if (self.command is None) == (self.unavailable is None):
            raise ValueError(f"{self.name}: give exactly one of command and unavailable")


def _serve_app(
    app: str, env: dict[str, str] | None = None, *, source: Path | None = None
) -> Callable[[Path], Command]:
    def command(scratch: Path) -> Command:
        extra = {key: value.format(scratch=scratch) for key, value in (env or {}).items()}
        if source is not None:
            # An older revision's ymnotify (the server program and its event loop) on the path
            # before the installed one; the app and bench/baselines/serve_app.py are this
            # tree's (the server runs in the repository).
            extra["PYTHONPATH"] = str(source / "src")
        argv = [sys.executable, "-m", "bench.baselines.serve_app", app, "--port", "0"]
        return Command(argv, extra)

    return command


def _ymnotify_serve(
    *extra: str, source: Path | None = None, sqlite: bool = True
) -> Callable[[Path], Command]:
    def command(scratch: Path) -> Command:
        argv = [sys.executable, "-m", "ymnotify", "serve", "--port", "0"]
        if sqlite:  # otherwise the scenario's service gives YMNOTIFY_DB
            argv += ["--db", f"sqlite:///{scratch / 'ymnotify.db'}"]
        argv += ["--allow-network", "127.0.0.0/8", "--log-level", "warning", *extra]
        if source is None:
            return Command(argv)
        # An older revision's tree comes first on the path; run it from scratch, not the repo.
        return Command(argv, {"PYTHONPATH": str(source / "src")}, cwd=scratch)

    return command


CEILING = Scenario(
    "ceiling",
    "no-op ASGI app (reads the body, answers a fixed 200)",
    Role.CEILING,
    _serve_app(CEILING_APP),
)
YMNOTIFY_SQLITE_FULL = Scenario(
    "ymnotify-sqlite-full",
    "ymnotify serve, SQLite, synchronous=FULL (default)",
    Role.SUBJECT,
    _ymnotify_serve(),
)
YMNOTIFY_SQLITE_NORMAL = Scenario(
    "ymnotify-sqlite-normal",
    "ymnotify serve, SQLite, --sqlite-synchronous normal",
    Role.SUBJECT,
    _ymnotify_serve("--sqlite-synchronous", "normal"),
    durable=False,
)


def _postgres_scenario() -> Scenario:
    name, title = (
        "ymnotify-postgres",
        "ymnotify serve, PostgreSQL (private cluster, default settings, schema by"
        " `ymnotify db migrate`)",
    )
    if postgres.bin_dir() is None:
        return Scenario(
            name,
            title,
            Role.SUBJECT,
            None,
            unavailable="PostgreSQL is not installed here (Debian: apt-get install postgresql)",
        )
    return Scenario(
        name,
        title,
        Role.SUBJECT,
        _ymnotify_serve(sqlite=False),
        service=postgres.migrated_cluster,
    )


YMNOTIFY_POSTGRES = _postgres_scenario()
GLUE = Scenario(
    "glue",
    "FastAPI + pydantic + SQLAlchemy ORM, one commit per request (SQLite WAL, FULL)",
    Role.BASELINE,
    _serve_app("bench.baselines.glue_app:app", {"GLUE_DB_PATH": "{scratch}/glue.db"}),
)

# The order they run in; the report keeps it.
RECEIVER_SCENARIOS: tuple[Scenario, ...] = (
    CEILING,
    YMNOTIFY_SQLITE_FULL,
    YMNOTIFY_SQLITE_NORMAL,
    YMNOTIFY_POSTGRES,
    GLUE,
)


def ymnotify_at_revision(revision: str, source: Path) -> Scenario:
    """ymnotify (SQLite, FULL) as of ``revision``, whose tree is exported at ``source``.

    Measured in the same run as the working tree, it gives before/after figures for a change.
    """
    return Scenario(
        f"ymnotify-sqlite-full@{revision}",
        f"ymnotify serve at {revision}, SQLite, synchronous=FULL",
        Role.SUBJECT,
        _ymnotify_serve(source=source),
    )


def ceiling_at_revision(revision: str, source: Path) -> Scenario:
    """The no-op ceiling served by ymnotify's server program as of ``revision`` (tree exported
    at ``source``): what a change to the serving loop costs an app that does nothing."""
    return Scenario(
        f"ceiling@{revision}",
        f"no-op ASGI app on ymnotify's server program at {revision}",
        Role.CEILING,
        _serve_app(CEILING_APP, source=source),
    )


def by_name(name: str) -> Scenario:
    """The receiver scenario called ``name``; ``KeyError`` lists the known names."""
    for scenario in RECEIVER_SCENARIOS:
        if scenario.name == name:
            return scenario
    known = ", ".join(s.name for s in RECEIVER_SCENARIOS)
    raise KeyError(f"no scenario {name!r}; known: {known}")
