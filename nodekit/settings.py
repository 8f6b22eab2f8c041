"""The settings base every service subclasses: a node's own flags, never protocol rules.

A service declares its env prefix and defaults:

    class SequencerSettings(NodeSettings):
        model_config = SettingsConfigDict(env_prefix="SEQNET_SEQUENCER_")
        port: int = 8545
        db_filename: ClassVar[str] = "sequencer.sqlite3"

and reads the chain's parameters with `load_chain_params(settings)`: the defaults of
`ChainParams`, then the overrides of `params_file` (a JSON object of ChainParams fields),
then `genesis_time_ms` when set, checked by `validate_params`.

Settings are built explicitly (`create_app(settings)`): there is no module-level instance,
because the devnet runs several nodes in one process.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import ClassVar

from pydantic import field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from protocol.exceptions import InvalidParams
from protocol.params import ChainParams, params_from_json, params_to_json

LOG_LEVELS = ("critical", "error", "warning", "info", "debug")


class NodeSettings(BaseSettings):
    """Flags every service has. Subclasses set `env_prefix` (e.g. SEQNET_L1_)."""

    model_config = SettingsConfigDict(env_prefix="SEQNET_", extra="ignore",
                                      validate_default=True)

    db_filename: ClassVar[str] = "node.sqlite3"
    """File name of the default SQLite database inside data_dir."""

    host: str = "127.0.0.1"
    """Interface uvicorn binds to."""
    port: int = 8000
    """TCP port uvicorn binds to (0: any free port, for tests)."""
    data_dir: Path = Path(".devnet/node")
    """Where the node keeps its database and keys."""
    database_url: str = ""
    """SQLAlchemy URL; empty means `sqlite:///{data_dir}/{db_filename}`."""
    log_level: str = "info"
    """critical, error, warning, info or debug."""
    params_file: Path | None = None
    """JSON object of ChainParams overrides; None: the defaults."""
    genesis_time_ms: int | None = None
    """Overrides the params' genesis time (the devnet launcher sets it to 'now')."""

    @field_validator("log_level")
    @classmethod
    def _check_log_level(cls, value: str) -> str:
        value = value.lower()
        if value not in LOG_LEVELS:
            raise ValueError(f"log_level must be one of {', '.join(LOG_LEVELS)}")
        return value

    @field_validator("port")
    @classmethod
    def _check_port(cls, value: int) -> int:
        if not 0 <= value <= 65535:
            raise ValueError("port must lie in [0, 65535]")
        return value

    @model_validator(mode="after")
    def _default_database_url(self) -> "NodeSettings":
        if not self.database_url:
            self.database_url = f"sqlite:///{self.data_dir / self.db_filename}"
        return self


def load_chain_params(settings: NodeSettings) -> ChainParams:
    """The chain parameters this node runs with; raises InvalidParams with the reason.

    Order: ChainParams defaults < `settings.params_file` < `settings.genesis_time_ms`.
    """
    data: dict[str, object] = {}
    if settings.params_file is not None:
        data = read_params_file(settings.params_file)
    if settings.genesis_time_ms is not None:
        data["genesis_time_ms"] = settings.genesis_time_ms
    where = f" (params file {settings.params_file})" if settings.params_file else ""
    try:
        return params_from_json(data)
    except InvalidParams as error:
        raise InvalidParams(f"{error}{where}") from None


def read_params_file(path: Path) -> dict[str, object]:
    """The JSON object of a params file (checked against ChainParams by params_from_json)."""
    try:
        # The stdlib parser: orjson reads integers beyond 64 bits (stakes in wei) as floats.
        raw = json.loads(Path(path).read_bytes())
    except OSError as error:
        raise InvalidParams(f"cannot read params file {path}: {error}") from None
    except ValueError as error:
        raise InvalidParams(f"params file {path} is not JSON: {error}") from None
    if not isinstance(raw, dict):
        raise InvalidParams(f"params file {path} must hold a JSON object")
    return raw


def write_params_file(path: Path, params: ChainParams) -> None:
    """Write every field of `params` (the devnet launcher hands this file to each node)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(params_to_json(params), indent=2) + "\n")
