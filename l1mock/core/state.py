"""The records the L1 contract keeps in memory: accounts, sequencers, rangers, blocks,
batches, fraud proofs, slashes, events. Plain mutable dataclasses; the contract
(`core/contract.py`) is the only writer.

Spec: docs/spec/l1.md#state
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from protocol.blocks import Header


@dataclass
class Unbonding:
    """Stake on its way out: still slashable until it is withdrawn."""

    owner: bytes
    amount_wei: int
    release_l1_block: int
    """`withdraw` pays it from this L1 block on."""
    source: str = "stake"
    """"stake" (undelegated from a sequencer) or "ranger_bond"."""


@dataclass
class Sequencer:
    node_key: bytes
    operator: bytes
    endpoint: str
    commission_bps: int
    registered_l1_block: int
    stakes: dict[bytes, int] = field(default_factory=dict)
    """Active stake by owner; the operator's entry is the self-stake."""
    unbonding: list[Unbonding] = field(default_factory=list)
    jailed: bool = False
    jailed_l1_block: int | None = None
    jailed_from_slot: int | None = None
    """The producer's blocks for this slot and later are refused while it is jailed."""
    jail_reason: str = ""
    produced: int = 0
    missed: int = 0
    recent: deque = field(default_factory=deque)
    """produced (True) / missed (False) over the last `downtime_window_slots` own slots."""
    rewards_wei: int = 0
    """Block rewards paid to this pool (commission included)."""
    commission_wei: int = 0
    slashed_wei: int = 0
    slash_ids: list[int] = field(default_factory=list)

    @property
    def self_stake_wei(self) -> int:
        return self.stakes.get(self.operator, 0)

    @property
    def total_stake_wei(self) -> int:
        """Self-stake plus delegations, not unbonding."""
        return sum(self.stakes.values())

    @property
    def delegated_wei(self) -> int:
        return self.total_stake_wei - self.self_stake_wei

    @property
    def unbonding_wei(self) -> int:
        return sum(entry.amount_wei for entry in self.unbonding)


@dataclass
class Ranger:
    node_key: bytes
    operator: bytes
    bond_wei: int
    registered_l1_block: int
    endpoint: str = ""
    active: bool = True
    verified: int = 0
    """Blocks it reported as verified before they finalized."""
    rewards_wei: int = 0


@dataclass
class AcceptedBlock:
    """An L2 block on L1's accepted chain (the raw block lives in the database)."""

    header: Header
    l1_block: int
    """L1 block in which its batch was accepted; final at l1_block + challenge window."""
    batch_id: int
    finalized_l1_block: int | None = None
    verifiers: dict[bytes, None] = field(default_factory=dict)
    """Ranger node keys that reported it verified (ordered set)."""

    @property
    def number(self) -> int:
        return self.header.number

    @property
    def hash(self) -> bytes:
        return self.header.hash

    @property
    def finalized(self) -> bool:
        return self.finalized_l1_block is not None


@dataclass
class Batch:
    id: int
    l1_block: int
    submitter: bytes
    numbers: list[int]
    hashes: list[bytes]
    skipped: int = 0
    """Blocks of the call that were already accepted (idempotent re-submission)."""


@dataclass
class Slash:
    id: int
    node_key: bytes
    reason: str
    """A fraud-proof kind or "downtime"."""
    bps: int
    amount_wei: int
    reporter: bytes | None
    reporter_paid_wei: int
    burned_wei: int
    l1_block: int
    cuts: dict[bytes, int]
    """What each owner lost (active and unbonding stake together)."""
    fraud_proof_id: int | None = None


@dataclass
class FraudProof:
    id: int
    kind: str
    reporter: bytes
    evidence_hash: bytes
    l1_block: int
    accepted: bool
    reason: str
    bond_wei: int
    offender: bytes | None = None
    slot: int | None = None
    block_number: int | None = None
    slash_id: int | None = None


@dataclass
class Event:
    id: int
    l1_block: int
    kind: str
    data: dict[str, Any]


@dataclass
class StoredBlock:
    """An accepted block to write to the database with its call."""

    hash: bytes
    number: int
    raw: bytes
    batch_id: int
    l1_block: int


@dataclass
class Outbox:
    """What one call or tick produced that the database must record with it."""

    events: list[Event] = field(default_factory=list)
    blocks: list[StoredBlock] = field(default_factory=list)

    def mark(self) -> tuple[int, int]:
        return len(self.events), len(self.blocks)

    def reset_to(self, mark: tuple[int, int]) -> None:
        del self.events[mark[0]:]
        del self.blocks[mark[1]:]
