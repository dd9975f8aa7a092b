"""Versioned SQLite migrations tracked by ``PRAGMA user_version``, for every SQLite file we own."""

from __future__ import annotations

import sqlite3

from ymnotify.errors import SchemaMismatch


def migrate_sqlite(
    connection: sqlite3.Connection, scripts: list[tuple[int, str]]
) -> tuple[int, int]:
    """Bring an empty or older file up to the latest of ``scripts``; refuse a newer one.

    Returns (version before, version after).
    """
    latest = scripts[-1][0]
    connection.execute("BEGIN IMMEDIATE")  # one process migrates; others wait, then see it done
    try:
        current = connection.execute("PRAGMA user_version").fetchone()[0]
        if current > latest:
            raise SchemaMismatch(
                f"store schema version {current} is newer than this ymnotify knows ({latest});"
                " upgrade ymnotify",
                found=current,
                expected=latest,
            )
        for version, script in scripts:
            if version > current:
                for statement in _statements(script):
                    connection.execute(statement)
                connection.execute(f"PRAGMA user_version = {version}")
        connection.execute("COMMIT")
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    return current, max(current, latest)


def _statements(script: str) -> list[str]:
    # executescript() would commit our transaction; split on ';' instead (no ';' inside SQL text).
    lines = [line for line in script.splitlines() if not line.lstrip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]
