"""JSON on the wire: exact parsing, the canonical form and the dedup key.

Market's ids are int64 and exceed 2**53, so no number may pass through a float: integers are
Python ints and other numbers are ``JsonDecimal``: an exact ``Decimal`` that also remembers its
literal, so ``1e5`` is written back as ``1e5`` and ``0.00000001`` as ``0.00000001``. The canonical
form (keys sorted, no whitespace, numbers as written) is what two deliveries of the same
notification share; its SHA-256 is the dedup key.
"""

from __future__ import annotations

import hashlib
import json
import sys
from decimal import Decimal
from typing import Any

# Market's bodies nest three levels deep; anything far deeper is hostile or broken. The bound
# also keeps every recursive walk below far from Python's recursion limit.
MAX_DEPTH = 64

JsonValue = Any  # a value produced by ``loads``: dict, list, str, int, JsonDecimal, bool or None


class JsonDecimal(Decimal):
    """A JSON number with a fraction or an exponent: its exact value and its literal."""

    __slots__ = ("literal",)
    literal: str

    def __new__(cls, literal: str) -> JsonDecimal:
        number = super().__new__(cls, literal)
        number.literal = literal
        return number

    def __reduce__(self) -> tuple[type[JsonDecimal], tuple[str]]:
        return (JsonDecimal, (self.literal,))

    def __repr__(self) -> str:
        return f"JsonDecimal({self.literal!r})"


class MalformedJson(ValueError):
    """The body is not JSON this receiver accepts; ``str(exc)`` says why."""


def loads(body: bytes) -> JsonValue:
    """Parse ``body`` (UTF-8 JSON) keeping every number exact; raise ``MalformedJson``."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedJson(f"body is not UTF-8 (byte {exc.start})") from exc
    try:
        value = _DECODER.decode(text)
    except RecursionError as exc:
        raise MalformedJson(f"JSON nested deeper than {MAX_DEPTH} levels") from exc
    except json.JSONDecodeError as exc:
        raise MalformedJson(f"not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from exc
    except ValueError as exc:  # _reject_constant, or an integer too long for Python to convert
        if "integer string conversion" in str(exc):
            limit = sys.get_int_max_str_digits()
            raise MalformedJson(f"a number has more than {limit} digits") from exc
        raise MalformedJson(str(exc)) from exc
    # Each level of nesting opens a bracket, so a body with few brackets cannot be too deep;
    # counting bytes in C spares the walk over every value for the bodies Market sends.
    if body.count(b"{") + body.count(b"[") > MAX_DEPTH:
        _check_depth(value)
    return value


def _reject_constant(name: str) -> None:
    raise ValueError(f"not JSON: {name} is not a JSON number")


# Built once: ``json.loads`` with options builds a decoder on every call.
_DECODER = json.JSONDecoder(parse_float=JsonDecimal, parse_constant=_reject_constant)


def _check_depth(value: JsonValue) -> None:
    stack: list[tuple[JsonValue, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > MAX_DEPTH:
            raise MalformedJson(f"JSON nested deeper than {MAX_DEPTH} levels")
        stack.extend((child, depth + 1) for child in children)


def canonical(value: JsonValue) -> str:
    """The canonical text of a parsed value: sorted keys, no whitespace, exact numbers."""
    parts: list[str] = []
    _write(value, parts, sort_keys=True)
    return "".join(parts)


def compact(value: JsonValue) -> str:
    """A parsed value as one line of JSON, keys in received order, numbers exact."""
    try:
        # The C encoder, as in ``dedup_key``: the sandbox compacts every published event.
        text: str = _COMPACT_ENCODER.encode(value)
        text.encode("utf-8")  # a lone surrogate must stay escaped, as ``_string`` keeps it
    except (TypeError, UnicodeEncodeError):
        parts: list[str] = []
        _write(value, parts, sort_keys=False)
        return "".join(parts)
    return text


def pretty(value: JsonValue, indent: int = 2) -> str:
    """A parsed value indented for people: keys in received order, numbers exact."""
    parts: list[str] = []
    _write_indented(value, parts, " " * indent, "")
    return "".join(parts)


def _write_indented(value: JsonValue, out: list[str], step: str, margin: str) -> None:
    inner = margin + step
    if isinstance(value, dict) and value:
        out.append("{\n")
        for index, key in enumerate(value):
            out.append(",\n" if index else "")
            out.append(f"{inner}{json.dumps(key, ensure_ascii=False)}: ")
            _write_indented(value[key], out, step, inner)
        out.append(f"\n{margin}}}")
    elif isinstance(value, list) and value:
        out.append("[\n")
        for index, item in enumerate(value):
            out.append(",\n" if index else "")
            out.append(inner)
            _write_indented(item, out, step, inner)
        out.append(f"\n{margin}]")
    else:  # scalars and empty containers read best on one line
        _write(value, out, sort_keys=False)


def _write(value: JsonValue, out: list[str], *, sort_keys: bool) -> None:
    if isinstance(value, dict):
        out.append("{")
        for index, key in enumerate(sorted(value) if sort_keys else value):
            if index:
                out.append(",")
            out.append(_string(key))
            out.append(":")
            _write(value[key], out, sort_keys=sort_keys)
        out.append("}")
    elif isinstance(value, list):
        out.append("[")
        for index, item in enumerate(value):
            if index:
                out.append(",")
            _write(item, out, sort_keys=sort_keys)
        out.append("]")
    elif isinstance(value, JsonDecimal):
        out.append(value.literal)
    elif isinstance(value, Decimal):
        out.append(str(value))
    elif isinstance(value, str):
        out.append(_string(value))
    else:  # int, bool, None: json.dumps is exact for these
        out.append(json.dumps(value))


def _string(text: str) -> str:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        # A lone surrogate (JSON allows the escape "\ud800") has no UTF-8 form: keep the
        # string escaped, so the canonical text can always be hashed and printed.
        return json.dumps(text)
    return json.dumps(text, ensure_ascii=False)


def dedup_key(value: JsonValue) -> str:
    """SHA-256 (hex) of the canonical form of a parsed JSON value."""
    try:
        # json's C encoder writes exactly the canonical text for dicts, lists, str, int, bool
        # and None, about four times faster than ``canonical``; it refuses a Decimal (TypeError),
        # and a lone surrogate cannot be encoded: those bodies take the exact writer.
        data = _CANONICAL_ENCODER.encode(value).encode("utf-8")
    except (TypeError, UnicodeEncodeError):
        data = canonical(value).encode("utf-8")
    return hashlib.sha256(data).hexdigest()


# Built once: ``json.dumps`` with options builds an encoder on every call.
_CANONICAL_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)
_COMPACT_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def raw_dedup_key(body: bytes) -> str:
    """Dedup key of a body that is not valid JSON: the hash of its bytes, marked apart."""
    return "raw:" + hashlib.sha256(body).hexdigest()
