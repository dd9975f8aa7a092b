"""Versioned SQLite migrations tracked by ``PRAGMA user_version``, for every SQLite file we own.

Each kind of file we own carries its own ``PRAGMA application_id`` in its header, so that a
mistyped path to another program's database (or to the other kind of ymnotify store) is refused
instead of getting our tables added to it.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from ymnotify.errors import ForeignFile, SchemaMismatch


@dataclass(frozen=True, slots=True)
class FileKind:
    """One kind of SQLite file we own: the application id in its header, a table every version
    of it has (files written before the id was set are recognised by it), and its name."""

    application_id: int
    marker_table: str
    label: str


RECEIVER_FILE = FileKind(0x594D4E52, "notifications", "ymnotify receiver store")  # "YMNR"
MARKET_FILE = FileKind(0x594D4E4D, "subscriptions", "ymnotify Market store")  # "YMNM"
_KNOWN = {kind.application_id: kind for kind in (RECEIVER_FILE, MARKET_FILE)}


def ownership_problem(kind: FileKind, found_id: int, version: int, tables: set[str]) -> str | None:
    """Why a file with this header and these tables is not ``kind``'s to migrate, or None."""
    if found_id == kind.application_id:
        return None
    if found_id in _KNOWN:
        return f"it is a {_KNOWN[found_id].label}, not a {kind.label}"
    if found_id != 0:
        return f"it belongs to another program (application id {found_id:#x})"
    if version == 0 and not tables:
        return None  # a new, empty file
    if version > 0 and kind.marker_table in tables:
        return None  # ours, written before the application id was set
    return f"it holds tables that are not a {kind.label}'s"


def migrate_sqlite(
    connection: sqlite3.Connection, scripts: list[tuple[int, str]], kind: FileKind
) -> tuple[int, int]:
    """Bring an empty or older file of ``kind`` up to the latest of ``scripts``; refuse a newer
    one, and any file that is not ``kind``'s (``ForeignFile``).

    Returns (version before, version after).
    """
    latest = scripts[-1][0]
    connection.execute("BEGIN IMMEDIATE")  # one process migrates; others wait, then see it done
    try:
        current = connection.execute("PRAGMA user_version").fetchone()[0]
        found_id = connection.execute("PRAGMA application_id").fetchone()[0]
        tables = {
            row[0]
            for row in connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        }
        if problem := ownership_problem(kind, found_id, current, tables):
            raise ForeignFile(f"{problem}; ymnotify leaves it untouched: check --db")
        if found_id != kind.application_id:
            connection.execute(f"PRAGMA application_id = {kind.application_id}")
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
    """The script's statements, one by one: executescript() would commit our transaction.

    Split at each ';' that ends a statement as SQLite reads it (a trigger's body holds several;
    no ';' inside SQL text)."""
    lines = [line for line in script.splitlines() if not line.lstrip().startswith("--")]
    statements: list[str] = []
    pending = ""
    for piece in "\n".join(lines).split(";"):
        pending += piece + ";"
        if sqlite3.complete_statement(pending):
            if pending.strip(" \n\t;"):
                statements.append(pending.strip())
            pending = ""
    if pending.strip(" \n\t;"):
        statements.append(pending.strip())
    return statements
