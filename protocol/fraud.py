"""Fraud-proof evidence and its verification, shared by the L1 mock (which judges) and the
rangers (which build proofs and check them before paying a bond).

One verify function per kind of DESIGN.md section 7; each returns a FraudVerdict when the
misconduct is proven and raises InvalidProof saying why when it is not.

Spec: docs/spec/fraud-proofs.md
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union

from . import rlpcodec

from .blocks import Attestation, Block, Header, QueueItem
from .encoding import (
    _bytes,
    _int,
    _list,
    compute_attestation_hash,
    decode_attestation,
    decode_block,
    decode_queue_item,
    decode_rlp,
    decode_signed_header,
    encode_attestation,
    encode_block,
    encode_queue_item,
    encode_signed_header,
)
from .constants import HASH_SIZE
from .exceptions import BlockContainsInvalidTransaction, InvalidEncoding, InvalidProof, MissingWitnessNode
from .hashing import compute_tx_root, keccak256
from .params import ChainParams
from .receipts import Receipt, decode_receipt, encode_receipt, is_receipt_violated, verify_receipt
from .signing import verify_node_signature
from .witness import apply_block_stateless

FRAUD_KINDS = ("invalid_state", "receipt_violation", "equivocation", "censorship")


@dataclass(frozen=True, slots=True)
class InvalidStateEvidence:
    block: Block
    """The block as accepted on L1."""
    witness: tuple[bytes, ...]
    """Trie nodes proving every touched account against the parent's state root."""


@dataclass(frozen=True, slots=True)
class ReceiptViolationEvidence:
    receipt: Receipt
    header: Header
    header_signature: bytes
    tx_hashes: tuple[bytes, ...]
    """The block's sequenced transaction hashes; must chain to header.tx_root."""


@dataclass(frozen=True, slots=True)
class EquivocationEvidence:
    first: Union[tuple[Header, bytes], Attestation]
    """A signed header (header, signature) or an attestation."""
    second: Union[tuple[Header, bytes], Attestation]


@dataclass(frozen=True, slots=True)
class CensorshipEvidence:
    header: Header
    header_signature: bytes
    item: QueueItem
    """The queue item the block should have consumed."""


Evidence = Union[InvalidStateEvidence, ReceiptViolationEvidence, EquivocationEvidence,
                 CensorshipEvidence]


@dataclass(frozen=True, slots=True)
class FraudContext:
    """What L1 supplies from its own records (None where the kind needs nothing)."""

    parent_state_root: bytes | None = None
    """invalid_state: state root of the accepted parent of the evidence's block."""
    fee_recipient: bytes | None = None
    """invalid_state: operator address of the block's producer."""
    accepted_block_hash: bytes | None = None
    """invalid_state: the hash L1 accepted at the evidence block's number."""
    queue_item: QueueItem | None = None
    """censorship: L1's own copy of the queue item at the evidence's index."""


@dataclass(frozen=True, slots=True)
class FraudVerdict:
    kind: str
    offender: bytes
    """Node key of the sequencer proven to have misbehaved."""
    slot: int
    block_number: int | None
    """For invalid_state: the first block to roll back."""
    reason: str


# --- encoding -----------------------------------------------------------------------------


def encode_evidence(evidence: Evidence) -> bytes:
    if isinstance(evidence, InvalidStateEvidence):
        return rlpcodec.encode([encode_block(evidence.block), list(evidence.witness)])
    if isinstance(evidence, ReceiptViolationEvidence):
        return rlpcodec.encode([encode_receipt(evidence.receipt),
                           encode_signed_header(evidence.header, evidence.header_signature),
                           list(evidence.tx_hashes)])
    if isinstance(evidence, EquivocationEvidence):
        return rlpcodec.encode([_encode_signed(evidence.first), _encode_signed(evidence.second)])
    if isinstance(evidence, CensorshipEvidence):
        return rlpcodec.encode([encode_signed_header(evidence.header, evidence.header_signature),
                           encode_queue_item(evidence.item)])
    raise TypeError(f"not evidence: {type(evidence).__name__}")


def _encode_signed(obj: Union[tuple[Header, bytes], Attestation]) -> list:
    if isinstance(obj, Attestation):
        return [1, encode_attestation(obj)]
    header, signature = obj
    return [0, encode_signed_header(header, signature)]


def _decode_signed(fields: object) -> Union[tuple[Header, bytes], Attestation]:
    f = _list(fields, "equivocation item", 2)
    variant = _int(f[0], "equivocation item variant")
    raw = _bytes(f[1], "equivocation item")
    if variant == 0:
        return decode_signed_header(raw)
    if variant == 1:
        return decode_attestation(raw)
    raise InvalidEncoding(f"equivocation item variant must be 0 (header) or 1 (attestation), got {variant}")


def evidence_kind(evidence: Evidence) -> str:
    return {InvalidStateEvidence: "invalid_state", ReceiptViolationEvidence: "receipt_violation",
            EquivocationEvidence: "equivocation", CensorshipEvidence: "censorship"}[type(evidence)]


def decode_evidence(kind: str, raw: bytes) -> Evidence:
    """Decode the evidence of `kind`; raises InvalidEncoding naming what is malformed."""
    if kind not in FRAUD_KINDS:
        raise InvalidEncoding(f"unknown fraud-proof kind {kind!r}; expected one of {FRAUD_KINDS}")
    fields = decode_rlp(raw, f"{kind} evidence")
    if kind == "invalid_state":
        f = _list(fields, "invalid_state evidence", 2)
        witness = tuple(_bytes(node, "witness node") for node in _list(f[1], "witness"))
        return InvalidStateEvidence(decode_block(_bytes(f[0], "evidence block")), witness)
    if kind == "receipt_violation":
        f = _list(fields, "receipt_violation evidence", 3)
        header, signature = decode_signed_header(_bytes(f[1], "evidence header"))
        hashes = tuple(_bytes(h, "tx hash", HASH_SIZE) for h in _list(f[2], "tx hashes"))
        return ReceiptViolationEvidence(decode_receipt(_bytes(f[0], "evidence receipt")), header,
                                        signature, hashes)
    if kind == "equivocation":
        f = _list(fields, "equivocation evidence", 2)
        return EquivocationEvidence(_decode_signed(f[0]), _decode_signed(f[1]))
    f = _list(fields, "censorship evidence", 2)
    header, signature = decode_signed_header(_bytes(f[0], "evidence header"))
    return CensorshipEvidence(header, signature, decode_queue_item(_bytes(f[1], "evidence item")))


def compute_evidence_hash(kind: str, raw: bytes) -> bytes:
    """Evidence is deduplicated by this hash (the kind is part of it)."""
    return keccak256(kind.encode() + b"/" + raw)


def evidence_offender(evidence: Evidence) -> bytes:
    if isinstance(evidence, InvalidStateEvidence):
        return evidence.block.header.producer
    if isinstance(evidence, ReceiptViolationEvidence):
        return evidence.receipt.leader
    if isinstance(evidence, EquivocationEvidence):
        return _signer(evidence.first)
    return evidence.header.producer


def evidence_block_number(evidence: Evidence) -> int | None:
    if isinstance(evidence, InvalidStateEvidence):
        return evidence.block.number
    if isinstance(evidence, (ReceiptViolationEvidence, CensorshipEvidence)):
        return evidence.header.number
    return None


def _signer(obj: Union[tuple[Header, bytes], Attestation]) -> bytes:
    return obj.attester if isinstance(obj, Attestation) else obj[0].producer


def _slot(obj: Union[tuple[Header, bytes], Attestation]) -> int:
    return obj.slot if isinstance(obj, Attestation) else obj[0].slot


def _hash(obj: Union[tuple[Header, bytes], Attestation]) -> bytes:
    return obj.block_hash if isinstance(obj, Attestation) else obj[0].hash


def _verify_signed(obj: Union[tuple[Header, bytes], Attestation], params: ChainParams) -> bool:
    if isinstance(obj, Attestation):
        return verify_node_signature(obj.attester, b"attestation", params.chain_id,
                                     compute_attestation_hash(obj.block_hash, obj.number, obj.slot),
                                     obj.signature)
    header, signature = obj
    return verify_node_signature(header.producer, b"block", params.chain_id, header.hash, signature)


# --- verification -------------------------------------------------------------------------


def verify_invalid_state(evidence: InvalidStateEvidence, ctx: FraudContext,
                         params: ChainParams) -> FraudVerdict:
    """The accepted block re-executed statelessly over the witness gives other roots, or
    holds an invalid transaction.

    Spec: docs/spec/fraud-proofs.md#invalid-state
    """
    block = evidence.block
    header = block.header
    if ctx.parent_state_root is None or ctx.fee_recipient is None or ctx.accepted_block_hash is None:
        raise InvalidProof(f"block {header.number} is not on L1's accepted chain")
    if block.hash != ctx.accepted_block_hash:
        raise InvalidProof(f"block {header.number} 0x{block.hash.hex()[:16]}.. is not the block L1 "
                           f"accepted at that height (0x{ctx.accepted_block_hash.hex()[:16]}..)")
    if not verify_node_signature(header.producer, b"block", params.chain_id, header.hash,
                                 block.signature):
        raise InvalidProof(f"block {header.number}: producer signature does not verify")
    if compute_tx_root(keccak256(raw) for raw in block.transactions) != header.tx_root:
        reason = f"block {header.number}: body does not match tx_root"
        return FraudVerdict("invalid_state", header.producer, header.slot, header.number, reason)
    try:
        output = apply_block_stateless(ctx.parent_state_root, evidence.witness, block,
                                       ctx.fee_recipient, params)
    except MissingWitnessNode as error:
        raise InvalidProof(f"witness incomplete: {error}") from None
    except BlockContainsInvalidTransaction as error:
        return FraudVerdict("invalid_state", header.producer, header.slot, header.number,
                            f"block {header.number} contains an invalid transaction: {error}")
    if output.state_root != header.state_root:
        reason = (f"block {header.number}: state root 0x{header.state_root.hex()} != re-executed "
                  f"0x{output.state_root.hex()}")
    elif output.withdrawals_root != header.withdrawals_root:
        reason = (f"block {header.number}: withdrawals root 0x{header.withdrawals_root.hex()} != "
                  f"re-executed 0x{output.withdrawals_root.hex()}")
    else:
        raise InvalidProof(f"block {header.number} re-executes to its claimed roots: it is valid")
    return FraudVerdict("invalid_state", header.producer, header.slot, header.number, reason)


def verify_receipt_violation(evidence: ReceiptViolationEvidence, params: ChainParams) -> FraudVerdict:
    """A receipt signed by S and S's signed block for that slot whose prefix breaks it.

    Spec: docs/spec/fraud-proofs.md#receipt-violation
    """
    receipt, header = evidence.receipt, evidence.header
    if not verify_receipt(receipt, params.chain_id):
        raise InvalidProof("receipt signature does not verify")
    if header.producer != receipt.leader or header.slot != receipt.slot:
        raise InvalidProof(f"block of slot {header.slot} by {header.producer.hex()[:16]}.. is not "
                           f"the receipt's (slot {receipt.slot}, leader {receipt.leader.hex()[:16]}..)")
    if not verify_node_signature(header.producer, b"block", params.chain_id, header.hash,
                                 evidence.header_signature):
        raise InvalidProof("block header signature does not verify")
    if compute_tx_root(evidence.tx_hashes) != header.tx_root:
        raise InvalidProof("transaction hashes do not chain to the header's tx_root")
    if not is_receipt_violated(receipt, evidence.tx_hashes):
        raise InvalidProof(f"block keeps the receipt's promise at index {receipt.index}")
    found = (f"0x{evidence.tx_hashes[receipt.index].hex()}" if receipt.index < len(evidence.tx_hashes)
             else f"nothing (block has {len(evidence.tx_hashes)} transactions)")
    reason = (f"receipt for 0x{receipt.tx_hash.hex()} promised index {receipt.index} of slot "
              f"{receipt.slot}; the block's prefix differs there ({found})")
    return FraudVerdict("receipt_violation", header.producer, header.slot, header.number, reason)


def verify_equivocation(evidence: EquivocationEvidence, params: ChainParams) -> FraudVerdict:
    """Two different headers, or two attestations to different blocks, signed by the same
    node key for the same slot.

    Spec: docs/spec/fraud-proofs.md#equivocation
    """
    first, second = evidence.first, evidence.second
    if isinstance(first, Attestation) != isinstance(second, Attestation):
        raise InvalidProof("equivocation compares a header with an attestation")
    if _signer(first) != _signer(second):
        raise InvalidProof("the two objects are signed by different node keys")
    if _slot(first) != _slot(second):
        raise InvalidProof(f"different slots {_slot(first)} and {_slot(second)}")
    if _hash(first) == _hash(second):
        raise InvalidProof("both objects are for the same block")
    if not (_verify_signed(first, params) and _verify_signed(second, params)):
        raise InvalidProof("a signature does not verify")
    what = "attestations" if isinstance(first, Attestation) else "blocks"
    reason = f"two {what} for slot {_slot(first)}"
    return FraudVerdict("equivocation", _signer(first), _slot(first), None, reason)


def verify_censorship(evidence: CensorshipEvidence, ctx: FraudContext,
                      params: ChainParams) -> FraudVerdict:
    """S's signed header leaves behind a queue item that was due at its l1_origin.

    Spec: docs/spec/fraud-proofs.md#censorship
    """
    header, item = evidence.header, evidence.item
    if ctx.queue_item is None or ctx.queue_item != item:
        raise InvalidProof(f"queue item {item.index} is not L1's item at that index")
    if not verify_node_signature(header.producer, b"block", params.chain_id, header.hash,
                                 evidence.header_signature):
        raise InvalidProof("block header signature does not verify")
    due_at = item.l1_block + params.force_delay_l1_blocks
    if header.l1_origin < due_at:
        raise InvalidProof(f"queue item {item.index} is due at l1_origin {due_at}; "
                           f"the block references {header.l1_origin}")
    if header.l1_queue_index > item.index:
        raise InvalidProof(f"queue item {item.index} was consumed (l1_queue_index {header.l1_queue_index})")
    reason = (f"block {header.number} (l1_origin {header.l1_origin}) left due queue item "
              f"{item.index} unconsumed (l1_queue_index {header.l1_queue_index})")
    return FraudVerdict("censorship", header.producer, header.slot, header.number, reason)


def verify_fraud_proof(kind: str, evidence: Evidence, ctx: FraudContext,
                       params: ChainParams) -> FraudVerdict:
    """Dispatch to the kind's verifier. Raises InvalidProof when misconduct is not proven.

    Spec: docs/spec/fraud-proofs.md
    """
    if kind not in FRAUD_KINDS or evidence_kind(evidence) != kind:
        raise InvalidProof(f"evidence of kind {evidence_kind(evidence)} given as {kind!r}")
    if kind == "invalid_state":
        return verify_invalid_state(evidence, ctx, params)
    if kind == "receipt_violation":
        return verify_receipt_violation(evidence, params)
    if kind == "equivocation":
        return verify_equivocation(evidence, params)
    return verify_censorship(evidence, ctx, params)
