"""The L1 mock as a real process (uvicorn on a free 127.0.0.1 port), driven over HTTP:
four sequencers with different stakes and a delegator, the schedule, batches, each kind of
fraud proof, a failed proof, bad input, and a kill -9 restart on the same database."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from protocol.blocks import QUEUE_DEPOSIT
from protocol.chainbuilder import ChainBuilder
from protocol.constants import TOKEN
from protocol.fraud import EquivocationEvidence, encode_evidence
from protocol.genesis import make_devnet_genesis
from protocol.params import BPS
from protocol.schedule import Member, compute_schedule, compute_sequencer_set
from nodekit.settings import write_params_file
from tests import waiting

from ..helpers import (
    ACCOUNTS,
    NODE_KEYS,
    STAKES,
    amount,
    block_args,
    call_body,
    censorship_evidence,
    equivocation_evidence,
    hx,
    invalid_state_evidence,
    make_params,
    receipt_violation_evidence,
    signed_transfer,
    with_header,
)

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[3]
REPORTER = 9
DELEGATOR = 5
DEADLINE_S = 60
START_DEADLINE_S = 180
"""Generous: on a loaded 2-core machine the imports alone can take a minute."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(what: str, check, timeout_s: float = DEADLINE_S, interval_s: float = 0.05):
    """tests.waiting.wait_for with this scenario's defaults."""
    return waiting.wait_for(what, check, timeout_s, interval_s)


class L1Process:
    def __init__(self, data_dir: Path, params_file: Path, params) -> None:
        self.data_dir, self.params_file, self.params = data_dir, params_file, params
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self.http = httpx.Client(base_url=self.url, timeout=10)

    def start(self) -> None:
        env = dict(os.environ, SEQNET_L1_MAX_BODY_BYTES=str(2 * 1024 * 1024))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "l1mock", "--host", "127.0.0.1", "--port", str(self.port),
             "--data-dir", str(self.data_dir), "--params-file", str(self.params_file),
             "--log-level", "warning"], cwd=ROOT, env=env)
        def answering():
            if self.proc.poll() is not None:
                raise waiting.Abort(f"the L1 process exited with {self.proc.returncode}")
            return self.get("/status")
        wait_for("the L1 to answer", answering, timeout_s=START_DEADLINE_S, interval_s=0.1)

    def kill(self, sig=signal.SIGKILL) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=10)

    def get(self, path: str, **params):
        response = self.http.get(path, params=params)
        assert response.status_code == 200, response.text
        return response.json()

    def post(self, body) -> httpx.Response:
        return self.http.post("/calls", json=body)

    def call(self, who: int, method: str, **args) -> dict:
        nonce = self.get(f"/accounts/{hx(ACCOUNTS[who].address)}")["nonce"]
        response = self.post(call_body(ACCOUNTS[who], self.params.l1_chain_id, method, nonce, args))
        assert response.status_code == 200, response.text
        return response.json()["result"]

    def refuse(self, who: int, method: str, error: str, **args) -> dict:
        nonce = self.get(f"/accounts/{hx(ACCOUNTS[who].address)}")["nonce"]
        response = self.post(call_body(ACCOUNTS[who], self.params.l1_chain_id, method, nonce, args))
        assert response.status_code == 400, response.text
        assert response.json()["error"] == error, response.text
        return response.json()

    def balance(self, who: int) -> int:
        return int(self.get(f"/accounts/{hx(ACCOUNTS[who].address)}")["balance"])


@pytest.fixture
def l1_process(tmp_path):
    genesis_ms = time.time_ns() // 1_000_000
    params = make_params(genesis_time_ms=genesis_ms, slot_ms=100, parent_wait_ms=10, epoch_slots=24,
                         lookahead_slots=2, l1_block_ms=100, challenge_window_l1_blocks=30,
                         unbonding_l1_blocks=60, downtime_window_slots=100,
                         downtime_max_missed=100)
    params_file = tmp_path / "params.json"
    write_params_file(params_file, params)
    process = L1Process(tmp_path / "l1", params_file, params)
    process.start()
    try:
        yield process
    finally:
        process.kill(signal.SIGTERM)
        process.http.close()


def test_devnet_scenario(l1_process):
    l1 = l1_process
    params = l1.params
    # --- four sequencers with different stakes, one delegator --------------------------
    for i, stake in enumerate(STAKES):
        l1.call(i, "register_sequencer", node_key=hx(NODE_KEYS[i].public),
                endpoint=f"http://127.0.0.1:{9100 + i}", stake=amount(stake), commission_bps=1000)
    l1.call(DELEGATOR, "delegate", sequencer=hx(NODE_KEYS[3].public), amount=amount(10_000))
    registered_at = l1.get("/status")["l1_head_timestamp_ms"]

    def full_epoch():
        status = l1.get("/status")
        for epoch in range(status["next_snapshot_epoch"] - 1, -1, -1):
            data = l1.get(f"/epochs/{epoch}")
            if len(data["members"]) == 4 and \
                    epoch * params.epoch_ms + params.genesis_time_ms - 200 > registered_at:
                return data
        return None

    epoch_data = wait_for("an epoch snapshot with all four sequencers", full_epoch)
    epoch = epoch_data["epoch"]
    stakes_tokens = (35_000, 30_000, 25_000, 30_000)
    members = [Member(NODE_KEYS[i].public, ACCOUNTS[i].address, s * TOKEN)
               for i, s in enumerate(stakes_tokens)]
    expected_set = compute_sequencer_set(epoch, members, params)
    schedule = compute_schedule(expected_set, params)
    assert epoch_data["schedule"] == [hx(k) for k in schedule]
    counts = {m["node_key"]: m["slots"] for m in epoch_data["members"]}
    total = sum(stakes_tokens)
    for i, stake in enumerate(stakes_tokens):
        assert abs(counts[hx(NODE_KEYS[i].public)] - params.epoch_slots * stake / total) <= 1
    assert counts[hx(NODE_KEYS[0].public)] > counts[hx(NODE_KEYS[2].public)]

    chain = ChainBuilder(params, stakes_tokens=stakes_tokens, genesis=make_devnet_genesis(params))
    chain.members = members
    first_slot = epoch * params.epoch_slots

    # --- a batch signed by the wrong leader is refused ---------------------------------
    leader = chain.leader_key(first_slot)
    wrong = next(k for k in NODE_KEYS[:4] if k.public != leader.public)
    l1.refuse(0, "submit_batch", "WrongLeader",
              **block_args(chain.build(slot=first_slot, producer=wrong, append=False)))

    # --- a valid batch is accepted and finalizes ---------------------------------------
    blocks = [chain.build(slot=first_slot + i) for i in range(3)]
    assert l1.call(1, "submit_batch", **block_args(*blocks))["accepted"] == 3
    assert l1.get("/status")["accepted"]["number"] == 3
    wait_for("the batch to finalize", lambda: l1.get("/status")["finalized"]["number"] == 3)
    assert l1.get("/blocks/3")["status"] == "finalized"

    def prove(kind: str, evidence: bytes, offender: bytes) -> dict:
        before = l1.balance(REPORTER)
        result = l1.call(REPORTER, "submit_fraud_proof", kind=kind, evidence=hx(evidence))
        assert result["status"] == "accepted", result
        paid = int(result["reporter_paid"])
        assert paid == int(result["slashed"]) * params.reporter_share_bps // BPS > 0
        assert l1.balance(REPORTER) == before + paid
        seq = l1.get(f"/sequencers/{hx(offender)}")
        assert seq["status"] == "jailed" and kind in seq["jail_reason"]
        return result

    # --- invalid_state: accepted, proven, rolled back ----------------------------------
    honest = chain.build(slot=first_slot + 3, append=False)
    bad = with_header(chain, honest, state_root=b"\x66" * 32)
    evidence = invalid_state_evidence(chain, bad)  # before the submit: the window is short
    l1.call(1, "submit_batch", **block_args(bad))
    prove("invalid_state", evidence, bad.header.producer)
    status = l1.get("/status")
    assert status["accepted"]["number"] == 3 and status["accepted"]["hash"] == hx(blocks[-1].hash)

    # --- equivocation by the sequencer the delegator backs: delegator cut pro rata ------
    target = NODE_KEYS[3].public
    slot = next(s for s in range(first_slot + 4, first_slot + params.epoch_slots)
                if chain.leader_key(s).public == target)
    block = chain.build(slot=slot, append=False)
    result = prove("equivocation", equivocation_evidence(chain, block), target)
    slash = l1.get(f"/slashes/{result['slash_id']}")
    assert slash["cuts"][hx(ACCOUNTS[DELEGATOR].address)] == amount(5_000)
    assert slash["cuts"][hx(ACCOUNTS[3].address)] == amount(10_000)
    seq = l1.get(f"/sequencers/{hx(target)}")
    delegation = next(d for d in seq["delegations"] if d["owner"] == hx(ACCOUNTS[DELEGATOR].address))
    assert delegation["amount"] == amount(5_000)

    # --- receipt_violation -------------------------------------------------------------
    tx = signed_transfer(params, ACCOUNTS[6], ACCOUNTS[7].address, TOKEN, 0)
    promised = signed_transfer(params, ACCOUNTS[7], ACCOUNTS[6].address, TOKEN, 0).hash
    block = chain.build(slot=first_slot + 5, transactions=[tx], append=False)
    prove("receipt_violation", receipt_violation_evidence(chain, block, promised),
          block.header.producer)

    # --- censorship --------------------------------------------------------------------
    l1.call(8, "deposit", to=hx(ACCOUNTS[8].address), amount=amount(2))
    item_json = l1.get("/queue/0")
    due = item_json["due_l1_origin"]
    wait_for("the deposit to be due", lambda: l1.get("/status")["l1_head"] >= due)
    from protocol.blocks import QueueItem
    item = QueueItem(0, QUEUE_DEPOSIT, item_json["l1_block"], ACCOUNTS[8].address,
                     ACCOUNTS[8].address, 2 * TOKEN)
    censor_slot = next(s for s in range(first_slot + 6, first_slot + params.epoch_slots)
                       if chain.leader_key(s).public != target)
    censoring = chain.build(slot=censor_slot, l1_origin=due, append=False)
    prove("censorship", censorship_evidence(censoring, item), censoring.header.producer)

    # --- a failed proof loses its bond -------------------------------------------------
    same = encode_evidence(EquivocationEvidence((blocks[0].header, blocks[0].signature),
                                                (blocks[0].header, blocks[0].signature)))
    before = l1.balance(REPORTER)
    result = l1.call(REPORTER, "submit_fraud_proof", kind="equivocation", evidence=hx(same))
    assert result["status"] == "rejected"
    assert l1.balance(REPORTER) == before - params.fraud_bond_wei
    assert len(l1.get("/slashes")) == 4

    # --- bad input never yields a 500 --------------------------------------------------
    good = call_body(ACCOUNTS[0], params.l1_chain_id, "transfer", 0,
                     {"to": hx(ACCOUNTS[1].address), "amount": "1"})
    raw_block = block_args(chain.build(slot=first_slot + 20, append=False))["blocks"][0]
    nonce0 = l1.get(f"/accounts/{hx(ACCOUNTS[0].address)}")["nonce"]
    bad_bodies = [
        call_body(ACCOUNTS[0], params.l1_chain_id, "submit_batch", nonce0,
                  {"blocks": [raw_block[: len(raw_block) // 2]]}),
        call_body(ACCOUNTS[0], params.l1_chain_id, "submit_fraud_proof", nonce0,
                  {"kind": "invalid_state", "evidence": "0xdeadbeef"}),
        dict(good, signature="0x" + "ff" * 65), dict(good, nonce=-1), dict(good, nonce=2**70),
        dict(good, args={"to": 5, "amount": {"x": 1}}), dict(good, method=None), {}, [], "x", 17,
        dict(good, args={"a" * 100: [[[[[[[[[[]]]]]]]]]]}),
    ]
    for body in bad_bodies:
        response = l1.post(body)
        assert 400 <= response.status_code < 500, (body, response.text)
    for content in (b"\xff\xfe", b"{" * 10_000, b"x" * (3 * 1024 * 1024)):
        response = l1.http.post("/calls", content=content,
                                headers={"content-type": "application/json"})
        assert 400 <= response.status_code < 500, response.status_code
    for path in ("/blocks/-1", "/accounts/0xzz", "/sequencers/" + "0x" + "1" * 64, "/slots/-5",
                 "/events?after=-1", "/epochs/99999999999999999999999"):
        assert 400 <= l1.http.get(path).status_code < 500, path

    # --- kill -9 and restart on the same database: everything intact ------------------
    reads = ("/sequencers", "/slashes", "/fraud-proofs", "/queue", "/batches", "/rangers")
    before_reads = {path: l1.get(path) for path in reads}
    before_status = l1.get("/status")
    l1.kill(signal.SIGKILL)
    l1.start()
    after_status = l1.get("/status")
    for path in reads:
        assert l1.get(path) == before_reads[path], path
    assert after_status["accepted"] == before_status["accepted"]
    assert after_status["l1_head"] >= before_status["l1_head"]
    assert l1.call(0, "transfer", to=hx(ACCOUNTS[1].address), amount="1") == {}
