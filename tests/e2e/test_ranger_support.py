"""The harness of the ranger's end-to-end scenarios (real processes over HTTP via
client/devnet.py): L1 + 4 sequencers (one faulty) + a ranger. No tests here; imported by
test_fault_*.py, test_ranger_*.py and bench/fraud_bench.py.

A scenario starts the L1, the three honest sequencers and the ranger first (they hold more
than 2/3 of the stake, so they certify blocks alone), delegates to the faulty sequencer, and
only then starts the faulty one: its first block is the first fault, and the delegation is
certainly in the slashed pool. Epochs are short (16 slots) so that the next epoch's snapshot
comes quickly; a scenario takes 2-6 minutes on the 2 shared cores here, depending on what else
runs.
"""

from __future__ import annotations

import importlib.util
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import pytest

from protocol.accounts import dev_accounts
from protocol.constants import TOKEN
from protocol.params import BPS
from tests import waiting

ACCOUNTS = dev_accounts(10)
FAULT_KIND = {"bad_state_root": "invalid_state", "invalid_tx": "invalid_state",
              "reorder": "receipt_violation", "equivocate": "equivocation",
              "censor": "censorship"}
RANGER_OPERATOR = ACCOUNTS[5]
DELEGATOR = ACCOUNTS[3]
USERS = (ACCOUNTS[0], ACCOUNTS[1])
RECIPIENT = ACCOUNTS[2]
DELEGATION_TOKENS = 2_000
SCENARIO_PARAMS = {"epoch_slots": 16, "lookahead_slots": 4, "challenge_window_l1_blocks": 20,
                   "unbonding_l1_blocks": 20}
"""Short epochs: the next epoch's snapshot comes quickly. The challenge window (20 L1 blocks of
1 s) leaves the ranger time to prove an invalid block even when starved of CPU (with 8 blocks
a loaded run saw the bad block finalize 0.3 s before the proof reached L1)."""
GENESIS_LEAD_MS = 8_000
HEALTH_TIMEOUT_S = 180.0
"""Starting a Python service takes seconds on an idle machine, a minute or more when other
devnets share the 2 cores: deadlines are generous, never fixed sleeps."""


def require_services() -> None:
    for module in ("l1mock", "sequencer", "ranger"):
        if importlib.util.find_spec(f"{module}.__main__") is None:
            pytest.skip(f"{module} service not available yet")
    if importlib.util.find_spec("client.devnet") is None:
        pytest.skip("client.devnet not available yet")


def hx(data: bytes) -> str:
    return "0x" + data.hex()


def wait_for(what: str, check: Callable[[], Any], timeout_s: float = 90.0,
             interval_s: float = 0.5) -> Any:
    """tests.waiting.wait_for with these scenarios' defaults."""
    return waiting.wait_for(what, check, timeout_s, interval_s)


def start_devnet(directory, faulty: int | None = None, flag: str | None = None,
                 start_faulty: bool = True, **changes: Any):
    """A running Devnet: L1, the honest sequencers and ranger1; the faulty sequencer (index
    `faulty`, 1-based, with `--fault flag`) is registered but only started when
    `start_faulty` (otherwise the caller starts it with `net.restart(name)`)."""
    from client.devnet import Devnet

    require_services()
    faults = [f"{faulty}:{flag}"] if faulty and flag else []
    only = None
    if faulty and not start_faulty:
        only = ["l1", "ranger1"] + [f"seq{i}" for i in range(1, 5) if i != faulty]
    return Devnet.start(directory, sequencers=4, rangers=1, faults=faults, only=only,
                        genesis_lead_ms=GENESIS_LEAD_MS, health_timeout_s=HEALTH_TIMEOUT_S,
                        blocks_timeout_s=2 * HEALTH_TIMEOUT_S,
                        param_changes={**SCENARIO_PARAMS, **changes})


@dataclass
class Sent:
    tx_hash: bytes
    receipt: dict | None
    at_s: float = field(default_factory=time.monotonic)


class Scenario:
    """A running devnet seen from a test: L1, sequencers and the ranger over HTTP."""

    def __init__(self, net) -> None:
        from nodekit.http import SyncServiceClient

        self.net = net
        self.params = net.params
        # generous timeouts: the services share 2 cores with whatever else runs
        self.l1 = SyncServiceClient(net.url("l1"), retries=3, timeout_s=20.0)
        self.ranger = SyncServiceClient(net.url("ranger1"), retries=3, timeout_s=20.0)
        self.sequencers = [SyncServiceClient(net.url(s.name), retries=0, timeout_s=15.0)
                           for s in net.topology.sequencers]
        self.sent: list[Sent] = []
        self.receipts_backlog: list[dict] = []
        self.nonces: dict[bytes, int] = {}

    def close(self) -> None:
        for client in (self.l1, self.ranger, *self.sequencers):
            client.close()

    # --- L1 ---
    def l1_call(self, account, method: str, **args: Any) -> dict:
        from protocol.l1calls import encode_l1_call, sign_l1_call

        nonce = self.l1.get(f"/accounts/{hx(account.address)}")["nonce"]
        call = sign_l1_call(account.private_key, self.params.l1_chain_id, method, nonce, args)
        return self.l1.post("/calls", encode_l1_call(call))["result"]

    def sequencer_spec(self, index: int):
        return self.net.topology.sequencers[index - 1]

    def l1_head(self) -> int:
        return int(self.l1.get("/status")["l1_head"])

    # --- users ---
    def send_transfer(self, account, to: bytes = RECIPIENT.address, value: int = TOKEN,
                      via: int = 0, honest: tuple[int, ...] | None = None) -> Sent:
        """POST /txs to a sequencer (0-based `via`, cycling through `honest` when given);
        hands the receipt to the ranger. On a timeout or refusal the same signed
        transaction goes to the next node (a resubmission gets the receipt it already has)."""
        from protocol.transactions import decode_transaction, sign_transaction

        nonce = self.nonces.get(account.address, 0)
        raw = sign_transaction(account.private_key, chain_id=self.params.chain_id, nonce=nonce,
                               to=to, value=value, max_fee_per_gas=2 * self.params.base_fee_wei,
                               max_priority_fee_per_gas=self.params.base_fee_wei)
        order = list(honest) if honest is not None else list(range(len(self.sequencers)))
        start = via % len(order)
        answer, errors = None, []
        for attempt in range(2 * len(order)):
            client = self.sequencers[order[(start + attempt) % len(order)]]
            try:
                answer = client.post("/txs", {"raw": hx(raw)})
                break
            except Exception as error:  # noqa: BLE001 - timeouts and refusals alike
                errors.append(f"{client.base_url}: {error}")
                time.sleep(0.2)
        if answer is None:
            raise AssertionError(f"no sequencer took the transaction: {errors}")
        self.nonces[account.address] = nonce + 1
        receipt = answer.get("receipt")
        if receipt:
            self.receipts_backlog.append(receipt)
        self.hand_receipts()
        sent = Sent(decode_transaction(raw).hash, receipt)
        self.sent.append(sent)
        return sent

    def send_until(self, what: str, check: Callable[[], Any], timeout_s: float,
                   honest: tuple[int, ...], every_s: float = 0.3,
                   also: Callable[[int], None] | None = None) -> Any:
        """Send transfers (alternating users, round robin over `honest`) until `check()` is
        truthy; `also(i)` runs each round (e.g. a deposit)."""
        deadline = time.monotonic() + timeout_s
        i = 0
        next_check = 0.0
        while time.monotonic() < deadline:
            self.send_transfer(USERS[i % len(USERS)], via=i, honest=honest)
            if also is not None:
                also(i)
            i += 1
            if time.monotonic() >= next_check:
                next_check = time.monotonic() + 1.0
                try:
                    value = check()
                except Exception:  # noqa: BLE001 - a busy service: the next round asks again
                    value = None
                if value:
                    return value
            time.sleep(every_s)
        raise AssertionError(f"timed out waiting for {what} while sending transfers")

    # --- the ranger ---
    def hand_receipts(self) -> None:
        """Give the ranger the receipts users hold; kept for later while it is down."""
        from nodekit.errors import TemporaryError

        if not self.receipts_backlog:
            return
        try:   # deduplicated by receipt hash on the ranger: a resend is harmless
            self.ranger.post("/receipts", {"receipts": self.receipts_backlog}, idempotent=True)
        except TemporaryError:
            return
        self.receipts_backlog = []

    def accepted_report(self, kind: str) -> dict | None:
        """The ranger's first report of `kind` that L1 accepted (reports are newest first)."""
        reports = [r for r in self.ranger.get("/reports", {"kind": kind})
                   if r["status"] == "accepted"]
        return min(reports, key=lambda r: r["id"]) if reports else None

    def wait_for_report(self, kind: str, timeout_s: float = 120.0) -> dict:
        return wait_for(f"an accepted {kind} proof", lambda: self.accepted_report(kind),
                        timeout_s)

    def compute_slash_latency(self, report: dict) -> dict:
        """From the faulty block's production to the slash on L1: in L1 blocks (from the
        block's l1_origin, the L1 head its producer knew, to the slash's L1 block) and in
        seconds (from the block's timestamp to L1's answer to this ranger's proof; one
        machine, one clock); for invalid_state also the proof's witness (nodes, bytes)."""
        from protocol.fraud import decode_evidence

        slash = self.l1.get(f"/slashes/{report['slash_id']}")
        full = self.ranger.get(f"/reports/{report['id']}")
        evidence = decode_evidence(report["kind"], bytes.fromhex(full["evidence"][2:]))
        if hasattr(evidence, "block"):
            header = evidence.block.header
        elif hasattr(evidence, "header"):
            header = evidence.header
        else:
            first = evidence.first
            header = first[0] if isinstance(first, tuple) else None
        block_ms = report["block_timestamp_ms"] or (header.timestamp_ms if header else None)
        figures = {"kind": report["kind"],
                   "l1_blocks": None if header is None else slash["l1_block"] - header.l1_origin,
                   "seconds": round((report["resolved_at_ms"] - block_ms) / 1000, 1),
                   "detect_s": round((report["detected_at_ms"] - block_ms) / 1000, 1),
                   "evidence_bytes": report["evidence_size"]}
        if report["kind"] == "invalid_state":
            figures["witness_nodes"] = len(evidence.witness)
            figures["witness_bytes"] = sum(len(node) for node in evidence.witness)
        return figures

    # --- checks of the done criteria ---
    def check_slash(self, report: dict, kind: str) -> dict:
        """The report's slash: the kind's fraction of every stake in the pool (operator and
        delegators alike), half of it paid to this ranger, the offender jailed."""
        slash = self.l1.get(f"/slashes/{report['slash_id']}")
        bps = self.params.slash_bps(kind)
        assert slash["bps"] == bps and slash["reason"] == kind, slash
        assert slash["node_key"] == report["offender"]
        assert slash["reporter"] == hx(RANGER_OPERATOR.address)
        assert int(report["slashed"]) == int(slash["amount"]) > 0
        assert int(report["reward"]) == int(slash["amount"]) * self.params.reporter_share_bps // BPS
        assert int(slash["reporter_paid"]) == int(report["reward"])
        seq = self.l1.get(f"/sequencers/{report['offender']}")
        assert seq["status"] == "jailed", seq["status"]
        # stake before this slash = what is left + this slash's and every later slash's cut
        # (a sequencer may be proven guilty of several offences, e.g. two equivocating slots)
        before = {d["owner"]: int(d["amount"]) for d in seq["delegations"]}
        for later in self.l1.get("/slashes", {"limit": 1000}):
            if later["node_key"] == report["offender"] and later["id"] >= slash["id"]:
                for owner, cut in later["cuts"].items():
                    before[owner] = before.get(owner, 0) + int(cut)
        operator = seq["operator"]
        delegator = hx(DELEGATOR.address)
        assert operator in slash["cuts"] and delegator in slash["cuts"], slash["cuts"]
        for owner, cut in slash["cuts"].items():
            assert abs(int(cut) - before[owner] * bps // BPS) <= 1, (owner, cut, before[owner])
        assert sum(int(c) for c in slash["cuts"].values()) == int(slash["amount"])
        return slash

    def check_left_out_of_next_epoch(self, offender: str) -> int:
        """The first epoch snapshotted after the jail has no slot for the offender."""
        seq = self.l1.get(f"/sequencers/{offender}")
        epoch_slots, lookahead = self.params.epoch_slots, self.params.lookahead_slots
        epoch = -(-(seq["jailed_from_slot"] + lookahead) // epoch_slots)
        wait_s = (epoch + 1) * epoch_slots * self.params.slot_ms / 1000 - (
            time.time() - self.params.genesis_time_ms / 1000) + 30
        snapshot = wait_for(f"epoch {epoch}'s snapshot", lambda: self.l1.get(f"/epochs/{epoch}"),
                            max(wait_s, 30))
        assert offender not in [m["node_key"] for m in snapshot["members"]], snapshot["members"]
        assert offender not in (snapshot.get("schedule") or [])
        return epoch

    def check_all_finalized(self, timeout_s: float = 120.0) -> None:
        """Every transaction sent is in a block L1 finalized (checked at an honest node)."""
        pending = {s.tx_hash for s in self.sent}

        def finalized():
            final = int(self.l1.get("/status")["finalized"]["number"])
            for tx_hash in sorted(pending):
                receipt = self.sequencers[0].post("/rpc", {
                    "jsonrpc": "2.0", "id": 1, "method": "eth_getTransactionReceipt",
                    "params": [hx(tx_hash)]}).get("result")
                if not receipt or int(receipt["blockNumber"], 16) > final:
                    return False
                block = self.l1.get(f"/blocks/{int(receipt['blockNumber'], 16)}")
                if block["hash"] != receipt["blockHash"] or block["status"] != "finalized":
                    return False
                pending.discard(tx_hash)
            return True
        wait_for(f"every transaction finalized ({len(pending)} sent)", finalized, timeout_s, 1.0)


def run_fault_scenario(tmp_path, flag: str, faulty: int = 2) -> dict:
    """The done criteria of one fault flag; returns the ranger's first accepted report, with
    `timings` (seconds) and, for invalid_state, `rolled_back_to` added."""
    kind = FAULT_KIND[flag]
    t0 = time.monotonic()
    timings: dict[str, float] = {}
    honest = tuple(i for i in range(4) if i != faulty - 1)
    # only an invalid_state proof races the challenge window; the others finalize sooner
    changes = {} if kind == "invalid_state" else {"challenge_window_l1_blocks": 8}
    with start_devnet(tmp_path / "net", faulty, flag, start_faulty=False, **changes) as net:
        s = Scenario(net)
        try:
            timings["devnet_up"] = time.monotonic() - t0
            spec = s.sequencer_spec(faulty)
            offender = hx(spec.node_key)
            s.l1_call(DELEGATOR, "delegate", sequencer=offender,
                      amount=str(DELEGATION_TOKENS * TOKEN))
            for i in range(4):   # honest traffic before the fault
                s.send_transfer(USERS[i % 2], via=i, honest=honest)

            def deposit(i: int) -> None:   # censor: always a fresh due queue item to skip
                if flag == "censor":
                    s.l1_call(ACCOUNTS[4], "deposit", to=hx(RECIPIENT.address), amount=str(TOKEN))

            net.restart(spec.name, health_timeout_s=HEALTH_TIMEOUT_S)
            timings["faulty_up"] = time.monotonic() - t0
            report = s.send_until(f"an accepted {kind} proof", lambda: s.accepted_report(kind),
                                  150, honest, also=deposit)
            timings["slashed"] = time.monotonic() - t0
            assert report["offender"] == offender
            s.check_slash(report, kind)
            report["figures"] = s.compute_slash_latency(report)
            print(f"scenario {flag}: {report['figures']}")
            if kind == "invalid_state":
                # L1 rolled the faulty block back; the honest nodes rebuild from the block
                # before it and the network goes on producing (L1 accepts new blocks there)
                number = report["block_number"]
                block = s.l1.get(f"/blocks/by-hash/{report['block_hash']}")
                assert block["status"] == "rolled_back", block["status"]
                report["rolled_back_to"] = number - 1

                def rebuilt():
                    head = int(s.l1.get("/status")["accepted"]["number"])
                    if head < number + 1:
                        return False
                    again = s.l1.get(f"/blocks/{number}")
                    return again["hash"] != report["block_hash"]
                s.send_until("L1 accepting blocks past the rolled-back one", rebuilt, 90, honest)
            timings["rebuilt"] = time.monotonic() - t0
            for i in range(4):   # honest traffic after the slash
                s.send_transfer(USERS[i % 2], via=i, honest=honest)
            timings["sent_after"] = time.monotonic() - t0
            s.check_left_out_of_next_epoch(offender)
            timings["next_epoch"] = time.monotonic() - t0
            s.check_all_finalized()
            timings["finalized"] = time.monotonic() - t0
            stats = s.ranger.get("/stats")
            assert int(stats["fraud_rewards"]) > 0, stats
            report["timings"] = timings
            print(f"scenario {flag}: {kind} proven; timings (s) " + ", ".join(
                f"{k} {v:.0f}" for k, v in timings.items()))
            return report
        except BaseException:
            print(f"scenario {flag}: timings so far {timings}; logs in {net.directory / 'logs'}")
            raise
        finally:
            s.close()
