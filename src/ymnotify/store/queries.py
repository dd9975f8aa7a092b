"""Named SQL blocks, one file per dialect, so the dialects' parity can be read side by side.

``package`` names the package holding ``sql/`` and ``migrations/`` (the receiver's store by
default; the Market sandbox keeps its own beside its code).
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

_BLOCK_NAME = re.compile(r"^-- name: (\w+)\s*$", re.MULTILINE)
STORE_PACKAGE = "ymnotify.store"


@cache
def load(dialect: str, package: str = STORE_PACKAGE) -> dict[str, str]:
    """Every ``-- name: X`` block of ``sql/<dialect>.sql`` as ``{X: sql}``."""
    text = resources.files(package).joinpath("sql", f"{dialect}.sql").read_text("utf-8")
    parts = _BLOCK_NAME.split(text)
    # parts = [preamble, name1, body1, name2, body2, ...]
    return {
        name: body.strip().rstrip(";") for name, body in zip(parts[1::2], parts[2::2], strict=True)
    }


def migrations(dialect: str, package: str = STORE_PACKAGE) -> list[tuple[int, str]]:
    """The ``migrations/<dialect>/NNNN_*.sql`` scripts as ``(version, sql)``, in order."""
    folder = resources.files(package).joinpath("migrations", dialect)
    found = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            found.append((int(entry.name.split("_", 1)[0]), entry.read_text("utf-8")))
    return sorted(found)
