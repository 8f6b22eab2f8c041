"""Shared steps of the ranger's end-to-end scenarios (real processes over HTTP via
client/devnet.py). No tests here; imported by test_fault_*.py and test_ranger_*.py."""

from __future__ import annotations

import importlib.util
import time
from typing import Any, Callable

import pytest

from protocol.accounts import dev_accounts
from protocol.constants import TOKEN
from protocol.params import BPS

ACCOUNTS = dev_accounts(10)
FAULT_KIND = {"bad_state_root": "invalid_state", "invalid_tx": "invalid_state",
              "reorder": "receipt_violation", "equivocate": "equivocation",
              "censor": "censorship"}
RANGER_OPERATOR = ACCOUNTS[5]
DELEGATOR = ACCOUNTS[3]


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
    deadline = time.monotonic() + timeout_s
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = check()
            if value:
                return value
        except Exception as error:  # noqa: BLE001 - services restart, answers vary
            last_error = error
        time.sleep(interval_s)
    raise AssertionError(f"timed out waiting for {what} (last error: {last_error})")


class Scenario:
    """A running devnet seen from a test: L1, sequencers and the ranger over HTTP."""

    def __init__(self, net) -> None:
        from nodekit.http import SyncServiceClient

        self.net = net
        self.params = net.params
        self.l1 = SyncServiceClient(net.url("l1"), retries=3)
        self.ranger = SyncServiceClient(net.url("ranger1"), retries=3)
        self.sequencers = [SyncServiceClient(net.url(s.name), retries=1)
                           for s in net.topology.sequencers]
        self.sent: list[bytes] = []
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

    # --- users ---
    def send_transfer(self, account, to: bytes, value: int = TOKEN, via: int = 0) -> dict:
        """POST /txs on sequencer `via` (0-based); hands any receipt to the ranger."""
        from protocol.transactions import decode_transaction, sign_transaction

        nonce = self.nonces.get(account.address, 0)
        raw = sign_transaction(account.private_key, chain_id=self.params.chain_id, nonce=nonce,
                               to=to, value=value, max_fee_per_gas=2 * self.params.base_fee_wei,
                               max_priority_fee_per_gas=self.params.base_fee_wei)
        answer = None
        for attempt in range(len(self.sequencers)):   # a busy or faulty node: try the next
            try:
                answer = self.sequencers[(via + attempt) % len(self.sequencers)].post(
                    "/txs", {"raw": hx(raw)})
                break
            except Exception:  # noqa: BLE001 - timeouts and refusals alike
                continue
        if answer is None:
            raise AssertionError("no sequencer took the transaction")
        self.nonces[account.address] = nonce + 1
        self.sent.append(decode_transaction(raw).hash)
        receipt = answer.get("receipt") if isinstance(answer, dict) else None
        if receipt:
            self.ranger.post("/receipts", receipt)
        return answer

    # --- the ranger ---
    def wait_for_report(self, kind: str, timeout_s: float = 120.0) -> dict:
        def accepted():
            for report in self.ranger.get("/reports"):
                if report["kind"] == kind and report["status"] == "accepted":
                    return report
            return None
        return wait_for(f"an accepted {kind} proof", accepted, timeout_s)

    # --- checks of the done criteria ---
    def check_slash(self, report: dict, kind: str) -> dict:
        slash = self.l1.get(f"/slashes/{report['slash_id']}")
        bps = self.params.slash_bps(kind)
        assert slash["bps"] == bps and slash["reason"] == kind
        assert slash["reporter"] == hx(RANGER_OPERATOR.address)
        assert int(report["slashed"]) == int(slash["amount"])
        assert int(report["reward"]) == int(slash["amount"]) * self.params.reporter_share_bps // BPS
        seq = self.l1.get(f"/sequencers/{report['offender']}")
        assert seq["status"] == "jailed"
        # every stake (self, delegated, unbonding) cut by the kind's fraction: pro rata
        remaining = {d["owner"]: int(d["amount"]) for d in seq["delegations"]}
        for owner, cut in slash["cuts"].items():
            before = remaining.get(owner, 0) + int(cut)
            assert abs(int(cut) - before * bps // BPS) <= 1, (owner, cut, before)
        return slash

    def check_left_out_of_next_epoch(self, offender: str) -> None:
        seq = self.l1.get(f"/sequencers/{offender}")
        epoch = seq["jailed_from_slot"] // self.params.epoch_slots + 1

        def snapshotted():
            return self.l1.get(f"/epochs/{epoch}")
        members = wait_for(f"epoch {epoch}'s snapshot", snapshotted, 3 * self.params.epoch_ms / 1000)
        assert offender not in [m["node_key"] for m in members["members"]]
        assert offender not in (members["schedule"] or [])

    def check_all_finalized(self, timeout_s: float = 120.0) -> None:
        """Every honest transaction sent is in a block L1 finalized."""
        def finalized():
            final = self.l1.get("/status")["finalized"]["number"]
            for tx_hash in self.sent:
                receipt = self.sequencers[0].post("/rpc", {
                    "jsonrpc": "2.0", "id": 1, "method": "eth_getTransactionReceipt",
                    "params": [hx(tx_hash)]}).get("result")
                if not receipt or int(receipt["blockNumber"], 16) > final:
                    return False
                block = self.l1.get(f"/blocks/{int(receipt['blockNumber'], 16)}")
                if block["hash"] != receipt["blockHash"] or block["status"] != "finalized":
                    return False
            return True
        wait_for("every honest transaction finalized", finalized, timeout_s)


def run_fault_scenario(tmp_path, flag: str, faulty: int = 2) -> dict:
    """The done criteria of one fault flag; returns the ranger's report."""
    from client.devnet import Devnet

    require_services()
    kind = FAULT_KIND[flag]
    with Devnet.start(tmp_path / "net", sequencers=4, rangers=1, faults=[f"{faulty}:{flag}"]) as net:
        s = Scenario(net)
        try:
            spec = s.sequencer_spec(faulty)
            try:   # a delegator, so that the pro-rata cut covers more than the operator
                s.l1_call(DELEGATOR, "delegate", sequencer=hx(spec.node_key),
                          amount=str(2_000 * TOKEN))
            except Exception:  # noqa: BLE001 - already jailed: the cut is checked anyway
                pass
            if flag == "censor":
                s.l1_call(ACCOUNTS[1], "deposit", to=hx(ACCOUNTS[2].address), amount=str(TOKEN))
            deadline = time.monotonic() + 20
            i = 0
            while time.monotonic() < deadline:
                s.send_transfer(ACCOUNTS[i % 2], ACCOUNTS[2].address, via=(i % 4))
                i += 1
                time.sleep(0.3)
            report = s.wait_for_report(kind)
            assert report["offender"] == hx(spec.node_key)
            s.check_slash(report, kind)
            s.check_left_out_of_next_epoch(report["offender"])
            s.check_all_finalized()
            stats = s.ranger.get("/stats")
            assert stats["faults_found"] >= 1 and int(stats["fraud_rewards"]) > 0
            return report
        finally:
            s.close()
