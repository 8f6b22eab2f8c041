"""The L1 side of a user's session, driven through the `seqnet` CLI as subprocesses against a
devnet on random ports: deposit (L1 -> L2), force-tx through the L1 queue, withdraw with its
claim on L1 (and the refusal of a second claim), then staking: register a new sequencer,
unjail refused (not jailed), delegate, undelegate, withdraw refused before the unbonding
matures and paid after, claim rewards. Checks balances and `status --json`, not only exit codes.

`seqnet watch --duration` is driven by tests/e2e/test_cli_launcher.py.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from nacl.signing import SigningKey

from protocol.accounts import address_of, to_checksum
from protocol.constants import TOKEN

from client.devnet import is_alive, pick_ports, stop_directory
from client.topology import build_topology
from tests.client.clihelpers import Result, seqnet

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(900)]

CAROL = 3
"""Dev account 3: deposits, forces, withdraws, then registers a sequencer."""
DAVE = 4
"""Dev account 4: delegates, undelegates, withdraws the unbonded stake, claims rewards."""


def use_random_ports(directory: Path) -> dict[str, int]:
    """Record kernel-picked ports in devnet.json before `devnet up`, which reuses recorded ports
    (else it prefers the compose defaults 8545/8600/8700, which other devnets may hold)."""
    topology = build_topology(4, 1, 1000, [])
    ports = pick_ports([service.name for service in topology.services])
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "devnet.json").write_text(json.dumps({
        "sequencers": 4, "rangers": 1, "slot_ms": 1000, "faults": [], "ports": ports}))
    return ports


def wait_until(what: str, probe: Callable[[], Any], timeout_s: float, every_s: float = 0.5) -> Any:
    """Poll `probe` until it returns something truthy; fail with `what` at the deadline."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(every_s)


def refused(result: Result, reason: str) -> None:
    """Exit 1 with one line `error: ...` naming `reason` on stderr."""
    assert result.code == 1, (result.code, result.out, result.err)
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and reason in lines[0], result.err


def test_l1_flow_deposit_force_withdraw_claim_and_staking(tmp_path):
    directory = tmp_path / "devnet"
    d = ["--dir", str(directory)]

    def balance(who: str | int) -> dict[str, Any]:
        return seqnet("balance", str(who), "--json", *d).json()

    def status() -> dict[str, Any]:
        return seqnet("status", "--json", *d).json()

    try:
        ports = use_random_ports(directory)
        endpoints = seqnet("devnet", "up", "--detach", "--json", *d, timeout=400).json()
        assert endpoints["l1"].endswith(f":{ports['l1']}")
        assert all(s["running"] for s in endpoints["sequencers"])
        carol = endpoints["accounts"][CAROL]["address"]

        # --- deposit: L1 tokens locked in the bridge, credited on L2 by the L1 queue ----------
        before = balance(CAROL)
        deposit = seqnet("deposit", "--value", "2.5", "--from", str(CAROL), "--json", *d,
                         timeout=200).json()
        assert deposit["method"] == "deposit" and "index" in deposit["result"]
        after = balance(CAROL)
        assert int(after["l2"]["balance"]) == int(before["l2"]["balance"]) + 25 * TOKEN // 10
        assert int(after["l1"]["balance"]) == int(before["l1"]["balance"]) - 25 * TOKEN // 10
        assert int(deposit["l2_balance"]) == int(after["l2"]["balance"])

        # --- force-tx: an L2 transfer queued on L1 that the sequencers must include ----------
        erin = to_checksum(address_of(SigningKey.generate().encode()))  # a fresh L2 address
        assert int(balance(erin)["l2"]["balance"]) == 0
        forced = seqnet("force-tx", "--to", erin, "--value", "0.25", "--from", str(CAROL),
                        "--json", *d, timeout=200).json()
        assert forced["method"] == "force_tx" and forced["block"]["status"] == "0x1"
        assert int(balance(erin)["l2"]["balance"]) == TOKEN // 4
        tx = seqnet("tx", forced["hash"], "--json", *d).json()
        assert tx["block"]["number"] == forced["block"]["number"] and tx["tx"]["forced"] is True
        assert balance(CAROL)["l2"]["nonce"] == before["l2"]["nonce"] + 1
        # L1 queues what it cannot judge; the L2 block skips it, and the CLI says why.
        skipped = seqnet("force-tx", "--to", erin, "--value", "1000000", "--from", str(CAROL),
                         *d, check=False, timeout=200)
        refused(skipped, "skipped as invalid")
        assert "InsufficientBalance" in skipped.err

        # --- withdraw: burn on L2, wait for finalization, claim on L1 -------------------------
        before = balance(CAROL)
        withdrawal = seqnet("withdraw", "--value", "1.25", "--from", str(CAROL), "--json", *d,
                            timeout=300).json()
        amount = 125 * TOKEN // 100
        assert withdrawal["amount"] == str(amount)
        assert withdrawal["claim"]["method"] == "claim_withdrawal"
        assert withdrawal["claim"]["result"]["amount"] == str(amount)
        after = balance(CAROL)
        assert int(after["l1"]["balance"]) == int(before["l1"]["balance"]) + amount
        assert int(after["l2"]["balance"]) < int(before["l2"]["balance"]) - amount  # plus the fee
        finalized = seqnet("tx", withdrawal["hash"], "--json", *d).json()
        assert finalized["label"] == "finalized"
        again = seqnet("claim-withdrawal", withdrawal["hash"], "--from", str(CAROL), *d,
                       check=False, timeout=60)
        refused(again, "AlreadyClaimed")
        assert balance(CAROL)["l1"]["balance"] == after["l1"]["balance"]
        not_withdrawal = seqnet("claim-withdrawal", forced["hash"], *d, check=False)
        refused(not_withdrawal, "not a withdrawal")

        # --- stake register: dev account 3 operates a new sequencer ----------------------------
        node_key = "0x" + SigningKey.generate().verify_key.encode().hex()
        dead_port = pick_ports(["nobody"])["nobody"]
        before = balance(CAROL)
        registered = seqnet("stake", "register", "--node-key", node_key, "--endpoint",
                            f"http://127.0.0.1:{dead_port}", "--stake", "20000", "--from",
                            str(CAROL), "--json", *d).json()
        assert registered["method"] == "register_sequencer"
        assert registered["result"]["node_key"] == node_key
        rows = {s["node_key"]: s for s in status()["sequencers"]}
        assert rows[node_key]["operator"] == carol.lower()
        assert rows[node_key]["status"] == "active"
        assert int(rows[node_key]["self_stake"]) == 20_000 * TOKEN
        after = balance(CAROL)
        assert int(after["l1"]["staked"]) == 20_000 * TOKEN
        assert int(after["l1"]["balance"]) == int(before["l1"]["balance"]) - 20_000 * TOKEN
        refused(seqnet("stake", "register", "--node-key", node_key, "--endpoint",
                       "http://127.0.0.1:1", "--from", str(DAVE), *d, check=False),
                "AlreadyRegistered")
        # Not jailed: unjail is refused with the reason.
        refused(seqnet("stake", "unjail", "--from", str(CAROL), *d, check=False), "NotJailed")
        refused(seqnet("stake", "unjail", "--from", str(DAVE), *d, check=False), "NotRegistered")

        # --- delegate, undelegate, withdraw (refused, then paid), claim rewards ----------------
        refused(seqnet("stake", "claim", "--from", str(DAVE), *d, check=False), "NothingToClaim")
        before = balance(DAVE)
        delegated = seqnet("stake", "delegate", "--to", "seq2", "--amount", "1000", "--from",
                           str(DAVE), "--json", *d).json()
        assert delegated["result"]["stake"] == str(1000 * TOKEN)
        seq2 = next(s for s in status()["sequencers"] if s["name"] == "seq2")
        assert int(seq2["delegated"]) == 1000 * TOKEN
        assert int(seq2["total_stake"]) == 31_000 * TOKEN
        plain = seqnet("stake", "undelegate", "--sequencer", "seq2", "--amount", "400", "--from",
                       str(DAVE), *d)
        assert "undelegating 400 tokens from seq2" in plain.out
        assert "releasable from L1 block" in plain.out
        release = int(plain.out.rsplit("releasable from L1 block", 1)[1].split()[0])
        after = balance(DAVE)
        assert int(after["l1"]["staked"]) == 600 * TOKEN
        assert int(after["l1"]["unbonding"]) == 400 * TOKEN
        assert int(after["l1"]["balance"]) == int(before["l1"]["balance"]) - 1000 * TOKEN
        seq2 = next(s for s in status()["sequencers"] if s["name"] == "seq2")
        assert int(seq2["delegated"]) == 600 * TOKEN

        early = seqnet("stake", "withdraw", "--from", str(DAVE), *d, check=False)
        refused(early, "StillUnbonding")
        assert f"before L1 block {release}" in early.err
        wait_until(f"L1 block {release}", lambda: status()["l1_head"] >= release, 120)
        before = balance(DAVE)
        withdrawn = seqnet("stake", "withdraw", "--from", str(DAVE), "--json", *d).json()
        assert withdrawn["result"]["amount"] == str(400 * TOKEN)
        after = balance(DAVE)
        assert int(after["l1"]["balance"]) == int(before["l1"]["balance"]) + 400 * TOKEN
        assert int(after["l1"]["unbonding"]) == 0 and int(after["l1"]["staked"]) == 600 * TOKEN
        refused(seqnet("stake", "withdraw", "--from", str(DAVE), *d, check=False),
                "NothingToWithdraw")

        # A delegator earns a share of seq2's rewards as L1 finalizes its blocks.
        wait_until("Dave's first staking reward",
                   lambda: int(balance(DAVE)["l1"]["pending_rewards"]) > 0, 120, every_s=1.0)
        before = balance(DAVE)
        claimed = seqnet("stake", "claim", "--from", str(DAVE), "--json", *d).json()
        reward = int(claimed["result"]["amount"])
        assert reward >= int(before["l1"]["pending_rewards"]) > 0
        after = balance(DAVE)
        assert int(after["l1"]["balance"]) == int(before["l1"]["balance"]) + reward

        pids = [entry["pid"] for entry in
                json.loads((directory / "pids.json").read_text())["services"].values()]
        down = seqnet("devnet", "down", "--json", *d).json()
        assert sorted(down["stopped"]) == sorted(["l1", "seq1", "seq2", "seq3", "seq4", "ranger1"])
        assert not any(is_alive(pid) for pid in pids)
    finally:
        seqnet("devnet", "down", *d, check=False, timeout=120)
        stop_directory(directory)
