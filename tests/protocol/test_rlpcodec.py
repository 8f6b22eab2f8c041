"""protocol.rlpcodec against pyrlp, its oracle: same bytes out, same items back, and the same
inputs refused in strict mode."""

from __future__ import annotations

import pytest
import rlp
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol import rlpcodec
from protocol.exceptions import InvalidEncoding

_leaves = st.one_of(st.binary(max_size=80), st.integers(min_value=0, max_value=2**300))
_items = st.recursive(_leaves, lambda children: st.lists(children, max_size=6), max_leaves=40)
_decoded_items = st.recursive(st.binary(max_size=80),
                              lambda children: st.lists(children, max_size=6), max_leaves=40)


@settings(max_examples=400, deadline=None)
@given(_items)
def test_encode_matches_pyrlp(item):
    assert rlpcodec.encode(item) == rlp.encode(item)


@settings(max_examples=400, deadline=None)
@given(_decoded_items)
def test_decode_inverts_encode_as_pyrlp_does(item):
    raw = rlp.encode(item)
    assert rlpcodec.decode(raw) == rlp.decode(raw, strict=True) == item


@settings(max_examples=1500, deadline=None)
@given(st.binary(max_size=120))
def test_arbitrary_bytes_are_accepted_or_refused_like_pyrlp(raw):
    _assert_same_verdict_as_pyrlp(raw)


def _assert_same_verdict_as_pyrlp(raw: bytes) -> None:
    try:
        expected = rlp.decode(raw, strict=True)
    except rlp.DecodingError:
        with pytest.raises(rlpcodec.RLPDecodingError):
            rlpcodec.decode(raw)
    else:
        assert rlpcodec.decode(raw) == expected


@settings(max_examples=400, deadline=None)
@given(_decoded_items, st.data())
def test_mutated_encodings_are_accepted_or_refused_like_pyrlp(item, data):
    """Random byte flips and truncations of valid encodings reach the deep branches (long
    lengths, nested overruns) that uniformly random bytes rarely do."""
    raw = bytearray(rlp.encode(item))
    position = data.draw(st.integers(min_value=0, max_value=len(raw) - 1))
    raw[position] = data.draw(st.integers(min_value=0, max_value=255))
    cut = data.draw(st.integers(min_value=1, max_value=len(raw)))
    _assert_same_verdict_as_pyrlp(bytes(raw[:cut]))


@pytest.mark.parametrize("raw, rule", [
    (b"", "empty"),
    (b"\x81\x05", "single byte below 0x80"),
    (b"\xb8\x05hello", "below 56"),
    (b"\xb9\x00\x38" + b"a" * 56, "leading zero"),
    (b"\x83ab", "past its container"),
    (b"\xc2\x83abc", "past its container"),
    (b"\x80\x80", "trailing"),
    (b"\xf8\x05\x80\x80\x80\x80\x80", "below 56"),
])
def test_each_strictness_rule_names_itself(raw, rule):
    with pytest.raises(rlpcodec.RLPDecodingError, match=rule) as caught:
        rlpcodec.decode(raw)
    assert isinstance(caught.value, InvalidEncoding)
    with pytest.raises(rlp.DecodingError):
        rlp.decode(raw, strict=True)


def test_encode_refuses_what_rlp_cannot_carry():
    with pytest.raises(ValueError, match="negative"):
        rlpcodec.encode(-1)
    with pytest.raises(TypeError, match="str"):
        rlpcodec.encode("text")


def test_bytearray_and_memoryview_encode_as_bytes():
    assert rlpcodec.encode(bytearray(b"abc")) == rlpcodec.encode(memoryview(b"abc")) == b"\x83abc"
    assert rlpcodec.decode(bytearray(b"\x83abc")) == b"abc"


def test_deeply_nested_lists_are_refused_not_a_crash():
    """pyrlp raised RecursionError here, and so did decode_transaction: a 9 KB transaction
    of nested list headers was an unhandled exception instead of InvalidEncoding."""
    from protocol.transactions import decode_transaction

    def nest(depth: int) -> bytes:
        nested = b"\xc0"
        for _ in range(depth):
            size = len(nested)
            length = size.to_bytes((size.bit_length() + 7) // 8, "big")
            nested = (bytes((0xC0 + size,)) if size < 56
                      else bytes((0xF7 + len(length),)) + length) + nested
        return nested

    assert rlpcodec.decode(nest(rlpcodec.MAX_DEPTH - 1)) == rlp.decode(
        nest(rlpcodec.MAX_DEPTH - 1), strict=True)
    with pytest.raises(rlpcodec.RLPDecodingError, match="nested deeper than"):
        rlpcodec.decode(nest(rlpcodec.MAX_DEPTH))
    nested = nest(3000)
    with pytest.raises(rlpcodec.RLPDecodingError, match="nested deeper than"):
        rlpcodec.decode(nested)
    with pytest.raises(InvalidEncoding, match="not valid RLP"):
        decode_transaction(b"\x02" + nested)
