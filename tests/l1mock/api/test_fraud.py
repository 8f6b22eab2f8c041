"""submit_fraud_proof: each kind slashes (self, delegated and unbonding stake pro rata), pays
the reporter, jails; invalid_state rolls back; a failed proof loses its bond; duplicates are
refused. GET /fraud-proofs, /slashes."""

from __future__ import annotations

from protocol.blocks import QUEUE_DEPOSIT
from protocol.constants import TOKEN
from protocol.params import BPS

from ..helpers import (
    ACCOUNTS,
    NODE_KEYS,
    amount,
    block_args,
    censorship_evidence,
    equivocation_evidence,
    hx,
    invalid_state_evidence,
    receipt_violation_evidence,
    signed_transfer,
    with_header,
)

REPORTER = 9


def balance(l1, who) -> int:
    return int(l1.get(f"/accounts/{hx(ACCOUNTS[who].address)}")["balance"])


def index_of(node_key: bytes) -> int:
    return [k.public for k in NODE_KEYS].index(node_key)


def prove(l1, kind, evidence, offender: bytes, slashed_bps: int):
    """Submit a proof that must succeed; check slash, reporter pay, jail."""
    params = l1.params
    seq_before = l1.get(f"/sequencers/{hx(offender)}")
    stake = int(seq_before["total_stake"]) + int(seq_before["unbonding_total"])
    reporter_before = balance(l1, REPORTER)
    result = l1.call(REPORTER, "submit_fraud_proof", kind=kind, evidence=hx(evidence))
    assert result["status"] == "accepted", result
    slashed = int(result["slashed"])
    assert abs(slashed - stake * slashed_bps // BPS) <= len(seq_before["delegations"]) + 2
    paid = slashed * params.reporter_share_bps // BPS
    assert int(result["reporter_paid"]) == paid
    assert balance(l1, REPORTER) == reporter_before + paid
    seq = l1.get(f"/sequencers/{hx(offender)}")
    assert seq["status"] == "jailed" and kind in seq["jail_reason"]
    assert int(seq["slashed"]) == int(seq_before["slashed"]) + slashed
    slash = l1.get(f"/slashes/{result['slash_id']}")
    assert slash["reason"] == kind and slash["reporter"] == hx(ACCOUNTS[REPORTER].address)
    assert int(slash["burned"]) == slashed - paid
    proof = l1.get(f"/fraud-proofs/{result['id']}")
    assert proof["status"] == "accepted" and proof["offender"] == hx(offender)
    return result


def test_equivocation_slashes_delegators_pro_rata(l1, params):
    chain = l1.start_chain()
    block = chain.build(append=False)
    offender = block.header.producer
    # delegator 7 delegates 10k, then undelegates 4k: the unbonding 4k is slashed too
    l1.call(7, "delegate", sequencer=hx(offender), amount=amount(10_000))
    l1.call(7, "undelegate", sequencer=hx(offender), amount=amount(4_000))
    result = prove(l1, "equivocation", equivocation_evidence(chain, block), offender,
                   params.slash_bps("equivocation"))
    slash = l1.get(f"/slashes/{result['slash_id']}")
    assert slash["cuts"][hx(ACCOUNTS[7].address)] == amount(5_000)  # 50% of 6k + 4k
    seq = l1.get(f"/sequencers/{hx(offender)}")
    delegation = next(d for d in seq["delegations"] if d["owner"] == hx(ACCOUNTS[7].address))
    assert delegation["amount"] == amount(3_000)
    assert seq["unbonding"][0]["amount"] == amount(2_000)
    operator_stake = 35_000 if index_of(offender) == 0 else None
    if operator_stake:
        assert seq["self_stake"] == amount(operator_stake // 2)
    events = [e["kind"] for e in l1.get("/events", after=0, limit=1000)["events"]]
    for kind in ("FraudProofAccepted", "Slashed", "Jailed"):
        assert kind in events


def test_jailed_producer_blocks_are_refused_and_it_leaves_the_set(l1, params):
    chain = l1.start_chain()
    block = chain.build(append=False)
    offender = block.header.producer
    l1.call(REPORTER, "submit_fraud_proof", kind="equivocation",
            evidence=hx(equivocation_evidence(chain, block)))
    # the offender's later slots are refused
    jailed_from = l1.get(f"/sequencers/{hx(offender)}")["jailed_from_slot"]
    later = next(s for s in range(jailed_from, jailed_from + 3 * params.epoch_slots)
                 if chain.leader_key(s).public == offender)
    l1.mine_until(params.genesis_time_ms + (later // params.epoch_slots + 1) * params.epoch_ms)
    chain.build()  # an honest block first, so the next one has a parent with a QC
    l1.submit(0, chain.blocks[-1])
    refused = chain.build(slot=later, append=False)
    l1.reject(0, "submit_batch", "ProducerJailed", **block_args(refused))
    last = max(l1.contract.snapshots)
    assert hx(offender) not in [m["node_key"] for m in l1.get(f"/epochs/{last}")["members"]]


def test_receipt_violation(l1, params):
    chain = l1.start_chain()
    txs = [signed_transfer(params, ACCOUNTS[5], ACCOUNTS[6].address, TOKEN, 0)]
    block = chain.build(transactions=txs, append=False)
    promised = signed_transfer(params, ACCOUNTS[4], ACCOUNTS[6].address, TOKEN, 0).hash
    prove(l1, "receipt_violation", receipt_violation_evidence(chain, block, promised),
          block.header.producer, params.slash_bps("receipt_violation"))


def test_censorship(l1, params):
    chain = l1.start_chain()
    l1.call(0, "deposit", to=hx(ACCOUNTS[4].address), amount=amount(1))
    item = l1.contract.queue[0]
    assert item.kind == QUEUE_DEPOSIT
    l1.mine(params.force_delay_l1_blocks)
    censoring = chain.build(l1_origin=item.l1_block + params.force_delay_l1_blocks, append=False)
    prove(l1, "censorship", censorship_evidence(censoring, item), censoring.header.producer,
          params.slash_bps("censorship"))


def test_invalid_state_rolls_back_to_the_last_good_block(l1, params):
    chain = l1.start_chain()
    good = chain.build()
    honest = chain.build(append=False)
    bad = with_header(chain, honest, state_root=b"\x13" * 32)
    evidence = invalid_state_evidence(chain, bad)
    chain.blocks.append(bad)
    chain.states.append(chain.states[-1])
    chain.outputs.append(None)
    after = chain.build()
    l1.submit(0, good, bad, after)
    assert l1.get("/status")["accepted"]["number"] == 3
    l1.reject(REPORTER, "submit_fraud_proof", "InvalidCall", kind="bogus", evidence="0x00")
    prove(l1, "invalid_state", evidence, bad.header.producer, params.slash_bps("invalid_state"))
    status = l1.get("/status")
    assert status["accepted"]["number"] == 1 and status["accepted"]["hash"] == hx(good.hash)
    assert l1.get(f"/blocks/by-hash/{hx(bad.hash)}")["status"] == "rolled_back"
    rolled = [e for e in l1.get("/events", limit=1000)["events"] if e["kind"] == "RolledBack"]
    assert rolled[0]["data"]["discarded"] == [hx(bad.hash), hx(after.hash)]
    l1.reject(0, "submit_batch", "BlockRolledBack", blocks=[l1.get(f"/blocks/by-hash/{hx(bad.hash)}")["raw"]])


def test_failed_proof_loses_its_bond(l1, params):
    chain = l1.start_chain()
    block = chain.build()
    l1.submit(0, block)
    honest = invalid_state_evidence_for_accepted(chain, block)
    before = balance(l1, REPORTER)
    result = l1.call(REPORTER, "submit_fraud_proof", kind="invalid_state", evidence=hx(honest))
    assert result["status"] == "rejected" and "valid" in result["reason"]
    assert balance(l1, REPORTER) == before - params.fraud_bond_wei
    proof = l1.get(f"/fraud-proofs/{result['id']}")
    assert proof["status"] == "rejected" and proof["bond"] == str(params.fraud_bond_wei)
    assert l1.get(f"/sequencers/{hx(block.header.producer)}")["status"] == "active"
    assert l1.get("/status")["accepted"]["number"] == 1
    # the same evidence again is refused without touching the bond
    l1.reject(REPORTER, "submit_fraud_proof", "DuplicateEvidence", kind="invalid_state",
              evidence=hx(honest))


def invalid_state_evidence_for_accepted(chain, block):
    from protocol.fraud import InvalidStateEvidence, encode_evidence
    from protocol.witness import build_witness
    parent_state = chain.states[block.number - 1]
    witness = build_witness(parent_state, block, chain.operator_of(block.header.producer),
                            chain.params)
    return encode_evidence(InvalidStateEvidence(block, tuple(witness)))


def test_duplicate_evidence_and_offence_are_refused(l1, params):
    chain = l1.start_chain()
    block = chain.build(append=False)
    evidence = equivocation_evidence(chain, block)
    l1.call(REPORTER, "submit_fraud_proof", kind="equivocation", evidence=hx(evidence))
    l1.reject(REPORTER, "submit_fraud_proof", "DuplicateEvidence", kind="equivocation",
              evidence=hx(evidence))
    # another pair for the same slot proves the same offence
    from protocol.fraud import EquivocationEvidence, encode_evidence
    third = with_header(chain, block, timestamp_ms=block.header.timestamp_ms + 2)
    again = encode_evidence(EquivocationEvidence((block.header, block.signature),
                                                 (third.header, third.signature)))
    l1.reject(8, "submit_fraud_proof", "DuplicateEvidence", kind="equivocation", evidence=hx(again))


def test_fraud_proof_rejections_change_nothing(l1, params):
    chain = l1.start_chain()
    block = chain.build(append=False)
    l1.reject(REPORTER, "submit_fraud_proof", "InvalidEncoding", kind="equivocation",
              evidence="0x" + "c3" * 10)
    l1.reject(REPORTER, "submit_fraud_proof", "InvalidEncoding", kind="equivocation",
              evidence=hx(equivocation_evidence(chain, block)[:-5]))
    from protocol.accounts import generated_accounts
    l1.reject(generated_accounts(1)[0], "submit_fraud_proof", "InsufficientFunds",
              kind="equivocation", evidence=hx(equivocation_evidence(chain, block)))
    # invalid_state against a block L1 never accepted
    bad = with_header(chain, block, state_root=b"\x13" * 32)
    l1.reject(REPORTER, "submit_fraud_proof", "UnknownBlock", kind="invalid_state",
              evidence=hx(invalid_state_evidence(chain, bad)))
    assert l1.get("/fraud-proofs") == [] and l1.get("/slashes") == []
