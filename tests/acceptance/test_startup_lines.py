"""What ``serve`` and ``worker`` print at start: JSON when asked, and no database password."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.dispatch.apps import SPOOL_ENV
from tests.processes import start_server, start_worker


def _with_password(url: str) -> str:
    """The same database, the URL carrying a password (trust auth here ignores it)."""
    return re.sub(r"://([^:/@]+)@", r"://\1:s3cret-pw@", url, count=1)


def test_start_up_lines_hide_the_password_and_are_json_when_asked(
    postgres_url: str, tmp_path: Path
) -> None:
    db = _with_password(postgres_url)
    assert "s3cret-pw" in db
    worker = start_worker(
        ["--db", db, "--app", "tests.dispatch.apps:statuses", "--log-format", "json",
         "--metrics-port", "0"],
        env={SPOOL_ENV: str(tmp_path)},
    )  # fmt: skip
    receiver = start_server(
        ["serve", "--port", "0", "--no-admin", "--db", db, "--log-format", "json"]
    )
    try:
        receiver.wait_for_output('"store: postgresql://')
        worker.wait_for_output("/metrics")
    finally:
        assert receiver.stop() == 0
        assert worker.stop() == 0
    for process in (worker, receiver):
        lines = [line for line in "".join(process.output).splitlines() if line.strip()]
        assert lines
        for line in lines:
            entry = json.loads(line)  # every line one object, the start-up ones included
            assert "s3cret-pw" not in entry["message"]
    printed = "".join(worker.output) + "".join(receiver.output)
    assert ":***@" in printed
    assert "stopped" in "".join(worker.output)
