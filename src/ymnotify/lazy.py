"""Package namespaces whose names are imported on first use (PEP 562).

Every ``ymnotify`` command imports the ``ymnotify`` package first, and most import
``ymnotify.protocol``; when those imported all they re-export (the pydantic models, the worker,
the receiver), each command paid for all of it at start.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable


def lazy_exports(
    package: str, exports: dict[str, str]
) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of ``package`` that import each name of ``exports``
    (name → module) when it is first asked for, and keep it in the package's namespace."""
    namespace = vars(sys.modules[package])

    def get(name: str) -> object:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value  # the next lookup finds it without coming here
        return value

    def listing() -> list[str]:
        return sorted({*namespace, *exports})

    return get, listing
