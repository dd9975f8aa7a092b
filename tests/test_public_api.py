"""The names ``import ymnotify`` offers are the ones the docs promise, and they all exist."""

from __future__ import annotations

import re
from pathlib import Path

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
