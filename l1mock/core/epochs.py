"""Epoch snapshots: the active sequencer set of epoch e is the staking state when the L1
clock passes `start(e) - lookahead` (DESIGN.md section 4).

Spec: docs/spec/l1.md#epochs
"""

from __future__ import annotations

from collections.abc import Iterable

from protocol.params import ChainParams
from protocol.schedule import (
    Member,
    SequencerSet,
    compute_epoch,
    compute_sequencer_set,
    compute_slot,
    compute_snapshot_time_ms,
)

from .state import Sequencer


def compute_candidates(sequencers: Iterable[Sequencer]) -> list[Member]:
    """Registered, not jailed sequencers with their active stake (self + delegated)."""
    return [Member(seq.node_key, seq.operator, seq.total_stake_wei)
            for seq in sequencers if not seq.jailed and seq.total_stake_wei > 0]


def compute_first_epoch(timestamp_ms: int, params: ChainParams) -> int:
    """The first epoch a fresh L1 snapshots: epoch 0 before genesis, else the current one."""
    if timestamp_ms < params.genesis_time_ms:
        return 0
    return compute_epoch(compute_slot(timestamp_ms, params), params)


def compute_due_epochs(next_epoch: int, timestamp_ms: int, params: ChainParams) -> list[int]:
    """Epochs from `next_epoch` on whose snapshot time is at or before `timestamp_ms`."""
    due = []
    epoch = next_epoch
    while compute_snapshot_time_ms(epoch, params) <= timestamp_ms:
        due.append(epoch)
        epoch += 1
    return due


def take_snapshot(epoch: int, sequencers: Iterable[Sequencer], params: ChainParams) -> SequencerSet:
    return compute_sequencer_set(epoch, compute_candidates(sequencers), params)
