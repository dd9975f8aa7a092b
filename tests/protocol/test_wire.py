"""JSON on the wire: exact numbers, the canonical form, the dedup key and what is refused."""

from __future__ import annotations

import copy
import hashlib
import json
import sys
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ymnotify.protocol import wire
from ymnotify.protocol.samples import all_types, sample


@pytest.mark.parametrize(
    "number", [2**53 + 1, 2**63 - 1, -(2**63), 9_000_000_000_051_234_567, 10**40 + 7]
)
def test_integers_stay_exact_beyond_2_to_the_53(number: int) -> None:
    body = f'{{"orderId": {number}}}'.encode()
    parsed = wire.loads(body)
    assert type(parsed["orderId"]) is int
    assert parsed["orderId"] == number
    assert wire.canonical(parsed) == f'{{"orderId":{number}}}'


@pytest.mark.parametrize(
    "literal",
    [
        "1.10",
        "0.1",
        "-0.0",
        "1e5",
        "1E+5",
        "100E-2",
        "0.00000001",
        "1e400",
        "3.141592653589793238462",
    ],
)
def test_decimals_keep_their_exact_value_and_are_written_as_received(literal: str) -> None:
    parsed = wire.loads(f'{{"price": {literal}, "list": [{literal}]}}'.encode())
    assert isinstance(parsed["price"], Decimal)
    assert parsed["price"] == Decimal(literal)  # exact, never a float's approximation
    assert wire.canonical(parsed) == f'{{"list":[{literal}],"price":{literal}}}'
    assert wire.compact(parsed) == f'{{"price":{literal},"list":[{literal}]}}'
    assert wire.canonical(copy.deepcopy(parsed)) == wire.canonical(parsed)


def test_numbers_that_differ_only_in_trailing_zeros_are_different_payloads() -> None:
    assert wire.dedup_key(wire.loads(b'{"a": 1.0}')) != wire.dedup_key(wire.loads(b'{"a": 1.00}'))
    assert wire.dedup_key(wire.loads(b'{"a": 1}')) != wire.dedup_key(wire.loads(b'{"a": 1.0}'))
    assert wire.dedup_key(wire.loads(b'{"a": 1}')) != wire.dedup_key(wire.loads(b'{"a": "1"}'))


_ORDERED = """{"notificationType": "ORDER_CREATED", "orderId": 9007199254740993,
 "campaignId": 21987654, "items": [{"offerId": "SKU-Красн", "count": 2},
 {"offerId": "SKU-2", "count": 1}], "createdAt": "2026-09-20T09:15:42.318Z",
 "price": 1.50}""".encode()
_REORDERED = b"""{
    "price" : 1.50 ,
    "createdAt":"2026-09-20T09:15:42.318Z",
    "items":[ {"count":2,"offerId":"SKU-\\u041a\\u0440\\u0430\\u0441\\u043d"},
              {"count":1, "offerId":"SKU-2"}],
    "campaignId":21987654,"orderId":9007199254740993,
    "notificationType":"ORDER_CREATED"
}"""


def test_canonical_form_is_the_same_whatever_the_key_order_whitespace_and_escapes() -> None:
    first, second = wire.loads(_ORDERED), wire.loads(_REORDERED)
    expected = (
        '{"campaignId":21987654,"createdAt":"2026-09-20T09:15:42.318Z",'
        '"items":[{"count":2,"offerId":"SKU-Красн"},{"count":1,"offerId":"SKU-2"}],'
        '"notificationType":"ORDER_CREATED","orderId":9007199254740993,"price":1.50}'
    )
    assert wire.canonical(first) == expected
    assert wire.canonical(second) == expected
    assert wire.dedup_key(first) == wire.dedup_key(second)


def test_dedup_key_is_the_sha256_of_the_utf8_canonical_text() -> None:
    parsed = wire.loads(_ORDERED)
    digest = hashlib.sha256(wire.canonical(parsed).encode("utf-8")).hexdigest()
    assert wire.dedup_key(parsed) == digest


def test_array_order_is_part_of_the_payload() -> None:
    swapped = wire.loads(_ORDERED)
    swapped["items"].reverse()
    assert wire.dedup_key(swapped) != wire.dedup_key(wire.loads(_ORDERED))


def _leaf_paths(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _leaf_paths(child, (*path, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _leaf_paths(child, (*path, index))
    else:
        yield path


def _changed(value: Any) -> Any:
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if isinstance(value, str):
        return value + "x"
    raise AssertionError(f"no change defined for {value!r}")


@pytest.mark.parametrize("kind", all_types())
def test_dedup_key_changes_when_any_single_field_changes(kind: str) -> None:
    body = sample(kind)
    original = wire.dedup_key(wire.loads(json.dumps(body).encode()))
    paths = list(_leaf_paths(body))
    assert len(paths) >= 2
    for path in paths:
        changed = copy.deepcopy(body)
        holder = changed
        for step in path[:-1]:
            holder = holder[step]
        holder[path[-1]] = _changed(holder[path[-1]])
        key = wire.dedup_key(wire.loads(json.dumps(changed).encode()))
        assert key != original, f"{kind}: changing {path} kept the dedup key"
    added = wire.dedup_key(wire.loads(json.dumps({**body, "newField": None}).encode()))
    assert added != original
    removed = {name: value for name, value in body.items() if name != paths[-1][0]}
    assert wire.dedup_key(wire.loads(json.dumps(removed).encode())) != original


def test_two_return_updates_with_the_same_time_but_other_statuses_are_different() -> None:
    when = "2026-09-26T08:30:00Z"
    refund = sample("ORDER_RETURN_STATUS_UPDATED", updatedAt=when)
    shipment = {**refund, "statuses": {"shipmentStatus": "IN_TRANSIT"}}
    keys = {wire.dedup_key(wire.loads(json.dumps(b).encode())) for b in (refund, shipment)}
    assert len(keys) == 2


@pytest.mark.parametrize(
    ("body", "byte"),
    [(b'{"a": "\xff"}', 7), (b"\xfe\xff\x00{", 0), (b'{"name": "caf\xe9"}', 13)],
)
def test_a_body_that_is_not_utf8_is_refused_naming_the_byte(body: bytes, byte: int) -> None:
    with pytest.raises(wire.MalformedJson, match=rf"not UTF-8 \(byte {byte}\)"):
        wire.loads(body)


def test_a_lone_surrogate_escape_is_kept_and_still_hashes() -> None:
    parsed = wire.loads(b'{"text": "\\ud800 and \xd0\x96"}')
    assert parsed["text"] == "\ud800 and Ж"
    assert wire.canonical(parsed) == '{"text":"\\ud800 and \\u0416"}'
    assert len(wire.dedup_key(parsed)) == 64
    wire.compact(parsed).encode("utf-8")  # printable: no unencodable character left


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


def _in_order(value: Any) -> Any:
    """``value`` with every object as its list of pairs, so that key order counts."""
    if isinstance(value, dict):
        return [(key, _in_order(item)) for key, item in value.items()]
    if isinstance(value, list):
        return [_in_order(item) for item in value]
    return value


@given(value=JSON_VALUES)
def test_compact_is_one_line_of_the_same_value_in_received_order(value: Any) -> None:
    text = wire.compact(value)
    again = wire.loads(text.encode("utf-8"))  # encodable, even with lone surrogates
    assert _in_order(again) == _in_order(value)
    assert "\n" not in text


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_refused(constant: str) -> None:
    with pytest.raises(wire.MalformedJson, match=f"{constant.lstrip('-')} is not a JSON number"):
        wire.loads(f'{{"count": {constant}}}'.encode())


@pytest.mark.skipif(sys.get_int_max_str_digits() == 0, reason="int digit limit switched off")
def test_an_integer_too_long_to_convert_is_refused_not_crashed() -> None:
    digits = sys.get_int_max_str_digits() + 1
    with pytest.raises(wire.MalformedJson, match=f"{digits - 1} digits"):
        wire.loads(b'{"orderId": ' + b"9" * digits + b"}")


@pytest.mark.parametrize(
    "body", [b"", b"{", b"{'a': 1}", b'{"a": 1} {"b": 2}', b'{"a": 01}', b"\xef\xbb\xbf{}"]
)
def test_text_that_is_not_json_is_refused(body: bytes) -> None:
    with pytest.raises(wire.MalformedJson, match=r"^not JSON: "):
        wire.loads(body)


def _nested(depth: int, *, kind: str) -> bytes:
    if kind == "array":
        return b"[" * depth + b"]" * depth
    return b'{"a":' * (depth - 1) + b"{}" + b"}" * (depth - 1)


@pytest.mark.parametrize("kind", ["array", "object"])
def test_nesting_up_to_the_limit_is_accepted(kind: str) -> None:
    parsed = wire.loads(_nested(wire.MAX_DEPTH, kind=kind))
    for _ in range(wire.MAX_DEPTH - 1):
        parsed = parsed[0] if kind == "array" else parsed["a"]
    assert parsed in ([], {})


@pytest.mark.parametrize("kind", ["array", "object"])
@pytest.mark.parametrize("depth", [wire.MAX_DEPTH + 1, 1_000, 100_000])
def test_nesting_beyond_the_limit_is_refused_not_crashed(kind: str, depth: int) -> None:
    with pytest.raises(wire.MalformedJson, match=f"nested deeper than {wire.MAX_DEPTH} levels"):
        wire.loads(_nested(depth, kind=kind))


@pytest.mark.parametrize(
    "body",
    [
        b'{"items":[' + b",".join([b"[]"] * 500) + b"]}",  # many brackets, depth 3
        b'{"note":"' + b"[{" * 500 + b'"}',  # brackets inside a string are not nesting
    ],
)
def test_many_brackets_at_a_shallow_depth_are_accepted(body: bytes) -> None:
    assert isinstance(wire.loads(body), dict)


def test_a_raw_dedup_key_marks_bodies_that_are_not_json_apart() -> None:
    body = b"not json at all"
    assert wire.raw_dedup_key(body) == "raw:" + hashlib.sha256(body).hexdigest()
    assert wire.raw_dedup_key(body) != wire.raw_dedup_key(body + b" ")


def test_a_number_too_long_to_convert_is_named_plainly() -> None:
    with pytest.raises(wire.MalformedJson) as caught:
        wire.loads(b'{"x": ' + b"9" * 5000 + b"}")
    assert str(caught.value) == f"a number has more than {sys.get_int_max_str_digits()} digits"
