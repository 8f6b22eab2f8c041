"""The chaos harness (issue #7): a real devnet (client/devnet.py: the L1 mock, 4 sequencers and
a ranger, each a process on a free 127.0.0.1 port) under a steady, bounded load of signed
transfers while sequencers are killed with SIGKILL and restarted (the current leader
included), the ranger is stopped and restarted and the L1 mock is killed and restarted.
When the load has stopped and the chain has settled, the invariants:

1. receipts: every transaction that got a leader's receipt (POST /txs, or
   eth_sendRawTransaction then seq_getReceipt) is on every live node's canonical chain
   exactly once, no transaction is on it twice, and a block of the receipt's leader for the
   receipt's slot starts with the promised prefix (DESIGN.md section 5);
2. finality: every node has L1's finalized head (the same hash at the same number) and the
   same chain below it, all labelled finalized;
3. balances, at that head on every node: the sum over all accounts (the genesis accounts and
   every address a block touched) = genesis supply + deposits - withdrawals. Fees move from
   the senders to the producers' fee recipients (protocol/transition.py `_execute`), so they
   cancel out of the sum; each fee recipient holds exactly the fees of its blocks and each
   sender's nonce counts its transactions;
4. liveness (DESIGN.md section 4: a leader that is down costs its slot): no two consecutive
   canonical blocks are more than two slots apart unless every empty slot between them
   belonged to a leader that was down (killed, or restarted and not caught up yet: a node
   may lead two slots in a row), fell in an L1 outage, or fell in a stall of the whole
   machine (`Probe`); and the network head (the highest head of the live sequencers,
   sampled every `sample_ms`) never stands still longer than the slots it spans allow, plus
   the sampler's period. Every excuse is counted in the figures;
5. nobody is slashed or accused: every node is honest.

Deadlines everywhere, no fixed sleeps for conditions: the 2 cores of this machine are shared
with other test runs. tests/chaos/test_chaos.py runs a short and a long plan; bench/chaos.py
runs the long one with configurable kills and duration and writes bench/results/chaos.json.
"""

from __future__ import annotations

import json
import random
import signal
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import httpx

from protocol.accounts import dev_accounts
from protocol.constants import BRIDGE_ADDRESS, TOKEN, ZERO_HASH
from protocol.encoding import decode_block
from protocol.genesis import make_devnet_genesis
from protocol.hashing import compute_prefix_hash, keccak256
from protocol.receipts import receipt_from_json, verify_receipt
from protocol.transactions import compute_fee, decode_transaction, sign_transaction
from tests import waiting

HEALTH_TIMEOUT_S = 180.0
"""Starting a Python service takes seconds on an idle machine, a minute or more when other
devnets share the 2 cores: deadlines are generous."""
GENESIS_LEAD_MS = 8_000
USERS = tuple(dev_accounts(10)[:5])
"""Senders: dev accounts 0-4 (5 operates ranger1, 6-9 operate seq4..seq1)."""
FRESH = tuple(keccak256(b"seqnet chaos recipient %d" % i)[:20] for i in range(3))
"""Recipients that do not exist at genesis (the load creates them)."""
DEPOSITOR = dev_accounts(10)[3]
"""Signs the L1 deposits (its L1 balance; its L2 account is one of the senders)."""
MACHINE_STALL_MS = 250
"""A slot in which the machine stalled this long (see `Probe`) may be empty without blame."""
QUIET_ERRORS = ("NonceTooHigh", "NotLeader", "NoLeader", "NodeUnavailable")
"""Refusals that mean "not now" under chaos; the same transaction is sent again later."""


def hx(data: bytes) -> str:
    return "0x" + data.hex()


class Timeout(AssertionError):
    pass


def wait_for(what: str, check: Callable[[], Any], timeout_s: float,
             interval_s: float = 0.2) -> Any:
    """tests.waiting.wait_for, raising Timeout (the scenario tells a timeout from a bug)."""
    return waiting.wait_for(what, check, timeout_s, interval_s, error=Timeout)


@dataclass
class ChaosPlan:
    """What a run does. The defaults are the long scenario."""

    kills: int = 8
    """SIGKILLs of a sequencer, each followed by a restart on the same database."""
    leader_kills: int = 4
    """How many of them hit the leader of the current slot (the first one always does)."""
    steady_slots: int = 4
    """Slots of normal operation between a restarted node catching up and the next kill."""
    down_slots: tuple[int, int] = (0, 4)
    """A killed sequencer stays down for this many slots (random in the range; 0: restarted
    at once)."""
    kill_phase: tuple[float, float] = (0.02, 0.98)
    """When in the slot a kill falls (fraction of the slot, random in the range)."""
    restart_ranger: bool = True
    """Stop (SIGTERM) and restart ranger1 midway."""
    restart_l1: bool = True
    """Kill (SIGKILL) and restart the L1 mock midway."""
    l1_down_slots: int = 3
    rate_tps: float = 12.0
    """Offered load (transactions per second over all senders)."""
    max_txs: int = 20_000
    max_load_s: float = 900.0
    """The load stops at the end of the plan, or after this many transactions or seconds."""
    deposits_every_s: float = 8.0
    """An L1 deposit this often (0: none)."""
    withdrawal_every: int = 15
    """Every n-th transaction goes to the bridge (a withdrawal burns its value)."""
    sample_ms: int = 100
    settle_timeout_s: float = 240.0
    seed: int = 7
    slot_ms: int = 1000
    log_level: str = "info"
    """Of every service (debug: the sequencers log every slot they lead and block they see)."""

    def to_json(self) -> dict:
        return asdict(self)


SHORT_PLAN = ChaosPlan(kills=2, leader_kills=2, steady_slots=3, down_slots=(2, 2),
                       restart_ranger=False, restart_l1=False, rate_tps=6.0, max_txs=2_000,
                       max_load_s=150.0, deposits_every_s=0, settle_timeout_s=120.0)
"""Two SIGKILL/restart cycles, both of the current leader, under a modest load: the CI run."""


# --- the network -------------------------------------------------------------------------

class Live:
    """The sequencers that run and serve (the load and the sampler use only these)."""

    def __init__(self, urls: dict[str, str]) -> None:
        self.urls = dict(urls)
        self.up = set(urls)
        self.lock = threading.Lock()

    def names(self) -> list[str]:
        with self.lock:
            return sorted(self.up)

    def mark_down(self, name: str) -> None:
        with self.lock:
            self.up.discard(name)

    def mark_up(self, name: str) -> None:
        with self.lock:
            self.up.add(name)


@dataclass
class Event:
    kind: str
    """kill, restart, caught_up, ranger_stop, ranger_up, l1_down, l1_up."""
    name: str
    at_s: float
    """Seconds since the devnet came up (monotonic)."""
    slot: int
    detail: dict = field(default_factory=dict)


# --- the load ------------------------------------------------------------------------------

@dataclass
class Sent:
    tx_hash: bytes
    sender: bytes
    nonce: int
    to: bytes
    value: int
    raw: bytes
    attempts: int = 0
    receipt: dict | None = None
    outcome: str = "pending"
    """pending (no answer yet) | receipted | sequenced (NonceTooLow on a resend: it got a
    receipt this client never saw) | unanswered (gave up at the end of the load)."""
    via: str = ""
    latency_ms: float = 0.0
    history: list = field(default_factory=list)
    """(wall-clock s, node, "rest" | "rpc", outcome) of every attempt."""


class Load:
    """A bounded background sender: one thread, paced at `rate_tps`, round robin over the
    senders. Each sender has at most one transaction in flight: it is sent again (to another
    live sequencer) until a sequencer answers with a receipt, so a sender's nonces never gap.
    Receipts are handed to the ranger, in batches, whenever it is up."""

    def __init__(self, harness: "Chaos") -> None:
        self.h = harness
        plan = harness.plan
        self.rng = random.Random(plan.seed)
        self.stop_event = threading.Event()
        self.sent: list[Sent] = []
        self.pending: dict[bytes, Sent | None] = {u.address: None for u in USERS}
        self.nonces: dict[bytes, int] = {u.address: 0 for u in USERS}
        self.keys = {u.address: u.private_key for u in USERS}
        self.errors: dict[str, int] = {}
        self.unexpected: list[str] = []
        self.deposits: list[int] = []
        self.deposit_failures = 0
        self.backlog: list[dict] = []
        self.receipts_handed = 0
        self.thread = threading.Thread(target=self._run, name="chaos-load", daemon=True)
        self.started_s = self.started_wall = 0.0
        self.stopped_s = 0.0
        self.crash: BaseException | None = None

    def start(self) -> None:
        self.started_s = time.monotonic()
        self.started_wall = time.time()
        self.thread.start()

    def stop(self, drain_s: float = 60.0) -> None:
        """Stop creating transactions; finish the ones in flight (bounded), then return."""
        self.stop_event.set()
        self.thread.join(drain_s + 30)
        if self.thread.is_alive():
            raise AssertionError("the load thread did not stop")
        if self.crash is not None:
            raise AssertionError(f"the load thread crashed: {self.crash!r}") from self.crash

    @property
    def receipted(self) -> list[Sent]:
        return [s for s in self.sent if s.outcome == "receipted"]

    def _run(self) -> None:
        try:
            self._loop()
        except BaseException as error:  # noqa: BLE001 - reported by stop()
            self.crash = error
        finally:
            self.stopped_s = time.monotonic()

    def _loop(self) -> None:
        plan = self.h.plan
        client = httpx.Client(timeout=httpx.Timeout(10.0, connect=2.0))
        interval = 1.0 / plan.rate_tps
        next_at = time.monotonic()
        next_deposit = time.monotonic() + plan.deposits_every_s
        deadline = self.started_s + plan.max_load_s
        drain_deadline = None
        order = list(self.pending)
        turn = 0
        try:
            while True:
                now = time.monotonic()
                stopping = self.stop_event.is_set() or now >= deadline or \
                    len(self.sent) >= plan.max_txs
                if stopping:
                    if drain_deadline is None:
                        drain_deadline = now + 60.0
                    if not any(self.pending.values()) or now >= drain_deadline:
                        break
                if plan.deposits_every_s and not stopping and now >= next_deposit:
                    next_deposit = now + plan.deposits_every_s
                    self._deposit(client)
                sender = order[turn % len(order)]
                turn += 1
                if self.pending[sender] is None:
                    if stopping:
                        continue
                    self.pending[sender] = self._new_tx(sender)
                self._send(client, self.pending[sender])
                if self.pending[sender].outcome in ("receipted", "sequenced"):
                    self.pending[sender] = None
                    self.nonces[sender] += 1
                if len(self.backlog) >= 20 or (stopping and self.backlog):
                    self._hand_receipts(client)
                next_at = max(next_at + interval, time.monotonic() - 1.0)
                delay = next_at - time.monotonic()
                if delay > 0 and stopping:
                    time.sleep(min(delay, 0.05))
                elif delay > 0:
                    self.stop_event.wait(delay)
            for sent in self.pending.values():
                if sent is not None:
                    sent.outcome = "unanswered"
            self._hand_receipts(client)
        finally:
            client.close()

    def _new_tx(self, sender: bytes) -> Sent:
        plan = self.h.plan
        index = len(self.sent)
        if plan.withdrawal_every and index % plan.withdrawal_every == plan.withdrawal_every - 1:
            to = BRIDGE_ADDRESS
        else:
            choices = [u.address for u in USERS if u.address != sender] + list(FRESH)
            to = self.rng.choice(choices)
        value = self.rng.randint(1, 1000) * 10**12
        params = self.h.params
        raw = sign_transaction(self.keys[sender], chain_id=params.chain_id,
                               nonce=self.nonces[sender], to=to, value=value,
                               max_fee_per_gas=2 * params.base_fee_wei,
                               max_priority_fee_per_gas=params.base_fee_wei)
        sent = Sent(keccak256(raw), sender, self.nonces[sender], to, value, raw)
        self.sent.append(sent)
        return sent

    def _send(self, client: httpx.Client, sent: Sent) -> None:
        """One round: try up to 3 live sequencers; a receipt or NonceTooLow settles it.
        Every third attempt goes through JSON-RPC (eth_sendRawTransaction, then
        seq_getReceipt on the same node), the others through POST /txs."""
        names = self.h.live.names()
        self.rng.shuffle(names)
        for name in names[:3]:
            sent.attempts += 1
            started, started_wall = time.monotonic(), time.time()
            url = self.h.live.urls[name]
            path = "rpc" if sent.attempts % 3 == 0 else "rest"
            try:
                if path == "rpc":
                    outcome, receipt, text = self._send_rpc(client, url, sent)
                else:
                    outcome, receipt, text = self._send_rest(client, url, sent)
            except httpx.HTTPError as error:
                self._count(type(error).__name__)
                sent.history.append((round(started_wall, 3), name, path, type(error).__name__))
                continue
            sent.history.append((round(started_wall, 3), name, path, outcome))
            if outcome != "receipt":
                self._count(outcome)
            if outcome == "receipt":
                self._check_receipt(sent, receipt)
                sent.receipt, sent.outcome, sent.via = receipt, "receipted", name
                sent.latency_ms = (time.monotonic() - started) * 1000
                self.backlog.append(receipt)
                return
            if outcome == "NonceTooLow" and sent.attempts > 1:
                sent.outcome, sent.via = "sequenced", name
                return
            if outcome in QUIET_ERRORS or outcome.startswith("5"):
                continue
            self.unexpected.append(f"{name} refused 0x{sent.tx_hash.hex()[:16]} (nonce "
                                   f"{sent.nonce}): {outcome} {text[:200]}; attempts (wall s, "
                                   f"node, path, outcome): {sent.history}")
            return
        time.sleep(0.05)

    @staticmethod
    def _send_rest(client: httpx.Client, url: str, sent: Sent) -> tuple[str, Any, str]:
        response = client.post(url + "/txs", json={"raw": hx(sent.raw)})
        if response.status_code == 200:
            return "receipt", response.json().get("receipt"), ""
        try:
            name = response.json().get("error") or str(response.status_code)
        except ValueError:
            name = str(response.status_code)
        if response.status_code >= 500 and name not in QUIET_ERRORS:
            name = f"{response.status_code} {name}"
        return name, None, response.text

    @staticmethod
    def _send_rpc(client: httpx.Client, url: str, sent: Sent) -> tuple[str, Any, str]:
        def call(method: str, param: str) -> dict:
            response = client.post(url + "/rpc", json={"jsonrpc": "2.0", "id": 1,
                                                       "method": method, "params": [param]})
            if response.status_code != 200:
                return {"error": {"code": response.status_code, "message": response.text}}
            return response.json()

        answer = call("eth_sendRawTransaction", hx(sent.raw))
        if "error" in answer:
            message = str(answer["error"].get("message", ""))
            for prefix, name in (("nonce too low", "NonceTooLow"),
                                 ("nonce too high", "NonceTooHigh"),
                                 *((n, n) for n in QUIET_ERRORS),
                                 ("TemporaryError", "503 TemporaryError")):
                if message.startswith(prefix):
                    return name, None, message
            return "rpc error", None, message
        if answer.get("result") != hx(sent.tx_hash):
            return "rpc wrong hash", None, str(answer)
        receipt = call("seq_getReceipt", hx(sent.tx_hash)).get("result")
        if not receipt:
            return "rpc no receipt", None, "eth_sendRawTransaction answered but seq_getReceipt has none"
        return "receipt", receipt, ""

    def _check_receipt(self, sent: Sent, receipt: Any) -> None:
        try:
            parsed = receipt_from_json(receipt)
        except Exception as error:  # noqa: BLE001 - InvalidReceipt
            self.unexpected.append(f"malformed receipt for 0x{sent.tx_hash.hex()}: {error}")
            return
        if parsed.tx_hash != sent.tx_hash or not verify_receipt(parsed, self.h.params.chain_id):
            self.unexpected.append(f"receipt for 0x{sent.tx_hash.hex()} does not verify: {receipt}")

    def _count(self, name: str) -> None:
        self.errors[name] = self.errors.get(name, 0) + 1

    def _hand_receipts(self, client: httpx.Client) -> None:
        if not self.backlog or not self.h.ranger_up.is_set():
            return
        try:
            response = client.post(self.h.net.url("ranger1") + "/receipts",
                                   json={"receipts": self.backlog[:1000]}, timeout=10.0)
        except httpx.HTTPError:
            return
        if response.status_code == 200:
            self.receipts_handed += len(self.backlog[:1000])
            del self.backlog[:1000]

    def _deposit(self, client: httpx.Client) -> None:
        from protocol.l1calls import encode_l1_call, sign_l1_call

        amount = self.rng.randint(1, 100) * 10**15
        to = self.rng.choice([u.address for u in USERS] + list(FRESH))
        l1 = self.h.net.url("l1")
        try:
            nonce = client.get(f"{l1}/accounts/{hx(DEPOSITOR.address)}", timeout=5.0).json()["nonce"]
            call = sign_l1_call(DEPOSITOR.private_key, self.h.params.l1_chain_id, "deposit", nonce,
                                {"to": hx(to), "amount": str(amount)})
            response = client.post(f"{l1}/calls", json=encode_l1_call(call), timeout=5.0)
        except (httpx.HTTPError, ValueError, KeyError):
            self.deposit_failures += 1
            return
        if response.status_code == 200:
            self.deposits.append(amount)
        else:
            self.deposit_failures += 1


# --- the head sampler ----------------------------------------------------------------------

class Sampler:
    """Samples the head of every live sequencer every `sample_ms`; records when the network
    head (the highest of them) advances."""

    def __init__(self, harness: "Chaos") -> None:
        self.h = harness
        self.stop_event = threading.Event()
        self.advances: list[tuple[float, int, int]] = []
        """(wall-clock s, number, slot) each time the network head grew."""
        self.heads: dict[str, tuple[int, str]] = {}
        self.rounds = 0
        self.thread = threading.Thread(target=self._run, name="chaos-sampler", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stop_event.set()
        self.thread.join(30)

    def _run(self) -> None:
        client = httpx.Client(timeout=httpx.Timeout(2.0, connect=1.0))
        best = -1
        period = self.h.plan.sample_ms / 1000
        try:
            while not self.stop_event.is_set():
                started = time.monotonic()
                for name in self.h.live.names():
                    try:
                        head = client.get(self.h.live.urls[name] + "/status").json()["head"]
                    except (httpx.HTTPError, ValueError, KeyError):
                        continue
                    self.heads[name] = (head["number"], head["hash"])
                    if head["number"] > best:
                        best = head["number"]
                        self.advances.append((time.time(), head["number"], head["slot"]))
                self.rounds += 1
                self.stop_event.wait(max(0.0, period - (time.monotonic() - started)))
        finally:
            client.close()


class Probe:
    """Stalls of the whole machine, which no service can help: every 50 ms, how long every
    task of the machine waited for I/O together (/proc/pressure/io `full`; a disk flush can
    freeze every service, each commits to SQLite on its event loop) and how late this thread
    woke up (CPU starvation). Such windows are reported, and excuse a stall only by their
    length."""

    PERIOD_S = 0.05

    def __init__(self) -> None:
        self.stop_event = threading.Event()
        self.stalls: list[tuple[float, float, float]] = []
        """(wall-clock start s, end s, stalled ms) of each period that lost >= 20 ms."""
        self.thread = threading.Thread(target=self._run, name="chaos-probe", daemon=True)

    @staticmethod
    def _io_full_us() -> int:
        try:
            with open("/proc/pressure/io") as f:
                for line in f:
                    if line.startswith("full"):
                        return int(line.rsplit("total=", 1)[1])
        except (OSError, ValueError, IndexError):
            pass
        return 0

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stop_event.set()
        self.thread.join(10)

    def _run(self) -> None:
        last_io = self._io_full_us()
        while not self.stop_event.is_set():
            wall, started = time.time(), time.monotonic()
            self.stop_event.wait(self.PERIOD_S)
            late_ms = (time.monotonic() - started - self.PERIOD_S) * 1000
            io = self._io_full_us()
            stalled_ms = max(late_ms, (io - last_io) / 1000)
            last_io = io
            if stalled_ms >= 20:
                self.stalls.append((wall, time.time(), stalled_ms))

    def stalled_ms(self, start_s: float, end_s: float) -> float:
        return sum(ms for a, b, ms in self.stalls if a < end_s and b > start_s)


# --- the run -------------------------------------------------------------------------------

@dataclass
class ChaosResult:
    figures: dict = field(default_factory=dict)
    violations: list[str] = field(default_factory=list)
    events: list[dict] = field(default_factory=list)
    directory: str = ""

    def table(self) -> str:
        width = max(len(k) for k in self.figures)
        lines = [f"{k:<{width}}  {v}" for k, v in self.figures.items()]
        lines += [f"VIOLATION: {v}" for v in self.violations]
        return "\n".join(lines)


class Chaos:
    def __init__(self, directory: Path, plan: ChaosPlan, report: Callable[[str], None] = print):
        self.directory = Path(directory)
        self.plan = plan
        self.report = report
        self.rng = random.Random(plan.seed * 7919 + 1)
        self.net = None
        self.params = None
        self.live: Live | None = None
        self.ranger_up = threading.Event()
        self.l1_down: list[list[float]] = []
        """[down, up] wall-clock windows (s) of the L1 mock (up: healthy again)."""
        self.down: dict[str, list[list[float]]] = {}
        """Per sequencer, [killed, healthy again, caught up again] wall-clock times (s): from
        the kill to the catch-up it could not lead."""
        self.events: list[Event] = []
        self.http = httpx.Client(timeout=httpx.Timeout(10.0, connect=2.0))
        self.t0 = time.monotonic()
        self.names: list[str] = []
        self.key_names: dict[str, str] = {}
        self.schedules: dict[int, list[str]] = {}
        self.restart_s: list[float] = []

    # --- reads ---
    def get(self, name: str, path: str, **params: Any) -> Any:
        return waiting.get_json(self.http, self.net.url(name) + path, **params)

    def slot_now(self) -> int:
        return (int(time.time() * 1000) - self.params.genesis_time_ms) // self.params.slot_ms

    def slot_start_s(self, slot: int) -> float:
        return (self.params.genesis_time_ms + slot * self.params.slot_ms) / 1000

    def leader_of(self, slot: int) -> str | None:
        epoch = slot // self.params.epoch_slots
        if epoch not in self.schedules:
            self.schedules[epoch] = self.get("l1", f"/epochs/{epoch}")["schedule"]
        key = self.schedules[epoch][slot - epoch * self.params.epoch_slots]
        return self.key_names.get(key)

    def network_head(self) -> dict:
        heads = []
        for name in self.live.names():
            try:
                heads.append(self.get(name, "/status")["head"])
            except httpx.HTTPError:
                continue
        if not heads:
            raise AssertionError("no live sequencer answers")
        return max(heads, key=lambda h: h["number"])

    def event(self, kind: str, name: str, **detail: Any) -> None:
        event = Event(kind, name, round(time.monotonic() - self.t0, 2), self.slot_now(), detail)
        self.events.append(event)
        self.report(f"[{event.at_s:7.1f} s, slot {event.slot}] {kind} {name} "
                    + " ".join(f"{k}={v}" for k, v in detail.items()))

    # --- lifecycle ---
    def start(self) -> None:
        from client.devnet import Devnet

        self.net = Devnet.start(self.directory, sequencers=4, rangers=1,
                                slot_ms=self.plan.slot_ms, genesis_lead_ms=GENESIS_LEAD_MS,
                                health_timeout_s=HEALTH_TIMEOUT_S,
                                blocks_timeout_s=2 * HEALTH_TIMEOUT_S,
                                log_level=self.plan.log_level)
        self.params = self.net.params
        self.names = [s.name for s in self.net.topology.sequencers]
        self.key_names = {hx(s.node_key): s.name for s in self.net.topology.sequencers}
        self.live = Live({name: self.net.url(name) for name in self.names})
        self.ranger_up.set()
        self.t0 = time.monotonic()
        self.report(f"devnet up in {self.directory} (logs in {self.directory / 'logs'})")

    def close(self) -> None:
        try:
            if self.net is not None:
                self.net.stop()
        finally:
            self.http.close()

    # --- faults ---
    def wait_caught_up(self, name: str, timeout_s: float = HEALTH_TIMEOUT_S) -> None:
        """Until `name` holds the block that was the network head when it came back."""
        target = self.network_head()

        def caught_up() -> bool:
            block = self.get(name, f"/blocks/{target['number']}", raw="false")
            return block["hash"] == target["hash"]
        wait_for(f"{name} catching up to block {target['number']}", caught_up, timeout_s)

    def wait_slots(self, count: int, what: str) -> None:
        """Until the network head is `count` slots further (the chain goes on meanwhile)."""
        if count <= 0:
            return
        target = self.slot_now() + count
        wait_for(what, lambda: self.network_head()["slot"] >= target,
                 count * self.params.slot_ms / 1000 + 60)

    def kill_sequencer(self, at_leader: bool) -> None:
        slot = self.slot_now() + 1
        if at_leader:
            victim = self.leader_of(slot)
        else:
            victim = self.rng.choice([n for n in self.names if n != self.leader_of(slot)])
        # anywhere in the slot: while the leader waits for its parent, receipts transactions,
        # seals, or broadcasts its block
        phase = self.rng.uniform(*self.plan.kill_phase)
        kill_at = self.slot_start_s(slot) + phase * self.params.slot_ms / 1000
        while time.time() < kill_at:
            time.sleep(min(0.01, kill_at - time.time()))
        self.live.mark_down(victim)
        window = [time.time(), float("inf"), float("inf")]
        self.down.setdefault(victim, []).append(window)
        self.net.kill(victim, signal.SIGKILL)
        self.event("kill", victim, leader=self.leader_of(self.slot_now()) == victim,
                   phase=round(phase, 2))
        low, high = self.plan.down_slots
        self.wait_slots(self.rng.randint(low, high), f"the chain to go on without {victim}")
        restarted = time.monotonic()
        self.net.restart(victim, health_timeout_s=HEALTH_TIMEOUT_S)
        window[1] = time.time()
        self.event("restart", victim, healthy_after_s=round(time.monotonic() - restarted, 1))
        self.wait_caught_up(victim)
        window[2] = time.time()
        self.live.mark_up(victim)
        self.event("caught_up", victim, down_s=round(window[2] - window[0], 1))
        self.restart_s.append(window[2] - window[1])

    def restart_ranger(self) -> None:
        before = self.get("ranger1", "/status")["stored_head"]
        self.ranger_up.clear()
        self.net.kill("ranger1", signal.SIGTERM)
        self.event("ranger_stop", "ranger1", stored_head=before)
        self.wait_slots(3, "the chain to go on without the ranger")
        self.net.restart("ranger1", health_timeout_s=HEALTH_TIMEOUT_S)
        self.ranger_up.set()
        self.event("ranger_up", "ranger1")
        wait_for("the restarted ranger following L1 again",
                 lambda: self.get("ranger1", "/status")["stored_head"] > before + 2,
                 HEALTH_TIMEOUT_S)
        self.event("ranger_following", "ranger1",
                   stored_head=self.get("ranger1", "/status")["stored_head"])

    def restart_l1(self) -> None:
        accepted = self.get("l1", "/status")["accepted"]["number"]
        window = [time.time(), float("inf")]
        self.l1_down.append(window)
        self.net.kill("l1", signal.SIGKILL)
        self.event("l1_down", "l1", accepted=accepted)
        # the outage lasts a fixed number of slots (the chain may stall meanwhile: sequencer
        # sets and L1 heads come from the L1)
        back_at = self.slot_start_s(self.slot_now() + self.plan.l1_down_slots)
        while time.time() < back_at:
            time.sleep(min(0.1, max(0.0, back_at - time.time())))
        self.net.restart("l1", health_timeout_s=HEALTH_TIMEOUT_S)
        window[1] = time.time()
        self.event("l1_up", "l1")
        wait_for("L1 accepting batches again",
                 lambda: self.get("l1", "/status")["accepted"]["number"] > accepted + 2,
                 HEALTH_TIMEOUT_S)
        self.event("l1_accepting", "l1", accepted=self.get("l1", "/status")["accepted"]["number"])

    # --- the plan ---
    def run(self) -> ChaosResult:
        plan = self.plan
        result = ChaosResult(directory=str(self.directory))
        started = time.monotonic()
        self.start()
        result.figures["devnet_up_s"] = round(time.monotonic() - started, 1)
        wait_for("block 2", lambda: self.network_head()["number"] >= 2, HEALTH_TIMEOUT_S)
        self.load = Load(self)
        self.sampler = Sampler(self)
        self.probe = Probe()
        self.probe.start()
        self.sampler.start()
        self.load.start()
        run_started = time.monotonic()
        try:
            self.wait_slots(plan.steady_slots, "steady load")
            leader_kills = 0
            steps: list[str] = ["kill"] * plan.kills
            if plan.restart_ranger:
                steps.insert(min(2, len(steps)), "ranger")
            if plan.restart_l1:
                steps.insert(min(len(steps), max(3, len(steps) // 2 + 1)), "l1")
            kills = 0
            for step in steps:
                if step == "kill":
                    remaining = plan.kills - kills
                    at_leader = kills == 0 or leader_kills < plan.leader_kills and (
                        remaining <= plan.leader_kills - leader_kills or self.rng.random() < 0.5)
                    self.kill_sequencer(at_leader)
                    kills += 1
                    leader_kills += at_leader
                elif step == "ranger":
                    self.restart_ranger()
                else:
                    self.restart_l1()
                self.wait_slots(plan.steady_slots, "steady state between faults")
        finally:
            try:
                self.load.stop()
            finally:
                self.sampler.stop()
                self.probe.stop()
        result.figures.update({"kills_survived": kills, "leader_kills": leader_kills,
                               "ranger_restarts": int(plan.restart_ranger),
                               "l1_restarts": int(plan.restart_l1),
                               "chaos_s": round(time.monotonic() - run_started, 1)})
        settle_started = time.monotonic()
        self.check(result)
        result.figures["settle_and_check_s"] = round(time.monotonic() - settle_started, 1)
        result.figures["total_s"] = round(time.monotonic() - started, 1)
        result.events = [asdict(e) for e in self.events]
        return result

    # --- the invariants ---
    def check(self, result: ChaosResult) -> None:
        load, plan = self.load, self.plan
        figures, violations = result.figures, result.violations
        receipted = load.receipted
        sequenced = [s for s in load.sent if s.outcome == "sequenced"]
        latencies = sorted(s.latency_ms for s in receipted)
        figures.update({
            "txs_sent": len(load.sent), "txs_receipted": len(receipted),
            "txs_sequenced_receipt_unseen": len(sequenced),
            "txs_unanswered": sum(1 for s in load.sent if s.outcome == "unanswered"),
            "withdrawals_receipted": sum(1 for s in receipted if s.to == BRIDGE_ADDRESS),
            "deposits": len(load.deposits), "deposits_refused_or_l1_down": load.deposit_failures,
            "receipt_p50_ms": round(latencies[len(latencies) // 2], 1) if latencies else None,
            "receipt_max_ms": round(latencies[-1], 1) if latencies else None,
            "receipts_handed_to_ranger": load.receipts_handed,
            "send_errors": dict(sorted(load.errors.items())),
        })
        violations += load.unexpected
        names = self.live.names()
        missing = set(self.names) - set(names)
        if missing:
            violations.append(f"sequencers not live at the end: {sorted(missing)}")

        # 1. every receipted (or otherwise sequenced) transaction lands on every node's chain
        expected = {s.tx_hash for s in receipted} | {s.tx_hash for s in sequenced}

        def all_included() -> bool:
            for name in names:
                for tx_hash in list(pending[name]):
                    view = self.http.get(self.net.url(name) + f"/txs/{hx(tx_hash)}")
                    if view.status_code == 200 and view.json()["status"] == "included":
                        pending[name].discard(tx_hash)
                if pending[name]:
                    return False
            return True
        pending = {name: set(expected) for name in names}
        try:
            wait_for(f"{len(expected)} receipted transactions included on every node",
                     all_included, plan.settle_timeout_s, 1.0)
        except Timeout as error:
            violations.append(f"{error}: still missing " + ", ".join(
                f"{n}: {len(p)}" for n, p in pending.items() if p))

        # 2. L1 finalizes past them; every node has L1's finalized head and chain below it
        last = 0
        for name in names[:1]:
            for tx_hash in expected:
                view = self.http.get(self.net.url(name) + f"/txs/{hx(tx_hash)}")
                if view.status_code == 200 and view.json().get("block_number"):
                    last = max(last, view.json()["block_number"])
        # ... and past the consumption of every deposit L1 took (a due queue item must be in
        # the next block: DESIGN.md section 6)
        def queue_consumed() -> int:
            status = self.get("l1", "/status")
            return status["accepted"]["number"] if \
                status["queue_head"] >= status["queue_length"] else 0
        try:
            last = max(last, wait_for("every L1 deposit consumed by an accepted block",
                                      queue_consumed, plan.settle_timeout_s, 1.0))
        except Timeout as error:
            violations.append(str(error))
        try:
            wait_for(f"L1 finalizing block {last}",
                     lambda: self.get("l1", "/status")["finalized"]["number"] >= last,
                     plan.settle_timeout_s, 1.0)
        except Timeout as error:
            violations.append(str(error))
        final = self.get("l1", "/status")["finalized"]
        target, target_hash = final["number"], final["hash"]
        figures["finalized_head"] = target
        try:
            wait_for(f"every node finalizing block {target}", lambda: all(
                self.get(n, "/status")["heads"]["finalized"]["number"] >= target for n in names),
                plan.settle_timeout_s, 0.5)
        except Timeout as error:
            violations.append(str(error))
        l1_chain = self.fetch_l1_chain(target)
        chains = {name: self.fetch_chain(name, target) for name in names}
        for name, chain in chains.items():
            got = chain[target]["hash"] if target in chain else None
            if got != target_hash:
                violations.append(f"{name}: block {target} is {got}, L1 finalized {target_hash}")
            differing = [n for n in range(target + 1) if n in l1_chain and
                         chain.get(n, {}).get("hash") != l1_chain[n]]
            if differing:
                violations.append(f"{name}: {len(differing)} blocks <= {target} differ from L1's "
                                  f"(first: {differing[0]})")
            label = self.get(name, f"/blocks/{target}", raw="false")["label"]
            if label != "finalized":
                violations.append(f"{name}: block {target} is labelled {label}")

        # 1 again, on the whole canonical chain of every node: exactly once
        lost_by_node = {}
        for name in names:
            chain = self.fetch_chain(name, None)
            counts: dict[bytes, int] = {}
            for block in chain.values():
                for tx_hash in block["txs"]:
                    counts[tx_hash] = counts.get(tx_hash, 0) + 1
            twice = [h for h, c in counts.items() if c > 1]
            if twice:
                violations.append(f"{name}: {len(twice)} transactions twice on the canonical "
                                  f"chain (first 0x{twice[0].hex()})")
            lost = [h for h in expected if counts.get(h, 0) != 1]
            kept = self.check_promises(name, chain, receipted, violations)
            figures.setdefault("receipts_kept_in_their_slot", kept)
            lost_by_node[name] = len(lost)
            if lost:
                violations.append(f"{name}: {len(lost)} receipted transactions not on the "
                                  f"canonical chain exactly once (first 0x{lost[0].hex()})")
        figures["txs_lost"] = max(lost_by_node.values()) if lost_by_node else None
        figures["txs_included"] = len(expected) - (figures["txs_lost"] or 0)

        # 3. balances at the finalized head
        self.check_balances(chains, target, figures, violations)

        # 4. liveness
        self.check_stalls(chains, figures, violations)
        figures["healthy_to_caught_up_s"] = (
            f"max {max(self.restart_s):.1f}, mean {sum(self.restart_s) / len(self.restart_s):.1f}"
            if self.restart_s else None)

        # 5. nobody slashed or accused
        slashes = self.get("l1", "/slashes", limit=100)
        if slashes:
            violations.append(f"{len(slashes)} slashes on L1: " + "; ".join(
                f"{s['node_key'][:18]} {s['reason']}" for s in slashes[:4]))
        reports = self.get("ranger1", "/reports")
        if reports:
            violations.append(f"the ranger accused {len(reports)} times: " + "; ".join(
                f"{r['kind']} {r['offender'][:18]}" for r in reports[:4]))
        figures["slashes"] = len(slashes)
        figures["ranger_reports"] = len(reports)

    def check_promises(self, name: str, chain: dict[int, dict], receipted: list[Sent],
                       violations: list[str]) -> int:
        """DESIGN.md section 5: a block of the receipt's leader for the receipt's slot starts
        with the promised prefix. Returns how many receipts such a block kept (the others'
        leaders produced no block for that slot: a later leader included the transaction)."""
        by_slot = {(block["slot"], block["block"].header.producer): block
                   for block in chain.values()}
        kept = 0
        for sent in receipted:
            receipt = receipt_from_json(sent.receipt)
            block = by_slot.get((receipt.slot, receipt.leader))
            if block is None:
                continue
            prefix = ZERO_HASH
            for tx_hash in block["txs"][:receipt.index + 1]:
                prefix = compute_prefix_hash(prefix, tx_hash)
            if len(block["txs"]) <= receipt.index or block["txs"][receipt.index] != sent.tx_hash \
                    or prefix != receipt.prefix_hash:
                violations.append(f"{name}: block {block['hash']} of slot {receipt.slot} breaks "
                                  f"the receipt of 0x{sent.tx_hash.hex()} (index {receipt.index})")
            else:
                kept += 1
        return kept

    def fetch_chain(self, name: str, upto: int | None) -> dict[int, dict]:
        """{number: {hash, slot, timestamp_ms, fee_recipient, txs, block}} of `name`'s
        canonical chain up to `upto` (its head when None), decoded from the raw blocks."""
        head = self.get(name, "/status")["head"]["number"] if upto is None else upto
        chain: dict[int, dict] = {}
        start = 1
        while start <= head:
            rows = self.get(name, "/blocks", **{"from": start, "limit": 256, "raw": "true"})
            if not rows:
                break
            for row in rows:
                if row["number"] > head:
                    break
                block = decode_block(bytes.fromhex(row["raw"][2:]))
                chain[row["number"]] = {
                    "hash": row["hash"], "slot": row["slot"], "timestamp_ms": row["timestamp_ms"],
                    "fee_recipient": row["fee_recipient"], "block": block,
                    "txs": [keccak256(raw) for raw in block.transactions]}
            start = rows[-1]["number"] + 1
        return chain

    def fetch_l1_chain(self, upto: int) -> dict[int, str]:
        chain: dict[int, str] = {}
        start = 1
        while start <= upto:
            rows = self.get("l1", "/blocks", **{"from": start, "limit": 500, "raw": "false"})
            if not rows:
                break
            for row in rows:
                chain[row["number"]] = row["hash"]
            start = rows[-1]["number"] + 1
        return chain

    def check_balances(self, chains: dict[str, dict], target: int, figures: dict,
                       violations: list[str]) -> None:
        genesis = make_devnet_genesis(self.params).l2_alloc
        queue = self.get("l1", "/queue", **{"from": 0, "limit": 1000})
        queued = sum(int(item["amount"]) for item in queue if item["kind"] == "deposit")
        figures["deposits_queued_on_l1"] = len(queue)
        for name, chain in chains.items():
            addresses = set(genesis)
            deposits = withdrawals = 0
            fees: dict[bytes, int] = {}
            nonces: dict[bytes, int] = {}
            for number in range(1, target + 1):
                if number not in chain:
                    violations.append(f"{name}: block {number} missing below the finalized head")
                    return
                block, recipient = chain[number]["block"], bytes.fromhex(
                    chain[number]["fee_recipient"][2:])
                addresses.add(recipient)
                for item in block.queue_items:
                    if item.amount:
                        deposits += item.amount
                        addresses.add(item.to)
                    if item.raw_tx:
                        violations.append(f"{name}: a forced transaction in block {number}")
                for raw in block.transactions:
                    tx = decode_transaction(raw)
                    addresses.add(tx.sender)
                    nonces[tx.sender] = nonces.get(tx.sender, 0) + 1
                    fees[recipient] = fees.get(recipient, 0) + compute_fee(
                        tx, self.params.base_fee_wei)
                    if tx.to == BRIDGE_ADDRESS:
                        withdrawals += tx.value
                    else:
                        addresses.add(tx.to)
            supply = sum(genesis.values())
            total = 0
            for address in sorted(addresses):
                account = self.get(name, f"/accounts/{hx(address)}", block=str(target))
                balance, nonce = int(account["balance"]), account["nonce"]
                total += balance
                if nonce != nonces.get(address, 0):
                    violations.append(f"{name}: nonce of {hx(address)} at block {target} is "
                                      f"{nonce}, its transactions there: {nonces.get(address, 0)}")
                if address in fees and balance != genesis.get(address, 0) + fees[address]:
                    violations.append(f"{name}: fee recipient {hx(address)} holds {balance}, "
                                      f"genesis + fees of its blocks = "
                                      f"{genesis.get(address, 0) + fees[address]}")
            if total != supply + deposits - withdrawals:
                violations.append(f"{name}: balances sum to {total} at block {target}, expected "
                                  f"genesis {supply} + deposits {deposits} - withdrawals "
                                  f"{withdrawals} = {supply + deposits - withdrawals}")
            figures.setdefault("accounts_checked", len(addresses))
            figures["supply_tokens"] = round(total / TOKEN, 6)
            figures["deposited_tokens"] = round(deposits / TOKEN, 6)
            figures["withdrawn_tokens"] = round(withdrawals / TOKEN, 6)
            figures["fees_tokens"] = round(sum(fees.values()) / TOKEN, 9)
            if deposits != queued:
                violations.append(f"{name}: the blocks up to {target} credit {deposits} wei of "
                                  f"deposits, L1's queue holds {queued} wei")

    def check_stalls(self, chains: dict[str, dict], figures: dict,
                     violations: list[str]) -> None:
        """DESIGN.md section 4: a leader that is down costs its slot, nothing more. So on the
        chain, outside L1 outages, a stall longer than two slots (one empty slot) is a
        violation unless every empty slot in it belonged to a leader that was down (killed
        and not caught up yet: a node may lead two slots in a row). The sampled time between
        network-head advances must match the slots it spans (plus the sampler's period and
        the seal jitter)."""
        slot_ms = self.params.slot_ms
        first_slot = (int(self.load.started_wall * 1000) - self.params.genesis_time_ms) // slot_ms

        def overlaps(windows, start_s: float, end_s: float) -> bool:
            return any(start_s < up and end_s > down for down, up in windows)

        def classify(slot: int) -> str:
            start = self.slot_start_s(slot)
            end = start + slot_ms / 1000
            if overlaps(self.l1_down, start, end):
                return "l1_outage"
            windows = self.down.get(self.leader_of(slot), [])
            if overlaps([(k, h) for k, h, _ in windows], start, end):
                return "leader_down"
            if overlaps([(h, c) for _, h, c in windows], start, end):
                return "leader_restarting"
            if self.probe.stalled_ms(start, end) >= MACHINE_STALL_MS:
                return "machine_stall"
            return "leader_up"

        chain = next(iter(chains.values()), {})
        numbers = sorted(chain)
        kinds: dict[str, list[int]] = {"leader_down": [], "leader_restarting": [],
                                       "leader_up": [], "l1_outage": [], "machine_stall": []}
        gaps: dict[int, tuple[int, bool]] = {}
        """slot of a block -> (slots to the next block, whether the stall is excused)."""
        worst, worst_at, worst_l1 = 1, None, 0
        for a, b in zip(numbers, numbers[1:]):
            sa, sb = chain[a]["slot"], chain[b]["slot"]
            if sa < first_slot:
                continue
            empty = [classify(slot) for slot in range(sa + 1, sb)]
            for slot, kind in zip(range(sa + 1, sb), empty):
                kinds[kind].append(slot)
            excused = all(kind != "leader_up" for kind in empty)
            gaps[sa] = (sb - sa, excused)
            if "l1_outage" in empty:
                worst_l1 = max(worst_l1, sb - sa)
            elif sb - sa > worst:
                worst, worst_at = sb - sa, (a, sa, sb, excused)
            # a gap reaching into an L1 outage is excused for its outage slots only: the
            # slots after the L1 is back count like any other
            if sb - sa > 2 and not excused:
                live = [f"{slot} ({self.leader_of(slot)}; machine stalled "
                        f"{self.probe.stalled_ms(self.slot_start_s(slot), self.slot_start_s(slot + 1)):.0f} ms)"
                        for slot, kind in zip(range(sa + 1, sb), empty) if kind == "leader_up"]
                violations.append(f"the chain stalled {sb - sa} slots after block {a} (slot "
                                  f"{sa} -> {sb}); empty slots of leaders that were up: "
                                  + ", ".join(live))
        figures["max_stall_slots"] = worst
        if worst_at is not None and worst > 2:
            figures["max_stall_slots"] = (f"{worst} (after block {worst_at[0]}, slots "
                                          f"{worst_at[1]}->{worst_at[2]}: " + (
                                              "leader down" if worst_at[3] else "NOT excused")
                                          + ")")
        figures["max_stall_slots_with_l1_outage"] = worst_l1
        figures["empty_slots_leader_down"] = len(kinds["leader_down"])
        figures["empty_slots_leader_restarting"] = len(kinds["leader_restarting"])
        figures["empty_slots_leader_up"] = len(kinds["leader_up"])
        figures["empty_slots_l1_outage"] = len(kinds["l1_outage"])
        figures["empty_slots_machine_stalled"] = len(kinds["machine_stall"])
        figures["empty_slots_leader_up_list"] = kinds["leader_up"][:20]

        # sampled: the time between network head advances
        tolerance_ms = self.plan.sample_ms + 150
        worst_ms = worst_l1_ms = 0.0
        worst_ms_at = None
        for (t1, n1, s1), (t2, n2, s2) in zip(self.sampler.advances, self.sampler.advances[1:]):
            if s1 < first_slot:
                continue
            gap_ms = (t2 - t1) * 1000
            machine_ms = self.probe.stalled_ms(t1, t2)
            outage_ms = sum(max(0.0, min(t2, up) - max(t1, down)) * 1000
                            for down, up in self.l1_down)
            if outage_ms:
                # two slots beyond the part of the outage that the stall covers
                worst_l1_ms = max(worst_l1_ms, gap_ms)
                allowed = 2 * slot_ms + tolerance_ms + machine_ms + outage_ms
            else:
                if gap_ms > worst_ms:
                    worst_ms, worst_ms_at = gap_ms, (n1, s1, n2, s2)
                span, excused = (gaps.get(s1, (s2 - s1, False)) if n2 == n1 + 1
                                 else (s2 - s1, True))
                allowed = (span if excused else min(span, 2)) * slot_ms + tolerance_ms + \
                    machine_ms
            if gap_ms > allowed:
                violations.append(f"the network head stalled {gap_ms:.0f} ms from block {n1} "
                                  f"(slot {s1}) to block {n2} (slot {s2}); allowed "
                                  f"{allowed:.0f} ms (of which machine stalls {machine_ms:.0f})")
        figures["max_stall_ms"] = round(worst_ms)
        if worst_ms_at is not None:
            figures["max_stall_ms"] = (f"{worst_ms:.0f} (blocks {worst_ms_at[0]}->"
                                       f"{worst_ms_at[2]}, slots {worst_ms_at[1]}->"
                                       f"{worst_ms_at[3]})")
        figures["max_stall_during_l1_outage_ms"] = round(worst_l1_ms)
        figures["head_samples"] = self.sampler.rounds
        stalls = self.probe.stalls
        figures["machine_stalls"] = (f"{sum(ms for *_, ms in stalls) / 1000:.1f} s in "
                                     f"{len(stalls)} periods, worst "
                                     f"{max((ms for *_, ms in stalls), default=0):.0f} ms")


def run_chaos(directory: Path, plan: ChaosPlan, report: Callable[[str], None] = print,
              json_path: Path | None = None) -> ChaosResult:
    """Run `plan` on a fresh devnet in `directory`; every process is stopped before returning."""
    chaos = Chaos(directory, plan, report)
    try:
        result = chaos.run()
    finally:
        chaos.close()
    if json_path is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps({"plan": plan.to_json(), "figures": result.figures,
                                         "violations": result.violations,
                                         "events": result.events}, indent=2) + "\n")
    return result
