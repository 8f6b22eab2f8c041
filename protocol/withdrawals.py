"""L2 -> L1 withdrawals: a transfer to the bridge address burns value and records a withdrawal.

Each block's withdrawals form a Merkle-Patricia trie keyed by rlp(index) (the shape of
Ethereum's transaction trie); its root is the header's withdrawals_root, and a claim on L1
carries the proof of one entry.

Spec: docs/spec/blocks.md#withdrawals
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from . import rlpcodec

from .exceptions import InvalidProof
from .trie import Trie, verify_proof


@dataclass(frozen=True, slots=True)
class Withdrawal:
    sender: bytes
    """L2 address that burned the value; it is credited on L1."""
    amount: int
    index: int
    """Position among the block's withdrawals, from 0."""


def encode_withdrawal(withdrawal: Withdrawal) -> bytes:
    return rlpcodec.encode([withdrawal.sender, withdrawal.amount, withdrawal.index])


def _build(withdrawals: Sequence[Withdrawal]) -> Trie:
    trie = Trie()
    for withdrawal in withdrawals:
        trie.set(rlpcodec.encode(withdrawal.index), encode_withdrawal(withdrawal))
    return trie


def compute_withdrawals_root(withdrawals: Sequence[Withdrawal]) -> bytes:
    """Root of the block's withdrawals trie (EMPTY_TRIE_ROOT when there are none)."""
    return _build(withdrawals).root_hash()


def get_withdrawal_proof(withdrawals: Sequence[Withdrawal], index: int) -> list[bytes]:
    return _build(withdrawals).get_proof(rlpcodec.encode(index))


def verify_withdrawal_proof(withdrawals_root: bytes, withdrawal: Withdrawal,
                            proof: list[bytes]) -> bool:
    """True when `proof` shows `withdrawal` at its index under `withdrawals_root`."""
    try:
        value = verify_proof(withdrawals_root, rlpcodec.encode(withdrawal.index), proof)
    except InvalidProof:
        return False
    return value == encode_withdrawal(withdrawal)
