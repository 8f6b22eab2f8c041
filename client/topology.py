"""The devnet's topology, described once: which services run, with which keys, stakes and
settings. The embedded launcher (`client/devnet.py`) renders it as command-line flags of local
processes; `client/compose.py` renders the same description as docker-compose services
configured by environment variables. Nothing here starts anything.

Roles of the dev accounts (the anvil mnemonic):

| accounts | role |
|---|---|
| 0-4 (0-3 with a second ranger) | plain users: the CLI's default sender is account 0 |
| 5, 4 | operators of ranger1, ranger2 |
| 9, 8, 7, 6 | operators of seq1..seq4 (`protocol.chainbuilder.devnet_operators`) |

Node keys: seqN uses `devnet_node_key(N-1)`, rangerN `devnet_node_key(100 + N-1)`.
"""

from __future__ import annotations

import importlib.util
import time
from dataclasses import dataclass, field
from typing import Any

from protocol.accounts import dev_accounts
from protocol.chainbuilder import DEVNET_STAKES_TOKENS, devnet_node_key, devnet_operators
from protocol.exceptions import ProtocolError
from protocol.params import ChainParams, devnet_params

MAX_SEQUENCERS = 4
MAX_RANGERS = 2
RANGER_KEY_OFFSET = 100
RANGER_OPERATOR_ACCOUNTS = (5, 4)
"""Dev account index of the operator of ranger1, ranger2."""
RANGER_BOND_TOKENS = 1_000
SEQUENCER_COMMISSION_BPS = 1_000
FAULT_KINDS = ("bad_state_root", "invalid_tx", "reorder", "equivocate", "censor", "offline")
"""DESIGN.md section 8."""

L1_PORT = 8600
SEQUENCER_PORT = 8545
RANGER_PORT = 8700
"""Default ports: the compose file publishes these on the host (seqN on 8545 + N - 1,
rangerN on 8700 + N - 1), and `seqnet devnet up` prefers them when they are free."""

GENESIS_LEAD_MS = 12_000
"""How far after `up` slot 0 starts, on top of the lookahead: time for the L1 to start and the
sequencers to be registered before the L1 snapshots epoch 0's set."""


class TopologyError(ValueError):
    """A devnet description that cannot run (bad counts, unknown fault...)."""


@dataclass(frozen=True)
class Service:
    """One process of the devnet."""

    name: str
    """"l1", "seq1".., "ranger1".. (compose service name, log and data directory name)."""
    kind: str
    """"l1" | "sequencer" | "ranger"."""
    module: str
    """Python package started with `python -m`."""
    env_prefix: str
    """Prefix of the service's settings in the environment (pydantic-settings)."""
    default_port: int
    """Port inside a container, and the host port the launcher prefers."""
    settings: dict[str, Any] = field(default_factory=dict)
    """The service's own settings beyond the deployment ones (host, port, data_dir,
    params_file, l1_url, public_url): name, keys, stake, faults."""
    index: int = 0
    """1-based index within its kind (0 for the L1)."""
    health_path: str = "/health"

    @property
    def is_available(self) -> bool:
        """Whether `python -m <module>` exists in this checkout (services are built in parallel)."""
        return importlib.util.find_spec(f"{self.module}.__main__") is not None


@dataclass(frozen=True)
class SequencerSpec:
    name: str
    index: int
    node_key_seed: bytes
    node_key: bytes
    operator_address: bytes
    operator_key: bytes
    stake_tokens: int
    faults: tuple[str, ...] = ()


@dataclass(frozen=True)
class RangerSpec:
    name: str
    index: int
    node_key_seed: bytes
    node_key: bytes
    operator_address: bytes
    operator_key: bytes
    bond_tokens: int


@dataclass(frozen=True)
class Topology:
    """The whole devnet: params (without the genesis time, fixed at `up`), sequencers, rangers."""

    params: ChainParams
    sequencers: tuple[SequencerSpec, ...]
    rangers: tuple[RangerSpec, ...]

    @property
    def services(self) -> list[Service]:
        """In start order: L1, sequencers, rangers."""
        services = [Service("l1", "l1", "l1mock", "SEQNET_L1_", L1_PORT)]
        for seq in self.sequencers:
            settings: dict[str, Any] = {
                "name": seq.name,
                "node_key_seed": seq.node_key_seed.hex(),
                "operator_key": seq.operator_key.hex(),
                "stake_tokens": seq.stake_tokens,
            }
            if seq.faults:
                settings["fault"] = list(seq.faults)
            services.append(Service(seq.name, "sequencer", "sequencer", "SEQNET_SEQUENCER_",
                                    SEQUENCER_PORT, settings, seq.index))
        for ranger in self.rangers:
            services.append(Service(ranger.name, "ranger", "ranger", "SEQNET_RANGER_", RANGER_PORT, {
                "name": ranger.name,
                "node_key_seed": ranger.node_key_seed.hex(),
                "operator_key": ranger.operator_key.hex(),
                "bond_tokens": ranger.bond_tokens,
            }, ranger.index))
        return services

    @property
    def user_accounts(self) -> list:
        """Dev accounts that no service uses: the ones to play with."""
        taken = {s.operator_address for s in self.sequencers} | {r.operator_address for r in self.rangers}
        return [a for a in dev_accounts(10) if a.address not in taken]

    def warnings(self) -> list[str]:
        """What a user should know before starting this topology."""
        stakes = [s.stake_tokens for s in self.sequencers]
        total = sum(stakes)
        notes = []
        if stakes and max(stakes) * 3 >= total:
            largest = max(self.sequencers, key=lambda s: s.stake_tokens)
            share = 100 * largest.stake_tokens / total
            notes.append(
                f"warning: {largest.name} holds {share:.1f}% of the stake (>= 1/3): QCs need more "
                f"than 2/3, so the chain stalls whenever {largest.name} stops. Use 4 sequencers "
                f"(the default) to survive any one of them stopping.")
        return notes


def parse_fault(text: str, sequencers: int) -> tuple[int, str]:
    """"2:reorder" -> (2, "reorder"): 1-based sequencer index and a DESIGN.md fault kind."""
    index_text, sep, kind = text.partition(":")
    if not sep or not index_text.strip().isdigit():
        raise TopologyError(f"fault {text!r} must look like N:KIND, e.g. 2:reorder")
    index = int(index_text)
    kind = kind.strip()
    if not 1 <= index <= sequencers:
        raise TopologyError(f"fault {text!r}: there is no sequencer {index} (1..{sequencers})")
    if kind not in FAULT_KINDS:
        raise TopologyError(f"fault {text!r}: unknown kind {kind!r}; known: {', '.join(FAULT_KINDS)}")
    return index, kind


def build_topology(sequencers: int = 4, rangers: int = 1, slot_ms: int = 1000,
                   faults: list[str] | tuple[str, ...] = (),
                   stakes_tokens: tuple[int, ...] | None = None,
                   param_changes: dict[str, Any] | None = None) -> Topology:
    """The devnet of DESIGN.md: `sequencers` staked 35k/30k/25k/20k tokens, `rangers` bonded."""
    if not 1 <= sequencers <= MAX_SEQUENCERS:
        raise TopologyError(f"--sequencers must lie in 1..{MAX_SEQUENCERS} (one dev account "
                            f"operates each), got {sequencers}")
    if not 0 <= rangers <= MAX_RANGERS:
        raise TopologyError(f"--rangers must lie in 0..{MAX_RANGERS}, got {rangers}")
    if slot_ms < 100:
        raise TopologyError(f"--slot-ms must be at least 100, got {slot_ms}")
    stakes = tuple(stakes_tokens or DEVNET_STAKES_TOKENS[:sequencers])
    if len(stakes) != sequencers:
        raise TopologyError(f"{len(stakes)} stakes for {sequencers} sequencers")
    by_index: dict[int, list[str]] = {}
    for text in faults:
        index, kind = parse_fault(text, sequencers)
        by_index.setdefault(index, []).append(kind)
    changes = {"slot_ms": slot_ms, "parent_wait_ms": max(1, slot_ms // 10)}
    changes.update(param_changes or {})
    try:
        params = devnet_params(**changes)
    except (TypeError, ProtocolError) as error:  # unknown field or InvalidParams
        raise TopologyError(f"chain parameters: {error}") from None
    accounts = dev_accounts(10)
    seqs = []
    for i, (operator, stake) in enumerate(zip(devnet_operators(sequencers), stakes)):
        key = devnet_node_key(i)
        seqs.append(SequencerSpec(f"seq{i + 1}", i + 1, key.seed, key.public, operator.address,
                                  operator.private_key, stake, tuple(by_index.get(i + 1, ()))))
    rangs = []
    for j in range(rangers):
        key = devnet_node_key(RANGER_KEY_OFFSET + j)
        operator = accounts[RANGER_OPERATOR_ACCOUNTS[j]]
        rangs.append(RangerSpec(f"ranger{j + 1}", j + 1, key.seed, key.public, operator.address,
                                operator.private_key, RANGER_BOND_TOKENS))
    return Topology(params, tuple(seqs), tuple(rangs))


def compute_genesis_time_ms(params: ChainParams, now_ms: int | None = None,
                            lead_ms: int = GENESIS_LEAD_MS) -> int:
    """Slot 0 starts after the lookahead plus `lead_ms`, so that sequencers registered right
    after the L1 starts are in epoch 0's snapshot; rounded up to a whole second."""
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    start = now_ms + params.lookahead_slots * params.slot_ms + lead_ms
    return -(-start // 1000) * 1000


# --- rendering the settings of one service --------------------------------------------------

def compute_service_settings(service: Service, *, host: str, port: int, data_dir: str,
                             params_file: str, l1_url: str, public_url: str) -> dict[str, Any]:
    """Every setting of `service` for one deployment (local processes or containers)."""
    settings: dict[str, Any] = {"host": host, "port": port, "data_dir": data_dir,
                                "params_file": params_file}
    if service.kind != "l1":
        settings["l1_url"] = l1_url
        settings["public_url"] = public_url
    settings.update(service.settings)
    return settings


def render_argv(settings: dict[str, Any]) -> list[str]:
    """Settings as `--flag value` pairs; a list repeats its flag."""
    argv: list[str] = []
    for name, value in settings.items():
        flag = "--" + name.replace("_", "-")
        for item in value if isinstance(value, list) else [value]:
            argv += [flag, str(item)]
    return argv


def render_env(prefix: str, settings: dict[str, Any]) -> dict[str, str]:
    """Settings as environment variables (a list as JSON, as pydantic-settings reads it)."""
    import json

    env = {}
    for name, value in settings.items():
        env_name = prefix + name.upper()
        if isinstance(value, list):
            env[env_name] = json.dumps(value)
        else:
            env[env_name] = str(value)
    return env
