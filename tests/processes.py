"""Running the real ``ymnotify`` CLI as a subprocess, for acceptance tests."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

_LISTENING = re.compile(r"listening on (\S+)")
_WORKER_RUNNING = re.compile(r"ymnotify worker (\S+) running")
YMNOTIFY = [sys.executable, "-m", "ymnotify"]
# `serve` also opens an admin listener, on port 8081 unless told otherwise: in tests it takes a
# free port, so servers of concurrent tests (and a developer's own receiver) never collide.
# A test that cares passes --admin-port or --no-admin, which win over the environment.
_TEST_DEFAULTS = {"YMNOTIFY_ADMIN_PORT": "0"}


class RunningServer:
    """A ``ymnotify`` server subprocess; ``url`` is where it listens."""

    def __init__(self, process: subprocess.Popen[str], url: str) -> None:
        self.process = process
        self.url = url
        self.output: list[str] = []
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()

    def _drain(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.output.append(line)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> int:
        """Signal the server, wait for it to exit and return its exit code."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait(timeout)
        self._reader.join(timeout)
        assert self.process.stderr is not None
        self.process.stderr.close()
        return code

    def wait_for_output(self, text: str, timeout: float = 10) -> str:
        """Wait until ``text`` appears in what the server printed (read by another thread)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            printed = "".join(self.output)
            if text in printed:
                return printed
            time.sleep(0.02)
        raise AssertionError(f"{text!r} not printed within {timeout:g}s:\n" + "".join(self.output))

    def kill(self) -> None:
        """kill -9: no cleanup of any kind runs."""
        self.stop(signal.SIGKILL)


def loopback_serve(db: Path, *extra: str) -> list[str]:
    """``serve`` arguments for a receiver on a free port, storing in ``db``, that accepts
    loopback sources (the tests' own requests): what ``start_server`` is given most often."""
    return [
        "serve",
        "--port",
        "0",
        "--db",
        f"sqlite:///{db}",
        "--allow-network",
        "127.0.0.0/8",
        *extra,
    ]


def start_server(
    args: Sequence[str],
    *,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 20,
    wrapper: Sequence[str] = (),
) -> RunningServer:
    """Start ``ymnotify ARGS`` (which must print "listening on URL") and wait until it does.

    ``wrapper`` is a command that runs the rest (``unshare …``); it must ``exec`` it, so the
    process (and ``kill``) is the server's own.
    """
    return _start(args, _LISTENING, "server", cwd=cwd, env=env, timeout=timeout, wrapper=wrapper)


def start_worker(
    args: Sequence[str],
    *,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 20,
) -> RunningServer:
    """Start ``ymnotify worker ARGS`` and wait until it runs; ``url`` holds its worker id."""
    return _start(["worker", *args], _WORKER_RUNNING, "worker", cwd=cwd, env=env, timeout=timeout)


def _start(
    args: Sequence[str],
    ready: re.Pattern[str],
    what: str,
    *,
    cwd: Path | None,
    env: dict[str, str] | None,
    timeout: float,
    wrapper: Sequence[str] = (),
) -> RunningServer:
    process = subprocess.Popen(
        [*wrapper, *YMNOTIFY, *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        cwd=cwd,
        env={**_TEST_DEFAULTS, **os.environ, **(env or {})},
    )
    assert process.stderr is not None
    deadline = time.monotonic() + timeout
    seen: list[str] = []
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line:
            break
        seen.append(line)
        match = ready.search(line)
        if match:
            server = RunningServer(process, match.group(1))
            server.output.extend(seen)
            return server
    process.kill()
    process.wait()
    process.stderr.close()
    raise AssertionError(f"{what} did not start:\n" + "".join(seen))


def run_cli(
    args: Sequence[str],
    *,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 60,
) -> subprocess.CompletedProcess[str]:
    """Run ``ymnotify ARGS`` to completion and return its result (not checked)."""
    return subprocess.run(
        [*YMNOTIFY, *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**_TEST_DEFAULTS, **os.environ, **(env or {})},
        timeout=timeout,
        check=False,
    )


def run_cli_bytes(
    args: Sequence[str], *, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[bytes]:
    """Like ``run_cli`` but with the output as bytes, exactly as written (no newline mapping)."""
    return subprocess.run(
        [*YMNOTIFY, *args],
        capture_output=True,
        env={**_TEST_DEFAULTS, **os.environ, **(env or {})},
        timeout=timeout,
        check=False,
    )
