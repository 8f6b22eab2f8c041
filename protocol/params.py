"""Chain parameters: the rollup config every node of one network shares.

A node's own flags (ports, database URL, keys) live in its settings, never here.
Defaults are DESIGN.md's; `devnet_params()` shortens the L1 side so that a person sees a
transfer finalize within about 30 seconds.

Spec: docs/spec/parameters.md
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from .constants import GWEI, TOKEN
from .exceptions import InvalidParams

BPS = 10_000
"""Basis points in one whole: fractions are stored as integers of 1/10,000."""


@dataclass(frozen=True, slots=True)
class ChainParams:
    chain_id: int = 7357
    """L2 chain id (EIP-155), also mixed into every node-key signature."""
    l1_chain_id: int = 31337
    """Chain id of the L1 mock, mixed into L1 call signatures."""
    is_devnet: bool = True
    """Fault flags are refused unless this is set."""

    genesis_time_ms: int = 0
    """Unix time (ms) at which slot 0 starts."""
    slot_ms: int = 1000
    """Length of one L2 slot."""
    epoch_slots: int = 32
    """Slots per epoch; the sequencer set and schedule are fixed per epoch."""
    lookahead_slots: int = 8
    """L1 snapshots epoch e's set when its clock passes start(e) - lookahead."""
    parent_wait_ms: int = 100
    """How long a leader waits for the previous slot's block before fixing its parent."""

    base_fee_wei: int = 1 * GWEI
    """Fixed base fee per gas; fee caps below it are refused. Fees go to the producer whole."""

    l1_block_ms: int = 2000
    """One L1 block every this many milliseconds."""
    min_sequencer_stake_wei: int = 20_000 * TOKEN
    """Smallest total stake that puts a sequencer in the active set."""
    min_ranger_bond_wei: int = 1_000 * TOKEN
    """Smallest bond a ranger registers with."""
    unbonding_l1_blocks: int = 20
    """Undelegated stake stays slashable this long (>= the challenge window)."""
    challenge_window_l1_blocks: int = 10
    """Accepted blocks become final this many L1 blocks after their batch."""
    force_delay_l1_blocks: int = 2
    """A queue item enqueued at L1 block b is due in every block with l1_origin >= b + this."""
    fraud_bond_wei: int = 100 * TOKEN
    """Bond a reporter posts with a fraud proof; lost if the proof fails."""
    reporter_share_bps: int = 5_000
    """Share of a slash paid to the reporter; the rest is burned."""
    slash_invalid_state_bps: int = 5_000
    slash_receipt_violation_bps: int = 3_000
    slash_equivocation_bps: int = 5_000
    slash_censorship_bps: int = 1_000
    slash_downtime_bps: int = 100
    """Small slash for downtime jailing."""
    downtime_window_slots: int = 100
    """Downtime is judged over a sequencer's last this many own slots."""
    downtime_max_missed: int = 50
    """Missing more than this many of them jails the sequencer."""
    unjail_delay_l1_blocks: int = 10
    """A jailed sequencer may unjail after this many L1 blocks."""
    block_reward_wei: int = 1 * TOKEN
    """Paid to the producer's pool for every finalized block."""
    ranger_reward_wei: int = TOKEN // 10
    """Shared by the rangers that verified a finalized block."""

    @property
    def epoch_ms(self) -> int:
        return self.slot_ms * self.epoch_slots

    def replace(self, **changes: object) -> "ChainParams":
        return dataclasses.replace(self, **changes)

    def slash_bps(self, kind: str) -> int:
        """The slash fraction of a fraud-proof kind (DESIGN.md section 7)."""
        try:
            return int(getattr(self, f"slash_{kind}_bps"))
        except AttributeError:
            raise InvalidParams(f"no slash fraction for kind {kind!r}") from None


def validate_params(params: ChainParams) -> None:
    """Raise InvalidParams when the parameters break an invariant DESIGN.md relies on.

    Spec: docs/spec/parameters.md#invariants
    """
    positive = ("chain_id", "slot_ms", "epoch_slots", "l1_block_ms", "challenge_window_l1_blocks")
    for name in positive:
        if getattr(params, name) <= 0:
            raise InvalidParams(f"{name} must be positive, got {getattr(params, name)}")
    if not 0 <= params.parent_wait_ms < params.slot_ms:
        raise InvalidParams(f"parent_wait_ms must lie in [0, slot_ms): {params.parent_wait_ms}")
    if not 0 <= params.lookahead_slots <= params.epoch_slots:
        raise InvalidParams(f"lookahead_slots must lie in [0, epoch_slots]: {params.lookahead_slots}")
    if params.unbonding_l1_blocks < params.challenge_window_l1_blocks:
        raise InvalidParams(
            "unbonding_l1_blocks must be at least the challenge window "
            f"({params.unbonding_l1_blocks} < {params.challenge_window_l1_blocks}): "
            "unbonding stake must stay slashable"
        )
    for name in ("reporter_share_bps", "slash_invalid_state_bps", "slash_receipt_violation_bps",
                 "slash_equivocation_bps", "slash_censorship_bps", "slash_downtime_bps"):
        if not 0 <= getattr(params, name) <= BPS:
            raise InvalidParams(f"{name} must lie in [0, {BPS}]: {getattr(params, name)}")
    if params.min_sequencer_stake_wei < TOKEN:
        raise InvalidParams("min_sequencer_stake_wei must be at least one token")
    if params.downtime_max_missed > params.downtime_window_slots:
        raise InvalidParams("downtime_max_missed must not exceed downtime_window_slots")


def devnet_params(**changes: object) -> ChainParams:
    """Defaults tuned for a person watching: 1 s L1 blocks, a 6-block challenge window."""
    base = ChainParams(l1_block_ms=1000, challenge_window_l1_blocks=6, unbonding_l1_blocks=12,
                       force_delay_l1_blocks=2, unjail_delay_l1_blocks=10)
    params = base.replace(**changes) if changes else base
    validate_params(params)
    return params


def params_to_json(params: ChainParams) -> dict:
    """The parameters as a JSON object (the params file every service of a network reads)."""
    return {f.name: getattr(params, f.name) for f in dataclasses.fields(params)}


def params_from_json(data: object) -> ChainParams:
    """Parameters from a JSON object: unknown keys and wrong types are refused, missing keys
    take DESIGN.md's defaults, and the result is validated.

    Spec: docs/spec/parameters.md
    """
    if not isinstance(data, dict):
        raise InvalidParams("chain parameters must be a JSON object")
    fields = {f.name: f for f in dataclasses.fields(ChainParams)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise InvalidParams(f"unknown chain parameters: {', '.join(unknown)}")
    for name, value in data.items():
        expected = bool if fields[name].type in ("bool", bool) else int
        if expected is int and (isinstance(value, bool) or not isinstance(value, int)):
            raise InvalidParams(f"chain parameter {name} must be an integer, got {value!r}")
        if expected is bool and not isinstance(value, bool):
            raise InvalidParams(f"chain parameter {name} must be true or false, got {value!r}")
    params = ChainParams(**data)
    validate_params(params)
    return params
