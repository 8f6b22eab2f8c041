"""The ranger service against the real L1 mock app (in process): each job's tick driven by the
test; the REST routes through TestClient."""

from __future__ import annotations

import pytest

from nodekit.errors import TemporaryError
from protocol.constants import TOKEN
from protocol.encoding import encode_block, encode_signed_header
from protocol.fraud import InvalidStateEvidence, encode_evidence
from protocol.hashing import compute_prefix_chain
from protocol.params import BPS
from protocol.receipts import receipt_to_json, sign_receipt
from protocol.transactions import decode_transaction, sign_transaction
from protocol.witness import build_witness
from ranger.core import follower, reporter, verifier, watchtower

from .conftest import ACCOUNTS, RANGER_KEY, RANGER_OPERATOR, hx, resign


def transfer(params, account, to, value, nonce):
    return decode_transaction(sign_transaction(
        account.private_key, chain_id=params.chain_id, nonce=nonce, to=to, value=value,
        max_fee_per_gas=2 * params.base_fee_wei, max_priority_fee_per_gas=params.base_fee_wei))


def txs(params, n=3):
    return [transfer(params, ACCOUNTS[i % 3], ACCOUNTS[3 + i % 2].address, TOKEN, i // 3)
            for i in range(n)]


def test_health_status_and_registration(net):
    assert net.ranger.get("/health").json() == {"status": "ok"}
    net.tick(reporter)
    rangers = net.get("/rangers")
    assert [r["node_key"] for r in rangers] == [hx(RANGER_KEY.public)]
    assert rangers[0]["operator"] == hx(RANGER_OPERATOR.address)
    net.tick(reporter)          # already registered: no second call
    status = net.ranger.get("/status").json()
    assert status["registered"] and status["node_key"] == hx(RANGER_KEY.public)
    assert "seqnet_ranger_blocks_executed_total" in net.ranger.get("/metrics").text


def test_honest_blocks_verified_and_reported(net):
    chain = net.start_chain()
    blocks = [chain.build(txs(net.params)), chain.build(),
              chain.build([transfer(net.params, ACCOUNTS[0], ACCOUNTS[4].address, TOKEN, 1)])]
    net.submit(*blocks)
    net.tick(rounds=2)
    assert net.node.chain.executed == 3
    stats = net.ranger.get("/stats").json()
    assert stats["blocks_seen"] == 3 and stats["blocks_verified"] == 3
    assert stats["faults_found"] == 0 and stats["blocks_reported"] == 3
    assert stats["l1_verified"] == 3
    block = net.get(f"/blocks/{blocks[0].number}")
    assert hx(RANGER_KEY.public) in block["verified_by"]
    # finalized blocks pay the ranger reward
    net.mine(net.params.challenge_window_l1_blocks + 1)
    stats = net.ranger.get("/stats").json()
    assert int(stats["verification_rewards"]) == 3 * net.params.ranger_reward_wei


def test_invalid_state_detected_proven_slashed_rolled_back(net):
    chain = net.start_chain()
    good = chain.build(txs(net.params))
    bad = resign(chain, chain.build([transfer(net.params, ACCOUNTS[0], ACCOUNTS[4].address, TOKEN, 1)],
                                  append=False), state_root=b"\x13" * 32)
    net.submit(good, bad)
    offender = bad.header.producer
    net.tick(reporter)            # registers (posts the ranger bond)
    before = net.get(f"/sequencers/{hx(offender)}")
    reporter_before = net.balance(RANGER_OPERATOR)
    net.tick(follower, verifier)
    assert net.node.chain.halted_at == bad.number and net.node.chain.executed == good.number
    net.tick(reporter)
    reports = net.ranger.get("/reports").json()
    assert len(reports) == 1
    report = reports[0]
    assert report["kind"] == "invalid_state" and report["status"] == "accepted"
    assert report["l1_verdict"] == "accepted" and report["block_number"] == bad.number
    stake = int(before["total_stake"])
    assert int(report["slashed"]) == stake * net.params.slash_invalid_state_bps // BPS
    assert int(report["reward"]) == int(report["slashed"]) * net.params.reporter_share_bps // BPS
    assert net.balance(RANGER_OPERATOR) == reporter_before + int(report["reward"])
    assert net.get(f"/sequencers/{hx(offender)}")["status"] == "jailed"
    # L1 rolled the bad block back; the ranger rewinds and follows the rebuilt chain
    assert net.get("/status")["accepted"]["number"] == good.number
    net.tick(rounds=2)
    assert net.node.chain.halted_at is None
    assert net.ranger.get("/status").json()["stored_head"] == good.number
    detail = net.ranger.get(f"/reports/{report['id']}").json()
    assert detail["evidence"].startswith("0x") and detail["evidence_size"] > 0
    # no re-submission of evidence already on L1
    net.tick(rounds=2)
    assert len(net.get("/fraud-proofs")) == 1


def test_transient_l1_errors_are_retried_and_findings_survive_restart(net):
    chain = net.start_chain()
    good = chain.build(txs(net.params))
    bad = resign(chain, chain.build(append=False), state_root=b"\x14" * 32)
    net.submit(good, bad)
    net.tick(reporter)
    net.tick(follower, verifier)
    net.transport.prefix = "/calls"
    net.transport.failures = 2
    for _ in range(2):            # the loop logs TemporaryError and retries on the next tick
        with pytest.raises(TemporaryError):
            net.tick(reporter)
    report = net.ranger.get("/reports").json()[0]
    assert report["status"] == "pending" and report["attempts"] == 2
    assert "injected failure" in report["last_error"]
    assert net.get("/fraud-proofs") == []
    # restart before the proof goes out: the finding is still there and goes out once
    net.stop_ranger()
    net.start_ranger()
    assert net.ranger.get("/reports").json()[0]["status"] == "pending"
    net.tick(reporter)
    assert net.ranger.get("/reports").json()[0]["status"] == "accepted"
    assert len(net.get("/fraud-proofs")) == 1
    # the restarted ranger re-executes the stored chain and follows on
    net.tick(rounds=2)
    assert net.node.chain.executed == good.number and net.node.chain.halted_at is None
    assert len(net.get("/fraud-proofs")) == 1


def test_lost_response_is_not_resubmitted(net):
    """L1 applied the proof but the ranger never heard back: it finds it on L1 next tick."""
    chain = net.start_chain()
    bad = resign(chain, chain.build(txs(net.params), append=False), state_root=b"\x15" * 32)
    net.submit(bad)
    net.tick(reporter)
    net.tick(follower, verifier)
    finding = net.ranger.get("/reports?evidence=true").json()[0]
    # someone (this ranger, before a crash) submitted it already
    net.call(RANGER_OPERATOR, "submit_fraud_proof", kind="invalid_state",
             evidence=finding["evidence"])
    net.tick(reporter)
    report = net.ranger.get("/reports").json()[0]
    assert report["status"] == "accepted" and int(report["reward"]) > 0
    assert len(net.get("/fraud-proofs")) == 1


def test_receipt_violation_from_users_receipt(net):
    chain = net.start_chain()
    transactions = txs(net.params, 3)
    slot = chain.next_slot()
    leader = chain.leader_key(slot)
    hashes = [tx.hash for tx in transactions]
    links = compute_prefix_chain(hashes)
    receipt = sign_receipt(leader, net.params.chain_id, hashes[0], slot, 0, links[0])
    posted = net.ranger.post("/receipts", json=receipt_to_json(receipt))
    assert posted.status_code == 200, posted.text
    assert posted.json()[0]["status"] == "pending"
    # a tampered receipt is refused
    bad = receipt_to_json(receipt) | {"index": 1}
    refused = net.ranger.post("/receipts", json=bad)
    assert refused.status_code == 400 and refused.json()["error"] == "InvalidReceipt"
    # the leader front-runs: puts its own transaction first
    own = transfer(net.params, ACCOUNTS[9], ACCOUNTS[8].address, TOKEN, 0)
    block = chain.build([own] + transactions, slot=slot)
    net.submit(block)
    net.tick(rounds=2)
    report = net.ranger.get("/reports").json()[0]
    assert report["kind"] == "receipt_violation" and report["status"] == "accepted"
    assert net.ranger.get("/receipts").json()[0]["status"] == "violated"
    seq = net.get(f"/sequencers/{hx(leader.public)}")
    assert seq["status"] == "jailed"


def test_equivocation_from_observations(net):
    chain = net.start_chain()
    one = chain.build(append=False)
    two = chain.build(txs(net.params, 1), slot=one.slot, append=False)
    response = net.ranger.post("/observations", json={
        "blocks": [hx(encode_block(one))], "source": "seq1"})
    assert response.json() == {"accepted": 1, "ignored": 0, "findings": []}
    response = net.ranger.post("/observations", json={
        "headers": [hx(encode_signed_header(two.header, two.signature))], "source": "seq2"})
    assert response.json()["accepted"] == 1 and len(response.json()["findings"]) == 1
    net.tick(reporter)
    report = net.ranger.get("/reports").json()[0]
    assert report["kind"] == "equivocation" and report["status"] == "accepted"
    assert int(report["reward"]) > 0


def test_equivocation_route_refuses_non_equivocation(net):
    chain = net.start_chain()
    one = chain.build(append=False)
    raw = hx(encode_signed_header(one.header, one.signature))
    response = net.ranger.post("/evidence/equivocation", json={"first": raw, "second": raw})
    assert response.status_code == 400 and response.json()["error"] == "InvalidProof"


def test_objects_signed_by_unregistered_keys_are_ignored(net):
    """Anyone can sign a header; only registered sequencers can be slashed. Once the ranger
    knows L1's list, objects signed by other keys are not stored and make no finding."""
    import dataclasses

    from protocol.signing import NodeKey

    chain = net.start_chain()
    net.tick(follower.tick_sequencers)                  # learns the registered sequencers
    assert net.node.operators
    stranger = NodeKey.from_seed(b"\x5a" * 32)
    one = chain.build(append=False)
    first = dataclasses.replace(one.header, producer=stranger.public)
    second = dataclasses.replace(first, timestamp_ms=first.timestamp_ms + 1)
    raws = [hx(encode_signed_header(h, stranger.sign(b"block", net.params.chain_id, h.hash)))
            for h in (first, second)]
    response = net.ranger.post("/observations", json={"headers": raws, "source": "seq9"})
    assert response.json() == {"accepted": 0, "ignored": 2, "findings": []}
    response = net.ranger.post("/evidence/equivocation",
                               json={"first": raws[0], "second": raws[1]})
    assert response.status_code == 400 and response.json()["error"] == "InvalidProof"
    assert "not a sequencer registered on L1" in response.text
    # the same pair from a registered key is an equivocation
    two = chain.build(txs(net.params, 1), slot=one.slot, append=False)
    response = net.ranger.post("/evidence/equivocation", json={
        "first": hx(encode_signed_header(one.header, one.signature)),
        "second": hx(encode_signed_header(two.header, two.signature))})
    assert response.status_code == 200, response.text


def test_censorship_of_due_queue_item(net):
    chain = net.start_chain()
    net.call(ACCOUNTS[1], "deposit", to=hx(ACCOUNTS[2].address), amount=str(5 * TOKEN))
    item_block = net.contract.queue[0].l1_block
    net.mine(net.params.force_delay_l1_blocks + 1)
    censoring = chain.build(l1_origin=item_block + net.params.force_delay_l1_blocks, append=False)
    net.ranger.post("/observations", json={"blocks": [hx(encode_block(censoring))]})
    net.tick(follower, watchtower, reporter)
    report = net.ranger.get("/reports").json()[0]
    assert report["kind"] == "censorship" and report["status"] == "accepted"
    slash = net.get(f"/slashes/{report['slash_id']}")
    assert slash["bps"] == net.params.slash_censorship_bps


def test_false_accusation_loses_the_bond(net):
    chain = net.start_chain()
    honest = chain.build(txs(net.params), append=False)
    parent_state = chain.head_state
    chain.append(honest, None)
    net.submit(honest)
    net.tick(reporter)
    before = net.balance(RANGER_OPERATOR)
    witness = build_witness(parent_state, honest, chain.operator_of(honest.header.producer),
                            net.params)
    evidence = encode_evidence(InvalidStateEvidence(honest, tuple(witness)))
    response = net.ranger.post("/admin/fraud-proofs", json={"kind": "invalid_state",
                                                            "evidence": hx(evidence)})
    assert response.status_code == 200, response.text
    assert response.json()["result"]["status"] == "rejected"
    assert net.balance(RANGER_OPERATOR) == before - net.params.fraud_bond_wei
    net.tick(reporter)
    report = net.ranger.get(f"/reports/{response.json()['finding_id']}").json()
    assert report["status"] == "rejected" and int(report["bond_lost"]) == net.params.fraud_bond_wei
    assert net.get(f"/sequencers/{hx(honest.header.producer)}")["status"] == "active"


def test_pulls_observations_from_sequencers(net):
    """GET {sequencer}/observations?after=<cursor>: signed blocks it saw, also invalid ones."""
    import httpx

    from nodekit.http import ServiceClient
    from protocol.chainbuilder import attest

    chain = net.start_chain()
    one = chain.build(append=False)
    two = chain.build(txs(net.params, 1), slot=one.slot, append=False)
    seen = [{"id": 1, "kind": "block", "raw": hx(encode_block(one))},
            {"id": 2, "kind": "attestation",
             "raw": hx(__import__("protocol.encoding", fromlist=["x"]).encode_attestation(
                 attest(chain.keys[0], one.header, net.params)))},
            {"id": 3, "kind": "block", "raw": hx(encode_block(two))},
            {"id": 4, "kind": "block", "raw": "0xdeadbeef"}]
    asked = []

    def handler(request: httpx.Request) -> httpx.Response:
        after = int(request.url.params["after"])
        asked.append(after)
        return httpx.Response(200, json={"observations": [o for o in seen if o["id"] > after]})

    url = "http://seq1"
    net.node.settings.sequencer_urls.append(url)
    net.node._peer_clients[url] = ServiceClient(url, transport=httpx.MockTransport(handler))
    net.tick(follower.tick_all, follower.tick_all)
    assert asked == [0, 4]
    report = net.ranger.get("/reports").json()[0]
    assert report["kind"] == "equivocation" and report["source"] == "observation"
    assert net.ranger.get("/stats").json()["observations"] == 3


def test_admin_route_needs_the_token_when_one_is_set(net):
    """The devnet launcher gives the ranger an admin token: without it, whoever reaches the
    ranger could spend its bond on false accusations."""
    object.__setattr__(net.node.settings, "admin_token", "s3cret")
    body = {"kind": "invalid_state", "evidence": "0x00"}
    before = net.balance(RANGER_OPERATOR)
    for headers in ({}, {"Authorization": "Bearer wrong"}):
        response = net.ranger.post("/admin/fraud-proofs", json=body, headers=headers)
        assert response.status_code == 401, response.text
        assert response.json()["error"] == "AdminUnauthorized"
    response = net.ranger.post("/admin/fraud-proofs", json=body,
                               headers={"Authorization": "Bearer s3cret"})
    assert response.status_code == 400, response.text   # past the token: the evidence is junk
    assert net.balance(RANGER_OPERATOR) == before
