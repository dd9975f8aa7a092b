"""How hard the chaos tests push: a quick count in ``make test``, a larger one in ``make chaos``.

``make chaos`` sets ``YMNOTIFY_CHAOS=1``; a single count can be forced with its own variable
(for example ``YMNOTIFY_FUZZ_EXAMPLES=5000``).
"""

from __future__ import annotations

import os

CHAOS = os.environ.get("YMNOTIFY_CHAOS") == "1"


def count(variable: str, *, quick: int, chaos: int) -> int:
    """``$variable`` if set, else ``chaos`` under ``make chaos``, else ``quick``."""
    forced = os.environ.get(variable)
    if forced:
        return int(forced)
    return chaos if CHAOS else quick


def rss_kib(pid: int) -> int:
    """Resident set size of process ``pid`` in KiB (Linux ``/proc``)."""
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError(f"no VmRSS for process {pid}")
