"""The entities notifications are about, named ``KIND:ID`` (``order:51234567890``): the lanes
handlers run in, and the keys of the latest known state."""

from __future__ import annotations

# Every kind a notification's ``entity`` may have (tests check each type's against it).
ENTITY_KINDS = ("order", "chat", "feedback", "feedback-comment", "question", "answer", "unknown")


def entity_problem(text: str) -> str | None:
    """Why ``text`` cannot name an entity, or None: a filter naming no possible entity would
    match nothing and look like an empty inbox."""
    kind, colon, identity = text.partition(":")
    if not colon or not identity:
        return f"entity {text!r}: expected KIND:ID, e.g. order:51234567890"
    if kind not in ENTITY_KINDS:
        return f"entity {text!r}: {kind!r} is not one of {', '.join(ENTITY_KINDS)}"
    if identity != identity.strip():
        return f"entity {text!r}: the id has spaces around it"
    return None
