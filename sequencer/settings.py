"""Settings of one sequencer node: its own flags (env prefix SEQNET_SEQUENCER_), never protocol
rules. The chain parameters come from `nodekit.settings.load_chain_params` (params file).

Spec: docs/spec/sequencer.md#running
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from nodekit.settings import NodeSettings

FAULT_KINDS = ("bad_state_root", "invalid_tx", "reorder", "equivocate", "censor", "offline")
"""DESIGN.md section 8: devnet misbehaviour, refused unless the chain is a devnet."""


def _hex32(value: str, what: str) -> str:
    text = value[2:] if value.startswith(("0x", "0X")) else value
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raise ValueError(f"{what} must be 32 bytes of hex") from None
    if len(raw) != 32:
        raise ValueError(f"{what} must be 32 bytes of hex, got {len(raw)} bytes")
    return text.lower()


class SequencerSettings(NodeSettings):
    model_config = SettingsConfigDict(env_prefix="SEQNET_SEQUENCER_", extra="ignore",
                                      validate_default=True)

    db_filename: ClassVar[str] = "sequencer.sqlite3"

    port: int = 8545
    data_dir: Path = Path(".devnet/seq1")
    name: str = "seq1"
    """Shown in logs, /status, metrics and web3_clientVersion."""
    l1_url: str = "http://127.0.0.1:8600"
    """Base URL of the L1 mock."""
    public_url: str = ""
    """Where peers and users reach this node; registered on L1 as its endpoint."""
    node_key_seed: str = Field("", description="32-byte Ed25519 seed (hex) of the node key")
    operator_key: str = Field("", description="32-byte secp256k1 key (hex) of the L1 operator; "
                              "empty: a follower that neither registers, produces nor attests")
    stake_tokens: int = Field(20_000, ge=1)
    """Self-stake posted by register_sequencer when the node key is not registered yet."""
    commission_bps: int = Field(1_000, ge=0, le=10_000)
    fault: list[str] = Field(default_factory=list)
    """Devnet fault flags (DESIGN.md section 8); refused unless the chain is a devnet."""
    admin_token: str = ""
    """Bearer token of /admin/*; empty: the admin routes are disabled."""
    sync_from_l1: bool = False
    """Rebuild the chain from L1's batch data alone (validating every block) before following peers."""
    extra_accounts: int = Field(0, ge=0)
    """Generated accounts funded on L2 at genesis; must match the other nodes'."""
    loops_enabled: bool = True
    """Run the job loops; tests turn them off and drive each job's tick with a fake clock."""
    register_on_start: bool = True
    """Register on L1 (register_sequencer) when the node key is not registered yet."""
    max_body_bytes: int = Field(16 * 1024 * 1024, ge=1024)
    """Requests with larger bodies get 413 (a block of a full 1 s slot is well under 1 MiB)."""
    gc_freeze_ms: int = Field(5_000, ge=0)
    """Move every object alive into the GC's permanent generation this often (0: never).
    Blocks, states and receipts live as long as the node: left to the cyclic collector, each
    full collection rescans them all, pausing the event loop 50-115 ms at 1,000 tx/s
    (docs/performance.md). Frozen objects are still freed by reference counting."""
    block_slice_ms: float = Field(1.0, gt=0, le=1_000)
    block_pause_ms: float = Field(4.0, ge=0, le=1_000)
    """Building and validating a block runs in slices of `block_slice_ms` of work, each
    followed by a turn of the event loop of at least `block_pause_ms` (0: just a turn), so
    that a 1,000-transaction block (30-40 ms of one core) delays each request by at most one
    slice instead of the whole block; a pause also leaves CPU to the other processes of a
    devnet sharing the machine. Blocks older than the attestation window (catching up) are
    validated without pauses. Chosen with bench/ingest_bench.py (docs/performance.md,
    docs/adr/0005-speculative-early-open.md)."""
    block_pause_for_ms: float = Field(150.0, ge=0, le=10_000)
    """Pauses only during the first `block_pause_for_ms` of a block's work: a big block under
    full load is then finished at full speed (its peers and the next leader wait for it)."""
    producer_tick_ms: int = Field(10, ge=1)
    """Interval of the slot loop (parent fix, seal)."""
    gossip_ms: int = Field(50, ge=1)
    """Receipted transactions are gossiped to the peers in batches this often."""
    l1_poll_ms: int = Field(500, ge=10)
    """Interval of the L1 follower (head, queue, head labels, rollbacks)."""
    batch_ms: int = Field(1_000, ge=10)
    """Interval of the batcher."""
    peers_refresh_ms: int = Field(3_000, ge=100)
    """How often the peer list (sequencers registered on L1) is refreshed."""
    sync_ms: int = Field(2_000, ge=10)
    """Interval of the peer syncer."""
    max_batch_blocks: int = Field(64, ge=1, le=512)
    peer_clock_skew_ms: int = Field(60_000, ge=1_000)
    """Signed peer messages older or newer than this are refused (replay window)."""

    @field_validator("node_key_seed")
    @classmethod
    def _check_seed(cls, value: str) -> str:
        return _hex32(value, "node_key_seed") if value else value

    @field_validator("operator_key")
    @classmethod
    def _check_operator(cls, value: str) -> str:
        return _hex32(value, "operator_key") if value else value

    @field_validator("fault", mode="before")
    @classmethod
    def _split_faults(cls, value: object) -> object:
        if isinstance(value, str):
            value = [v for v in value.replace(",", " ").split() if v]
        return value

    @field_validator("fault")
    @classmethod
    def _check_faults(cls, value: list[str]) -> list[str]:
        for kind in value:
            if kind not in FAULT_KINDS:
                raise ValueError(f"unknown fault {kind!r}; known: {', '.join(FAULT_KINDS)}")
        return value
