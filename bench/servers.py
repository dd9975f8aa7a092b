"""Starting a server under test as a subprocess, and reading its CPU time and memory."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path

_LISTENING = re.compile(r"listening on (http://\S+)")
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class ServerFailed(RuntimeError):
    """A server under test did not start or died; the message holds its output."""


@dataclass(frozen=True)
class Memory:
    """Resident set size now and at its peak, in KiB (``/proc/PID/status``)."""

    rss_kib: int
    peak_kib: int


class RunningServer:
    """A started server: its URL, process, and what it printed (stderr, read by a thread)."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self.url = ""
        self.output: list[str] = []
        self._listening = threading.Event()
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()

    def _drain(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.output.append(line)
            match = _LISTENING.search(line)
            if match and not self._listening.is_set():
                self.url = match.group(1)
                self._listening.set()
        self._listening.set()  # the process ended: nobody waits any longer

    def wait_listening(self, timeout: float) -> bool:
        return self._listening.wait(timeout) and bool(self.url)

    @property
    def pid(self) -> int:
        return self.process.pid

    def cpu_seconds(self) -> float:
        """User + system CPU time of the process so far, all threads."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS

    def memory(self) -> Memory:
        values: dict[str, int] = {}
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(rest.split()[0])
        return Memory(rss_kib=values["VmRSS"], peak_kib=values["VmHWM"])

    def check_alive(self) -> None:
        if self.process.poll() is not None:
            raise ServerFailed(f"server exited with {self.process.returncode}:\n{self.log()}")

    def log(self) -> str:
        return "".join(self.output[-40:])

    def stop(self, timeout: float = 15) -> int:
        """SIGTERM, wait (then SIGKILL) and return the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait(timeout)
        self._reader.join(timeout)
        return code


def start(argv: list[str], *, env: dict[str, str], cwd: Path, timeout: float = 30) -> RunningServer:
    """Start ``argv`` and wait until it prints ``listening on URL`` (within ``timeout`` s)."""
    process = subprocess.Popen(
        argv,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        cwd=cwd,
        env={**os.environ, **env},
    )
    server = RunningServer(process)
    if server.wait_listening(timeout):
        return server
    server.stop(timeout=5)
    raise ServerFailed(f"{' '.join(argv)} did not start within {timeout:g}s:\n{server.log()}")
