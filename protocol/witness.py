"""Witnesses and stateless re-execution: what an invalid_state fraud proof carries and how
L1 checks it without holding the L2 state.

A witness is the union of the Merkle-Patricia proof nodes, against the parent's state root,
of every account the block touches. Accounts are never deleted, so those nodes suffice to
apply every update and recompute the root.

Spec: docs/spec/fraud-proofs.md#invalid-state
"""

from __future__ import annotations

from collections.abc import Sequence

from .blocks import Block
from .exceptions import BlockContainsInvalidTransaction
from .params import ChainParams
from .state import State
from .transactions import Transaction
from .transition import BlockOutput, apply_block


def compute_touched_addresses(parent_state: State, block: Block, fee_recipient: bytes,
                              params: ChainParams,
                              transactions: Sequence[Transaction] | None = None) -> frozenset[bytes]:
    """Every address the block reads or writes, up to its first invalid transaction."""
    try:
        return apply_block(parent_state.copy(), block, fee_recipient, params, transactions).touched
    except BlockContainsInvalidTransaction as error:
        return getattr(error, "touched", frozenset())


def build_witness(parent_state: State, block: Block, fee_recipient: bytes, params: ChainParams,
                  transactions: Sequence[Transaction] | None = None) -> list[bytes]:
    """The trie nodes proving every touched account against the parent's state root.

    Spec: docs/spec/fraud-proofs.md#invalid-state
    """
    touched = compute_touched_addresses(parent_state, block, fee_recipient, params, transactions)
    return parent_state.build_witness(sorted(touched))


def apply_block_stateless(parent_state_root: bytes, witness: Sequence[bytes], block: Block,
                          fee_recipient: bytes, params: ChainParams) -> BlockOutput:
    """Re-execute `block` over a witness only. Raises MissingWitnessNode when the witness
    lacks a node, and BlockContainsInvalidTransaction as apply_block does.

    Spec: docs/spec/fraud-proofs.md#invalid-state
    """
    state = State.from_witness(parent_state_root, witness)
    return apply_block(state, block, fee_recipient, params)
