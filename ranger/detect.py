"""What a ranger detects, as pure functions: given a block (or a signed header), its parent's
state, the sequencer set, L1's queue and the receipts held, the findings with their evidence.

No I/O, no clock, no database: the services' jobs (ranger/core/*) feed these functions and
store what they return. Every finding carries evidence built by `protocol/fraud.py` and is
checked here with the very `verify_fraud_proof` the L1 mock runs, so a ranger never posts a
bond on a proof that L1 would refuse.

Spec: docs/spec/ranger.md#detection
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Union

from protocol.blocks import Attestation, Block, Header, QueueItem
from protocol.encoding import compute_attestation_hash
from protocol.exceptions import BlockContainsInvalidTransaction, InvalidProof, ProtocolError
from protocol.fraud import (
    CensorshipEvidence,
    EquivocationEvidence,
    Evidence,
    FraudContext,
    InvalidStateEvidence,
    ReceiptViolationEvidence,
    compute_evidence_hash,
    encode_evidence,
    evidence_kind,
    verify_fraud_proof,
)
from protocol.hashing import compute_tx_root, keccak256
from protocol.params import ChainParams
from protocol.receipts import Receipt, is_receipt_violated, verify_receipt
from protocol.signing import verify_node_signature
from protocol.state import State
from protocol.transactions import Transaction
from protocol.transition import BlockOutput, apply_block, compute_due_queue_index
from protocol.witness import build_witness

SignedObject = Union[tuple[Header, bytes], Attestation]
"""A signed header (header, producer signature) or an attestation."""

_TWO_256 = 2**256


@dataclass(frozen=True)
class Finding:
    """One proven misconduct, ready for `submit_fraud_proof`."""

    kind: str
    evidence: Evidence = field(repr=False)
    raw: bytes = field(repr=False)
    """`encode_evidence(evidence)`: what goes to L1."""
    evidence_hash: bytes
    """`compute_evidence_hash(kind, raw)`: L1 deduplicates by it, so does the ranger."""
    offender: bytes
    slot: int
    block_number: int | None
    reason: str


def make_finding(evidence: Evidence, ctx: FraudContext, params: ChainParams) -> Finding:
    """Encode `evidence` and judge it exactly as L1 will; raises InvalidProof when L1 would
    refuse it (the ranger then keeps its bond)."""
    kind = evidence_kind(evidence)
    verdict = verify_fraud_proof(kind, evidence, ctx, params)
    raw = encode_evidence(evidence)
    return Finding(kind, evidence, raw, compute_evidence_hash(kind, raw), verdict.offender,
                   verdict.slot, verdict.block_number, verdict.reason)


# --- sampling --------------------------------------------------------------------------------


def compute_sample_secret(node_key_seed: bytes) -> bytes:
    """The ranger's private sampling key, derived from its node key's secret seed: sequencers
    know the ranger's public key but not this, so they cannot tell which blocks it checks."""
    return keccak256(b"seqnet/v1/ranger-sample" + node_key_seed)


def is_sampled(sample_secret: bytes, block_hash: bytes, rate: float) -> bool:
    """Whether this ranger verifies (and vouches for) the block:
    keccak(sample_secret + block_hash) < rate * 2**256. rate >= 1 samples every block.

    Spec: docs/spec/ranger.md#sampling
    """
    if rate >= 1.0:
        return True
    if rate <= 0.0:
        return False
    draw = int.from_bytes(keccak256(sample_secret + block_hash), "big")
    return draw < int(rate * _TWO_256)


# --- invalid state ---------------------------------------------------------------------------


@dataclass
class Execution:
    """The outcome of re-executing one block on its parent's state."""

    state: State
    """The true post-state (the parent's state when the block could not be applied)."""
    output: BlockOutput | None
    finding: Finding | None
    """invalid_state evidence when the block's roots or transactions are wrong."""
    error: str = ""


def execute_block(block: Block, parent_state: State, fee_recipient: bytes, params: ChainParams,
                  transactions: Sequence[Transaction] | None = None) -> Execution:
    """Re-execute `block` (as accepted on L1) on a copy of its parent's state.

    A body that does not match tx_root, an invalid sequenced transaction, or a state or
    withdrawals root other than the header's gives invalid_state evidence with the minimal
    witness: the proof nodes of every account the block touches (up to its first invalid
    transaction) against the parent's state root.

    Spec: docs/spec/ranger.md#invalid-state
    """
    header = block.header
    bad_body = compute_tx_root(keccak256(raw) for raw in block.transactions) != header.tx_root
    state = parent_state.copy()
    output: BlockOutput | None = None
    error = ""
    if bad_body:
        error = "body does not match tx_root"
    else:
        try:
            output = apply_block(state, block, fee_recipient, params, transactions)
        except BlockContainsInvalidTransaction as failure:
            error = f"invalid transaction: {failure}"
            state = parent_state
        if output is not None:
            if output.state_root != header.state_root:
                error = (f"state root 0x{header.state_root.hex()} != re-executed "
                         f"0x{output.state_root.hex()}")
            elif output.withdrawals_root != header.withdrawals_root:
                error = "withdrawals root differs"
    if not error:
        return Execution(state, output, None)
    witness = () if bad_body else tuple(build_witness(parent_state, block, fee_recipient, params))
    ctx = FraudContext(parent_state_root=parent_state.state_root(), fee_recipient=fee_recipient,
                       accepted_block_hash=block.hash)
    finding = make_finding(InvalidStateEvidence(block, witness), ctx, params)
    return Execution(state, output, finding, error)


def compute_witness_size(finding: Finding) -> tuple[int, int]:
    """(nodes, bytes) of an invalid_state finding's witness."""
    assert isinstance(finding.evidence, InvalidStateEvidence)
    witness = finding.evidence.witness
    return len(witness), sum(len(node) for node in witness)


# --- receipts --------------------------------------------------------------------------------


def compute_tx_hashes(block: Block) -> tuple[bytes, ...]:
    """The block's sequenced transaction hashes: the chain tx_root and receipts commit to."""
    return tuple(keccak256(raw) for raw in block.transactions)


def check_receipt(receipt: Receipt, header: Header, signature: bytes,
                  tx_hashes: Sequence[bytes], params: ChainParams) -> Finding | None:
    """receipt_violation evidence when the leader's signed block of the receipt's slot does
    not start with the promised prefix (reordered, front-run, inserted ahead, omitted);
    None when it keeps the promise or the block is not the receipt's.

    Spec: docs/spec/ranger.md#receipts
    """
    if header.producer != receipt.leader or header.slot != receipt.slot:
        return None
    if compute_tx_root(tx_hashes) != header.tx_root:
        return None
    if not is_receipt_violated(receipt, tx_hashes):
        return None
    evidence = ReceiptViolationEvidence(receipt, header, signature, tuple(tx_hashes))
    try:
        return make_finding(evidence, FraudContext(), params)
    except InvalidProof:
        return None


def check_receipts(receipts: Iterable[Receipt], header: Header, signature: bytes,
                   tx_hashes: Sequence[bytes], params: ChainParams) -> list[Finding]:
    findings = []
    for receipt in receipts:
        finding = check_receipt(receipt, header, signature, tx_hashes, params)
        if finding is not None:
            findings.append(finding)
    return findings


def validate_receipt_signature(receipt: Receipt, params: ChainParams) -> bool:
    return verify_receipt(receipt, params.chain_id)


# --- equivocation ----------------------------------------------------------------------------


def signer_of(obj: SignedObject) -> bytes:
    return obj.attester if isinstance(obj, Attestation) else obj[0].producer


def slot_of(obj: SignedObject) -> int:
    return obj.slot if isinstance(obj, Attestation) else obj[0].slot


def hash_of(obj: SignedObject) -> bytes:
    return obj.block_hash if isinstance(obj, Attestation) else obj[0].hash


def is_signed_object_valid(obj: SignedObject, params: ChainParams) -> bool:
    """The object's signature verifies (anything else is noise a peer sent)."""
    if isinstance(obj, Attestation):
        return verify_node_signature(obj.attester, b"attestation", params.chain_id,
                                     compute_attestation_hash(obj.block_hash, obj.number, obj.slot),
                                     obj.signature)
    header, signature = obj
    return verify_node_signature(header.producer, b"block", params.chain_id, header.hash, signature)


def check_equivocation(first: SignedObject, second: SignedObject,
                       params: ChainParams) -> Finding | None:
    """equivocation evidence when both objects are of one kind, signed by one key, for one
    slot, and name different blocks.

    Spec: docs/spec/ranger.md#equivocation
    """
    if isinstance(first, Attestation) != isinstance(second, Attestation):
        return None
    if signer_of(first) != signer_of(second) or slot_of(first) != slot_of(second):
        return None
    if hash_of(first) == hash_of(second):
        return None
    # Order the pair by hash: the same two objects always make the same evidence (one hash).
    a, b = sorted((first, second), key=hash_of)
    try:
        return make_finding(EquivocationEvidence(a, b), FraudContext(), params)
    except InvalidProof:
        return None


# --- censorship ------------------------------------------------------------------------------


def check_censorship(header: Header, signature: bytes, queue: Sequence[QueueItem],
                     params: ChainParams) -> Finding | None:
    """censorship evidence when the signed header leaves behind a queue item that was due at
    its l1_origin. `queue` holds L1's items (any contiguous run that includes the item at
    header.l1_queue_index).

    Spec: docs/spec/ranger.md#censorship
    """
    if header.number == 0:
        return None
    pending = [item for item in queue if item.index >= header.l1_queue_index]
    if not pending or pending[0].index != header.l1_queue_index:
        return None
    due = compute_due_queue_index(pending, header.l1_origin, params)
    if header.l1_queue_index >= due:
        return None
    item = pending[0]
    try:
        return make_finding(CensorshipEvidence(header, signature, item),
                            FraudContext(queue_item=item), params)
    except (InvalidProof, ProtocolError):
        return None
