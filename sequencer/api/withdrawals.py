"""GET /withdrawals/{tx_hash}: the Merkle proof an L2 -> L1 withdrawal is claimed with.

A transfer to the bridge address burns its value and appends (sender, amount, index) to its
block's withdrawals; L1's `claim_withdrawal` pays it once the block is finalized, given the
proof of that entry under the header's withdrawals_root (l1mock/core/contract.py).

Spec: docs/spec/sequencer.md#withdrawal-proofs
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from protocol.constants import BRIDGE_ADDRESS
from protocol.withdrawals import Withdrawal, get_withdrawal_proof

from ..core.chain import Entry, forced_outcomes
from ..errors import UnknownWithdrawal
from ..node import Node
from ..schemas import WithdrawalResponse
from .deps import NodeDep
from .views import hx, parse_hex

router = APIRouter(tags=["withdrawals"])


def find_withdrawal(node: Node, tx_hash: bytes) -> tuple[Entry, Withdrawal]:
    """The canonical block holding `tx_hash` and the withdrawal it made; raises
    UnknownWithdrawal (404) for an unknown or pending transaction, a forced one that was
    skipped, or a transfer to another address."""
    store = node.store
    name = "0x" + tx_hash.hex()
    if tx_hash in store.tx_index:
        block_hash, position = store.tx_index[tx_hash]
        entry = store.get(block_hash)
        outcome_index = len(forced_outcomes(entry)) + position
    elif tx_hash in store.forced_index:
        block_hash, outcome_index = store.forced_index[tx_hash]
        entry = store.get(block_hash)
    elif node.mempool.get(tx_hash) is not None:
        raise UnknownWithdrawal(f"transaction {name} is pending, not in a block yet")
    else:
        raise UnknownWithdrawal(f"no transaction {name} on this node's canonical chain")
    outcomes = entry.output.outcomes if entry.output is not None else ()
    outcome = outcomes[outcome_index]
    if not outcome.applied:
        raise UnknownWithdrawal(f"transaction {name} was forced through L1 and skipped as "
                                f"invalid in block {entry.number}: {outcome.reason}")
    if outcome.to != BRIDGE_ADDRESS:
        raise UnknownWithdrawal(f"transaction {name} is not a withdrawal: it pays "
                                f"{hx(outcome.to)}, not the bridge {hx(BRIDGE_ADDRESS)}")
    # Withdrawals are numbered in execution order: forced transactions, then sequenced ones.
    index = sum(1 for earlier in outcomes[:outcome_index]
                if earlier.applied and earlier.to == BRIDGE_ADDRESS)
    return entry, entry.output.withdrawals[index]


def withdrawal_view(node: Node, tx_hash: bytes) -> dict[str, Any]:
    entry, withdrawal = find_withdrawal(node, tx_hash)
    proof = get_withdrawal_proof(entry.output.withdrawals, withdrawal.index)
    return {"tx_hash": hx(tx_hash), "block_number": entry.number, "block_hash": hx(entry.hash),
            "sender": hx(withdrawal.sender), "amount": str(withdrawal.amount),
            "index": withdrawal.index, "proof": [hx(trie_node) for trie_node in proof],
            "withdrawals_root": hx(entry.block.header.withdrawals_root),
            "head_label": node.store.label(entry)}


@router.get("/withdrawals/{tx_hash}", response_model=WithdrawalResponse,
            responses={400: {"description": "Malformed hash (InvalidEncoding)"},
                       404: {"description": "Unknown or pending transaction, or not a "
                                            "withdrawal (UnknownWithdrawal)"}})
def get_withdrawal(tx_hash: str, node: NodeDep):
    """The withdrawal a transfer to the bridge address made, with its Merkle proof under the
    block's withdrawals_root: the arguments of L1's `claim_withdrawal` (block_number, sender,
    amount, index, proof). L1 pays the claim once `head_label` is `finalized`."""
    return withdrawal_view(node, parse_hex(tx_hash, 32, "tx hash"))
