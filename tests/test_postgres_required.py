"""``.ci/run`` sets ``YMNOTIFY_REQUIRE_POSTGRES=1``: then a PostgreSQL test without a server must
fail, never skip (a skip would pass CI with the PostgreSQL backend untested)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PYTEST = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
# A few PostgreSQL tests of each kind: the contract suite, the store's own, the processes'.
SELECTION = [
    "tests/store/test_postgres.py",
    "tests/store/test_prune_cli.py",
    "tests/integration/test_postgres_processes.py",
    "tests/integration/test_postgres_faults.py",
    "tests/store/test_prune_contract.py",
]


def _run_without_a_server(required: bool) -> dict[str, int]:
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "YMNOTIFY_REQUIRE_POSTGRES")}
    env["YMNOTIFY_TEST_DATABASE_URL"] = "postgresql://postgres@127.0.0.1:1/nothing"
    if required:
        env["YMNOTIFY_REQUIRE_POSTGRES"] = "1"
    done = subprocess.run(
        [*PYTEST, "-k", "postgres", "-m", "not slow", *SELECTION],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=110,
        check=False,
    )
    summary = done.stdout.strip().splitlines()[-1]
    return {word: int(n) for n, word in re.findall(r"(\d+) (\w+)", summary)}


def test_postgres_tests_skip_without_a_server_unless_required() -> None:
    relaxed = _run_without_a_server(required=False)
    assert relaxed.get("skipped", 0) > 0
    assert relaxed.get("failed", 0) == relaxed.get("errors", 0) == 0
    required = _run_without_a_server(required=True)
    assert required.get("skipped", 0) == 0, required
    # Every test that was skipped fails now (as a failure or a setup error).
    assert required.get("failed", 0) + required.get("errors", 0) == relaxed["skipped"]
