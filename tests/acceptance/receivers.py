"""A real ``ymnotify serve`` subprocess on a fresh SQLite file, and its inbox read via the CLI."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from tests.processes import RunningServer, run_cli, run_cli_bytes, start_server

LOOPBACK = ("--allow-network", "127.0.0.0/8")


def load_line(line: str) -> dict[str, Any]:
    """One JSON Lines record, numbers kept exact (ids beyond 2**53, ``1.10``)."""
    document: dict[str, Any] = json.loads(line, parse_float=Decimal)
    return document


@dataclass
class Receiver:
    """A running receiver and the database it writes to."""

    server: RunningServer
    db_path: Path
    flags: tuple[str, ...] = field(default=())
    db_url: str | None = None  # set: the store is this URL (PostgreSQL), not ``db_path``

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def db(self) -> str:
        return self.db_url or f"sqlite:///{self.db_path}"

    def inbox(self, *filters: str) -> list[dict[str, Any]]:
        """``ymnotify inbox list --json`` with ``filters``, every row, oldest first."""
        result = run_cli(
            ["inbox", "list", "--db", self.db, "--json", "--limit", "100000", *filters]
        )
        assert result.returncode == 0, result.stderr
        assert "Traceback" not in result.stderr, result.stderr
        return [load_line(line) for line in reversed(result.stdout.splitlines())]

    def inbox_lines(self, *filters: str) -> list[str]:
        """The raw JSON Lines of ``inbox list --json``, oldest first."""
        result = run_cli(
            ["inbox", "list", "--db", self.db, "--json", "--limit", "100000", *filters]
        )
        assert result.returncode == 0, result.stderr
        return list(reversed(result.stdout.splitlines()))

    def stats(self) -> dict[str, Any]:
        """``ymnotify inbox stats --json``."""
        result = run_cli(["inbox", "stats", "--db", self.db, "--json"])
        assert result.returncode == 0, result.stderr
        document: dict[str, Any] = json.loads(result.stdout)
        return document

    def show(self, notification_id: int) -> bytes:
        """``ymnotify inbox show ID`` output, as bytes (must succeed)."""
        result = run_cli_bytes(["inbox", "show", "--db", self.db, str(notification_id)])
        assert result.returncode == 0, result.stderr
        return result.stdout

    def restart(self) -> None:
        """Start the server again on the same database (after ``stop`` or ``kill``)."""
        self.server = start_server(["serve", "--port", "0", "--db", self.db, *self.flags])

    def log(self) -> str:
        return "".join(self.server.output)


class Receivers:
    """Starts receivers for one test and stops whatever is still running at its end."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory
        self._started: list[Receiver] = []

    def start(
        self,
        *flags: str,
        loopback: bool = True,
        db_path: Path | None = None,
        db_url: str | None = None,
    ) -> Receiver:
        """``ymnotify serve --port 0`` on a fresh database (or ``db_path``, or the store at
        ``db_url``) with ``flags``.

        ``loopback`` adds ``--allow-network 127.0.0.0/8`` so the test may post at all.
        """
        path = db_path or self._directory / f"inbox-{len(self._started)}.db"
        all_flags = (*flags, *LOOPBACK) if loopback else tuple(flags)
        db = db_url or f"sqlite:///{path}"
        server = start_server(["serve", "--port", "0", "--db", db, *all_flags])
        receiver = Receiver(server, path, all_flags, db_url)
        self._started.append(receiver)
        return receiver

    def stop_all(self) -> None:
        for receiver in self._started:
            receiver.server.stop()  # also reaps one that already exited, and closes its pipe
