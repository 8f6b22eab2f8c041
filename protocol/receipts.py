"""Soft-confirmation receipts: a leader's signed promise of a transaction's place in its block.

Spec: docs/spec/receipts.md
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from . import rlpcodec

from .constants import HASH_SIZE, NODE_KEY_SIZE, NODE_SIGNATURE_SIZE
from .encoding import _bytes, _int, _list, decode_rlp
from .exceptions import InvalidReceipt
from .hashing import compute_prefix_chain, keccak256
from .signing import NodeKey, verify_node_signature


@dataclass(frozen=True, slots=True)
class Receipt:
    """`(tx_hash, slot, index, prefix_hash, leader)` signed by the leader (kind `receipt`)."""

    tx_hash: bytes
    slot: int
    index: int
    """Position of the transaction among the block's sequenced transactions, from 0."""
    prefix_hash: bytes
    """`h_index` of the prefix chain: commits to every transaction up to and including this one."""
    leader: bytes
    """Node key of the slot's leader."""
    signature: bytes

    @property
    def hash(self) -> bytes:
        return compute_receipt_hash(self.tx_hash, self.slot, self.index, self.prefix_hash, self.leader)


def compute_receipt_hash(tx_hash: bytes, slot: int, index: int, prefix_hash: bytes,
                         leader: bytes) -> bytes:
    """What the leader signs: keccak(rlp([tx_hash, slot, index, prefix_hash, leader])).

    Spec: docs/spec/receipts.md#receipt
    """
    return keccak256(rlpcodec.encode([tx_hash, slot, index, prefix_hash, leader]))


def sign_receipt(node_key: NodeKey, chain_id: int, tx_hash: bytes, slot: int, index: int,
                 prefix_hash: bytes) -> Receipt:
    obj_hash = compute_receipt_hash(tx_hash, slot, index, prefix_hash, node_key.public)
    return Receipt(tx_hash, slot, index, prefix_hash, node_key.public,
                   node_key.sign(b"receipt", chain_id, obj_hash))


def verify_receipt(receipt: Receipt, chain_id: int) -> bool:
    """True when the receipt is well formed and signed by its leader on `chain_id`."""
    return verify_node_signature(receipt.leader, b"receipt", chain_id, receipt.hash, receipt.signature)


def is_receipt_violated(receipt: Receipt, tx_hashes: Sequence[bytes]) -> bool:
    """True when a block with these sequenced transactions breaks the receipt's promise:
    the block has fewer than index+1 transactions, or its prefix chain at `index` differs.

    Spec: docs/spec/receipts.md#violation
    """
    if receipt.index >= len(tx_hashes):
        return True
    chain = compute_prefix_chain(tx_hashes[: receipt.index + 1])
    return chain[receipt.index] != receipt.prefix_hash


def encode_receipt(receipt: Receipt) -> bytes:
    r = receipt
    return rlpcodec.encode([r.tx_hash, r.slot, r.index, r.prefix_hash, r.leader, r.signature])


def decode_receipt(raw: bytes) -> Receipt:
    f = _list(decode_rlp(raw, "receipt"), "receipt", 6)
    return Receipt(
        tx_hash=_bytes(f[0], "receipt tx_hash", HASH_SIZE),
        slot=_int(f[1], "receipt slot"),
        index=_int(f[2], "receipt index"),
        prefix_hash=_bytes(f[3], "receipt prefix_hash", HASH_SIZE),
        leader=_bytes(f[4], "receipt leader", NODE_KEY_SIZE),
        signature=_bytes(f[5], "receipt signature", NODE_SIGNATURE_SIZE),
    )


def receipt_to_json(receipt: Receipt) -> dict:
    return {
        "tx_hash": "0x" + receipt.tx_hash.hex(),
        "slot": receipt.slot,
        "index": receipt.index,
        "prefix_hash": "0x" + receipt.prefix_hash.hex(),
        "leader": "0x" + receipt.leader.hex(),
        "signature": "0x" + receipt.signature.hex(),
    }


def receipt_from_json(data: object) -> Receipt:
    """Parse the JSON form; raises InvalidReceipt naming the bad field."""
    if not isinstance(data, dict):
        raise InvalidReceipt("receipt must be a JSON object")

    def hexfield(name: str, size: int) -> bytes:
        value = data.get(name)
        if not isinstance(value, str) or not value.startswith("0x"):
            raise InvalidReceipt(f"receipt.{name} must be a 0x-hex string")
        try:
            raw = bytes.fromhex(value[2:])
        except ValueError:
            raise InvalidReceipt(f"receipt.{name} is not hex") from None
        if len(raw) != size:
            raise InvalidReceipt(f"receipt.{name} must be {size} bytes, got {len(raw)}")
        return raw

    def intfield(name: str) -> int:
        value = data.get(name)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise InvalidReceipt(f"receipt.{name} must be a non-negative integer")
        return value

    return Receipt(hexfield("tx_hash", HASH_SIZE), intfield("slot"), intfield("index"),
                   hexfield("prefix_hash", HASH_SIZE), hexfield("leader", NODE_KEY_SIZE),
                   hexfield("signature", NODE_SIGNATURE_SIZE))
