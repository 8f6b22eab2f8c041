"""Whole-devnet benchmark: seqnet's 4-sequencer devnet end to end, the same load on peer
devnets (anvil, ganache), and a slot-time sweep.

What one run does (DESIGN.md section 10's method: wrk with a Lua script cycling pre-signed
bodies, signing in several processes; the pieces come from bench/ingest_bench.py):

1. seqnet: the L1 mock + 4 sequencers (1 s slots, `--extra-accounts N`), load from wrk
   (bench/wrk/ingest.lua, which also writes the wall-clock time of every answer) at seq1's POST /txs
   in two phases, `paced` (`--rate` tx/s offered open-loop) and `full` (as fast as
   `--connections` connections go). Per phase: accepted tx/s with a leader receipt, receipt
   latency p50/p95/p99 (wrk's, request written to answer read), time from the receipt to the
   block being attested / safe / finalized p50/p99 (the answer times lined up with a poll of
   seq1's `GET /status` head labels every `--poll-ms`), time to an `eth_getTransactionReceipt`
   answer for a sample sent alongside (bench/peers.py's ReceiptProbe), blocks per second and
   missed slots (slots of the window without a canonical block), CPU seconds per process;
   then that every receipted transaction is in every node's chain, and peak RSS per process.
2. peers: anvil 1.7.1 in automine mode (`anvil`; the fair default: a block as soon as a
   transaction is ready) and with 1 s interval mining (`anvil-interval`: anvil's automine stops
   mining under concurrent submission, foundry-rs/foundry#10122, so this one gives the time to
   a receipt), and ganache 7.9.2 (instamine), each one process with chain id 7357 and its
   senders funded by `anvil_setBalance` / `evm_setAccountBalance` (`--peer-senders` accounts
   per phase with consecutive nonces, as DESIGN.md section 10 measured them), take the same
   two phases of pre-signed eth_sendRawTransaction bodies and the same probe; the table gives
   seqnet/peer ratios. A peer that `make peers` did not install is skipped with a message.
3. `--sweep 1000,500,250`: a fresh 4-sequencer devnet per slot time under moderate load
   (`--sweep-rate` tx/s at seq1), reporting missed slots, the fraction of the window's blocks
   that got a QC, and the shortest slot with no missed slot and every block attested.

    .venv/bin/python bench/run.py --quick                      # ~2.5 min: 4 s phases, no JSON
    .venv/bin/python bench/run.py --sweep 1000,500,250         # ~12 min, bench/results/run.json
    .venv/bin/python bench/run.py --no-main --no-peers --sweep 1000,500,250 --quick

Every process started here runs in its own process group and is killed at the end, on an
exception and on Ctrl-C / SIGTERM. Results and their reading: docs/performance.md,
"Whole-devnet benchmark (bench/run.py)".
"""

from __future__ import annotations

import argparse
import bisect
import importlib.metadata
import math
import os
import platform
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import ingest_bench as ib  # noqa: E402
from bench import peers  # noqa: E402
from client.devnet import pick_ports  # noqa: E402
from protocol.accounts import generated_accounts  # noqa: E402
from protocol.constants import GWEI  # noqa: E402
from protocol.encoding import decode_block  # noqa: E402
from protocol.hashing import keccak256  # noqa: E402
from protocol.params import devnet_params  # noqa: E402

LUA = ROOT / "bench" / "wrk" / "ingest.lua"
RESULT_FILE = ROOT / "bench" / "results" / "run.json"
LABELS = ("unsafe", "attested", "safe", "finalized")
PERCENTILES = (50, 95, 99)
SEQNET_FULL_CAP_TPS = 4_000
"""Bodies signed per second of seqnet's full-speed phase (above what 2 cores receipt)."""
PEER_KINDS = ("anvil", "anvil-interval", "ganache")
PEER_FULL_CAP_TPS = {"anvil": 8_000, "anvil-interval": 8_000, "ganache": 1_000}
"""The same for each peer (DESIGN.md section 10 measured anvil at 2-7k tx/s, ganache ~300)."""
PEER_FEE_BASE_WEI = 50 * GWEI
"""Peer transactions cap their fee at 2x this (a peer's base fee moves with EIP-1559)."""
PEER_BALANCE_WEI = 10**21
PROBE_INTERVAL_S = 0.25
PROBE_TIMEOUT_S = 10.0
"""A probe transaction without a receipt this long after the last send counts as lost."""
PACKAGES = ("fastapi", "starlette", "uvicorn", "uvloop", "httptools", "pydantic",
            "pydantic-settings", "sqlalchemy", "aiohttp", "httpx", "orjson", "coincurve", "rlp",
            "pynacl", "pycryptodome", "eth-hash", "safe-pysha3", "prometheus-client")


# --- pure helpers (tests/bench/test_run_helpers.py) ----------------------------------------------

def compute_percentiles(values: Iterable[float], percentiles: Sequence[float] = PERCENTILES
                        ) -> dict[str, float | None]:
    """{"p50": ..., "p95": ..., "p99": ...} by linear interpolation between the closest ranks
    (numpy's default); None for every key when there are no values."""
    ordered = sorted(values)
    out: dict[str, float | None] = {}
    for p in percentiles:
        key = f"p{p:g}"
        if not ordered:
            out[key] = None
            continue
        position = (len(ordered) - 1) * p / 100
        low = math.floor(position)
        high = min(low + 1, len(ordered) - 1)
        value = ordered[low] + (ordered[high] - ordered[low]) * (position - low)
        out[key] = round(value, 3)
    return out


def parse_proc_stat(text: str, clock_ticks: int) -> float:
    """User + system CPU seconds from the text of /proc/<pid>/stat (fields 14 and 15; the
    command name in parentheses may itself hold spaces and parentheses)."""
    fields = text.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / clock_ticks


def parse_proc_status(text: str) -> dict[str, int | None]:
    """Resident set size now and at its peak, in KiB, from the text of /proc/<pid>/status
    (VmRSS, VmHWM)."""
    values: dict[str, int | None] = {"rss_kib": None, "peak_rss_kib": None}
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            number = rest.split()
            if number:
                values["rss_kib" if key == "VmRSS" else "peak_rss_kib"] = int(number[0])
    return values


def compute_slot_window(start_unix: float, end_unix: float, genesis_time_ms: int,
                        slot_ms: int) -> tuple[int, int]:
    """(first, end): the slots that started at or after `start_unix` and ended by `end_unix`,
    as the half-open range [first, end)."""
    first = math.ceil((start_unix * 1000 - genesis_time_ms) / slot_ms)
    end = math.floor((end_unix * 1000 - genesis_time_ms) / slot_ms)
    return first, max(first, end)


def compute_missed_slots(block_slots: Iterable[int], first_slot: int, end_slot: int
                         ) -> dict[str, Any]:
    """Slots of [first_slot, end_slot) without a block on the canonical chain (whose blocks'
    slots are `block_slots`): a skipped slot (no QC for the parent), an orphaned block, or a
    leader that produced nothing."""
    filled = {s for s in block_slots if first_slot <= s < end_slot}
    missed = [s for s in range(first_slot, end_slot) if s not in filled]
    return {"slots": end_slot - first_slot, "blocks": len(filled), "missed": len(missed),
            "missed_slots": missed[:64]}


def parse_ok_line(line: str) -> tuple[str, float]:
    """("0x<tx hash>", answer unix seconds) from ingest.lua's "OK <hash> <unix ms>" (without "OK ")."""
    tx_hash, _, ms = line.partition(" ")
    return tx_hash, float(ms) / 1000 if ms else float("nan")


def compute_label_delays(receipts: Sequence[tuple[str, float]], tx_blocks: dict[str, int],
                         timeline: Sequence[tuple[float, dict[str, int]]],
                         labels: Sequence[str] = LABELS) -> dict[str, dict[str, Any]]:
    """Per label, the time from each receipt (its answer time) to the first poll of the
    timeline that saw that label's head at or past the transaction's block, in ms
    (p50/p95/p99). `tx_blocks` maps tx hash -> block number on the canonical chain;
    `timeline` is [(unix seconds, {label: head number})] in time order. A delay below zero
    (the head moved before the answer was read) counts as 0; transactions not in the chain
    and labels never reached by the last poll are counted apart."""
    out: dict[str, dict[str, Any]] = {}
    times = [t for t, _ in timeline]
    for label in labels:
        heads: list[int] = []
        best = -1
        for _, numbers in timeline:
            best = max(best, numbers.get(label, -1))
            heads.append(best)
        delays = []
        not_reached = 0
        not_in_chain = 0
        for tx_hash, answered in receipts:
            block = tx_blocks.get(tx_hash)
            if block is None:
                not_in_chain += 1
                continue
            index = bisect.bisect_left(heads, block)
            if index >= len(heads):
                not_reached += 1
                continue
            delays.append(max(0.0, (times[index] - answered) * 1000))
        out[label] = {"n": len(delays), "not_reached": not_reached, "not_in_chain": not_in_chain,
                      **compute_percentiles(delays)}
    return out


def compute_shortest_clean_slot(rows: Sequence[dict[str, Any]]) -> int | None:
    """The shortest slot_ms of a sweep with no missed slot and every block attested."""
    clean = [r["slot_ms"] for r in rows
             if r.get("missed_slots") == 0 and r.get("attested_fraction") == 1.0]
    return min(clean) if clean else None


def compute_ratios(seqnet_phases: dict[str, dict], peer_phases: dict[str, dict]
                   ) -> dict[str, dict[str, float | None]]:
    """seqnet/peer per phase: accepted tx/s, and time to an eth_getTransactionReceipt answer
    (p50)."""
    def ratio(a, b):
        return round(a / b, 3) if a is not None and b else None
    out = {}
    for name in seqnet_phases:
        if name not in peer_phases:
            continue
        ours, theirs = seqnet_phases[name], peer_phases[name]
        out[name] = {
            "accepted_tps": ratio(ours.get("accepted_tps"), theirs.get("accepted_tps")),
            "time_to_receipt_p50": ratio(ours.get("probe", {}).get("to_receipt_ms", {}).get("p50"),
                                         theirs.get("probe", {}).get("to_receipt_ms", {}).get("p50")),
        }
    return out


RESULT_KEYS = ("bench", "when", "command", "machine", "settings")
MACHINE_KEYS = ("nproc", "cpu_model", "python", "packages")
PHASE_KEYS = ("offered_tps", "accepted", "accepted_tps", "latency_ms", "probe", "cpu_s")


def check_result_shape(report: dict[str, Any]) -> list[str]:
    """What run.json lacks (empty when its shape is right): the keys docs/performance.md and
    later comparisons read."""
    problems = [f"missing {k}" for k in RESULT_KEYS if k not in report]
    machine = report.get("machine", {})
    problems += [f"missing machine.{k}" for k in MACHINE_KEYS if k not in machine]
    systems = {}
    if "seqnet" in report:
        systems["seqnet"] = report["seqnet"]
    for name, peer in report.get("peers", {}).items():
        if "skipped" not in peer:
            systems[name] = peer
    for name, system in systems.items():
        if "failed" in system:
            continue
        for phase_name, phase in system.get("phases", {}).items():
            problems += [f"missing {name}.phases.{phase_name}.{k}" for k in PHASE_KEYS
                         if k not in phase]
            for p in ("p50", "p95", "p99"):
                if p not in phase.get("latency_ms", {}):
                    problems.append(f"missing {name}.phases.{phase_name}.latency_ms.{p}")
        if name == "seqnet":
            for phase_name, phase in system.get("phases", {}).items():
                for label in LABELS:
                    if label not in phase.get("to_label_ms", {}):
                        problems.append(f"missing seqnet.phases.{phase_name}.to_label_ms.{label}")
                for k in ("blocks_per_s", "missed_slots"):
                    if k not in phase:
                        problems.append(f"missing seqnet.phases.{phase_name}.{k}")
        if "peak_rss_mib" not in system:
            problems.append(f"missing {name}.peak_rss_mib")
    if "sweep" in report:
        sweep = report["sweep"]
        if "shortest_clean_slot_ms" not in sweep:
            problems.append("missing sweep.shortest_clean_slot_ms")
        for row in sweep.get("rows", []):
            for k in ("slot_ms", "missed_slots", "attested_fraction"):
                if k not in row:
                    problems.append(f"missing sweep.rows[].{k}")
    return problems


# --- machine and processes -----------------------------------------------------------------------

def read_process_usage(pid: int) -> dict[str, float | int | None]:
    """CPU seconds so far, RSS and peak RSS (MiB) of a running process; Nones once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            cpu_s = parse_proc_stat(f.read(), ib.CLOCK_TICKS)
        with open(f"/proc/{pid}/status") as f:
            memory = parse_proc_status(f.read())
    except OSError:
        return {"cpu_s": None, "rss_mib": None, "peak_rss_mib": None}
    mib = {k: round(v / 1024, 1) if v is not None else None for k, v in memory.items()}
    return {"cpu_s": round(cpu_s, 2), "rss_mib": mib["rss_kib"], "peak_rss_mib": mib["peak_rss_kib"]}


def usage_of(procs: ib.Processes) -> dict[str, dict]:
    return {name: read_process_usage(proc.pid) for name, proc in procs.procs.items()}


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_info() -> dict[str, Any]:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    try:
        seqnet_version = importlib.metadata.version("seqnet")
    except importlib.metadata.PackageNotFoundError:
        seqnet_version = None
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                                capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        commit = None
    return {"nproc": os.cpu_count(), "cpu_model": cpu_model(),
            "python": platform.python_version(), "platform": platform.platform(),
            "packages": versions, "seqnet": seqnet_version, "git_commit": commit,
            "wrk": peers.tool_version([ib.WRK, "-v"]),
            "node": peers.tool_version(["node", "--version"]) if shutil.which("node") else None,
            "load_average_at_start": [round(v, 2) for v in os.getloadavg()]}


class Stack:
    """What to stop at the end, newest first (devnets and process groups)."""

    def __init__(self) -> None:
        self.items: list[Any] = []

    def push(self, item):
        self.items.append(item)
        return item

    def stop(self, item=None) -> None:
        for entry in ([item] if item is not None else list(reversed(self.items))):
            try:
                entry.stop()
            finally:
                if entry in self.items:
                    self.items.remove(entry)


# --- seqnet observation ---------------------------------------------------------------------------

class LabelTimeline:
    """Polls a sequencer's GET /status every `interval_s` in a thread and keeps
    (answer unix time, {label: head number}); a poll that fails is skipped."""

    def __init__(self, url: str, interval_s: float) -> None:
        self.url = url
        self.interval_s = interval_s
        self.points: list[tuple[float, dict[str, int]]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="label-timeline", daemon=True)

    def start(self) -> "LabelTimeline":
        self._thread.start()
        return self

    def latest(self, label: str) -> int:
        return self.points[-1][1].get(label, -1) if self.points else -1

    def _run(self) -> None:
        with httpx.Client(timeout=5) as client:
            while not self._stop.is_set():
                try:
                    heads = client.get(self.url + "/status").json()["heads"]
                    self.points.append((time.time(), {k: v["number"] for k, v in heads.items()}))
                except (httpx.HTTPError, KeyError, ValueError):
                    pass
                self._stop.wait(self.interval_s)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)


def get_canonical_blocks(net: ib.BenchDevnet, name: str, raw: bool) -> list[dict[str, Any]]:
    """Every block of `name`'s canonical chain: number, slot, hash, label, and (raw) the
    hashes of its sequenced transactions."""
    out: list[dict[str, Any]] = []
    start = 1
    while True:
        response = net.http.get(net.url(name) + "/blocks",
                                params={"from": start, "limit": 512, "raw": str(raw).lower()})
        response.raise_for_status()
        views = response.json()
        for view in views:
            entry = {"number": view["number"], "slot": view["slot"], "hash": view["hash"],
                     "label": view["label"], "transactions": view["transactions"]}
            if raw:
                block = decode_block(bytes.fromhex(view["raw"][2:]))
                entry["tx_hashes"] = ["0x" + keccak256(t).hex() for t in block.transactions]
            out.append(entry)
        if len(views) < 511:
            return out
        start = views[-1]["number"] + 1


def get_observed_blocks(net: ib.BenchDevnet, name: str) -> dict[str, int]:
    """Every block `name` saw signed (its own, peers', orphaned ones too): hash -> slot, from
    GET /observations (the node keeps the last 4,096 observations)."""
    seen: dict[str, int] = {}
    after = 0
    for _ in range(64):
        response = net.http.get(net.url(name) + "/observations",
                                params={"after": after, "limit": 4096})
        response.raise_for_status()
        body = response.json()
        for item in body["observations"]:
            if item.get("kind") == "block":
                seen[item["hash"]] = item["slot"]
        if not body["observations"] or body["next"] == after:
            break
        after = body["next"]
    return seen


def compute_block_stats(blocks: list[dict[str, Any]], observed: dict[str, int] | None,
                        first_slot: int, end_slot: int, slot_ms: int) -> dict[str, Any]:
    """Blocks per second, missed slots and the attested fraction of a slot window: canonical
    blocks with a QC (label attested, safe or finalized) over every block signed in the window
    (orphaned ones included when `observed` is given)."""
    in_window = [b for b in blocks if first_slot <= b["slot"] < end_slot]
    missed = compute_missed_slots([b["slot"] for b in blocks], first_slot, end_slot)
    attested = {b["hash"] for b in in_window if b["label"] != "unsafe"}
    produced = {b["hash"] for b in in_window}
    if observed is not None:
        produced |= {h for h, s in observed.items() if first_slot <= s < end_slot}
    seconds = (end_slot - first_slot) * slot_ms / 1000
    return {"slot_window": [first_slot, end_slot], "slots": missed["slots"],
            "blocks": missed["blocks"], "blocks_per_s": round(len(in_window) / seconds, 2)
            if seconds else None, "missed_slots": missed["missed"],
            "missed_slot_numbers": missed["missed_slots"],
            "included_tps": round(sum(b["transactions"] for b in in_window) / seconds, 1)
            if seconds else None,
            "blocks_signed": len(produced), "orphaned": len(produced - {b["hash"] for b in in_window}),
            "attested_fraction": round(len(attested & produced) / len(produced), 4)
            if produced else None,
            "txs_per_block_max": max((b["transactions"] for b in in_window), default=0)}


# --- load ----------------------------------------------------------------------------------------

@dataclass
class LoadPhase:
    name: str
    rate: float
    connections: int

    def budget(self, duration_s: float, full_cap_tps: float) -> int:
        """Bodies to sign: enough that no wrk thread runs out."""
        tps = self.rate * 1.2 if self.rate else full_cap_tps
        return int(tps * duration_s) + 200

    def describe(self) -> str:
        if self.rate:
            return f"paced {self.rate:g} tx/s offered, {self.connections} connections"
        return f"full speed, {self.connections} connections"


def compute_senders(budget: int, senders_per_phase: int) -> tuple[int, int]:
    """(senders, nonces per sender) to sign `budget` transactions: one sender per transaction
    when `senders_per_phase` is 0, else that many senders with consecutive nonces."""
    if senders_per_phase <= 0 or budget <= senders_per_phase:
        return budget, 1
    return senders_per_phase, -(-budget // senders_per_phase)


def presign_phases(phases: list[LoadPhase], duration_s: float, full_cap_tps: float,
                   probe_count: int, threads: int, signers: int, chain_id: int,
                   fee_base_wei: int, senders_per_phase: int = 0
                   ) -> tuple[list, list, list[bytes], float, float]:
    """Per phase: bodies per wrk thread and the probe's transactions; every sender address;
    seconds taken to derive the accounts, and in all. Each phase and each probe transaction
    has senders of its own. With several nonces per sender, a sender's transactions go to one
    wrk thread in nonce order, interleaved with the thread's other senders (ingest_bench's
    presign), so nonce n is answered before n + 1 is sent while senders per thread exceed
    connections per thread."""
    plans = [compute_senders(p.budget(duration_s, full_cap_tps), senders_per_phase)
             for p in phases]
    total = sum(count for count, _ in plans) + probe_count * len(phases)
    started = time.perf_counter()
    senders = generated_accounts(total)
    accounts_s = time.perf_counter() - started
    bodies, probes = [], []
    offset = 0
    for count, nonces in plans:
        bodies.append(ib.presign(senders[offset:offset + count], nonces, chain_id, fee_base_wei,
                                 signers, threads))
        offset += count
    for _ in phases:
        probes.append(ib.presign(senders[offset:offset + probe_count], 1, chain_id,
                                 fee_base_wei, 1, 1)[0])
        offset += probe_count
    return bodies, probes, [a.address for a in senders], accounts_s, time.perf_counter() - started


def summarize_probe(samples: list[peers.ProbeSample]) -> dict[str, Any]:
    answered = [s for s in samples if s.answered_unix is not None]
    received = [s for s in answered if s.receipt_unix is not None]
    errors: dict[str, int] = {}
    for s in samples:
        if s.error:
            errors[s.error[:80]] = errors.get(s.error[:80], 0) + 1
    return {"sent": len(samples), "answered": len(answered), "with_receipt": len(received),
            "answer_ms": compute_percentiles([(s.answered_unix - s.sent_unix) * 1000
                                              for s in answered]),
            "to_receipt_ms": compute_percentiles([(s.receipt_unix - s.sent_unix) * 1000
                                                  for s in received]),
            "errors": errors}


def drive_phase(url: str, path: str, phase: LoadPhase, bodies: list, probe_raws: list,
                probe_url: str, work: Path, tag: str, duration_s: float, procs: ib.Processes
                ) -> tuple[dict[str, Any], list[tuple[str, float]], list[peers.ProbeSample],
                           float, float]:
    """wrk on one phase with the probe alongside: (summary with CPU seconds per process,
    [(hash, answer time)], probe samples, start and end unix time). The probe's receipts may
    come up to PROBE_TIMEOUT_S after the load."""
    prefix = work / f"{tag}_bodies"
    ib.write_bodies(prefix, bodies, "txs" if path == "/txs" else "rpc")
    probe = peers.ReceiptProbe(probe_url, probe_raws, interval_s=PROBE_INTERVAL_S,
                               timeout_s=PROBE_TIMEOUT_S).start()
    before = usage_of(procs)
    wrk_before = ib.children_cpu_s()
    started = time.time()
    try:
        result = ib.run_wrk(url, bodies=prefix, out=work / f"{tag}_out", path=path,
                            threads=len(bodies), connections=phase.connections,
                            duration_s=duration_s, rate=phase.rate, lua=LUA)
    finally:
        probe.stop_sending()
    ended = time.time()
    summary = ib.summarize(result, phase.rate or None)
    summary["name"] = phase.name
    summary["latency_ms"]["p95"] = result["latency_us"]["percentiles"]["95"] / 1000
    summary["cpu_s"] = cpu_delta(before, usage_of(procs),
                                 round(ib.children_cpu_s() - wrk_before, 2))
    receipts = [parse_ok_line(line) for line in result["receipted_hashes"]]
    for t in range(1, len(bodies) + 1):  # the bodies are large; the out files are not
        Path(f"{prefix}.{t}").unlink(missing_ok=True)
    return summary, receipts, probe.join(), started, ended


def cpu_delta(before: dict[str, dict], after: dict[str, dict], wrk_s: float) -> dict[str, float]:
    out = {}
    for name, usage in after.items():
        a, b = usage.get("cpu_s"), before.get(name, {}).get("cpu_s")
        if a is not None and b is not None:
            out[name] = round(a - b, 2)
    out["wrk"] = wrk_s
    return out


def print_phase_line(system: str, phase: dict[str, Any]) -> None:
    lat = phase["latency_ms"]
    probe = phase["probe"]["to_receipt_ms"]
    print(f"  {system} {phase['name']}: {phase['accepted_tps']:,.0f} tx/s accepted "
          f"({phase['accepted']:,} of {phase['requests']:,} requests, {phase['refused']} refused); "
          f"latency p50 {lat['p50']:.1f} / p95 {lat['p95']:.1f} / p99 {lat['p99']:.1f} ms; "
          f"eth_getTransactionReceipt after p50 {fmt_ms(probe['p50'])} / p99 "
          f"{fmt_ms(probe['p99'])} ms ({phase['probe']['with_receipt']}/{phase['probe']['sent']})",
          flush=True)


def fmt_ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def fmt_ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}" if value >= 100 else f"{value:.1f}"


# --- seqnet ----------------------------------------------------------------------------------------

def run_seqnet(args, work: Path, stack: Stack, phases: list[LoadPhase], duration_s: float
               ) -> dict[str, Any]:
    chain = devnet_params()
    probe_count = int(duration_s / PROBE_INTERVAL_S) + 4
    bodies, probes, senders, accounts_s, sign_s = presign_phases(
        phases, duration_s, SEQNET_FULL_CAP_TPS, probe_count, args.threads, args.signers,
        chain.chain_id, chain.base_fee_wei)
    print(f"seqnet: pre-signed {sum(len(t) for b in bodies for t in b):,} transfers from "
          f"{len(senders):,} accounts in {sign_s:.1f} s", flush=True)
    # each node derives the accounts again for its genesis, five processes at once
    lead_s = ib.GENESIS_LEAD_S + 4 * accounts_s
    (work / "seqnet").mkdir(parents=True, exist_ok=True)
    net = stack.push(ib.BenchDevnet(work / "seqnet", len(senders), lead_s))
    print(f"seqnet: starting the L1 mock + {ib.SEQUENCERS} sequencers (1 s slots, "
          f"{len(senders):,} funded accounts) ...", flush=True)
    net.start()
    net.wait_for_blocks(2, lead_s + 2 * net.params.epoch_slots + 60)
    result: dict[str, Any] = {"api": "POST /txs at seq1 (REST; the leader's signed receipt in "
                                     "the answer)", "slot_ms": net.params.slot_ms,
                              "sequencers": ib.SEQUENCERS, "funded_accounts": len(senders),
                              "phases": {}}
    timeline = LabelTimeline(net.url("seq1"), args.poll_ms / 1000).start()
    all_receipts: dict[str, list[tuple[str, float]]] = {}
    probe_hashes: set[bytes] = set()
    windows = {}
    try:
        for phase, phase_bodies, probe_raws in zip(phases, bodies, probes):
            print(f"seqnet {phase.name}: {phase.describe()}, all at seq1, {duration_s:g} s ...",
                  flush=True)
            summary, receipts, samples, started, ended = drive_phase(
                net.url("seq1"), "/txs", phase, phase_bodies, probe_raws,
                net.url("seq1") + "/rpc", work, f"seqnet_{phase.name}", duration_s, net.procs)
            summary["probe"] = summarize_probe(samples)
            probe_hashes.update(bytes.fromhex(s.tx_hash[2:]) for s in samples
                                if s.answered_unix is not None)
            all_receipts[phase.name] = receipts
            windows[phase.name] = (started, ended)
            result["phases"][phase.name] = summary
            print_phase_line("seqnet", summary)
            net.procs.check_alive()
            time.sleep(2 * net.params.slot_ms / 1000)

        print("seqnet: waiting for the chain to include every receipted transaction ...",
              flush=True)
        receipted = {bytes.fromhex(h[2:]) for rs in all_receipts.values() for h, _ in rs}
        inclusion = ib.check_inclusion(net, receipted | probe_hashes)
        result["inclusion"] = inclusion
        print(f"  {inclusion['receipted']:,} receipted, lost {inclusion['lost']}; nodes agree at "
              f"block {inclusion['common_head']}: {inclusion['nodes_agree_at_common_head']}",
              flush=True)
        blocks = get_canonical_blocks(net, "seq1", raw=True)
        tx_blocks = {h: b["number"] for b in blocks for h in b["tx_hashes"]}
        last_block = max((tx_blocks.get(h, 0) for rs in all_receipts.values() for h, _ in rs),
                         default=0)
        print(f"seqnet: waiting up to {args.finality_timeout:g} s for block {last_block} to be "
              f"finalized ...", flush=True)
        deadline = time.monotonic() + args.finality_timeout
        while time.monotonic() < deadline and timeline.latest("finalized") < last_block:
            net.procs.check_alive()
            time.sleep(0.5)
        time.sleep(2 * args.poll_ms / 1000)
    finally:
        timeline.stop()
    result["finalized_by_end"] = timeline.latest("finalized") >= last_block
    result["label_poll_ms"] = args.poll_ms
    result["label_polls"] = len(timeline.points)
    observed = get_observed_blocks(net, "seq1")
    blocks = get_canonical_blocks(net, "seq1", raw=False)
    for name, summary in result["phases"].items():
        summary["to_label_ms"] = compute_label_delays(all_receipts[name], tx_blocks,
                                                      timeline.points)
        first, end = compute_slot_window(*windows[name], net.params.genesis_time_ms,
                                         net.params.slot_ms)
        summary.update(compute_block_stats(blocks, observed, first, end, net.params.slot_ms))
    usage = usage_of(net.procs)
    result["peak_rss_mib"] = {n: u["peak_rss_mib"] for n, u in usage.items()}
    result["cpu_s_total"] = {n: u["cpu_s"] for n, u in usage.items()}
    stack.stop(net)
    return result


# --- peers -----------------------------------------------------------------------------------------

def run_peer(kind: str, args, work: Path, stack: Stack, phases: list[LoadPhase],
             duration_s: float) -> dict[str, Any]:
    if kind not in PEER_KINDS:
        raise ValueError(f"unknown peer {kind!r}: one of {', '.join(PEER_KINDS)}")
    is_anvil = kind.startswith("anvil")
    found = peers.find_anvil() if is_anvil else peers.find_ganache()
    package = peers.ANVIL_PACKAGE if is_anvil else peers.GANACHE_PACKAGE
    if found is None:
        message = (f"{kind}: skipped, {package} is not installed under {peers.PEERS_DIR} "
                   f"(run `make peers`)")
        print(message, flush=True)
        return {"skipped": message}
    if kind == "ganache" and found.suffix == ".js" and shutil.which("node") is None:
        message = "ganache: skipped, no `node` on PATH"
        print(message, flush=True)
        return {"skipped": message}
    chain_id = devnet_params().chain_id
    port = pick_ports([kind])[kind]
    if kind == "anvil":
        node = peers.make_anvil(found, port, chain_id)
    elif kind == "anvil-interval":
        node = peers.make_anvil(found, port, chain_id, args.anvil_block_time)
    else:
        node = peers.make_ganache(found, port, chain_id)
    node.name = kind
    probe_count = int(duration_s / PROBE_INTERVAL_S) + 4
    bodies, probes, senders, _, sign_s = presign_phases(
        phases, duration_s, PEER_FULL_CAP_TPS[kind], probe_count, args.threads, args.signers,
        chain_id, PEER_FEE_BASE_WEI, args.peer_senders)
    print(f"{kind}: pre-signed {sum(len(t) for b in bodies for t in b):,} transfers from "
          f"{len(senders):,} accounts in {sign_s:.1f} s; starting {node.version} ({node.mode}) ...",
          flush=True)
    procs = stack.push(ib.Processes(work))
    node.start(procs)
    fund_s = node.fund(senders, PEER_BALANCE_WEI)
    print(f"  funded {len(senders):,} accounts in {fund_s:.1f} s", flush=True)
    result: dict[str, Any] = {"version": node.version, "mode": node.mode,
                              "argv": " ".join(node.argv), "api": "eth_sendRawTransaction",
                              "funded_accounts": len(senders), "phases": {}}
    accepted_all: list[str] = []
    for phase, phase_bodies, probe_raws in zip(phases, bodies, probes):
        print(f"{kind} {phase.name}: {phase.describe()}, {duration_s:g} s ...", flush=True)
        summary, receipts, samples, _, _ = drive_phase(
            node.url, "/", phase, phase_bodies, probe_raws, node.url, work,
            f"{kind}_{phase.name}", duration_s, procs)
        summary["probe"] = summarize_probe(samples)
        result["phases"][phase.name] = summary
        accepted_all.extend(h for h, _ in receipts)
        print_phase_line(kind, summary)
        procs.check_alive()
        time.sleep(1)
    result["inclusion_sample"] = check_peer_inclusion(node.url, accepted_all)
    inc = result["inclusion_sample"]
    print(f"  {kind}: {inc['included']}/{inc['sampled']} of a sample of accepted transactions "
          f"have a receipt {inc['waited_s']} s after the load", flush=True)
    usage = usage_of(procs)
    result["peak_rss_mib"] = {n: u["peak_rss_mib"] for n, u in usage.items()}
    result["cpu_s_total"] = {n: u["cpu_s"] for n, u in usage.items()}
    stack.stop(procs)
    return result


def check_peer_inclusion(url: str, accepted: list[str], sample: int = 400,
                         wait_s: float = 10) -> dict[str, Any]:
    """Accepted transactions of a random sample that have a receipt (are mined), waiting up
    to `wait_s` for the pool to drain."""
    chosen = random.Random(7).sample(accepted, min(sample, len(accepted)))
    started = time.monotonic()
    included = 0
    with httpx.Client(timeout=30) as client:
        while True:
            results = peers.rpc_batch(client, url, [("eth_getTransactionReceipt", [h])
                                                   for h in chosen]) if chosen else []
            included = sum(1 for r in results if r)
            if included == len(chosen) or time.monotonic() - started > wait_s:
                break
            time.sleep(1)
        head = int(peers.rpc_call(client, url, "eth_blockNumber", []), 16)
    return {"sampled": len(chosen), "included": included,
            "waited_s": round(time.monotonic() - started, 1), "block_number": head}


# --- slot-time sweep ------------------------------------------------------------------------------

def run_sweep(args, work: Path, stack: Stack, slot_times: list[int]) -> dict[str, Any]:
    duration_s = args.sweep_duration or (8.0 if args.quick else 30.0)
    phase = LoadPhase("sweep", args.sweep_rate, 32)
    chain = devnet_params()
    bodies, _, senders, accounts_s, sign_s = presign_phases([phase], duration_s, 0, 0, args.threads,
                                                args.signers, chain.chain_id, chain.base_fee_wei)
    print(f"sweep: slot times {', '.join(map(str, slot_times))} ms, {args.sweep_rate:g} tx/s "
          f"at seq1 for {duration_s:g} s each; pre-signed {len(senders):,} transfers in "
          f"{sign_s:.1f} s", flush=True)
    rows = []
    for slot_ms in slot_times:
        directory = work / f"sweep-{slot_ms}"
        directory.mkdir(parents=True, exist_ok=True)
        lead_s = ib.GENESIS_LEAD_S + 4 * accounts_s
        net = stack.push(ib.BenchDevnet(directory, len(senders), lead_s, slot_ms=slot_ms))
        row: dict[str, Any] = {"slot_ms": slot_ms}
        try:
            net.start()
            net.wait_for_blocks(2, lead_s + 2 * net.params.epoch_slots * slot_ms / 1000 + 60)
            before = net.counters()
            summary, receipts, _, started, ended = drive_phase(
                net.url("seq1"), "/txs", phase, bodies[0], [], net.url("seq1") + "/rpc", work,
                f"sweep_{slot_ms}", duration_s, net.procs)
            after = net.counters()
            first, end = compute_slot_window(started, ended, net.params.genesis_time_ms, slot_ms)
            # let the window's last blocks arrive and their QCs form
            deadline = time.monotonic() + 10 + 5 * slot_ms / 1000
            while time.monotonic() < deadline:
                heads = net.status("seq1")["heads"]
                if heads["attested"]["slot"] >= end + 1:
                    break
                time.sleep(slot_ms / 1000)
            observed = get_observed_blocks(net, "seq1")
            blocks = get_canonical_blocks(net, "seq1", raw=False)
            stats = compute_block_stats(blocks, observed, first, end, slot_ms)
            row.update(stats)
            row.update({
                "accepted_tps": summary["accepted_tps"], "offered_tps": args.sweep_rate,
                "latency_ms": summary["latency_ms"], "refused": summary["refused"],
                "slots_skipped_no_qc": sum(after[n].get("slots_skipped", 0)
                                           - before[n].get("slots_skipped", 0)
                                           for n in net.sequencers),
                "blocks_sealed": sum(after[n].get("blocks_produced", 0)
                                     - before[n].get("blocks_produced", 0)
                                     for n in net.sequencers)})
            print(f"  {slot_ms} ms slots: {row['missed_slots']} missed of {row['slots']} slots, "
                  f"{row['blocks_per_s']} blocks/s, attested fraction {row['attested_fraction']}, "
                  f"{row['orphaned']} orphaned; {row['accepted_tps']:,.0f} tx/s receipted, "
                  f"p99 {row['latency_ms']['p99']:.1f} ms", flush=True)
        except Exception as error:  # noqa: BLE001 - one slot time failing is a result too
            row["failed"] = f"{type(error).__name__}: {error}"
            print(f"  {slot_ms} ms slots: failed: {row['failed']}", flush=True)
        finally:
            stack.stop(net)
        rows.append(row)
    return {"rate_tps": args.sweep_rate, "duration_s": duration_s, "rows": rows,
            "shortest_clean_slot_ms": compute_shortest_clean_slot(rows),
            "criterion": "no missed slot in the window and every block signed in it attested"}


# --- report ----------------------------------------------------------------------------------------

def print_report(report: dict[str, Any]) -> None:
    systems: dict[str, dict] = {}
    if "seqnet" in report and "phases" in report["seqnet"]:
        systems["seqnet"] = report["seqnet"]
    for name, peer in report.get("peers", {}).items():
        if "phases" in peer:
            systems[name] = peer
    print()
    if systems:
        names = list(systems)
        print("| " + " | ".join(["phase", "measure"] + names) + " |")
        print("|" + "---|" * (2 + len(names)))
        phase_names = list(next(iter(systems.values()))["phases"])
        rows = [
            ("accepted tx/s", lambda p: f"{p['accepted_tps']:,.0f}"),
            ("answer p50/p95/p99 ms", lambda p: "/".join(
                fmt_ms(p["latency_ms"][k]) for k in ("p50", "p95", "p99"))),
            ("to eth_getTransactionReceipt p50/p99 ms", lambda p: "/".join(
                fmt_ms(p["probe"]["to_receipt_ms"][k]) for k in ("p50", "p99"))),
        ]
        for phase_name in phase_names:
            for title, cell in rows:
                cells = []
                for system in systems.values():
                    phase = system["phases"].get(phase_name)
                    cells.append(cell(phase) if phase else "-")
                print("| " + " | ".join([phase_name, title] + cells) + " |")
        print()
        for name, system in systems.items():
            line = f"{name}: {system.get('mode', system.get('api', ''))}"
            if "inclusion_sample" in system:
                inc = system["inclusion_sample"]
                line += (f"; {inc['included']} of {inc['sampled']} sampled accepted transactions "
                         f"mined {inc['waited_s']:g} s after the load")
            elif "inclusion" in system:
                line += f"; receipted transactions missing from a node's chain: " \
                        f"{system['inclusion']['lost']}"
            print(line)
    seqnet = report.get("seqnet", {})
    if "phases" in seqnet:
        print("\nseqnet, receipt to head label (seq1's view, polled every "
              f"{seqnet.get('label_poll_ms')} ms) and the chain during each phase:")
        print("| phase | in a block p50/p99 ms | attested p50/p99 ms | safe p50/p99 ms | "
              "finalized p50/p99 ms | blocks/s | tx/s in blocks | missed slots | "
              "attested fraction |")
        print("|---|---|---|---|---|---|---|---|---|")
        for name, phase in seqnet["phases"].items():
            labels = phase.get("to_label_ms", {})
            cells = ["/".join(fmt_ms(labels.get(label, {}).get(k)) for k in ("p50", "p99"))
                     for label in LABELS]
            print(f"| {name} | " + " | ".join(cells) + f" | {phase.get('blocks_per_s')} | "
                  f"{phase.get('included_tps'):,.0f} | "
                  f"{phase.get('missed_slots')} of {phase.get('slots')} | "
                  f"{phase.get('attested_fraction')} |")
    if systems:
        print("\nCPU seconds per process during each phase, and peak RSS (MiB):")
        for name, system in systems.items():
            for phase_name, phase in system["phases"].items():
                cpu = ", ".join(f"{k} {v:.1f}" for k, v in phase["cpu_s"].items())
                print(f"  {name} {phase_name}: {cpu}")
            rss = ", ".join(f"{k} {v:.0f}" for k, v in system.get("peak_rss_mib", {}).items()
                            if v is not None)
            print(f"  {name} peak RSS: {rss}")
    if report.get("ratios"):
        print("\nseqnet/peer (tx/s: above 1 = seqnet accepts more; time to receipt p50: above "
              "1 = seqnet is slower):")
    for name, ratios in report.get("ratios", {}).items():
        parts = [f"{phase} tx/s {fmt_ratio(r['accepted_tps'])}, time to receipt "
                 f"{fmt_ratio(r['time_to_receipt_p50'])}" for phase, r in ratios.items()]
        print(f"  seqnet/{name}: " + "; ".join(parts))
    for name, peer in report.get("peers", {}).items():
        if "skipped" in peer:
            print(peer["skipped"])
        elif "failed" in peer:
            print(f"{name}: failed: {peer['failed']}")
    sweep = report.get("sweep")
    if sweep:
        print(f"\nslot-time sweep ({sweep['rate_tps']:g} tx/s at seq1, {sweep['duration_s']:g} s):")
        print("| slot ms | slots | missed | blocks/s | attested fraction | orphaned | tx/s | p99 ms |")
        print("|---|---|---|---|---|---|---|---|")
        for row in sweep["rows"]:
            if "failed" in row:
                print(f"| {row['slot_ms']} | failed: {row['failed'][:60]} |||||||")
                continue
            print(f"| {row['slot_ms']} | {row['slots']} | {row['missed_slots']} | "
                  f"{row['blocks_per_s']} | {row['attested_fraction']} | {row['orphaned']} | "
                  f"{row['accepted_tps']:,.0f} | {row['latency_ms']['p99']:.1f} |")
        shortest = sweep["shortest_clean_slot_ms"]
        print("shortest slot with no missed slot and every block attested: "
              + (f"{shortest} ms" if shortest is not None else "none of these"))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="4 s phases, 8 s sweep steps, no JSON unless --json")
    parser.add_argument("--duration", type=float, default=None, help="seconds per phase (15)")
    parser.add_argument("--rate", type=float, default=1000.0, help="offered tx/s of `paced`")
    parser.add_argument("--connections", type=int, default=32, help="connections of `full`")
    parser.add_argument("--paced-connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--signers", type=int, default=max(2, os.cpu_count() or 2))
    parser.add_argument("--poll-ms", type=float, default=100.0,
                        help="period of the head-label poll of seq1")
    parser.add_argument("--finality-timeout", type=float, default=None,
                        help="seconds to wait for the last block to be finalized (60; quick 40)")
    parser.add_argument("--no-main", action="store_true", help="skip seqnet's main run")
    parser.add_argument("--no-peers", action="store_true", help="skip anvil and ganache")
    parser.add_argument("--peers", default=",".join(PEER_KINDS),
                        help="which peers: anvil (automine), anvil-interval (--block-time), "
                        "ganache (instamine)")
    parser.add_argument("--peer-senders", type=int, default=256,
                        help="senders per phase on the peers, with consecutive nonces (0: one "
                        "account per transaction, as on seqnet)")
    parser.add_argument("--anvil-block-time", type=float, default=1.0,
                        help="block time (s) of the anvil-interval peer")
    parser.add_argument("--sweep", default=None,
                        help="comma list of slot times (ms), e.g. 1000,500,250")
    parser.add_argument("--sweep-rate", type=float, default=200.0,
                        help="offered tx/s during each sweep step")
    parser.add_argument("--sweep-duration", type=float, default=None,
                        help="seconds of load per sweep step (30; quick 8)")
    parser.add_argument("--json", type=Path, default=None,
                        help=f"result file (default {RESULT_FILE.relative_to(ROOT)}; --quick: none)")
    parser.add_argument("--keep", type=Path, default=None, help="keep logs and databases here")
    args = parser.parse_args(argv)
    if args.finality_timeout is None:
        args.finality_timeout = 40.0 if args.quick else 60.0
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    duration_s = args.duration or (4.0 if args.quick else 15.0)
    if not Path(ib.WRK).exists():
        print("wrk not found: apt-get install wrk", file=sys.stderr)
        return 2
    slot_times = [int(s) for s in args.sweep.split(",") if s.strip()] if args.sweep else []
    phases = [LoadPhase("paced", args.rate, args.paced_connections),
              LoadPhase("full", 0, args.connections)]
    report: dict[str, Any] = {
        "bench": "run", "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "command": " ".join([".venv/bin/python", "bench/run.py", *(argv or sys.argv[1:])]),
        "machine": machine_info(),
        "settings": {"quick": args.quick, "phase_duration_s": duration_s, "rate": args.rate,
                     "connections": args.connections,
                     "paced_connections": args.paced_connections, "wrk_threads": args.threads,
                     "probe_interval_s": PROBE_INTERVAL_S, "label_poll_ms": args.poll_ms,
                     "sweep": slot_times},
        "targets": {"receipted_tps": 3000, "p99_ms_at_1000_tps": 25,
                    "receipt_to_attested_tps": 1400},
    }
    busy = ib.cpu_busy_fraction()
    report["machine"]["cpu_busy_at_start"] = busy
    if busy > 0.25:
        print(f"warning: the machine is {100 * busy:.0f}% busy before the bench starts "
              f"(load average {os.getloadavg()[0]:.1f}): figures will be low", flush=True)
    work = Path(args.keep).resolve() if args.keep else Path(tempfile.mkdtemp(prefix="run-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    stack = Stack()
    failed: BaseException | None = None

    def on_sigterm(signum, frame):
        raise SystemExit(128 + signum)
    previous = signal.signal(signal.SIGTERM, on_sigterm)
    # Ctrl-C raises KeyboardInterrupt even when started from a shell that ignores SIGINT
    previous_int = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        if not args.no_main:
            report["seqnet"] = run_seqnet(args, work, stack, phases, duration_s)
        if not args.no_peers:
            report["peers"] = {}
            for kind in [k.strip() for k in args.peers.split(",") if k.strip()]:
                try:
                    report["peers"][kind] = run_peer(kind, args, work, stack, phases, duration_s)
                except Exception as error:  # noqa: BLE001 - the other peer may still run
                    report["peers"][kind] = {"failed": f"{type(error).__name__}: {error}"}
                    print(f"{kind}: failed: {error}", flush=True)
                    stack.stop()
            if "seqnet" in report:
                report["ratios"] = {k: compute_ratios(report["seqnet"]["phases"], p["phases"])
                                    for k, p in report["peers"].items() if "phases" in p}
        if slot_times:
            report["sweep"] = run_sweep(args, work, stack, slot_times)
    except BaseException as error:  # noqa: BLE001 - recorded in the JSON, then re-raised
        failed = error
        report["failed"] = f"{type(error).__name__}: {error}"
    finally:
        stack.stop()
        signal.signal(signal.SIGTERM, previous)
        signal.signal(signal.SIGINT, previous_int)
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print_report(report)
    if failed is not None:
        print(f"stopped early: {report['failed']}", file=sys.stderr, flush=True)
    problems = check_result_shape(report)
    if problems and failed is None:
        print(f"result shape: {problems}", flush=True)
    ib.write_result(report, args.json if args.json is not None else (None if args.quick else RESULT_FILE))
    if failed is not None:
        raise failed
    return 0


if __name__ == "__main__":
    sys.exit(main())
