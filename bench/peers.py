"""Peer devnets for bench/run.py's comparison: anvil and ganache, and the JSON-RPC tools the
bench uses on them and on seqnet alike (batched calls, the receipt probe).

Both peers come from the npm registry (`make peers`, into /work/main/.peers, gitignored):
`@foundry-rs/anvil-linux-amd64@1.7.1` (a Rust binary) and `ganache@7.9.2` (Node.js). Each
runs as one process on a free port of 127.0.0.1 with seqnet's chain id (7357), so the same
kind of pre-signed EIP-1559 transfers (protocol.transactions.sign_transaction) is valid on it;
the bench's generated senders are funded after start with `anvil_setBalance` /
`evm_setAccountBalance` (batched JSON-RPC). Modes:

- anvil: automine (a block as soon as a transaction is in the pool; the fair default: no
  artificial wait before a receipt) unless `block_time_s` is given (interval mining).
- ganache: instamine "eager" (its default; the transaction is mined before the answer).

A peer whose files are absent is skipped by the caller with `find_*` returning None.
"""

from __future__ import annotations

import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
PEERS_DIR = ROOT / ".peers"
ANVIL_PACKAGE = "@foundry-rs/anvil-linux-amd64@1.7.1"
GANACHE_PACKAGE = "ganache@7.9.2"
HOST = "127.0.0.1"
JSON_HEADERS = {"Content-Type": "application/json"}
FUND_BATCH = 500
"""Balance-setting calls per JSON-RPC batch."""


def find_anvil(peers_dir: Path = PEERS_DIR) -> Path | None:
    """The anvil binary `make peers` installed, or None."""
    base = peers_dir / "node_modules" / "@foundry-rs" / "anvil-linux-amd64"
    for candidate in (base / "bin" / "anvil", base / "anvil"):
        if candidate.is_file():
            return candidate
    found = sorted(p for p in base.rglob("anvil") if p.is_file()) if base.is_dir() else []
    return found[0] if found else None


def find_ganache(peers_dir: Path = PEERS_DIR) -> Path | None:
    """ganache's CLI entry point (a Node.js script) `make peers` installed, or None."""
    for candidate in (peers_dir / "node_modules" / "ganache" / "dist" / "node" / "cli.js",
                      peers_dir / "node_modules" / ".bin" / "ganache"):
        if candidate.is_file():
            return candidate
    return None


# --- JSON-RPC --------------------------------------------------------------------------------------

class RpcFailed(RuntimeError):
    pass


def rpc_call(client: httpx.Client, url: str, method: str, params: list) -> Any:
    response = client.post(url, json={"jsonrpc": "2.0", "id": 1, "method": method,
                                      "params": params}, headers=JSON_HEADERS)
    response.raise_for_status()
    body = response.json()
    if "error" in body:
        raise RpcFailed(f"{method}: {body['error']}")
    return body.get("result")


def rpc_batch(client: httpx.Client, url: str, calls: list[tuple[str, list]]) -> list[Any]:
    """Results of a JSON-RPC batch in call order (an error entry gives None)."""
    if not calls:
        return []
    payload = [{"jsonrpc": "2.0", "id": i, "method": m, "params": p}
               for i, (m, p) in enumerate(calls)]
    response = client.post(url, json=payload, headers=JSON_HEADERS)
    response.raise_for_status()
    answers = response.json()
    if isinstance(answers, dict):  # a server that refuses batches answers one error
        raise RpcFailed(f"batch refused: {answers.get('error')}")
    by_id = {a.get("id"): a for a in answers}
    return [by_id.get(i, {}).get("result") for i in range(len(calls))]


# --- the receipt probe -----------------------------------------------------------------------------

@dataclass
class ProbeSample:
    tx_hash: str
    sent_unix: float
    answered_unix: float | None = None
    receipt_unix: float | None = None
    block_number: int | None = None
    error: str | None = None


@dataclass
class ReceiptProbe:
    """Sends a few pre-signed transactions with eth_sendRawTransaction, one every `interval_s`,
    and polls eth_getTransactionReceipt (one batch for all pending ones every `poll_s`) until
    the receipt appears: the time a wallet waits for `transactionReceipt`, under the load wrk
    offers at the same time. Runs in a thread; bounded by the list of raws and `timeout_s`
    after the last send."""

    url: str
    raws: list[tuple[bytes, bytes]]
    interval_s: float = 0.2
    poll_s: float = 0.02
    timeout_s: float = 30.0
    samples: list[ProbeSample] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> "ReceiptProbe":
        self._thread = threading.Thread(target=self._run, name="receipt-probe", daemon=True)
        self._thread.start()
        return self

    def stop_sending(self) -> None:
        self._stop.set()

    def join(self) -> list[ProbeSample]:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(self.timeout_s + 30)
        return self.samples

    def _run(self) -> None:
        pending: dict[str, ProbeSample] = {}
        queue = list(self.raws)
        next_send = time.monotonic()
        last_send = time.monotonic()
        with httpx.Client(timeout=10) as client:
            while True:
                now = time.monotonic()
                if queue and not self._stop.is_set() and now >= next_send:
                    raw, tx_hash = queue.pop(0)
                    sample = ProbeSample("0x" + tx_hash.hex(), time.time())
                    self.samples.append(sample)
                    try:
                        rpc_call(client, self.url, "eth_sendRawTransaction", ["0x" + raw.hex()])
                        sample.answered_unix = time.time()
                        pending[sample.tx_hash] = sample
                    except (httpx.HTTPError, RpcFailed, ValueError) as error:
                        sample.error = str(error)[:200]
                    next_send = now + self.interval_s
                    last_send = now
                if pending:
                    hashes = list(pending)
                    try:
                        results = rpc_batch(client, self.url,
                                            [("eth_getTransactionReceipt", [h]) for h in hashes])
                    except (httpx.HTTPError, RpcFailed, ValueError):
                        results = [None] * len(hashes)
                    seen = time.time()
                    for h, result in zip(hashes, results):
                        if result:
                            sample = pending.pop(h)
                            sample.receipt_unix = seen
                            number = result.get("blockNumber")
                            sample.block_number = int(number, 16) if number else None
                sending_done = not queue or self._stop.is_set()
                if sending_done and (not pending or time.monotonic() - last_send > self.timeout_s):
                    for sample in pending.values():
                        sample.error = "no receipt before the probe's timeout"
                    return
                time.sleep(self.poll_s)


# --- peer processes --------------------------------------------------------------------------------

@dataclass
class PeerNode:
    """One peer devnet process. `procs` is bench.ingest_bench.Processes (own process group,
    killed by its stop())."""

    name: str
    argv: list[str]
    port: int
    mode: str
    version: str
    fund_method: str
    proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}/"

    def start(self, procs, timeout_s: float = 60) -> None:
        self.proc = procs.spawn(self.name, self.argv)
        deadline = time.monotonic() + timeout_s
        with httpx.Client(timeout=5) as client:
            while time.monotonic() < deadline:
                procs.check_alive()
                try:
                    rpc_call(client, self.url, "eth_chainId", [])
                    return
                except (httpx.HTTPError, RpcFailed, ValueError):
                    time.sleep(0.2)
        raise TimeoutError(f"{self.name} did not answer eth_chainId within {timeout_s:.0f} s")

    def fund(self, addresses: list[bytes], balance_wei: int) -> float:
        """Set every address's balance; seconds taken."""
        started = time.perf_counter()
        with httpx.Client(timeout=300) as client:
            for start in range(0, len(addresses), FUND_BATCH):
                chunk = addresses[start:start + FUND_BATCH]
                results = rpc_batch(client, self.url, [(self.fund_method, ["0x" + a.hex(),
                                                                           hex(balance_wei)])
                                                       for a in chunk])
                if self.fund_method == "evm_setAccountBalance" and not all(results):
                    raise RpcFailed(f"{self.name}: {self.fund_method} failed")
            check = rpc_call(client, self.url, "eth_getBalance", ["0x" + addresses[-1].hex(),
                                                                  "latest"])
            if int(check, 16) != balance_wei:
                raise RpcFailed(f"{self.name}: funding did not take ({check})")
        return time.perf_counter() - started


def tool_version(argv: list[str]) -> str:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"unknown ({error})"
    lines = (out.stdout or out.stderr).strip().splitlines()
    return lines[0].strip() if lines else "unknown"


def make_anvil(binary: Path, port: int, chain_id: int, block_time_s: float = 0) -> PeerNode:
    argv = [str(binary), "--host", HOST, "--port", str(port), "--chain-id", str(chain_id),
            "--quiet"]
    if block_time_s:
        argv += ["--block-time", f"{block_time_s:g}"]
    mode = f"interval mining, --block-time {block_time_s:g}" if block_time_s else "automine"
    return PeerNode("anvil", argv, port, mode, tool_version([str(binary), "--version"]),
                    "anvil_setBalance")


def make_ganache(entry: Path, port: int, chain_id: int) -> PeerNode:
    node = "node"
    argv = [node, str(entry)] if entry.suffix == ".js" else [str(entry)]
    argv += ["--server.host", HOST, "--server.port", str(port), "--chain.chainId", str(chain_id),
             "--logging.quiet", "--wallet.totalAccounts", "1"]
    return PeerNode("ganache", argv, port, 'instamine "eager" (default)',
                    tool_version([*argv[:2 if entry.suffix == ".js" else 1], "--version"]),
                    "evm_setAccountBalance")
