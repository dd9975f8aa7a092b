"""``dedup_key`` takes json's C encoder when it can; its key must stay the canonical form's hash.

Dedup keys are stored: a key computed differently for the same body would let a repeat through
as new. So the fast path is held to the exact writer over arbitrary JSON, Decimals included.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from ymnotify.protocol import samples, wire

_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
_json = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=25,
)


def _exact_key(value: Any) -> str:
    return hashlib.sha256(wire.canonical(value).encode("utf-8")).hexdigest()


@given(_json)
def test_dedup_key_equals_the_hash_of_the_exact_canonical_text(document: Any) -> None:
    parsed = wire.loads(json.dumps(document, ensure_ascii=False).encode("utf-8"))
    assert wire.dedup_key(parsed) == _exact_key(parsed)


def test_bodies_with_decimals_and_without_agree_with_the_exact_writer() -> None:
    for kind in samples.all_types():
        parsed = wire.loads(json.dumps(samples.sample(kind)).encode())
        assert wire.dedup_key(parsed) == _exact_key(parsed)
    priced = wire.loads(b'{"b": [1.50, 2e3, {"z": 1, "a": -0.0}], "a": "\xd1\x8f"}')
    assert wire.dedup_key(priced) == _exact_key(priced)
    assert wire.dedup_key(priced) != wire.dedup_key(wire.loads(b'{"a": "\xd1\x8f", "b": [1.5]}'))
