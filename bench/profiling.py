"""Sampling the server under load with py-spy, and summing the samples into "where the time goes".

py-spy (``record --format raw --threads``) writes one line per distinct stack:
``thread (TID): NAME;outer (file:line);...;inner (file:line) COUNT``. Only samples of a thread
that is running or runnable are recorded (idle waits are left out), so the shares below are
shares of *busy* time. The sums are pure functions of that text, tested on their own.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypedDict

from bench import load, receiver
from bench.scenarios import INTAKE_PATH, Scenario

_FRAME = re.compile(r"^(?P<function>.*?) \((?P<file>[^():]*)(?::\d+)?\)$")
_THREAD = re.compile(r"^thread \(\d+\): (?P<name>.*)$")

# The stages of the intake path, each named by a function (and the file it is in) that is on the
# stack while it runs. A sample counts toward every stage whose frame it holds, so stages nest
# ("parse_body" holds "JSON parsing"); the shares do not add up to 100 %.
INTAKE_STAGES: tuple[tuple[str, str, str], ...] = (
    (
        "HTTP parsing in uvicorn (httptools callbacks)",
        "HttpToolsProtocol.data_received",
        "uvicorn/",
    ),
    ("receiver intake, all of it", "ReceiverApp._intake", "receiver/app.py"),
    ("  source check", "SourcePolicy.admit", "receiver/sources.py"),
    ("  reading the body", "ReceiverApp._read_body", "receiver/app.py"),
    ("  parse_body: JSON + model + dedup key", "parse_body", "protocol/parse.py"),
    ("    JSON parsing (wire.loads)", "loads", "protocol/wire.py"),
    ("    model validation (pydantic)", "parse_payload", "protocol/parse.py"),
    ("    dedup key (canonical form + SHA-256)", "dedup_key", "protocol/wire.py"),
    # The benchmark's body is an ORDER_STATUS_UPDATED (bench/bodies.py).
    (
        "  state changes of the notification",
        "OrderStatusUpdated.state_changes",
        "protocol/models.py",
    ),
    ("  headers decoded for storage", "_decode_headers", "receiver/app.py"),
    ("  handing over to the store", "SqliteStore.accept", "store/sqlite.py"),
    ("  the 200 answer (body + send)", "ReceiverApp._send_success", "receiver/app.py"),
    ("loop writer: a batch's statements, on the loop", "LoopWriter._run_slice", "store/"),
    ("  inserting one notification (_accept)", "_accept", "store/sqlite.py"),
    ("  entity state update (_apply_state)", "_apply_state", "store/sqlite.py"),
    ("loop writer: the COMMIT and its fsync, on its thread", "_commit", "store/loopwriter.py"),
    ("event loop: waking the waiters of a batch", "LoopWriter._finish", "store/loopwriter.py"),
    ("group-commit writer thread (PINGs, jobs)", "GroupCommitWriter._commit_batch", "store/"),
)


@dataclass
class ProfileSummary:
    """Sample counts: per thread, per stage, and the busiest functions."""

    samples: int = 0
    by_thread: Counter[str] = field(default_factory=Counter)
    by_stage: Counter[str] = field(default_factory=Counter)
    self_time: Counter[str] = field(default_factory=Counter)  # leaf frames
    inclusive: Counter[str] = field(default_factory=Counter)  # on the stack at all

    def share(self, count: int) -> float:
        return 100.0 * count / self.samples if self.samples else 0.0


def frame_name(frame: str) -> str:
    """``Function (pkg/module.py:12)`` → ``Function (pkg/module.py)``: lines merged."""
    match = _FRAME.match(frame)
    if match is None:
        return frame
    return f"{match['function']} ({match['file']})"


def _is_frame_of(name: str, function: str, file_part: str) -> bool:
    called, _, where = name.partition(" (")
    return called == function and file_part in where


def summarize(raw: str) -> ProfileSummary:
    """Sum py-spy's raw (collapsed) stacks."""
    summary = ProfileSummary()
    for line in raw.splitlines():
        stack_text, _, count_text = line.rpartition(" ")
        if not stack_text or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack_text.split(";")
        thread = _THREAD.match(frames[0])
        if thread is not None:
            thread_name = thread["name"]
            frames = frames[1:]
        else:
            thread_name = "?"
        if not frames:
            continue
        summary.samples += count
        summary.by_thread[thread_name] += count
        names = [frame_name(frame) for frame in frames]
        summary.self_time[names[-1]] += count
        for name in set(names):
            summary.inclusive[name] += count
        for label, function, file_part in INTAKE_STAGES:
            if any(_is_frame_of(name, function, file_part) for name in names):
                summary.by_stage[label] += count
    return summary


def py_spy_path() -> str | None:
    """py-spy from this interpreter's environment (the bench extra), else from PATH."""
    beside = Path(sys.executable).parent / "py-spy"
    return str(beside) if beside.exists() else shutil.which("py-spy")


def record_argv(pid: int, seconds: float, output: Path, *, gil_only: bool) -> list[str]:
    tool = py_spy_path() or "py-spy"
    return [
        tool,
        "record",
        "--pid",
        str(pid),
        "--duration",
        f"{seconds:.0f}",
        "--rate",
        "100",
        "--format",
        "raw",
        "--threads",
        *(["--gil"] if gil_only else []),
        "--output",
        str(output),
    ]


class ProfileView(TypedDict):
    """One recording: "busy" (every non-idle thread) or "gil" (only the thread holding it)."""

    mode: str
    argv: list[str]
    samples: int
    by_thread: list[tuple[str, float]]
    stages: list[tuple[str, float]]
    top_self: list[tuple[str, float]]


class ProfileDocument(TypedDict):
    scenario: str
    load_argv: list[str]
    views: list[ProfileView]
    error: str | None


def view_of(mode: str, argv: list[str], summary: ProfileSummary, top: int) -> ProfileView:
    return ProfileView(
        mode=mode,
        argv=argv,
        samples=summary.samples,
        by_thread=[(name, summary.share(n)) for name, n in summary.by_thread.most_common()],
        stages=[(label, summary.share(summary.by_stage[label])) for label, _, _ in INTAKE_STAGES],
        top_self=[(name, summary.share(n)) for name, n in summary.self_time.most_common(top)],
    )


def profile_under_load(
    scenario: Scenario,
    *,
    seconds: float,
    connections: int,
    repo: Path,
    scratch: Path,
    run_ids: load.RunIds,
    top: int = 15,
) -> ProfileDocument:
    """Record ``scenario`` twice while wrk saturates it: all busy threads, then the GIL holder.

    One process serves and writes, so the GIL is the resource every request queues for; the
    second view shows who holds it, free of waits that py-spy may not recognise as idle.
    """
    document = ProfileDocument(scenario=scenario.name, load_argv=[], views=[], error=None)
    if py_spy_path() is None:
        document["error"] = "py-spy is not installed (it comes with the bench extra)"
        return document
    with receiver.running(scenario, repo, scratch) as server:
        url = server.url + INTAKE_PATH
        for mode in ("busy", "gil"):
            output = scratch / f"py-spy-{mode}.raw.txt"
            argv = record_argv(server.pid, seconds, output, gil_only=mode == "gil")
            recorder = subprocess.Popen(
                argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
            )
            saturation = load.run_wrk(
                url, seconds=seconds + 1, connections=connections, threads=1, run_id=run_ids.take()
            )
            document["load_argv"] = saturation.argv
            try:
                said, _ = recorder.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                recorder.kill()
                said, _ = recorder.communicate()
            if recorder.returncode != 0 or not output.exists():
                document["error"] = f"py-spy failed ({recorder.returncode}): {said.strip()[-2000:]}"
                return document
            document["views"].append(view_of(mode, argv, summarize(output.read_text()), top))
    return document
