"""Where ``ymnotify.protocol`` knowingly differs from the official spec, and why.

``test_spec_conformance`` holds the models to the spec (a7b53f9 with the ff3e65c overlay) except
for what this file lists. Every entry carries its reason; anything not listed here that differs
fails the test, so a spec update shows up.

A target names what an entry applies to:

- ``"TYPE.field"`` — a property of a notification type (``"ORDER_CREATED.orderLineServices"``);
- ``"SchemaName.field"`` — a property of a nested spec schema
  (``"NotificationOrderItemDTO.count"``);
- ``"SchemaName"`` — every property that refers to that spec schema (``"ShopSku"``), or the enum
  of that name (``"OrderSubstatusType"``).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Relaxation:
    """One documented difference between the models and the spec."""

    target: str
    reason: str
    optional: bool = False  # the model does not require the property although the spec does
    nullable: bool = False  # the model accepts null although the spec does not say nullable
    unenforced: tuple[str, ...] = ()  # spec keywords the model does not enforce
    extra_values: tuple[str, ...] = ()  # enum values the model knows beyond the spec's


RELAXATIONS: tuple[Relaxation, ...] = (
    Relaxation(
        "ORDER_CREATED.orderLineServices",
        optional=True,
        nullable=True,
        reason="spec ff3e65c lists it as required, but the ru docs of 2026-09-26 (the source the"
        " spec is written from) show it optional, 'array or null'; orders without services"
        " arrive without it (PROTOCOL.md §9.3)",
    ),
    Relaxation(
        "ORDER_STATUS_UPDATED.substatus",
        optional=True,
        reason="its meaning is documented only for PROCESSING and CANCELLED; a notification"
        " without it must still be stored, not rejected (PROTOCOL.md §9.5)",
    ),
    Relaxation(
        "PING.time",
        optional=True,
        reason="PING is answered at once whatever it carries; even if a spec update made `time`"
        " required, refusing a PING would only disable the integration (PROTOCOL.md §9.6)",
    ),
    Relaxation(
        "OrderSubstatusType",
        extra_values=(
            "USER_IDENTIFICATION_MISMATCH",
            "PURCHASE_GROUP_THRESHOLD_NOT_REACHED_CANCELLED",
        ),
        reason="the ru docs of 2026-09 add these two cancel reasons before UNKNOWN; the spec"
        " a7b53f9 does not have them yet (PROTOCOL.md §9.4)",
    ),
    Relaxation(
        "ShopSku",
        unenforced=("pattern", "x-transform"),
        reason="the SKU is the seller's own id, echoed by Market; refusing one over a control"
        " character or trimming it would lose or alter a notification. Length limits still apply",
    ),
)


@dataclass(frozen=True)
class GeneralRule:
    """A difference that applies to every property of a kind, not to one target."""

    name: str
    reason: str


OPTIONAL_ACCEPTS_NULL = GeneralRule(
    "optional properties accept null",
    reason="the models mark an absent optional property with None, so an explicit null is"
    " read as absent; refusing it would turn a harmless null into a lost notification",
)
OPEN_ENUMS = GeneralRule(
    "enums are open",
    reason="Market documents that other values may appear and need not be handled; an unknown"
    " value is kept as a plain str (PROTOCOL.md §2.1, §6)",
)
INTEGERS_ARE_INT64 = GeneralRule(
    "every integer is int64",
    reason="the spec gives item and service counts no format; the models and stores hold every"
    " integer as int64, like the ids, so a count beyond it is malformed rather than truncated",
)

GENERAL_RULES: tuple[GeneralRule, ...] = (OPTIONAL_ACCEPTS_NULL, OPEN_ENUMS, INTEGERS_ARE_INT64)
