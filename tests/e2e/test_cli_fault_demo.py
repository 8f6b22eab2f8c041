"""The demo scenario through the CLI: `devnet up --fault 2:reorder`, send transactions with
receipts, and `status` shows sequencer 2 slashed and jailed and the ranger paid for the proof;
then its operator unjails it with `stake unjail`: refused before the unjail delay, accepted
after it."""

from __future__ import annotations

import subprocess
import time

import httpx
import pytest

from client.devnet import stop_directory
from tests.client.clihelpers import seqnet, seqnet_argv

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(900)]

BOB = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
SEQ2_OPERATOR = "8"
"""Dev account index of seq2's operator (protocol.chainbuilder.devnet_operators: 9, 8, ...)."""


def send_until_seq2_jailed(d: list[str], seq2_key: str, deadline_s: float = 420) -> tuple[dict, list, dict]:
    """Five users at once, through seq1 (the default: an honest node), which forwards to the
    slot's leader (seq2 leads 28% of the slots), until `status` shows seq2 jailed and slashed."""
    deadline = time.monotonic() + deadline_s
    sent = 0
    while True:
        senders = [subprocess.Popen([*seqnet_argv(), "send", "--to", BOB, "--value", "0.01",
                                     "--from", str(i), "--wait", "receipt", *d],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                   for i in range(5)]
        for proc in senders:
            try:
                proc.wait(timeout=120)
            except subprocess.TimeoutExpired:  # an overloaded machine: the next round retries
                proc.kill()
                proc.wait()
        sent += len(senders)
        status = seqnet("status", "--json", *d).json()
        seq2 = next(s for s in status["sequencers"] if s["node_key"].lower() == seq2_key)
        slashes = [s for s in status["slashes"] if s["node_key"].lower() == seq2_key]
        if seq2["status"] == "jailed" and slashes:
            return seq2, slashes, status
        assert time.monotonic() < deadline, f"seq2 not slashed after {sent} transactions: {seq2}"


def test_reordering_sequencer_is_slashed_and_jailed_and_the_ranger_rewarded(tmp_path):
    directory = tmp_path / "devnet"
    d = ["--dir", str(directory)]
    try:
        endpoints = seqnet("devnet", "up", "--detach", "--fault", "2:reorder", "--json", *d,
                           timeout=400).json()
        assert endpoints["sequencers"][1]["faults"] == ["reorder"]
        ranger_operator = endpoints["rangers"][0]["operator"].lower()
        seq2_key = endpoints["sequencers"][1]["node_key"].lower()
        seq2, slashes, status = send_until_seq2_jailed(d, seq2_key)
        deadline = time.monotonic() + 300
        assert int(seq2["slashed"]) > 0 and seq2["slashes"] >= 1
        slash = slashes[0]
        assert slash["reason"] == "receipt_violation", slash
        assert (slash.get("reporter") or "").lower() == ranger_operator
        assert int(slash["reporter_paid"]) > 0
        # No honest sequencer is slashed for fraud (an overloaded machine may jail one for
        # downtime: that is the protocol working, not a false accusation).
        wrongly = [s for s in status["slashes"]
                   if s["node_key"].lower() != seq2_key and s["reason"] != "downtime"]
        assert wrongly == []

        # Unjail: the L1 says from which L1 block; before it the CLI relays the refusal.
        on_l1 = httpx.get(f"{endpoints['l1']}/sequencers/{seq2_key}", timeout=30).json()
        assert on_l1["status"] == "jailed" and on_l1["unjail_from_l1_block"] is not None
        while True:
            attempt = seqnet("stake", "unjail", "--from", SEQ2_OPERATOR, "--json", *d, check=False)
            # read after the call: the head it was judged at was no higher
            head = int(httpx.get(f"{endpoints['l1']}/status", timeout=30).json()["l1_head"])
            if head < on_l1["unjail_from_l1_block"]:
                assert attempt.code == 1 and "UnjailTooEarly" in attempt.err, attempt
            if attempt.code == 0:
                break
            assert "UnjailTooEarly" in attempt.err, attempt.err
            assert time.monotonic() < deadline, "unjail still refused"
            time.sleep(1.0)
        assert attempt.json()["method"] == "unjail"
        status = seqnet("status", "--json", *d).json()
        seq2 = next(s for s in status["sequencers"] if s["node_key"].lower() == seq2_key)
        assert seq2["status"] == "active", seq2
    finally:
        stop_directory(directory)


def test_a_sequencer_made_to_cheat_at_runtime_is_slashed(tmp_path):
    """`seqnet fault set seq2 reorder` on a running honest devnet (the sequencers' admin token
    comes from <dir>/admin_token); refused with a wrong token or an unknown kind."""
    directory = tmp_path / "devnet"
    d = ["--dir", str(directory)]
    try:
        endpoints = seqnet("devnet", "up", "--detach", "--json", *d, timeout=400).json()
        seq2_key = endpoints["sequencers"][1]["node_key"].lower()
        token_file = directory / "admin_token"
        assert token_file.stat().st_mode & 0o077 == 0  # the owner's only
        shown = seqnet("fault", "show", "--json", *d).json()
        assert [(r["sequencer"], r["faults"]) for r in shown] == [(f"seq{i}", []) for i in range(1, 5)]
        wrong = seqnet("fault", "set", "seq2", "reorder", "--admin-token", "nope", *d, check=False)
        assert wrong.code == 1 and "bad admin token" in wrong.err, wrong.err
        unknown = seqnet("fault", "set", "seq2", "teleport", *d, check=False)
        assert unknown.code == 1 and "unknown fault" in unknown.err
        assert seqnet("fault", "set", "seq2", "reorder", "--json", *d).json() == \
            {"sequencer": "seq2", "faults": ["reorder"]}
        shown = {r["sequencer"]: r["faults"] for r in seqnet("fault", "show", "--json", *d).json()}
        assert shown == {"seq1": [], "seq2": ["reorder"], "seq3": [], "seq4": []}
        seq2, slashes, _ = send_until_seq2_jailed(d, seq2_key)
        assert slashes[0]["reason"] == "receipt_violation" and int(seq2["slashed"]) > 0
        assert seqnet("fault", "clear", "seq2", "--json", *d).json()["faults"] == []
    finally:
        stop_directory(directory)
