"""Settings of the L1 mock: a node's own flags (env prefix SEQNET_L1_). The chain parameters
come from `nodekit.settings.load_chain_params` (defaults < params file < genesis_time_ms).

Spec: docs/spec/l1.md#running
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from nodekit.settings import NodeSettings


class L1Settings(NodeSettings):
    model_config = SettingsConfigDict(env_prefix="SEQNET_L1_", extra="ignore",
                                      validate_default=True)

    db_filename: ClassVar[str] = "l1.sqlite3"

    port: int = 8600
    data_dir: Path = Path(".devnet/l1")
    extra_accounts: int = Field(0, ge=0)
    """Generated accounts funded on L2 at genesis; must match the other nodes' (it changes
    the genesis state root)."""
    clock_enabled: bool = True
    """Run the L1 block loop; tests turn it off and call `node.tick(now_ms)` themselves."""
    max_body_bytes: int = Field(32 * 1024 * 1024, ge=1024)
    """Requests with larger bodies get 413."""
    max_wait_ms: int = Field(30_000, ge=0)
    """Upper bound of GET /events?wait_ms=."""
