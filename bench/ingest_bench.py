"""Ingest bench: receipted transactions per second and receipt latency of a 4-sequencer devnet.

What it does, in one run (DESIGN.md section 10's method):

1. baseline: a trivial FastAPI + uvicorn (uvloop, httptools, one worker) JSON POST endpoint,
   driven by the same wrk script: the ceiling of any Python HTTP service on this machine;
2. starts the L1 mock and 4 sequencers on 127.0.0.1 (free ports, `--extra-accounts N` funds
   N generated accounts at genesis, no ranger), waits for blocks;
3. pre-signs transfers in several processes (coincurve), each generated account sending
   `--nonces-per-sender` transactions, and writes them as wrk body files, one per wrk thread
   (a sender's transactions all go to one thread, interleaved with the other senders', so
   that nonce n is answered before nonce n+1 is sent);
4. drives wrk (bench/wrk/ingest.lua, every body sent once) in phases:
   - `paced-one`: ~1,000 tx/s offered open-loop, all at seq1 (it forwards whenever it
     does not lead the slot: ~65% of slots);
   - `full-one`: as fast as it goes, all at seq1;
   - `full-spread`: as fast as it goes, one wrk thread per sequencer;
   - `full-leader`, `paced-leader`: as a schedule-aware client, every request straight to
     the sequencer that takes new transactions at that moment (the intake leader:
     `producer.intake_slot`), as fast as it goes or `--rate` tx/s open-loop; one wrk thread
     per sequencer, each sending only inside its node's intake windows;
   counting a transaction as accepted when the answer is 2xx with a receipt;
5. waits for the chain to include what was receipted and checks, on every node's canonical
   chain, that every receipted transaction is in a block (none lost) and that the nodes agree;
6. stops every process and writes a JSON result.

    .venv/bin/python bench/ingest_bench.py [--quick] [--duration S] [--rate 1000]
        [--api txs|rpc] [--phases paced-one,full-one,full-spread,full-leader,paced-leader]
        [--json FILE] [--keep DIR]

Goals (DESIGN.md section 10): >= 3,000 tx/s receipted at the leader; receipt p99 <= 25 ms at
1,000 tx/s offered. Results and their bounds: docs/performance.md.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import platform
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from client.devnet import pick_ports  # noqa: E402
from nodekit.settings import write_params_file  # noqa: E402
from protocol.accounts import generated_accounts  # noqa: E402
from protocol.chainbuilder import DEVNET_STAKES_TOKENS, devnet_node_key, devnet_operators  # noqa: E402
from protocol.constants import TOKEN  # noqa: E402
from protocol.encoding import decode_block  # noqa: E402
from protocol.hashing import keccak256  # noqa: E402
from protocol.params import ChainParams, devnet_params  # noqa: E402
from protocol.schedule import (  # noqa: E402
    Member,
    SequencerSet,
    compute_epoch,
    compute_epoch_start_slot,
    compute_schedule,
    compute_sequencer_set,
    compute_slot_start_ms,
)

PYTHON = sys.executable
WRK = shutil.which("wrk") or "/usr/bin/wrk"
LUA = ROOT / "bench" / "wrk" / "ingest.lua"
HOST = "127.0.0.1"
SEQUENCERS = 4
GENESIS_LEAD_S = 20
"""Slot 0 starts this long after launch, plus 4x the time this process took to derive the N
generated accounts (each node derives them again for its genesis, five processes at once):
the nodes must be up and registered on L1 before L1 snapshots epoch 0's set
`lookahead_slots` before slot 0. If they are late the chain starts one epoch later."""
HEALTH_TIMEOUT_S = 300
SETTLE_TIMEOUT_S = 60
FULL_SPEED_CAP_TPS = 4_000
"""Bodies signed per second of a full-speed phase: above what 2 cores can receipt, so no
thread runs out (a thread that does stops early, and the result says so)."""
WINDOWS_MARGIN_S = 5
"""Leader phases: the windows file covers the phase and this much more (wrk's start-up, a
slow stop), so that no thread runs out of windows while wrk runs."""

BASELINE_APP = '''
import orjson, uvicorn
from fastapi import FastAPI, Request, Response
app = FastAPI()
@app.post("/txs")
async def txs(request: Request):
    body = orjson.loads(await request.body())
    return Response(orjson.dumps({"ok": True, "n": len(body["raw"])}), media_type="application/json")
@app.get("/health")
def health():
    return {"status": "ok"}
if __name__ == "__main__":
    import sys
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning",
                access_log=False, loop="uvloop", http="httptools")
'''


# --- processes ---------------------------------------------------------------------------------

@dataclass
class Processes:
    """Every process this bench started, each in its own process group; `stop()` kills all."""

    directory: Path
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)

    def spawn(self, name: str, argv: list[str]) -> subprocess.Popen:
        log = open(self.directory / f"{name}.log", "ab")
        env = {k: v for k, v in os.environ.items() if not k.startswith("SEQNET_")}
        env["PYTHONUNBUFFERED"] = "1"
        proc = subprocess.Popen(argv, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True, env=env)
        log.close()
        self.procs[name] = proc
        return proc

    def cpu_s(self) -> dict[str, float]:
        return {name: process_cpu_s(proc.pid) for name, proc in self.procs.items()}

    def check_alive(self) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                tail = (self.directory / f"{name}.log").read_text(errors="replace")[-1500:]
                raise RuntimeError(f"{name} exited with code {proc.returncode}: {tail}")

    def stop(self, name: str | None = None) -> None:
        names = [name] if name else list(reversed(list(self.procs)))
        for n in names:
            proc = self.procs.pop(n, None)
            if proc is None:
                continue
            for sig, wait_s in ((signal.SIGTERM, 5), (signal.SIGKILL, 5)):
                try:
                    os.killpg(proc.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    proc.wait(wait_s)
                    break
                except subprocess.TimeoutExpired:
                    continue


def wait_until(predicate, timeout_s: float, what: str, procs: Processes | None = None,
               interval_s: float = 0.25):
    deadline = time.monotonic() + timeout_s
    last: Exception | None = None
    while time.monotonic() < deadline:
        if procs is not None:
            procs.check_alive()
        try:
            result = predicate()
            if result:
                return result
        except (httpx.HTTPError, KeyError, ValueError) as error:
            last = error
        time.sleep(interval_s)
    raise TimeoutError(f"timed out after {timeout_s:.0f} s waiting for {what} (last error: {last})")


# --- transactions --------------------------------------------------------------------------------

def _sign_chunk(args: tuple) -> list[tuple[bytes, bytes]]:
    """Worker: sign `nonces` transfers for each key of the chunk; (raw, hash) in nonce-major order
    within the chunk (sender order kept)."""
    from coincurve import PrivateKey

    from protocol.transactions import sign_transaction

    keys, recipients, nonces, chain_id, max_fee, tip = args
    signers = [PrivateKey(key) for key in keys]
    out = []
    for nonce in range(nonces):
        for i, signer in enumerate(signers):
            raw = sign_transaction(signer, chain_id=chain_id, nonce=nonce,
                                   to=recipients[(i + nonce) % len(recipients)], value=1_000 + nonce,
                                   max_fee_per_gas=max_fee, max_priority_fee_per_gas=tip)
            out.append((raw, keccak256(raw)))
    return out


def presign(senders: list, nonces: int, chain_id: int, base_fee: int, workers: int,
            threads: int, counts: list[int] | None = None) -> list[list[tuple[bytes, bytes]]]:
    """Signed transfers for wrk thread 0..threads-1: thread t gets the senders i with
    i % threads == t (or, with `counts`, the next `counts[t]` senders: unequal threads); its
    list is nonce-major (every sender's nonce 0, then every nonce 1...)."""
    recipients = [a.address for a in senders[:1000]] or [b"\x11" * 20]
    if counts is None:
        groups = [[a.private_key for a in senders[t::threads]] for t in range(threads)]
    else:
        bounds = [sum(counts[:t]) for t in range(threads + 1)]
        groups = [[a.private_key for a in senders[bounds[t]:bounds[t + 1]]]
                  for t in range(threads)]
    jobs = []
    for t, keys in enumerate(groups):
        step = max(1, -(-len(keys) // workers))
        for start in range(0, len(keys), step):
            jobs.append((t, (keys[start:start + step], recipients, nonces, chain_id, 2 * base_fee,
                             base_fee)))
    per_thread_chunks: list[list[list[tuple[bytes, bytes]]]] = [[] for _ in range(threads)]
    with concurrent.futures.ProcessPoolExecutor(max_workers=workers) as pool:
        for (t, _), result in zip(jobs, pool.map(_sign_chunk, [job for _, job in jobs])):
            per_thread_chunks[t].append(result)
    per_thread = []
    for chunks in per_thread_chunks:
        # merge the chunks nonce-major: chunk c holds len/nonces senders
        merged: list[tuple[bytes, bytes]] = []
        widths = [len(c) // nonces if nonces else 0 for c in chunks]
        for nonce in range(nonces):
            for c, width in zip(chunks, widths):
                merged.extend(c[nonce * width:(nonce + 1) * width])
        per_thread.append(merged)
    return per_thread


def write_bodies(prefix: Path, per_thread: list[list[tuple[bytes, bytes]]], api: str) -> None:
    for t, txs in enumerate(per_thread, start=1):
        with open(f"{prefix}.{t}", "w") as f:
            for raw, _ in txs:
                if api == "rpc":
                    f.write('{"jsonrpc":"2.0","id":1,"method":"eth_sendRawTransaction",'
                            f'"params":["0x{raw.hex()}"]}}\n')
                else:
                    f.write(f'{{"raw":"0x{raw.hex()}"}}\n')


CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of one process so far (/proc/<pid>/stat); 0 when gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def cpu_busy_fraction(seconds: float = 1.0) -> float:
    """Share of all CPUs not idle over `seconds` (/proc/stat): what else runs on the machine."""
    def sample() -> tuple[int, int]:
        with open("/proc/stat") as f:
            values = [int(v) for v in f.readline().split()[1:]]
        idle = values[3] + values[4]
        return sum(values), idle
    try:
        total0, idle0 = sample()
        time.sleep(seconds)
        total1, idle1 = sample()
    except OSError:
        return float("nan")
    return round(1 - (idle1 - idle0) / max(1, total1 - total0), 3)


def recovery_us(batches: int = 7, per_batch: int = 300) -> float:
    """Median time of one ECDSA public key recovery (coincurve, the nodes' fast path) on this
    machine: the figures scale with it. DESIGN.md section 10 measured 46 us; the figures in
    docs/performance.md came from machines at 29-54 us."""
    from coincurve import PrivateKey, PublicKey

    digest = keccak256(b"seqnet ingest bench")
    signature = PrivateKey(keccak256(b"key")).sign_recoverable(digest, hasher=None)
    times = []
    for _ in range(batches):
        started = time.perf_counter()
        for _ in range(per_batch):
            PublicKey.from_signature_and_message(signature, digest, hasher=None)
        times.append((time.perf_counter() - started) / per_batch * 1e6)
    return round(sorted(times)[len(times) // 2], 1)


# --- wrk -------------------------------------------------------------------------------------------

def run_wrk(url: str, *, bodies: Path, out: Path, path: str, threads: int, connections: int,
            duration_s: float, rate: float = 0, targets: list[str] | None = None,
            mode: str = "receipt", lua: Path = LUA, windows: Path | None = None) -> dict[str, Any]:
    env = dict(os.environ, SEQNET_WRK_BODIES=str(bodies), SEQNET_WRK_OUT=str(out),
               SEQNET_WRK_PATH=path, SEQNET_WRK_MODE=mode, SEQNET_WRK_THREADS=str(threads),
               SEQNET_WRK_RATE=str(rate), SEQNET_WRK_TARGETS=",".join(targets or []),
               SEQNET_WRK_WINDOWS=str(windows) if windows else "")
    argv = [WRK, f"-t{threads}", f"-c{connections}", f"-d{duration_s:g}s", "--timeout", "10s",
            "--latency", "-s", str(lua), url]
    started = time.time()
    proc = subprocess.run(argv, env=env, capture_output=True, text=True,
                          timeout=duration_s + 60)
    if proc.returncode != 0 or f"{lua.name}:" in proc.stderr:
        raise RuntimeError(f"wrk failed ({proc.returncode}): {proc.stderr[-1500:]}")
    match = re.search(r"^WRK_RESULT (.*)$", proc.stdout, re.M)
    if match is None:
        raise RuntimeError(f"wrk printed no result: {proc.stdout[-1500:]} {proc.stderr[-1500:]}")
    result = json.loads(match.group(1))
    result["command"] = " ".join(argv)
    result["started_unix"] = started
    result["wrk_stdout"] = proc.stdout.split("WRK_RESULT")[0].strip()
    oks: list[str] = []
    refusals: dict[str, int] = {}
    for t in range(1, threads + 1):
        try:
            lines = Path(f"{out}.{t}").read_text().splitlines()
        except FileNotFoundError:
            continue
        for line in lines:
            if line.startswith("OK "):
                oks.append(line[3:].split()[0])  # "OK <tx hash> <answer unix ms>"
            elif line.startswith("ERR "):
                reason = line[4:]
                refusals[reason] = refusals.get(reason, 0) + 1
    result["receipted_hashes"] = oks
    result["refusals"] = refusals
    return result


def summarize(result: dict[str, Any], offered: float | None) -> dict[str, Any]:
    seconds = result["duration_us"] / 1e6
    ok = len(result["receipted_hashes"]) if result.get("receipted_hashes") is not None else 0
    pct = result["latency_us"]["percentiles"]
    exhausted = any(t["sent"] >= t["bodies"] for t in result["threads"])
    return {
        "offered_tps": offered,
        "seconds": round(seconds, 2),
        "requests": result["requests"],
        "accepted": ok,
        "accepted_tps": round(ok / seconds, 1) if seconds else 0.0,
        "requests_per_s": round(result["requests"] / seconds, 1) if seconds else 0.0,
        "refused": sum(result["refusals"].values()),
        "refusals": result["refusals"],
        "socket_errors": result["errors"],
        "latency_ms": {"p50": pct["50"] / 1000, "p90": pct["90"] / 1000, "p99": pct["99"] / 1000,
                       "p99.9": pct["99.9"] / 1000, "max": result["latency_us"]["max"] / 1000,
                       "mean": round(result["latency_us"]["mean"] / 1000, 3)},
        "bodies_exhausted": exhausted,
        "threads": result["threads"],
        "command": result["command"],
        "wrk_output": result["wrk_stdout"],
    }


def cpu_per_tx(before: dict[str, float], after: dict[str, float], wrk_s: float,
               accepted: int) -> dict[str, Any]:
    """CPU spent per receipted transaction, by process: independent of what else runs on the
    machine, unlike tx/s. The projection assumes idle cores and no other cost: the devnet
    cannot go faster than `cpus / total CPU per tx`, nor than `1 / CPU per tx` of its busiest
    process (each node is one Python thread)."""
    spent = {name: round(after.get(name, 0) - before.get(name, 0), 3) for name in after}
    spent["wrk"] = round(wrk_s, 3)
    if not accepted:
        return {"cpu_s": spent}
    per_tx_us = {name: round(1e6 * value / accepted, 1) for name, value in spent.items()}
    total_us = sum(per_tx_us.values())
    busiest = max((n for n in per_tx_us if n != "wrk"), key=per_tx_us.get)
    cpus = os.cpu_count() or 1
    projected = min(cpus * 1e6 / total_us, 1e6 / per_tx_us[busiest]) if total_us else None
    return {"cpu_s": spent, "us_per_tx": per_tx_us, "total_us_per_tx": round(total_us, 1),
            "busiest": busiest,
            "projected_tps_idle_machine": round(projected) if projected else None}


# --- the intake leader (leader phases) -----------------------------------------------------------

def seal_margin_ms(slot_ms: int) -> int:
    """sequencer.core.producer.seal_margin_ms for a slot length: a leader seals this long
    before its slot ends, and new transactions go to the next slot's leader from then on."""
    return max(1, min(100, slot_ms // 10))


def intake_slot_at(now_ms: int, params: ChainParams) -> int:
    """The slot whose leader takes new transactions at wall-clock `now_ms`
    (sequencer.core.producer.intake_slot without a node): the current slot s, or s + 1 from
    `start(s + 1) - seal_margin` on; -1 before genesis."""
    if now_ms < params.genesis_time_ms:
        return -1
    slot = (now_ms - params.genesis_time_ms) // params.slot_ms
    if now_ms >= compute_slot_start_ms(slot + 1, params) - seal_margin_ms(params.slot_ms):
        return slot + 1
    return slot


def intake_window_ms(slot: int, params: ChainParams) -> tuple[int, int]:
    """[start, end) wall-clock ms during which `slot`'s leader is the intake leader."""
    margin = seal_margin_ms(params.slot_ms)
    return (compute_slot_start_ms(slot, params) - margin,
            compute_slot_start_ms(slot + 1, params) - margin)


class LeaderSchedule:
    """The leader of every slot, computed locally (protocol.schedule) from one sequencer set:
    the set of the epoch the bench fetched (`GET /schedule`), reused for every later epoch.
    The bench's devnet set does not change (no staking, no jailing), and every epoch's schedule
    is a pure function of (set, epoch), so this needs no epoch to be snapshotted on L1 yet;
    the bench checks it against the nodes' `GET /schedule?epoch=E` after each phase."""

    def __init__(self, members: tuple[Member, ...], params: ChainParams) -> None:
        self.members = tuple(members)
        self.params = params
        self._epochs: dict[int, tuple[bytes, ...]] = {}

    def epoch_leaders(self, epoch: int) -> tuple[bytes, ...]:
        leaders = self._epochs.get(epoch)
        if leaders is None:
            leaders = compute_schedule(SequencerSet(epoch=epoch, members=self.members),
                                       self.params)
            self._epochs[epoch] = leaders
        return leaders

    def leader(self, slot: int) -> bytes:
        epoch = compute_epoch(slot, self.params)
        return self.epoch_leaders(epoch)[slot - compute_epoch_start_slot(epoch, self.params)]


def intake_windows(start_ms: int, end_ms: int, params: ChainParams,
                   thread_of_slot) -> list[tuple[int, int, int]]:
    """(start, end, thread) for every intake window that overlaps [start_ms, end_ms), in time
    order, clipped to it, consecutive windows of one thread merged; `thread_of_slot(slot)` is
    the wrk thread (1-based) of the slot's leader. Slot 0 is the genesis block's (no intake)."""
    if end_ms <= start_ms:
        return []
    first = max(1, intake_slot_at(start_ms, params))
    last = intake_slot_at(end_ms - 1, params)
    windows: list[tuple[int, int, int]] = []
    for slot in range(first, last + 1):
        begin, end = intake_window_ms(slot, params)
        begin, end = max(begin, start_ms), min(end, end_ms)
        if end <= begin:
            continue
        thread = thread_of_slot(slot)
        if windows and windows[-1][2] == thread and windows[-1][1] == begin:
            windows[-1] = (windows[-1][0], end, thread)
        else:
            windows.append((begin, end, thread))
    return windows


def write_windows(path: Path, windows: list[tuple[int, int, int]]) -> None:
    """The windows file of bench/wrk/ingest.lua: "<start ms> <end ms> <thread>" a line."""
    path.write_text("".join(f"{a} {b} {t}\n" for a, b, t in windows))


def devnet_members(count: int = SEQUENCERS) -> tuple[Member, ...]:
    """The set the bench devnet should have in every epoch (stakes DEVNET_STAKES_TOKENS,
    node keys devnet_node_key(i)), sorted as L1 sorts it."""
    operators = devnet_operators(count)
    members = [Member(devnet_node_key(i).public, operators[i].address,
                      DEVNET_STAKES_TOKENS[i] * TOKEN) for i in range(count)]
    return compute_sequencer_set(0, members, devnet_params()).members


def max_lead_slots(leaders: tuple[bytes, ...], key: bytes, span: int) -> int:
    """The most slots `key` leads among any `span` consecutive slots, the epoch's schedule
    repeating (a fixed set gives every epoch the same schedule: priorities restart at 0)."""
    if not leaders or span <= 0:
        return 0
    cycles = -(-span // len(leaders)) + 1
    sequence = [leader == key for leader in leaders * cycles]
    return max(sum(sequence[i:i + span]) for i in range(len(leaders)))


def leader_bodies_per_thread(tps: float, duration_s: float, params: ChainParams,
                             members: tuple[Member, ...], keys: list[bytes]) -> list[int]:
    """Bodies each wrk thread (the sequencer with node key keys[t]) may send in a leader phase
    of `duration_s` at `tps`: a thread sends only in its node's intake windows, and a
    `duration_s` interval overlaps at most ceil(duration / slot) + 1 windows, of which the
    node leads at most `max_lead_slots`; plus 200. Bounds the pre-signing (the sum is about
    `tps x duration` for long phases, ~2x for 3 s ones) while no thread runs out if the set
    is the expected one."""
    span = -(-int(duration_s * 1000) // params.slot_ms) + 1
    leaders = compute_schedule(SequencerSet(epoch=0, members=members), params)
    out = []
    for key in keys:
        seconds = min(duration_s, max_lead_slots(leaders, key, span) * params.slot_ms / 1000)
        out.append(int(tps * seconds) + 200)
    return out


def check_schedule(schedule: LeaderSchedule, fetched: dict[int, list[dict]],
                   slots: range) -> dict[str, Any]:
    """Compare the locally computed leaders of `slots` with the nodes' `GET /schedule?epoch=E`
    answers (`fetched[E]` = its "schedule" list; empty when not snapshotted yet)."""
    known: dict[int, str] = {}
    for rows in fetched.values():
        for row in rows:
            known[int(row["slot"])] = row["leader"]
    checked = mismatched = 0
    for slot in slots:
        if slot in known:
            checked += 1
            if known[slot] != "0x" + schedule.leader(slot).hex():
                mismatched += 1
    return {"slots": len(slots), "checked": checked, "mismatched": mismatched}


# --- the devnet ------------------------------------------------------------------------------------

class BenchDevnet:
    def __init__(self, directory: Path, extra_accounts: int, lead_s: float,
                 slot_ms: int = 1000) -> None:
        self.directory = directory
        self.extra_accounts = extra_accounts
        self.procs = Processes(directory)
        names = ["l1"] + [f"seq{i + 1}" for i in range(SEQUENCERS)]
        self.ports = pick_ports(names)
        genesis = (int(time.time() * 1000) + int(lead_s * 1000) + 999) // 1000 * 1000
        self.params = devnet_params(genesis_time_ms=genesis, lookahead_slots=4, slot_ms=slot_ms)
        self.params_file = directory / "params.json"
        write_params_file(self.params_file, self.params)
        self.http = httpx.Client(timeout=30)

    def url(self, name: str) -> str:
        return f"http://{HOST}:{self.ports[name]}"

    @property
    def sequencers(self) -> list[str]:
        return [f"seq{i + 1}" for i in range(SEQUENCERS)]

    def start(self) -> None:
        common = ["--params-file", str(self.params_file), "--extra-accounts",
                  str(self.extra_accounts), "--log-level", "warning", "--host", HOST]
        self.procs.spawn("l1", [PYTHON, "-m", "l1mock", "--port", str(self.ports["l1"]),
                                "--data-dir", str(self.directory / "l1"), *common])
        wait_until(lambda: self.http.get(self.url("l1") + "/status").status_code == 200,
                   HEALTH_TIMEOUT_S, "the L1 mock", self.procs)
        operators = devnet_operators(SEQUENCERS)
        for i, name in enumerate(self.sequencers):
            self.procs.spawn(name, [
                PYTHON, "-m", "sequencer", "--port", str(self.ports[name]),
                "--data-dir", str(self.directory / name), "--l1-url", self.url("l1"),
                "--name", name, "--public-url", self.url(name),
                "--node-key-seed", devnet_node_key(i).seed.hex(),
                "--operator-key", operators[i].private_key.hex(),
                "--stake-tokens", str(DEVNET_STAKES_TOKENS[i]), *common])
        for name in self.sequencers:
            wait_until(lambda: self.http.get(self.url(name) + "/health").status_code == 200,
                       HEALTH_TIMEOUT_S, f"{name} healthy", self.procs)

    def status(self, name: str) -> dict:
        response = self.http.get(self.url(name) + "/status")
        response.raise_for_status()
        return response.json()

    def node_keys(self) -> dict[str, bytes]:
        """Each sequencer's node key, from its `GET /status`."""
        return {name: bytes.fromhex(self.status(name)["node_key"][2:]) for name in self.sequencers}

    def schedule(self, epoch: int | None = None, name: str = "seq1") -> dict:
        """`GET /schedule[?epoch=E]`: {"epoch", "members", "schedule": [{"slot", "leader"}]}."""
        params = {"epoch": epoch} if epoch is not None else {}
        response = self.http.get(self.url(name) + "/schedule", params=params)
        response.raise_for_status()
        return response.json()

    def leader_schedule(self) -> tuple[LeaderSchedule, int]:
        """The current epoch's set from `GET /schedule` (waiting until it is known), as a
        LeaderSchedule for every later epoch; and that epoch."""
        answer = wait_until(lambda: (lambda a: a if a["members"] else None)(self.schedule()),
                            30, "the current epoch's schedule", self.procs)
        members = tuple(Member(bytes.fromhex(m["node_key"][2:]), bytes.fromhex(m["operator"][2:]),
                               int(m["stake"])) for m in answer["members"])
        return LeaderSchedule(members, self.params), int(answer["epoch"])

    def wait_for_blocks(self, count: int, timeout_s: float) -> None:
        wait_until(lambda: all(self.status(n)["head"]["number"] >= count for n in self.sequencers),
                   timeout_s, f"block {count} on every sequencer", self.procs, interval_s=0.5)

    def counters(self) -> dict[str, dict[str, float]]:
        wanted = ("seqnet_sequencer_receipts_total", "seqnet_sequencer_forwarded_total",
                  "seqnet_sequencer_blocks_produced_total", "seqnet_sequencer_slots_skipped_total")
        out = {}
        for name in self.sequencers:
            try:
                text = self.http.get(self.url(name) + "/metrics").text
            except httpx.HTTPError:
                out[name] = {}  # a node too busy to answer: its counters are missing
                continue
            values = {}
            for line in text.splitlines():
                for metric in wanted:
                    if line.startswith(metric + " "):
                        values[metric.removeprefix("seqnet_sequencer_").removesuffix("_total")] = \
                            float(line.split()[1])
            out[name] = values
        return out

    def canonical_tx_hashes(self, name: str) -> tuple[set[bytes], int, bytes, dict[int, int]]:
        """Tx hashes in `name`'s canonical chain, its head number and hash, txs per block."""
        hashes: set[bytes] = set()
        per_block: dict[int, int] = {}
        start = 1
        head_number, head_hash = 0, b""
        while True:
            response = self.http.get(self.url(name) + "/blocks",
                                     params={"from": start, "limit": 512, "raw": "true"})
            response.raise_for_status()
            blocks = response.json()
            if not blocks:
                break
            for view in blocks:
                block = decode_block(bytes.fromhex(view["raw"][2:]))
                per_block[block.header.number] = len(block.transactions)
                for raw in block.transactions:
                    hashes.add(keccak256(raw))
                head_number, head_hash = block.header.number, block.hash
            start = blocks[-1]["number"] + 1
            if len(blocks) < 511:
                break
        return hashes, head_number, head_hash, per_block

    def block_hash_at(self, name: str, number: int) -> str:
        response = self.http.get(self.url(name) + f"/blocks/{number}", params={"raw": "false"})
        response.raise_for_status()
        return response.json()["hash"]

    def stop(self) -> None:
        self.procs.stop()
        self.http.close()


def check_inclusion(net: BenchDevnet, receipted: set[bytes]) -> dict[str, Any]:
    """Wait until the mempools drain, then count receipted transactions in every node's chain."""
    def drained():
        return all(net.status(n)["mempool"] == 0 for n in net.sequencers)
    started = time.monotonic()
    try:
        wait_until(drained, SETTLE_TIMEOUT_S, "empty mempools", net.procs, interval_s=0.5)
        drained_after = round(time.monotonic() - started, 1)
    except TimeoutError:
        drained_after = None
    # two more slots, so every node has the last blocks
    time.sleep(2.5 * net.params.slot_ms / 1000)
    nodes = {}
    heads = {}
    for name in net.sequencers:
        hashes, number, head_hash, per_block = net.canonical_tx_hashes(name)
        missing = receipted - hashes
        heads[name] = number
        nodes[name] = {"head": number, "head_hash": "0x" + head_hash.hex(),
                       "txs_in_chain": len(hashes), "receipted_included": len(receipted & hashes),
                       "receipted_missing": len(missing),
                       "max_block_txs": max(per_block.values(), default=0),
                       "mempool": net.status(name)["mempool"]}
    common = min(heads.values()) - 1  # the newest block may still be on its way
    agreeing = False
    for _ in range(5):
        agreeing = len({net.block_hash_at(n, common) for n in net.sequencers}) == 1
        if agreeing:
            break
        time.sleep(net.params.slot_ms / 1000)
    return {"receipted": len(receipted), "mempools_drained_after_s": drained_after,
            "nodes": nodes, "common_head": common, "nodes_agree_at_common_head": agreeing,
            "lost": max(n["receipted_missing"] for n in nodes.values())}


# --- phases ----------------------------------------------------------------------------------------

def run_baseline(work: Path, procs: Processes, duration_s: float, connections: int,
                 threads: int) -> dict[str, Any]:
    script = work / "baseline_app.py"
    script.write_text(BASELINE_APP)
    port = pick_ports(["baseline"])["baseline"]
    procs.spawn("baseline", [PYTHON, str(script), str(port)])
    url = f"http://{HOST}:{port}"
    with httpx.Client(timeout=5) as client:
        wait_until(lambda: client.get(url + "/health").status_code == 200, 30, "baseline", procs)
    body = '{"raw":"0x' + "ab" * 110 + '"}\n'
    count = int(duration_s * 20_000 / threads) + 1
    for t in range(1, threads + 1):
        Path(f"{work}/baseline_bodies.{t}").write_text(body * count)
    result = run_wrk(url, bodies=work / "baseline_bodies", out=work / "baseline_out", path="/txs",
                     threads=threads, connections=connections, duration_s=duration_s,
                     mode="any2xx")
    procs.stop("baseline")
    seconds = result["duration_us"] / 1e6
    pct = result["latency_us"]["percentiles"]
    ok = sum(t["ok"] for t in result["threads"])
    return {"requests_per_s": round(ok / seconds, 1), "requests": result["requests"],
            "latency_ms": {"p50": pct["50"] / 1000, "p99": pct["99"] / 1000},
            "command": result["command"]}


@dataclass
class Phase:
    name: str
    rate: float
    spread: bool
    connections: int
    leader: bool = False
    """Each request to the intake leader: one wrk thread per sequencer, `connections` each."""


def write_result(report: dict[str, Any], out: Path | None) -> None:
    """The result as indented JSON at `out` (nothing when None)."""
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=2) + "\n")
        print(f"wrote {out}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 s phases, for smoke checks")
    parser.add_argument("--duration", type=float, default=None, help="seconds per phase (20)")
    parser.add_argument("--rate", type=float, default=1000.0, help="offered tx/s of paced phases")
    parser.add_argument("--api", choices=("txs", "rpc"), default="txs",
                        help="POST /txs or JSON-RPC eth_sendRawTransaction")
    parser.add_argument("--phases", default="paced-one,full-one,full-spread,full-leader,"
                        "paced-leader", help="comma list of paced-one, paced-spread, full-one, "
                        "full-spread, full-leader, paced-leader")
    parser.add_argument("--nonces-per-sender", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads of one-node phases")
    parser.add_argument("--connections", type=int, default=32, help="full-speed connections")
    parser.add_argument("--paced-connections", type=int, default=64)
    parser.add_argument("--signers", type=int, default=max(2, os.cpu_count() or 2))
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--json", type=Path, default=None, help="result file "
                        "(default bench/results/ingest-<date>.json; --quick: none)")
    parser.add_argument("--keep", type=Path, default=None,
                        help="keep logs and databases in this directory")
    args = parser.parse_args(argv)
    duration = args.duration or (3.0 if args.quick else 20.0)
    phase_defs = {
        "paced-one": Phase("paced-one", args.rate, False, args.paced_connections),
        "paced-spread": Phase("paced-spread", args.rate, True, args.paced_connections),
        "full-one": Phase("full-one", 0, False, args.connections),
        "full-spread": Phase("full-spread", 0, True, args.connections),
        "full-leader": Phase("full-leader", 0, False, args.connections, leader=True),
        "paced-leader": Phase("paced-leader", args.rate, False, args.paced_connections,
                              leader=True),
    }
    names = [name.strip() for name in args.phases.split(",") if name.strip()]
    unknown = [name for name in names if name not in phase_defs]
    if unknown:
        parser.error(f"unknown phase(s) {', '.join(unknown)}; known: {', '.join(phase_defs)}")
    phases = [phase_defs[name] for name in names]
    if not Path(WRK).exists():
        print("wrk not found: apt-get install wrk", file=sys.stderr)
        return 2

    # bodies: one disjoint slice of senders per phase
    budgets = []
    nonces = args.nonces_per_sender
    # leader phases: thread t sends to seq(t+1), only while it is the intake leader; sized
    # from the devnet's expected schedule (checked against the nodes' when the phase runs)
    expected_members = devnet_members()
    seq_keys = [devnet_node_key(i).public for i in range(SEQUENCERS)]
    thread_counts: list[list[int] | None] = []
    for phase in phases:
        tps = phase.rate * 1.2 if phase.rate else FULL_SPEED_CAP_TPS
        if phase.leader:
            per_thread = leader_bodies_per_thread(tps, duration, devnet_params(),
                                                  expected_members, seq_keys)
            thread_counts.append([-(-b // nonces) for b in per_thread])
            budgets.append(sum(per_thread))
        else:
            thread_counts.append(None)
            budgets.append(int(tps * duration) + 200)
    sender_counts = [sum(c) if c else -(-b // nonces) for b, c in zip(budgets, thread_counts)]
    extra_accounts = sum(sender_counts)

    work = Path(args.keep).resolve() if args.keep else Path(tempfile.mkdtemp(prefix="ingest-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    procs = Processes(work)
    report: dict[str, Any] = {
        "bench": "ingest", "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "platform": platform.platform()},
        "settings": {"duration_s": duration, "api": args.api, "rate": args.rate,
                     "nonces_per_sender": nonces, "extra_accounts": extra_accounts,
                     "sequencers": SEQUENCERS, "rangers": 0, "quick": args.quick},
        "command": " ".join([".venv/bin/python", "bench/ingest_bench.py", *(argv or sys.argv[1:])]),
        "targets": {"receipted_tps": 3000, "p99_ms_at_1000_tps": 25},
    }
    net = None
    failed: BaseException | None = None
    try:
        busy = cpu_busy_fraction()
        report["machine"]["cpu_busy_at_start"] = busy
        if busy > 0.25:
            print(f"warning: the machine is {100 * busy:.0f}% busy before the bench starts "
                  f"(load average {os.getloadavg()[0]:.1f}): figures will be low", flush=True)
        recover = report["machine"]["ecdsa_recovery_us"] = recovery_us()
        print(f"machine: one ECDSA recovery takes {recover:.1f} us (DESIGN.md section 10: 46 us; "
              f"the figures scale with it)", flush=True)
        if not args.no_baseline:
            print(f"baseline: trivial FastAPI JSON POST, {duration:g} s ...", flush=True)
            report["baseline"] = run_baseline(work, procs, duration, args.connections, args.threads)
            print(f"  {report['baseline']['requests_per_s']:,.0f} req/s, "
                  f"p50 {report['baseline']['latency_ms']['p50']:.2f} ms, "
                  f"p99 {report['baseline']['latency_ms']['p99']:.2f} ms", flush=True)

        # pre-sign first: signing competes for the CPU with the nodes, and the chain id and
        # base fee are the params' (devnet_params) whatever the genesis time
        chain_params = devnet_params()
        started = time.perf_counter()
        senders = generated_accounts(extra_accounts)
        accounts_s = time.perf_counter() - started
        per_phase_tx: list[list[list[tuple[bytes, bytes]]]] = []
        offset = 0
        for phase, count, counts in zip(phases, sender_counts, thread_counts):
            threads = SEQUENCERS if phase.spread or phase.leader else args.threads
            per_phase_tx.append(presign(senders[offset:offset + count], nonces,
                                        chain_params.chain_id, chain_params.base_fee_wei,
                                        args.signers, threads, counts))
            offset += count
        total = sum(len(t) for p in per_phase_tx for t in p)
        sign_s = time.perf_counter() - started
        print(f"pre-signed {total:,} transfers from {extra_accounts:,} accounts in {sign_s:.1f} s "
              f"({args.signers} processes)", flush=True)
        report["settings"]["presign_s"] = round(sign_s, 1)

        busy = cpu_busy_fraction()
        report["machine"]["cpu_busy_before_devnet"] = busy
        print(f"devnet: L1 + {SEQUENCERS} sequencers, {extra_accounts:,} funded accounts "
              f"(CPU busy before: {100 * busy:.0f}%) ...", flush=True)
        net = BenchDevnet(work, extra_accounts, GENESIS_LEAD_S + 4 * accounts_s)
        net.start()
        net.wait_for_blocks(2, GENESIS_LEAD_S + 4 * accounts_s + 2 * net.params.epoch_slots)
        print("  blocks are being produced", flush=True)

        path = "/rpc" if args.api == "rpc" else "/txs"
        report["phases"] = {}
        all_receipted: set[bytes] = set()
        leaders: LeaderSchedule | None = None
        for phase, txs in zip(phases, per_phase_tx):
            threads = len(txs)
            prefix = work / f"{phase.name}_bodies"
            write_bodies(prefix, txs, args.api)
            connections = phase.connections
            windows_file = None
            if phase.leader:
                if leaders is None:
                    leaders, set_epoch = net.leader_schedule()
                    thread_of_key = {key: i + 1 for i, key in
                                     enumerate(net.node_keys()[n] for n in net.sequencers)}
                    report["leader_schedule"] = {
                        "source": f"epoch {set_epoch}'s set from GET /schedule, every later "
                                  "epoch's schedule computed locally (protocol.schedule)",
                        "set_as_expected": leaders.members == expected_members}
                    if leaders.members != expected_members:
                        print("  warning: the devnet's set is not the expected one: body files "
                              "were sized for another schedule (a thread may run out)", flush=True)
                now = int(time.time() * 1000)
                windows = intake_windows(now, now + int((duration + WINDOWS_MARGIN_S) * 1000),
                                         net.params,
                                         lambda slot: thread_of_key[leaders.leader(slot)])
                windows_file = work / f"{phase.name}_windows"
                write_windows(windows_file, windows)
                connections = phase.connections * threads  # wrk splits them over the threads
            before = net.counters()
            cpu_before, wrk_before = net.procs.cpu_s(), children_cpu_s()
            targets = [f"{HOST}:{net.ports[n]}" for n in net.sequencers] \
                if phase.spread or phase.leader else None
            what = f"{phase.rate:g} tx/s offered" if phase.rate else "full speed"
            where = "spread over the 4 sequencers" if phase.spread else "all at seq1"
            if phase.leader:
                where = f"each to the intake leader ({connections // threads} connections per node)"
            print(f"{phase.name}: {what}, {where}, {duration:g} s ...", flush=True)
            result = run_wrk(net.url("seq1"), bodies=prefix, out=work / f"{phase.name}_out",
                             path=path, threads=threads, connections=connections,
                             duration_s=duration, rate=phase.rate, targets=targets,
                             windows=windows_file)
            cpu_after, wrk_after = net.procs.cpu_s(), children_cpu_s()
            after = net.counters()
            summary = summarize(result, phase.rate or None)
            if phase.leader:
                ended = int(time.time() * 1000)
                covered = range(max(1, intake_slot_at(now, net.params)),
                                intake_slot_at(ended, net.params) + 1)
                fetched = {}
                for epoch in sorted({compute_epoch(s, net.params) for s in covered}):
                    try:
                        fetched[epoch] = net.schedule(epoch)["schedule"]
                    except httpx.HTTPError:
                        fetched[epoch] = []
                summary["leader_windows"] = {
                    "windows": len([w for w in windows if w[0] < ended]),
                    "connections_per_thread": connections // threads,
                    "schedule_check": check_schedule(leaders, fetched, covered)}
            summary["cpu"] = cpu_per_tx(cpu_before, cpu_after, wrk_after - wrk_before,
                                        summary["accepted"])
            receipts = sum(after[n].get("receipts", 0) - before[n].get("receipts", 0)
                           for n in net.sequencers)
            forwarded = sum(after[n].get("forwarded", 0) - before[n].get("forwarded", 0)
                            for n in net.sequencers)
            summary["receipts_signed"] = receipts
            summary["forwarded"] = forwarded
            summary["forwarded_fraction"] = round(forwarded / summary["accepted"], 3) \
                if summary["accepted"] else None
            summary["blocks_produced"] = sum(after[n].get("blocks_produced", 0)
                                             - before[n].get("blocks_produced", 0)
                                             for n in net.sequencers)
            summary["slots_skipped"] = sum(after[n].get("slots_skipped", 0)
                                           - before[n].get("slots_skipped", 0)
                                           for n in net.sequencers)
            report["phases"][phase.name] = summary
            all_receipted.update(bytes.fromhex(h[2:]) for h in result["receipted_hashes"])
            summary["load_average_after"] = round(os.getloadavg()[0], 2)
            lat = summary["latency_ms"]
            if "us_per_tx" in summary["cpu"]:
                c = summary["cpu"]
                print(f"  CPU per receipted tx: {c['total_us_per_tx']:.0f} us in all "
                      f"({', '.join(f'{n} {v:.0f}' for n, v in c['us_per_tx'].items())}); "
                      f"projected on idle cores: {c['projected_tps_idle_machine']:,} tx/s",
                      flush=True)
            print(f"  {summary['accepted_tps']:,.0f} tx/s receipted ({summary['accepted']:,} of "
                  f"{summary['requests']:,} requests, {summary['refused']} refused), p50 "
                  f"{lat['p50']:.1f} ms, p99 {lat['p99']:.1f} ms, max {lat['max']:.0f} ms; "
                  f"{summary['forwarded']:.0f} forwarded", flush=True)
            if phase.leader:
                check = summary["leader_windows"]["schedule_check"]
                print(f"  forwarded fraction {summary['forwarded_fraction']}; sent per node "
                      f"{[t['sent'] for t in summary['threads']]} of "
                      f"{[t['bodies'] for t in summary['threads']]} bodies; schedule: "
                      f"{check['checked']} of {check['slots']} slots checked against the nodes', "
                      f"{check['mismatched']} differ", flush=True)
            if summary["bodies_exhausted"]:
                print("  warning: a wrk thread ran out of bodies (the phase ended early for it)",
                      flush=True)
            if summary["refusals"]:
                print(f"  refusals: {summary['refusals']}", flush=True)
            net.procs.check_alive()
            time.sleep(2 * net.params.slot_ms / 1000)

        print("inclusion: waiting for the chain to take up every receipted transaction ...",
              flush=True)
        report["inclusion"] = check_inclusion(net, all_receipted)
        inc = report["inclusion"]
        print(f"  {len(all_receipted):,} receipted; missing per node "
              f"{ {n: v['receipted_missing'] for n, v in inc['nodes'].items()} }; nodes agree at "
              f"block {inc['common_head']}: {inc['nodes_agree_at_common_head']}", flush=True)
    except BaseException as error:  # noqa: BLE001 - recorded in the JSON, then re-raised
        failed = error
        report["failed"] = f"{type(error).__name__}: {error}"
    finally:
        if net is not None:
            net.stop()
        procs.stop()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)

    out = args.json
    if out is None and not args.quick:
        out = ROOT / "bench" / "results" / f"ingest-{time.strftime('%Y%m%d-%H%M%S')}.json"
    write_result(report, out)
    if failed is not None:
        raise failed
    return 0


if __name__ == "__main__":
    sys.exit(main())
