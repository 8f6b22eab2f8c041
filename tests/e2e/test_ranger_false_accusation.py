"""End-to-end: a ranger that reports a valid block (invalid_state evidence against an honest
block, posted with /admin/fraud-proofs, skipping the local check) is refused by L1 and loses
its bond; the accused sequencer is untouched. Real processes over HTTP: slow."""

from __future__ import annotations

import pytest

try:
    from .test_ranger_support import RANGER_OPERATOR, Scenario, hx, start_devnet, wait_for
except ImportError:
    from test_ranger_support import RANGER_OPERATOR, Scenario, hx, start_devnet, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(300)]


def test_false_accusation_is_rejected_and_costs_the_bond(tmp_path):
    from protocol.encoding import decode_block
    from protocol.fraud import InvalidStateEvidence, encode_evidence
    from protocol.genesis import compute_genesis_state, make_devnet_genesis
    from protocol.transition import apply_block
    from protocol.witness import build_witness

    with start_devnet(tmp_path / "net") as net:
        s = Scenario(net)
        try:
            wait_for("an accepted block on L1",
                     lambda: s.l1.get("/status")["accepted"]["number"] >= 1, 240)
            operators = {q["node_key"]: bytes.fromhex(q["operator"][2:])
                         for q in s.l1.get("/sequencers")}
            state = compute_genesis_state(make_devnet_genesis(s.params))
            block = decode_block(bytes.fromhex(s.l1.get("/blocks/1")["raw"][2:]))
            fee_recipient = operators[hx(block.header.producer)]
            witness = build_witness(state, block, fee_recipient, s.params)
            apply_block(state.copy(), block, fee_recipient, s.params)   # it is valid
            evidence = encode_evidence(InvalidStateEvidence(block, tuple(witness)))
            balance = int(s.l1.get(f"/accounts/{hx(RANGER_OPERATOR.address)}")["balance"])
            from nodekit.http import SyncServiceClient
            body = {"kind": "invalid_state", "evidence": hx(evidence)}
            with SyncServiceClient(net.url("ranger1"), timeout_s=30.0) as anonymous:
                with pytest.raises(Exception, match="401|admin token"):
                    anonymous.post("/admin/fraud-proofs", body)  # the launcher set a token
            with SyncServiceClient(net.url("ranger1"), timeout_s=30.0, headers={
                    "Authorization": f"Bearer {net.admin_token}"}) as admin:
                answer = admin.post("/admin/fraud-proofs", body)
            assert answer["result"]["status"] == "rejected"
            after = int(s.l1.get(f"/accounts/{hx(RANGER_OPERATOR.address)}")["balance"])
            assert after == balance - s.params.fraud_bond_wei
            report = wait_for("the ranger recording the verdict", lambda: next(
                (r for r in s.ranger.get("/reports") if r["id"] == answer["finding_id"]
                 and r["status"] == "rejected"), None), 30)
            assert int(report["bond_lost"]) == s.params.fraud_bond_wei
            seq = s.l1.get(f"/sequencers/{hx(block.header.producer)}")
            assert seq["status"] == "active" and int(seq["slashed"]) == 0
        finally:
            s.close()
