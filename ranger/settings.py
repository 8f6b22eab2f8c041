"""Settings of a ranger: a node's own flags (env prefix SEQNET_RANGER_). The chain parameters
come from `nodekit.settings.load_chain_params` (defaults < params file < genesis_time_ms).

Spec: docs/spec/ranger.md#running
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from nodekit.settings import NodeSettings


def _hex32(value: str, what: str) -> str:
    digits = value[2:] if value.lower().startswith("0x") else value
    if len(digits) != 64:
        raise ValueError(f"{what} must be 32 bytes of hex")
    try:
        bytes.fromhex(digits)
    except ValueError:
        raise ValueError(f"{what} is not hex") from None
    return digits.lower()


class RangerSettings(NodeSettings):
    model_config = SettingsConfigDict(env_prefix="SEQNET_RANGER_", extra="ignore",
                                      validate_default=True)

    db_filename: ClassVar[str] = "ranger.sqlite3"

    port: int = 8700
    data_dir: Path = Path(".devnet/ranger")
    name: str = "ranger1"
    """Shown in logs, /status and metrics."""
    l1_url: str = "http://127.0.0.1:8600"
    """Base URL of the L1 mock."""
    public_url: str = ""
    """Where sequencers and users reach this ranger (registered on L1 as its endpoint)."""
    node_key_seed: str = Field(..., description="32-byte Ed25519 seed (hex) of the node key")
    operator_key: str = Field(..., description="32-byte secp256k1 key (hex) of the L1 operator")
    bond_tokens: int = Field(1000, ge=1)
    """Bond posted by register_ranger when the ranger is not registered yet (whole tokens)."""
    sample_rate: float = Field(1.0, ge=0.0, le=1.0)
    """Fraction of blocks verified and vouched for on L1 (devnet: all)."""
    sequencer_urls: list[str] = Field(default_factory=list)
    """Sequencers to follow besides the endpoints registered on L1."""
    poll_ms: int = Field(250, ge=10)
    """Interval of the follower, verifier and watchtower loops."""
    report_ms: int = Field(500, ge=10)
    """Interval of the reporter loop (fraud proofs and report_verified)."""
    report_batch: int = Field(256, ge=1, le=1024)
    """Block hashes per report_verified call."""
    receipt_timeout_slots: int = Field(64, ge=1)
    """A receipt whose slot is this far behind L1's accepted head with no block of its leader
    for the slot seen is closed as `no_block` (the leader skipped the slot: not provable)."""
    extra_accounts: int = Field(0, ge=0)
    """Generated accounts funded on L2 at genesis; must match the other nodes'."""
    loops_enabled: bool = True
    """Run the job loops; tests turn them off and call each job's tick themselves."""
    register_on_start: bool = True
    """Register on L1 (register_ranger) when not registered yet."""
    admin_enabled: bool = True
    """Serve /admin/* (devnet debugging: submit arbitrary evidence). Devnet chains only."""
    admin_token: str = ""
    """When set, /admin/* also needs `Authorization: Bearer <token>` (the devnet launcher sets
    it: whoever reaches the ranger could otherwise spend its bond on false accusations)."""

    @field_validator("node_key_seed")
    @classmethod
    def _check_seed(cls, value: str) -> str:
        return _hex32(value, "node_key_seed")

    @field_validator("operator_key")
    @classmethod
    def _check_operator(cls, value: str) -> str:
        return _hex32(value, "operator_key")
