"""Blocks, headers, attestations, quorum certificates and L1 queue items.

Plain frozen dataclasses; their canonical RLP encodings live in `protocol/encoding.py`
and every hash is keccak of that encoding.

Spec: docs/spec/blocks.md
"""

from __future__ import annotations

from dataclasses import dataclass, field

QUEUE_DEPOSIT = 0
"""Queue item kind: credit `amount` to `to` on L2 (tokens locked on L1)."""
QUEUE_FORCED_TX = 1
"""Queue item kind: a signed L2 transaction forced through L1 (`raw_tx`)."""


@dataclass(frozen=True, slots=True)
class QueueItem:
    """An item of the L1 forced-inclusion queue (DESIGN.md section 6)."""

    index: int
    """Position in the L1 queue, from 0."""
    kind: int
    """QUEUE_DEPOSIT or QUEUE_FORCED_TX."""
    l1_block: int
    """L1 block the item was enqueued in; due at l1_origin >= l1_block + force_delay_l1_blocks."""
    sender: bytes
    """L1 account that enqueued it (20 bytes)."""
    to: bytes = b""
    """Deposit recipient on L2 (20 bytes); empty for a forced transaction."""
    amount: int = 0
    """Deposit amount in wei; 0 for a forced transaction."""
    raw_tx: bytes = b""
    """The signed L2 transaction of a forced item; empty for a deposit."""

    @property
    def hash(self) -> bytes:
        from .encoding import encode_queue_item
        from .hashing import keccak256

        return keccak256(encode_queue_item(self))


@dataclass(frozen=True, slots=True)
class Attestation:
    """A sequencer's vote that it validated a block (DESIGN.md section 4)."""

    block_hash: bytes
    number: int
    slot: int
    attester: bytes
    """Node key of the attesting sequencer."""
    signature: bytes
    """Ed25519 signature, kind `attestation`, over `compute_attestation_hash`."""


@dataclass(frozen=True, slots=True)
class QuorumCertificate:
    """Attestations to one block from more than 2/3 of its epoch's voting power."""

    block_hash: bytes
    number: int
    slot: int
    signers: tuple[tuple[bytes, bytes], ...]
    """(node key, attestation signature) pairs, sorted by node key."""

    def attestations(self) -> list[Attestation]:
        return [Attestation(self.block_hash, self.number, self.slot, key, sig)
                for key, sig in self.signers]


@dataclass(frozen=True, slots=True)
class Header:
    """An L2 block header; the producer signs its hash (kind `block`)."""

    number: int
    parent_hash: bytes
    slot: int
    timestamp_ms: int
    """Unix milliseconds, inside the block's slot."""
    producer: bytes
    """Node key of the slot's leader."""
    tx_root: bytes
    """Last link of the prefix chain over the sequenced transaction hashes (docs/spec/receipts.md)."""
    state_root: bytes
    withdrawals_root: bytes
    l1_origin: int
    """The L1 block number this block references; decides which queue items are due."""
    l1_queue_index: int
    """Queue items consumed after this block (the index of the next item to consume)."""
    parent_qc: QuorumCertificate | None
    """QC for the parent; None only when the parent is the genesis block."""
    _hash: list = field(default_factory=list, compare=False, repr=False, init=False)

    @property
    def hash(self) -> bytes:
        # Cached: headers are hashed on every lookup, vote and proof.
        if not self._hash:
            from .encoding import encode_header
            from .hashing import keccak256

            self._hash.append(keccak256(encode_header(self)))
        return self._hash[0]


@dataclass(frozen=True, slots=True)
class Block:
    """A signed header and its body: the consumed queue items and the sequenced transactions."""

    header: Header
    signature: bytes
    """Producer's Ed25519 signature of the header hash (empty for the genesis block)."""
    queue_items: tuple[QueueItem, ...] = ()
    """L1 queue items consumed, indexes parent.l1_queue_index .. header.l1_queue_index - 1."""
    transactions: tuple[bytes, ...] = ()
    """Raw signed transactions in sequencing (receipt) order."""

    @property
    def hash(self) -> bytes:
        return self.header.hash

    @property
    def number(self) -> int:
        return self.header.number

    @property
    def slot(self) -> int:
        return self.header.slot
