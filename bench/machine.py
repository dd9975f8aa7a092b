"""Facts about the machine and software a benchmark ran on, for the report."""

from __future__ import annotations

import os
import platform
import shutil
import sqlite3
import subprocess
from importlib import metadata
from pathlib import Path

from bench import postgres

PACKAGES = (
    "ymnotify",
    "uvicorn",
    "httptools",
    "starlette",
    "pydantic",
    "pydantic_core",
    "fastapi",
    "SQLAlchemy",
    "matplotlib",
    "py-spy",
    "aiohttp",
    "uvloop",
)


def cpu_model() -> str:
    """``model name (family F, model M)`` of the first CPU in /proc/cpuinfo."""
    fields: dict[str, str] = {}
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())
    name = fields.get("model name") or platform.processor() or "unknown"
    if "cpu family" in fields and "model" in fields:
        name += f" (family {fields['cpu family']}, model {fields['model']})"
    return name


def memory_gib() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) / 1024 / 1024
    return 0.0


def os_name() -> str:
    for line in Path("/etc/os-release").read_text().splitlines():
        if line.startswith("PRETTY_NAME="):
            return line.split("=", 1)[1].strip('"')
    return platform.system()


def filesystem(path: Path) -> str:
    """``device type`` of the mount holding ``path`` (where the databases live)."""
    best = ("", "unknown", "unknown")
    resolved = str(path.resolve())
    for line in Path("/proc/mounts").read_text().splitlines():
        device, mount, kind = line.split()[:3]
        inside = resolved == mount or resolved.startswith(mount.rstrip("/") + "/")
        if inside and len(mount) >= len(best[0]):
            best = (mount, device, kind)
    return f"{best[2]} on {best[1]} (mounted at {best[0]})"


def load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def package_versions() -> dict[str, str]:
    versions: dict[str, str] = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def tool_version(argv: list[str]) -> str:
    if shutil.which(argv[0]) is None:
        return "not installed"
    done = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)
    lines = (done.stdout + done.stderr).strip().splitlines()
    return lines[0] if lines else "unknown"


def git_revision(repo: Path) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), "describe", "--always", "--dirty", "--abbrev=12"],
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    )
    return done.stdout.strip() or "unknown"


def facts(scratch: Path, repo: Path) -> dict[str, str]:
    """Everything the report's machine section lists, as ordered text."""
    return {
        "CPU": cpu_model(),
        "cores (online)": str(os.cpu_count()),
        "memory": f"{memory_gib():.1f} GiB",
        "OS": f"{os_name()}, kernel {platform.release()}",
        "virtualisation": _hypervisor(),
        "filesystem of the databases": filesystem(scratch),
        "Python": f"{platform.python_implementation()} {platform.python_version()}",
        "SQLite library": sqlite3.sqlite_version,
        "wrk": tool_version(["wrk", "-v"]),
        "PostgreSQL": postgres.version(),
        "event loops": "receivers and baselines: asyncio's, reads first; Market sandbox: "
        + ("uvloop" if _has("uvloop") else "asyncio's (uvloop not installed)"),
        "ymnotify revision": git_revision(repo),
        **{f"package {name}": version for name, version in package_versions().items()},
    }


def _has(module: str) -> bool:
    try:
        metadata.version(module)
    except metadata.PackageNotFoundError:
        return False
    return True


def _hypervisor() -> str:
    flags = Path("/proc/cpuinfo").read_text()
    return "virtual machine (hypervisor flag set)" if " hypervisor" in flags else "none seen"
