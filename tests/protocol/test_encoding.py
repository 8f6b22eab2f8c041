"""Round trips and strictness of every wire encoding."""

from __future__ import annotations

import pytest
import rlp
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol.blocks import QUEUE_DEPOSIT, QUEUE_FORCED_TX, Attestation, Block, Header, QueueItem, QuorumCertificate
from protocol.encoding import (
    decode_attestation,
    decode_block,
    decode_header,
    decode_queue_item,
    decode_signed_header,
    encode_attestation,
    encode_block,
    encode_header,
    encode_queue_item,
    encode_signed_header,
)
from protocol.exceptions import InvalidEncoding
from protocol.receipts import decode_receipt, encode_receipt, receipt_from_json, receipt_to_json, sign_receipt
from protocol.signing import NodeKey

h32 = st.binary(min_size=32, max_size=32)
u64 = st.integers(min_value=0, max_value=2**64 - 1)
addr = st.binary(min_size=20, max_size=20)

queue_items = st.one_of(
    st.builds(QueueItem, index=u64, kind=st.just(QUEUE_DEPOSIT), l1_block=u64, sender=addr, to=addr,
              amount=st.integers(min_value=0, max_value=2**128)),
    st.builds(QueueItem, index=u64, kind=st.just(QUEUE_FORCED_TX), l1_block=u64, sender=addr,
              raw_tx=st.binary(max_size=200)),
)
qcs = st.builds(QuorumCertificate, block_hash=h32, number=u64, slot=u64,
                signers=st.lists(st.tuples(h32, st.binary(min_size=64, max_size=64)), max_size=4).map(tuple))
headers = st.builds(Header, number=u64, parent_hash=h32, slot=u64, timestamp_ms=u64, producer=h32,
                    tx_root=h32, state_root=h32, withdrawals_root=h32, l1_origin=u64,
                    l1_queue_index=u64, parent_qc=st.one_of(st.none(), qcs))
blocks = st.builds(Block, header=headers, signature=st.binary(min_size=64, max_size=64),
                   queue_items=st.lists(queue_items, max_size=3).map(tuple),
                   transactions=st.lists(st.binary(min_size=1, max_size=150), max_size=5).map(tuple))


@settings(max_examples=60, deadline=None)
@given(blocks)
def test_block_round_trip(block):
    raw = encode_block(block)
    decoded = decode_block(raw)
    assert decoded == block
    assert decoded.hash == block.hash
    assert encode_block(decoded) == raw


@settings(max_examples=60, deadline=None)
@given(headers)
def test_header_round_trip_and_hash_is_keccak_of_encoding(header):
    from protocol.hashing import keccak256

    raw = encode_header(header)
    assert decode_header(raw) == header
    assert header.hash == keccak256(raw)


@settings(max_examples=60, deadline=None)
@given(queue_items)
def test_queue_item_round_trip(item):
    assert decode_queue_item(encode_queue_item(item)) == item


def test_attestation_and_signed_header_round_trip():
    att = Attestation(b"\x01" * 32, 5, 9, b"\x02" * 32, b"\x03" * 64)
    assert decode_attestation(encode_attestation(att)) == att
    header = Header(1, b"\x00" * 32, 1, 1000, b"\x04" * 32, b"\x05" * 32, b"\x06" * 32, b"\x07" * 32,
                    0, 0, None)
    assert decode_signed_header(encode_signed_header(header, b"\x08" * 64)) == (header, b"\x08" * 64)


def test_receipt_round_trip_binary_and_json():
    key = NodeKey.generate()
    receipt = sign_receipt(key, 7357, b"\x11" * 32, 12, 3, b"\x22" * 32)
    assert decode_receipt(encode_receipt(receipt)) == receipt
    assert receipt_from_json(receipt_to_json(receipt)) == receipt


@pytest.mark.parametrize("raw, message", [
    (b"", "malformed RLP"),
    (b"\xc5\x01\x02", "malformed RLP"),                          # truncated list
    (rlp.encode([1, 2, 3]), "expected 4 fields"),                # wrong field count
    (rlp.encode([b"x", b"", [], []]), "expected a list"),        # header not a list
])
def test_decode_block_rejects_malformed(raw, message):
    with pytest.raises(InvalidEncoding, match=message):
        decode_block(raw)


def test_decode_rejects_non_canonical_integer():
    header = Header(1, b"\x00" * 32, 1, 1000, b"\x04" * 32, b"\x05" * 32, b"\x06" * 32, b"\x07" * 32,
                    0, 0, None)
    fields = rlp.decode(encode_header(header))
    fields[0] = b"\x00\x01"
    with pytest.raises(InvalidEncoding, match="leading zero"):
        decode_header(rlp.encode(fields))


def test_decode_rejects_wrong_hash_length():
    header = Header(1, b"\x00" * 31, 1, 1000, b"\x04" * 32, b"\x05" * 32, b"\x06" * 32, b"\x07" * 32,
                    0, 0, None)
    with pytest.raises(InvalidEncoding, match="parent_hash: expected 32 bytes"):
        decode_header(encode_header(header))


def test_decode_rejects_trailing_bytes():
    item = QueueItem(0, QUEUE_DEPOSIT, 1, b"\x01" * 20, b"\x02" * 20, 5)
    with pytest.raises(InvalidEncoding):
        decode_queue_item(encode_queue_item(item) + b"\x00")


def test_decode_rejects_unknown_queue_kind():
    fields = rlp.decode(encode_queue_item(QueueItem(0, QUEUE_DEPOSIT, 1, b"\x01" * 20, b"\x02" * 20, 5)))
    fields[1] = b"\x07"
    with pytest.raises(InvalidEncoding, match="kind"):
        decode_queue_item(rlp.encode(fields))
