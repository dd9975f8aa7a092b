"""A private, throwaway PostgreSQL cluster for the "ymnotify on PostgreSQL" scenario.

The benchmark never touches a shared server (other developers' tests use it, and their load
would be ours): ``initdb`` makes a cluster in a temporary folder, ``pg_ctl`` starts it on a free
loopback port with PostgreSQL's defaults (``fsync`` and ``synchronous_commit`` on, so an ack is
durable like SQLite's FULL), and it is stopped and deleted afterwards. As root, the tools run as
the ``postgres`` user (``initdb`` refuses root).
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path


class ClusterUnavailable(RuntimeError):
    """PostgreSQL's server programs are missing or the cluster did not start."""


def bin_dir() -> Path | None:
    """The newest installed PostgreSQL's programs (Debian: /usr/lib/postgresql/N/bin)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def version() -> str:
    programs = bin_dir()
    if programs is None:
        return "not installed"
    done = subprocess.run(
        [str(programs / "postgres"), "--version"],
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    )
    return done.stdout.strip() or "unknown"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def private_cluster() -> Iterator[dict[str, str]]:
    """Run a fresh cluster; yield ``{"YMNOTIFY_DB": url}`` for the server's environment."""
    programs = bin_dir()
    if programs is None:
        raise ClusterUnavailable("PostgreSQL is not installed (Debian: apt-get install postgresql)")
    root = Path(tempfile.mkdtemp(prefix="ymnotify-bench-pg-"))
    as_root = os.geteuid() == 0
    if as_root:
        shutil.chown(root, "postgres", "postgres")
    data, port = root / "data", _free_port()

    def run(tool: str, *args: str) -> None:
        argv = [str(programs / tool), *args]
        if as_root:
            argv = ["runuser", "-u", "postgres", "--", *argv]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
        if done.returncode != 0:
            raise ClusterUnavailable(f"{tool} failed: {(done.stderr or done.stdout).strip()}")

    try:
        run("initdb", "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync")
        options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1"
        run("pg_ctl", "-D", str(data), "-o", options, "-l", str(root / "server.log"), "-w", "start")
        try:
            yield {"YMNOTIFY_DB": f"postgresql://postgres@127.0.0.1:{port}/postgres"}
        finally:
            run("pg_ctl", "-D", str(data), "-m", "fast", "-w", "stop")
    finally:
        shutil.rmtree(root, ignore_errors=True)


@contextlib.contextmanager
def migrated_cluster() -> Iterator[dict[str, str]]:
    """A private cluster with ymnotify's schema, made by ``ymnotify db migrate`` as a user would."""
    with private_cluster() as env:
        migrate = subprocess.run(
            [sys.executable, "-m", "ymnotify", "db", "migrate", "--db", env["YMNOTIFY_DB"]],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if migrate.returncode != 0:
            raise ClusterUnavailable(f"ymnotify db migrate failed: {migrate.stderr.strip()}")
        yield env
