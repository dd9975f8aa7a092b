"""The names ``import ymnotify`` offers are the ones the docs promise, and they all exist."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

import ymnotify
from ymnotify.protocol.models import KNOWN_TYPES

REPO = Path(__file__).resolve().parents[1]
PROMISED = {
    "__version__",
    "create_app",
    "Router",
    "UNHANDLED",
    "EventMeta",
    "Notification",
    "UnknownNotification",
    "ReceiverConfig",
    "SourcePolicy",
    "RetryPolicy",
    "WorkerSettings",
    "YmnotifyError",
    # the parts of the models, and the enums filters compare with
    "OrderItem",
    "ReturnItem",
    "OrderLineService",
    "LineServiceStatusCount",
    "ReturnStatuses",
    "NotificationType",
    "OrderStatus",
    "OrderSubstatus",
    "OrderUpdateType",
    "ReturnType",
    "RefundStatus",
    "ReturnShipmentStatus",
    "OrderLineServiceStatus",
    "OrderLineServiceCancelReason",
} | {model.__name__ for model in KNOWN_TYPES.values()}  # one model per notification type

# "from ymnotify import A, B" on one line, or "from ymnotify import (\n A,\n B,\n)".
_IMPORT = re.compile(r"^from ymnotify import (?:\(([^)]*)\)|([\w, ]+)$)", re.MULTILINE)


def test_all_is_exactly_what_is_promised() -> None:
    assert set(ymnotify.__all__) == PROMISED
    assert len(ymnotify.__all__) == len(PROMISED)
    for name in ymnotify.__all__:
        assert hasattr(ymnotify, name), name


def test_every_name_the_docs_and_examples_import_is_exported() -> None:
    sources = [REPO / "README.md", *REPO.glob("docs/*.md"), *REPO.glob("examples/*.py")]
    imported: set[str] = set()
    for source in sources:
        for match in _IMPORT.finditer(source.read_text("utf-8")):
            names = match.group(1) or match.group(2)
            imported |= {name.strip() for name in names.split(",") if name.strip()}
    assert imported, "the docs show no `from ymnotify import ...` at all"
    assert imported <= set(ymnotify.__all__), imported - set(ymnotify.__all__)


def test_star_import_and_dir_give_every_public_name() -> None:
    namespace: dict[str, object] = {}
    exec("from ymnotify import *", namespace)
    assert set(ymnotify.__all__) <= set(namespace)
    assert set(ymnotify.__all__) <= set(dir(ymnotify))
    with pytest.raises(AttributeError, match="no attribute 'Routr'"):
        ymnotify.Routr  # noqa: B018  (the attribute access is what is tested)


def _modules_loaded_by(command: str) -> list[str]:
    """The ymnotify and aiohttp modules a fresh interpreter holds after importing the CLI and
    the module of ``command``, as `ymnotify COMMAND` does."""
    probe = (
        f"import sys; from ymnotify.cli import main; import ymnotify.cli.{command};"
        " print(' '.join(sorted(m for m in sys.modules if m.startswith(('ymnotify', 'aiohttp')))))"
    )
    return subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.split()


def test_the_command_line_imports_only_the_command_it_runs() -> None:
    # Every command starts by importing the package and the CLI; with all of ymnotify imported
    # up front each one took over a second to start, which every `ymnotify inbox ...` paid.
    loaded = _modules_loaded_by("inbox")
    assert "ymnotify.cli.inbox" in loaded
    for other in ("serve", "worker", "db", "market", "check"):
        assert f"ymnotify.cli.{other}" not in loaded
    assert not any(name.startswith("aiohttp") for name in loaded)
    assert "ymnotify.receiver.app" not in loaded


def test_market_commands_that_call_the_api_do_not_import_the_sandbox() -> None:
    loaded = _modules_loaded_by("market")
    assert "ymnotify.cli.market" in loaded
    assert not any(name.startswith("aiohttp") for name in loaded)
    for sandbox_part in ("store", "engine", "api", "runtime"):
        assert f"ymnotify.market.{sandbox_part}" not in loaded
    assert "ymnotify.protocol.models" not in loaded  # the pydantic models: ~0.25 s to import


def test_the_protocol_package_gives_its_names_and_its_submodules() -> None:
    from ymnotify import protocol
    from ymnotify.protocol import models, parse, wire

    assert set(protocol.__all__) <= set(dir(protocol))
    for name in protocol.__all__:
        assert getattr(protocol, name) is not None, name
    assert protocol.parse_body is parse.parse_body
    assert protocol.KNOWN_TYPES is models.KNOWN_TYPES
    assert callable(wire.compact)  # a submodule, not a re-exported name, still imports
    with pytest.raises(AttributeError, match=r"'ymnotify\.protocol' has no attribute 'nope'"):
        protocol.nope  # noqa: B018  (the attribute access is what is tested)
