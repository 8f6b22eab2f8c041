"""Slots, epochs and the leader schedule: CometBFT's proposer priority, one step per slot.

The schedule is a pure function of (sequencer set, epoch), so L1, sequencers and rangers
compute the same leader for every slot. Priorities start at 0 in every epoch, which removes
CometBFT's centering, scaling and new-validator penalty (the set never changes inside an epoch).

Spec: docs/spec/schedule.md
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

from .constants import ADDRESS_SIZE, NODE_KEY_SIZE, TOKEN
from .exceptions import BeforeGenesis, EmptySequencerSet, InvalidSequencerSet, SlotOutsideEpoch
from .params import ChainParams


@dataclass(frozen=True, slots=True)
class Member:
    """One sequencer of an epoch's active set, as L1 snapshotted it."""

    node_key: bytes
    """32-byte Ed25519 public key: signs the member's blocks, attestations and receipts."""
    operator: bytes
    """20-byte Ethereum address of the operator; fees and rewards go there."""
    stake_wei: int
    """Total stake: self-stake plus delegations, not unbonding, at the snapshot."""

    @property
    def power(self) -> int:
        """Voting power: the stake in whole tokens (`stake_wei // TOKEN`)."""
        return self.stake_wei // TOKEN


@dataclass(frozen=True, slots=True)
class SequencerSet:
    """The active sequencers of one epoch, sorted by node key, each with power > 0.

    Build one with `compute_sequencer_set` (which sorts and filters); the constructor only
    checks. Immutable and hashable, so schedules are cached per set.
    """

    epoch: int
    """The epoch this set is active in."""
    members: tuple[Member, ...]
    """Sorted by node key (bytes order), no duplicates, all with power > 0."""
    total_power: int = field(init=False, compare=False)
    """Sum of the members' power."""
    _by_key: dict[bytes, Member] = field(init=False, repr=False, compare=False)
    _hash: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.epoch < 0:
            raise InvalidSequencerSet(f"epoch must not be negative, got {self.epoch}")
        members = tuple(self.members)
        previous: bytes | None = None
        for member in members:
            if len(member.node_key) != NODE_KEY_SIZE:
                raise InvalidSequencerSet(
                    f"node key must be {NODE_KEY_SIZE} bytes, got {len(member.node_key)}")
            if len(member.operator) != ADDRESS_SIZE:
                raise InvalidSequencerSet(
                    f"operator must be {ADDRESS_SIZE} bytes, got {len(member.operator)}")
            if member.power <= 0:
                raise InvalidSequencerSet(
                    f"member {member.node_key.hex()[:16]}.. has no voting power "
                    f"(stake {member.stake_wei} wei < 1 token)")
            if previous is not None and member.node_key <= previous:
                raise InvalidSequencerSet(
                    "members must be sorted by node key without duplicates: "
                    f"{member.node_key.hex()[:16]}.. follows {previous.hex()[:16]}..")
            previous = member.node_key
        object.__setattr__(self, "members", members)
        object.__setattr__(self, "total_power", sum(member.power for member in members))
        object.__setattr__(self, "_by_key", {member.node_key: member for member in members})
        object.__setattr__(self, "_hash", hash((self.epoch, members)))

    def __hash__(self) -> int:
        return self._hash

    def __len__(self) -> int:
        return len(self.members)

    def get_member(self, node_key: bytes) -> Member | None:
        """The member with `node_key`, or None when it is not in the set."""
        return self._by_key.get(node_key)

    def has_quorum(self, signers: Iterable[bytes]) -> bool:
        """True when the distinct members among `signers` hold more than 2/3 of the power.

        Node keys that are not members count for nothing; a repeated key counts once.
        Spec: docs/spec/schedule.md#quorum
        """
        by_key = self._by_key
        power = sum(by_key[key].power for key in set(signers) if key in by_key)
        return power * 3 > self.total_power * 2


def compute_sequencer_set(epoch: int, candidates: Iterable[Member],
                          params: ChainParams) -> SequencerSet:
    """The active set of `epoch`: the candidates with at least `min_sequencer_stake_wei`, sorted.

    `candidates` are the registered, not jailed sequencers with their total stake at the
    snapshot; this function applies the minimum stake and the ordering, and refuses a node key
    that appears twice.
    Spec: docs/spec/schedule.md#the-sequencer-set
    """
    eligible = sorted((member for member in candidates
                       if member.stake_wei >= params.min_sequencer_stake_wei),
                      key=lambda member: member.node_key)
    return SequencerSet(epoch=epoch, members=tuple(eligible))


# --- time -----------------------------------------------------------------------------------


def compute_epoch(slot: int, params: ChainParams) -> int:
    """The epoch that contains `slot`.

    Spec: docs/spec/schedule.md#slots-and-epochs
    """
    return slot // params.epoch_slots


def compute_epoch_start_slot(epoch: int, params: ChainParams) -> int:
    """The first slot of `epoch`.

    Spec: docs/spec/schedule.md#slots-and-epochs
    """
    return epoch * params.epoch_slots


def compute_slot(timestamp_ms: int, params: ChainParams) -> int:
    """The slot whose interval `[start, start + slot_ms)` contains `timestamp_ms`.

    Raises BeforeGenesis for a time before `genesis_time_ms`.
    Spec: docs/spec/schedule.md#slots-and-epochs
    """
    if timestamp_ms < params.genesis_time_ms:
        raise BeforeGenesis(
            f"time {timestamp_ms} ms is before genesis at {params.genesis_time_ms} ms")
    return (timestamp_ms - params.genesis_time_ms) // params.slot_ms


def compute_slot_start_ms(slot: int, params: ChainParams) -> int:
    """The time at which `slot` starts (its end is the next slot's start).

    Spec: docs/spec/schedule.md#slots-and-epochs
    """
    return params.genesis_time_ms + slot * params.slot_ms


def compute_snapshot_time_ms(epoch: int, params: ChainParams) -> int:
    """When L1 snapshots the set of `epoch`: `start(epoch) - lookahead_slots * slot_ms`.

    For epoch 0 (and any epoch whose snapshot time falls before genesis) this lies before
    genesis: the genesis set is the one L1 starts with.
    Spec: docs/spec/schedule.md#the-sequencer-set
    """
    start_slot = compute_epoch_start_slot(epoch, params)
    return compute_slot_start_ms(start_slot, params) - params.lookahead_slots * params.slot_ms


# --- the schedule -----------------------------------------------------------------------------


def compute_schedule(sequencer_set: SequencerSet, params: ChainParams) -> tuple[bytes, ...]:
    """The leader's node key for every slot of the set's epoch (index = slot - epoch start).

    Raises EmptySequencerSet when the set has no member.
    Spec: docs/spec/schedule.md#algorithm
    """
    return _cached_schedule(sequencer_set, params.epoch_slots)


def compute_leader(sequencer_set: SequencerSet, slot: int, params: ChainParams) -> bytes:
    """The node key that leads `slot`, which must lie in the set's epoch.

    The epoch's schedule is computed once per (set, epoch length) and cached, so this is cheap
    to call for every block. Raises EmptySequencerSet for an empty set and SlotOutsideEpoch
    for a slot of another epoch.
    Spec: docs/spec/schedule.md#algorithm
    """
    epoch_slots = params.epoch_slots
    index = slot - sequencer_set.epoch * epoch_slots
    if not 0 <= index < epoch_slots:
        raise SlotOutsideEpoch(
            f"slot {slot} is in epoch {slot // epoch_slots}, "
            f"not in the set's epoch {sequencer_set.epoch}")
    return _cached_schedule(sequencer_set, epoch_slots)[index]


@lru_cache(maxsize=64)
def _cached_schedule(sequencer_set: SequencerSet, epoch_slots: int) -> tuple[bytes, ...]:
    return _run_proposer_priority(sequencer_set, epoch_slots)


def _run_proposer_priority(sequencer_set: SequencerSet, slots: int) -> tuple[bytes, ...]:
    """`slots` steps of proposer priority from all-zero priorities.

    Members are sorted by node key, so the first index holding the highest priority is the
    tie-break winner (the lowest node key).
    """
    members = sequencer_set.members
    if not members:
        raise EmptySequencerSet(f"epoch {sequencer_set.epoch} has no active sequencer")
    powers = [member.power for member in members]
    total = sequencer_set.total_power
    priorities = [0] * len(members)
    indices = range(len(members))
    leaders: list[bytes] = []
    for _ in range(slots):
        best = 0
        for i in indices:
            priorities[i] += powers[i]
            if priorities[i] > priorities[best]:
                best = i
        priorities[best] -= total
        leaders.append(members[best].node_key)
    return tuple(leaders)
