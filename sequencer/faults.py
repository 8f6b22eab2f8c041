"""Devnet fault flags (DESIGN.md section 8): a sequencer that misbehaves on purpose, each in
exactly the way a ranger can prove. Refused unless the chain is a devnet (Node checks at
start and the admin route at runtime).

- `bad_state_root`: the block is built honestly, then its header gets a wrong state_root and
  is signed: an invalid_state fraud. The batcher submits such a block to L1 at once (L1
  accepts optimistically; peers refuse to attest it), so the proof can be made on L1.
- `invalid_tx`: a transaction from an unfunded key is appended to the block (invalid:
  insufficient balance): an invalid_state fraud (invalid transaction). Submitted like above.
- `reorder`: front-runs the first receipted transaction with one of its own, so the block
  breaks that receipt: a receipt_violation.
- `equivocate`: two different signed blocks for its slot (the second with another
  timestamp), one to half of the peers, the other to the rest: an equivocation.
- `censor`: ignores due L1 queue items (the header shows they were not consumed): a
  censorship fraud; honest peers refuse the block.
- `offline`: produces nothing and attests nothing.

Spec: docs/spec/sequencer.md#faults
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from protocol.blocks import Block
from protocol.constants import GWEI
from protocol.hashing import keccak256
from protocol.transactions import decode_transaction, sign_transaction
from protocol.transition import sign_header
from protocol.hashing import compute_tx_root

from .settings import FAULT_KINDS

if TYPE_CHECKING:
    from .core.producer import SlotSession
    from .node import Node

SUBMIT_AT_ONCE = frozenset({"bad_state_root", "invalid_tx", "censor"})
"""Faults whose blocks the faulty node submits to L1 itself without waiting for a QC."""


def validate_faults(kinds: list[str], is_devnet: bool) -> None:
    from protocol.exceptions import InvalidParams
    for kind in kinds:
        if kind not in FAULT_KINDS:
            raise InvalidParams(f"unknown fault {kind!r}; known: {', '.join(FAULT_KINDS)}")
    if kinds and not is_devnet:
        raise InvalidParams("fault flags are refused: the chain is not a devnet")


def _resign(node: "Node", block: Block, **changes) -> Block:
    header = dataclasses.replace(block.header, **changes)
    return dataclasses.replace(block, header=header, signature=sign_header(header, node.key,
                                                                           node.params))


def build_steps(node: "Node", session: "SlotSession", timestamp: int):
    """The session's block, honest or as a fault flag says: a generator (run it with
    nodekit.loop.run_sliced) returning (block, state, output, second_block_or_None)."""
    from .core.producer import build_session_block_steps

    faults = node.faults
    txs = list(session.txs)
    if "reorder" in faults and txs:
        own = _front_runner(node, session)
        if own is not None:
            txs = [own] + txs
    block, state, output = yield from build_session_block_steps(node, session, timestamp, txs)
    extra = None
    if "invalid_tx" in faults:
        forged = _forged_tx(node, session.slot)
        raws = block.transactions + (forged.raw,)
        tx_root = compute_tx_root(keccak256(raw) for raw in raws)
        block = _resign(node, dataclasses.replace(block, transactions=raws), tx_root=tx_root)
    if "bad_state_root" in faults:
        block = _resign(node, block, state_root=keccak256(b"bad" + block.header.state_root))
    if "equivocate" in faults:
        end = timestamp + 1 if timestamp + 1 < _slot_end(node, session.slot) else timestamp - 1
        extra = _resign(node, block, timestamp_ms=end)
    return block, state, output, extra


def _slot_end(node: "Node", slot: int) -> int:
    return node.params.genesis_time_ms + (slot + 1) * node.params.slot_ms


def _forged_tx(node: "Node", slot: int):
    """A correctly signed transfer from a key that holds nothing: invalid in any block."""
    key = keccak256(b"seqnet/fault/invalid_tx/" + node.key.public + slot.to_bytes(8, "big"))
    raw = sign_transaction(key, chain_id=node.params.chain_id, nonce=0, to=b"\x11" * 20,
                           value=10**18, max_fee_per_gas=node.params.base_fee_wei)
    return decode_transaction(raw)


def _front_runner(node: "Node", session: "SlotSession"):
    """A transfer of the operator's own account, placed before the first receipted one."""
    if node.operator_key is None:
        return None
    account = session.parent.state.get_account(node.operator)
    if any(tx.sender == node.operator for tx in session.txs):
        return None
    raw = sign_transaction(node.operator_key, chain_id=node.params.chain_id, nonce=account.nonce,
                           to=node.operator, value=1, max_fee_per_gas=2 * GWEI)
    return decode_transaction(raw)
