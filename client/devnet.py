"""The embedded devnet launcher: every service of a `Topology` as a local process on 127.0.0.1.

    with Devnet.start(tmp_path, sequencers=4, rangers=1) as net:
        net.endpoints["sequencers"][0]["rpc"]

Layout of a devnet directory:

    params.json      the chain parameters (incl. genesis_time_ms), written once: `up` on an
                     existing directory resumes the same chain
    devnet.json      what was started (counts, faults, ports): resume reuses the ports if free
    endpoints.json   {"chain_id", "l1", "sequencers": [...], "rangers": [...], "accounts": [...]}
    pids.json        the running processes (for `seqnet devnet down` and `status`)
    admin_token      the sequencers' and rangers' /admin bearer token (mode 0600; `seqnet fault`)
    logs/<name>.log  each service's stdout and stderr
    <name>/          each service's data directory (SQLite files)
    receipts/        receipts kept by `seqnet send`

Every process runs in its own process group; `stop()` sends SIGTERM to each group, SIGKILL after
a deadline, and reaps every child.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from protocol.accounts import to_checksum
from protocol.constants import TOKEN
from protocol.params import ChainParams, params_from_json, params_to_json

from . import http
from .topology import (
    GENESIS_LEAD_MS,
    L1_PORT,
    RANGER_PORT,
    SEQUENCER_COMMISSION_BPS,
    SEQUENCER_PORT,
    Service,
    Topology,
    TopologyError,
    build_topology,
    compute_genesis_time_ms,
    compute_service_settings,
    render_argv,
)

HOST = "127.0.0.1"
ADMIN_TOKEN_FILE = "admin_token"
STOP_TIMEOUT_S = 10.0
HEALTH_TIMEOUT_S = 60.0
BLOCKS_TIMEOUT_S = 120.0

Reporter = Callable[[str], None]


class DevnetError(RuntimeError):
    """The devnet cannot start or stop; the message says why, in one line."""


def _quiet(_message: str) -> None:
    pass


# --- files -----------------------------------------------------------------------------------

def read_json(path: Path) -> Any:
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:
        raise DevnetError(f"cannot read {path}: {error}") from None


def write_json(path: Path, data: Any) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    os.replace(tmp, path)


# --- ports -----------------------------------------------------------------------------------

def is_port_free(port: int, host: str = HOST) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def pick_ports(names: Iterable[str], preferred: dict[str, int] | None = None,
               host: str = HOST) -> dict[str, int]:
    """A free port per name: the preferred one when it is free, else one the kernel picks.

    The probe sockets stay bound until every port is chosen, so two names never share one.
    """
    preferred = preferred or {}
    sockets: list[socket.socket] = []
    ports: dict[str, int] = {}
    try:
        for name in names:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sockets.append(sock)
            want = preferred.get(name)
            if want and want not in ports.values():
                try:
                    sock.bind((host, want))
                    ports[name] = want
                    continue
                except OSError:
                    pass
            sock.bind((host, 0))
            ports[name] = sock.getsockname()[1]
    finally:
        for sock in sockets:
            sock.close()
    return ports


def default_ports(topology: Topology) -> dict[str, int]:
    """The compose file's published ports: l1 8600, seqN 8545+N-1, rangerN 8700+N-1."""
    ports = {"l1": L1_PORT}
    for seq in topology.sequencers:
        ports[seq.name] = SEQUENCER_PORT + seq.index - 1
    for ranger in topology.rangers:
        ports[ranger.name] = RANGER_PORT + ranger.index - 1
    return ports


# --- processes -------------------------------------------------------------------------------

def is_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie of ours is dead for our purposes
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


@dataclass
class Running:
    """One started service."""

    service: Service
    port: int
    url: str
    log_path: Path
    pid: int
    popen: subprocess.Popen | None = None

    def is_running(self) -> bool:
        if self.popen is not None:
            return self.popen.poll() is None
        return is_alive(self.pid)

    def log_tail(self, lines: int = 5) -> str:
        try:
            text = self.log_path.read_text(errors="replace").strip().splitlines()
        except OSError:
            return ""
        return " | ".join(line.strip() for line in text[-lines:])


@dataclass
class Devnet:
    """A devnet in `directory`: started by `Devnet.start`, stopped by `stop()` or `with`."""

    directory: Path
    topology: Topology
    params: ChainParams
    ports: dict[str, int]
    running: dict[str, Running] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    report: Reporter = _quiet
    log_level: str = "info"
    """The services' log level (`launch` sets it; `restart` keeps it)."""

    # --- construction -------------------------------------------------------------------

    @classmethod
    def start(cls, directory: str | Path, sequencers: int | None = None, rangers: int | None = None,
              slot_ms: int | None = None, faults: Iterable[str] | None = None, *,
              prefer_default_ports: bool = False, wait_for_blocks: bool = True,
              health_timeout_s: float = HEALTH_TIMEOUT_S,
              blocks_timeout_s: float = BLOCKS_TIMEOUT_S, report: Reporter | None = None,
              log_level: str = "info", only: Iterable[str] | None = None,
              genesis_lead_ms: int = GENESIS_LEAD_MS,
              param_changes: dict[str, Any] | None = None) -> "Devnet":
        """Start (or resume) the devnet in `directory` and wait until it produces blocks.

        Arguments left None take what `directory` recorded at its last start, else the
        defaults (4 sequencers, 1 ranger, 1000 ms slots, no faults). Ports: the recorded ones
        when free, else the compose defaults when `prefer_default_ports`, else free ones.
        `only` starts a subset of the services (e.g. ["l1"]: a test then runs its own node
        against it); every sequencer and ranger is registered on L1 all the same.
        `param_changes` adjusts the chain parameters of a new chain (devnet_params(**changes)).
        On any failure, whatever was started is stopped before the error propagates.
        """
        net = cls.prepare(directory, sequencers, rangers, slot_ms, faults,
                          prefer_default_ports=prefer_default_ports, report=report,
                          genesis_lead_ms=genesis_lead_ms, param_changes=param_changes)
        try:
            net.launch(health_timeout_s=health_timeout_s, log_level=log_level, only=only)
            if wait_for_blocks:
                net.wait_for_blocks(blocks_timeout_s)
        except BaseException:
            net.stop()
            raise
        return net

    @classmethod
    def prepare(cls, directory: str | Path, sequencers: int | None = None,
                rangers: int | None = None, slot_ms: int | None = None,
                faults: Iterable[str] | None = None, *, prefer_default_ports: bool = False,
                report: Reporter | None = None, genesis_lead_ms: int = GENESIS_LEAD_MS,
                param_changes: dict[str, Any] | None = None) -> "Devnet":
        """Decide topology, params and ports, and write params.json; start nothing."""
        directory = Path(directory).resolve()
        directory.mkdir(parents=True, exist_ok=True)
        alive = running_pids(directory)
        if alive:
            raise DevnetError(f"a devnet is already running in {directory} (pids "
                              f"{', '.join(map(str, alive))}): `seqnet devnet down --dir {directory}`")
        recorded = read_json(directory / "devnet.json") or {}
        params_path = directory / "params.json"
        stored = read_json(params_path)
        stored_params = None
        if stored is not None:
            try:
                stored_params = params_from_json(stored)
            except Exception as error:  # noqa: BLE001 - InvalidParams, a one-line reason
                raise DevnetError(f"{params_path}: {error}") from None
            if slot_ms is not None and slot_ms != stored_params.slot_ms:
                raise DevnetError(
                    f"the chain in {directory} has {stored_params.slot_ms} ms slots, not {slot_ms}: "
                    f"use another --dir, or delete {directory} to start a new chain")
            slot_ms = stored_params.slot_ms
        try:
            topology = build_topology(
                sequencers=sequencers if sequencers is not None else recorded.get("sequencers", 4),
                rangers=rangers if rangers is not None else recorded.get("rangers", 1),
                slot_ms=slot_ms if slot_ms is not None else recorded.get("slot_ms", 1000),
                faults=list(faults) if faults is not None else recorded.get("faults", []),
                param_changes=param_changes)
        except TopologyError as error:
            raise DevnetError(str(error)) from None
        if stored_params is not None:
            params = stored_params
        else:
            params = topology.params.replace(
                genesis_time_ms=compute_genesis_time_ms(topology.params, lead_ms=genesis_lead_ms))
            write_json(params_path, params_to_json(params))
        names = [service.name for service in topology.services]
        preferred = default_ports(topology) if prefer_default_ports else {}
        preferred.update(recorded.get("ports", {}))
        ports = pick_ports(names, preferred)
        net = cls(directory, topology, params, ports, report=report or _quiet)
        write_json(directory / "devnet.json", {
            "sequencers": len(topology.sequencers), "rangers": len(topology.rangers),
            "slot_ms": params.slot_ms, "faults": list(faults) if faults is not None else recorded.get("faults", []),
            "ports": ports})
        return net

    # --- reads --------------------------------------------------------------------------

    def url(self, name: str) -> str:
        return f"http://{HOST}:{self.ports[name]}"

    @property
    def params_path(self) -> Path:
        return self.directory / "params.json"

    @property
    def endpoints(self) -> dict[str, Any]:
        """What endpoints.json holds."""
        sequencers = [{"name": s.name, "rpc": self.url(s.name) + "/rpc", "rest": self.url(s.name),
                       "node_key": "0x" + s.node_key.hex(),
                       "operator": to_checksum(s.operator_address), "stake_tokens": s.stake_tokens,
                       "faults": list(s.faults), "running": s.name in self.running}
                      for s in self.topology.sequencers]
        rangers = [{"name": r.name, "rest": self.url(r.name), "node_key": "0x" + r.node_key.hex(),
                    "operator": to_checksum(r.operator_address), "running": r.name in self.running}
                   for r in self.topology.rangers]
        accounts = [{"address": a.checksum_address, "private_key": "0x" + a.private_key.hex()}
                    for a in self.topology.user_accounts]
        return {"chain_id": self.params.chain_id, "l1_chain_id": self.params.l1_chain_id,
                "l1": self.url("l1"), "sequencers": sequencers, "rangers": rangers,
                "accounts": accounts, "params_file": str(self.params_path),
                "genesis_time_ms": self.params.genesis_time_ms, "slot_ms": self.params.slot_ms}

    @property
    def admin_token(self) -> str:
        """The bearer token of the sequencers' /admin routes (`seqnet fault`): made once per
        devnet directory, kept in `<dir>/admin_token` readable by its owner only."""
        path = self.directory / ADMIN_TOKEN_FILE
        try:
            return path.read_text().strip()
        except FileNotFoundError:
            token = secrets.token_hex(16)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as out:
                out.write(token + "\n")
            return token

    def rpc_url(self, index: int = 0) -> str:
        return self.endpoints["sequencers"][index]["rpc"]

    # --- start --------------------------------------------------------------------------

    def launch(self, *, health_timeout_s: float = HEALTH_TIMEOUT_S, log_level: str = "info",
               only: Iterable[str] | None = None) -> None:
        """Start the L1, register the sequencers and rangers on it, start them; wait for health."""
        (self.directory / "logs").mkdir(exist_ok=True)
        self.log_level = log_level
        services = self.topology.services
        wanted = set(only) if only is not None else {s.name for s in services}
        unknown = wanted - {s.name for s in services}
        if unknown:
            raise DevnetError(f"no service named {', '.join(sorted(unknown))} in this topology")
        l1 = services[0]
        if l1.name not in wanted:
            raise DevnetError("the L1 must be started (every other service needs it)")
        self._spawn(l1, log_level)
        self._wait_healthy([l1.name], health_timeout_s)
        nodes = []
        for service in services[1:]:
            if service.name not in wanted:
                continue
            if service.is_available:
                nodes.append(service)
            else:
                message = f"{service.kind} service not available yet ({service.module}/__main__.py): skipping {service.name}"
                self.skipped.append(message)
                self.report(message)
        self.register_on_l1()
        for service in nodes:
            self._spawn(service, log_level)
        self._wait_healthy([s.name for s in nodes], health_timeout_s)
        write_json(self.directory / "endpoints.json", self.endpoints)

    def _spawn(self, service: Service, log_level: str) -> None:
        port = self.ports[service.name]
        data_dir = self.directory / service.name
        data_dir.mkdir(parents=True, exist_ok=True)
        settings = compute_service_settings(
            service, host=HOST, port=port, data_dir=str(data_dir),
            params_file=str(self.params_path), l1_url=self.url("l1"),
            public_url=self.url(service.name))
        settings["log_level"] = log_level
        argv = [sys.executable, "-m", service.module, *render_argv(settings)]
        log_path = self.directory / "logs" / f"{service.name}.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("SEQNET_")}
        env["PYTHONUNBUFFERED"] = "1"
        if service.kind in ("sequencer", "ranger"):
            # by environment, not argv: `ps` shows argv to every local user
            env[service.env_prefix + "ADMIN_TOKEN"] = self.admin_token
        with open(log_path, "ab") as log:
            log.write(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} seqnet devnet: starting "
                      f"{service.name} on port {port}\n".encode())
            log.flush()
            popen = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                     stderr=subprocess.STDOUT, start_new_session=True, env=env,
                                     cwd=self.directory)
        self.running[service.name] = Running(service, port, self.url(service.name), log_path,
                                             popen.pid, popen)
        self.report(f"started {service.name} (pid {popen.pid}) on {self.url(service.name)}")
        self._write_pids()

    def _write_pids(self) -> None:
        write_json(self.directory / "pids.json", {
            "launcher": os.getpid(),
            "services": {name: {"pid": r.pid, "module": r.service.module, "port": r.port}
                         for name, r in self.running.items()}})

    def _wait_healthy(self, names: list[str], timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        pending = list(names)
        while pending:
            for name in list(pending):
                running = self.running[name]
                if not running.is_running():
                    raise DevnetError(f"{name} exited during start (code "
                                      f"{running.popen.returncode if running.popen else '?'}); "
                                      f"see {running.log_path}: {running.log_tail(3)}")
                path = running.service.health_path
                if http.is_healthy(running.url + path) or http.is_healthy(running.url + "/status"):
                    pending.remove(name)
                    self.report(f"{name} is healthy")
            if pending and time.monotonic() > deadline:
                raise DevnetError(f"{', '.join(pending)} not healthy after {timeout_s:.0f} s; "
                                  f"see {self.directory / 'logs'}")
            if pending:
                time.sleep(0.2)

    def register_on_l1(self) -> None:
        """Register and stake every sequencer, and bond every ranger, unless already done."""
        l1 = self.url("l1")
        for seq in self.topology.sequencers:
            account = http.get(f"{l1}/accounts/0x{seq.operator_address.hex()}")
            if account.get("sequencer"):
                continue
            self._call(seq.operator_key, account["nonce"], "register_sequencer", {
                "node_key": "0x" + seq.node_key.hex(), "endpoint": self.url(seq.name),
                "stake": str(seq.stake_tokens * TOKEN), "commission_bps": SEQUENCER_COMMISSION_BPS})
            self.report(f"registered {seq.name} on L1 with {seq.stake_tokens:,} tokens")
        for ranger in self.topology.rangers:
            account = http.get(f"{l1}/accounts/0x{ranger.operator_address.hex()}")
            if account.get("ranger"):
                continue
            self._call(ranger.operator_key, account["nonce"], "register_ranger", {
                "node_key": "0x" + ranger.node_key.hex(), "bond": str(ranger.bond_tokens * TOKEN),
                "endpoint": self.url(ranger.name)})
            self.report(f"registered {ranger.name} on L1 with a {ranger.bond_tokens:,}-token bond")

    def _call(self, private_key: bytes, nonce: int, method: str, args: dict) -> Any:
        from protocol.l1calls import encode_l1_call, sign_l1_call  # imports eth-account: slow

        call = sign_l1_call(private_key, self.params.l1_chain_id, method, nonce, args)
        return http.post(f"{self.url('l1')}/calls", encode_l1_call(call))

    def wait_for_blocks(self, timeout_s: float = BLOCKS_TIMEOUT_S, count: int = 1) -> int:
        """Wait until a running sequencer reports block `count` or later; returns its number.
        Returns -1 at once when no sequencer runs (their service is not built yet)."""
        sequencers = [self.running[s.name] for s in self.topology.sequencers if s.name in self.running]
        if not sequencers:
            return -1
        deadline = time.monotonic() + timeout_s
        to_genesis_s = max(0.0, self.params.genesis_time_ms / 1000 - time.time())
        if to_genesis_s > 1:
            self.report(f"slot 0 starts in {to_genesis_s:.0f} s")
        while True:
            for running in sequencers:
                if not running.is_running():
                    raise DevnetError(f"{running.service.name} exited; see {running.log_path}: "
                                      f"{running.log_tail(3)}")
                try:
                    number = int(http.rpc(running.url + "/rpc", "eth_blockNumber", timeout_s=2), 16)
                except (http.ClientError, ValueError, TypeError):
                    continue
                if number >= count:
                    self.report(f"block {number} produced")
                    return number
            if time.monotonic() > deadline:
                raise DevnetError(f"no block produced within {timeout_s:.0f} s; see "
                                  f"{self.directory / 'logs'}")
            time.sleep(0.5)

    # --- stop ---------------------------------------------------------------------------

    def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> None:
        """SIGTERM every process group (nodes first, the L1 last), SIGKILL after `timeout_s`,
        reap every child, remove pids.json."""
        order = list(reversed(list(self.running.values())))
        for running in order:
            _signal_group(running.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        for running in order:
            if running.popen is not None:
                try:
                    running.popen.wait(max(0.0, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    _signal_group(running.pid, signal.SIGKILL)
                    running.popen.wait()
            else:
                while is_alive(running.pid) and time.monotonic() < deadline:
                    time.sleep(0.1)
                if is_alive(running.pid):
                    _signal_group(running.pid, signal.SIGKILL)
            _signal_group(running.pid, signal.SIGKILL)  # stragglers in the group
            self.report(f"stopped {running.service.name}")
        self.running.clear()
        try:
            (self.directory / "pids.json").unlink()
        except FileNotFoundError:
            pass

    def __enter__(self) -> "Devnet":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Crash one service (tests of failover)."""
        running = self.running.pop(name)
        _signal_group(running.pid, sig)
        if running.popen is not None:
            running.popen.wait()
        self._write_pids()

    def restart(self, name: str, health_timeout_s: float = HEALTH_TIMEOUT_S) -> None:
        """Start one stopped service again with the same settings."""
        service = next(s for s in self.topology.services if s.name == name)
        self._spawn(service, self.log_level)
        self._wait_healthy([name], health_timeout_s)


# --- a devnet started by another process (`seqnet devnet down|status`) ------------------------

def read_pids(directory: Path) -> dict[str, Any]:
    return read_json(Path(directory) / "pids.json") or {}


def running_pids(directory: Path) -> list[int]:
    """Pids in `directory`'s pids.json that are still our services."""
    alive = []
    for entry in read_pids(directory).get("services", {}).values():
        pid = entry.get("pid")
        if pid and is_alive(pid) and entry.get("module", "") in _cmdline(pid):
            alive.append(pid)
    return alive


def stop_directory(directory: Path, timeout_s: float = STOP_TIMEOUT_S,
                   report: Reporter = _quiet) -> list[str]:
    """Stop the services recorded in `directory`'s pids.json; returns the names stopped."""
    directory = Path(directory).resolve()
    recorded = read_pids(directory)
    launcher = recorded.get("launcher")
    services = recorded.get("services", {})
    ours = {name: entry for name, entry in services.items()
            if entry.get("pid") and is_alive(entry["pid"])
            and entry.get("module", "") in _cmdline(entry["pid"])}
    if launcher and launcher != os.getpid() and is_alive(launcher) and "seqnet" in _cmdline(launcher):
        # A foreground `devnet up` stops its services itself on SIGTERM.
        try:
            os.kill(launcher, signal.SIGTERM)
        except ProcessLookupError:
            pass
    for entry in reversed(list(ours.values())):
        _signal_group(entry["pid"], signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    for name, entry in reversed(list(ours.items())):
        while is_alive(entry["pid"]) and time.monotonic() < deadline:
            time.sleep(0.1)
        if is_alive(entry["pid"]):
            _signal_group(entry["pid"], signal.SIGKILL)
        report(f"stopped {name}")
    try:
        (directory / "pids.json").unlink()
    except FileNotFoundError:
        pass
    return list(ours)
