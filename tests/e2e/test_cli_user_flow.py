"""A user's first session, driven through the `seqnet` CLI as subprocesses: start a devnet in
the background, send a transfer and follow it to finalized, read balances and status, stake,
stop the devnet. Checks what each command reports, not only its exit status."""

from __future__ import annotations

import json

import pytest

from protocol.constants import TOKEN

from client.devnet import is_alive, stop_directory
from tests.client.clihelpers import seqnet

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(900)]

ALICE = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
BOB = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"


def test_user_flow_up_send_finalized_balance_status_delegate_down(tmp_path):
    directory = tmp_path / "devnet"
    d = ["--dir", str(directory)]
    try:
        up = seqnet("devnet", "up", "--detach", "--json", *d, timeout=400)
        endpoints = up.json()
        assert endpoints == json.loads((directory / "endpoints.json").read_text())
        assert [s["name"] for s in endpoints["sequencers"]] == ["seq1", "seq2", "seq3", "seq4"]
        assert all(s["running"] for s in endpoints["sequencers"]), up.err
        assert endpoints["accounts"][0]["address"] == ALICE

        before = seqnet("balance", BOB, "--json", *d).json()
        sent = seqnet("send", "--to", BOB, "--value", "1.5", "--wait", "finalized", "--json", *d,
                      timeout=200).json()
        assert sent["label"] == "finalized"
        assert sent["receipt"]["tx_hash"] == sent["hash"]
        assert sent["batch"]["status"] == "finalized" and sent["batch"]["batch_id"] is not None
        assert sent["seconds"]["finalized"] < 60, sent["seconds"]
        kept = json.loads((directory / "receipts" / f"{sent['hash']}.json").read_text())
        assert kept["receipt"] == sent["receipt"]
        assert any("handed to ranger" in line for line in sent["rangers"]), sent["rangers"]
        for label in ("unsafe", "attested", "safe", "finalized"):
            assert label in sent["seconds"]

        after = seqnet("balance", BOB, "--json", *d).json()
        assert int(after["l2"]["balance"]) == int(before["l2"]["balance"]) + 15 * TOKEN // 10

        tx = seqnet("tx", sent["hash"], "--json", *d).json()
        assert tx["label"] == "finalized" and tx["block"]["number"] == sent["block"]["number"]
        verified = seqnet("receipt", "verify", str(directory / "receipts" / f"{sent['hash']}.json"),
                          "--json", *d).json()
        assert verified["signature_valid"] and verified["leader_of_slot"] and verified["kept"]

        status = seqnet("status", "--json", *d).json()
        assert status["chain_id"] == 7357 and status["leader"] is not None
        assert len(status["next_leaders"]) > 0
        by_name = {s["name"]: s for s in status["sequencers"]}
        assert [int(by_name[f"seq{i}"]["total_stake"]) // TOKEN for i in range(1, 5)] == [35_000, 30_000, 25_000, 20_000]
        assert all(s["status"] == "active" for s in status["sequencers"])
        assert sum(s["produced"] for s in status["sequencers"]) >= 1
        assert status["heads"]["finalized"] >= sent["block"]["number"]
        assert status["heads"]["unsafe"] >= status["heads"]["safe"] >= status["heads"]["finalized"]

        delegated = seqnet("stake", "delegate", "--to", "seq4", "--amount", "1000", "--from", "2",
                           "--json", *d).json()
        assert delegated["method"] == "delegate"
        status = seqnet("status", "--json", *d).json()
        seq4 = next(s for s in status["sequencers"] if s["name"] == "seq4")
        assert int(seq4["delegated"]) == 1000 * TOKEN
        assert int(seq4["total_stake"]) == 21_000 * TOKEN

        pids = [entry["pid"] for entry in json.loads((directory / "pids.json").read_text())["services"].values()]
        down = seqnet("devnet", "down", "--json", *d).json()
        assert sorted(down["stopped"]) == sorted(["l1", "seq1", "seq2", "seq3", "seq4", "ranger1"])
        assert not any(is_alive(pid) for pid in pids)
        unreachable = seqnet("status", *d, check=False)
        assert unreachable.code == 1 and unreachable.err.startswith("error: cannot reach")
    finally:
        stop_directory(directory)
