"""Each fraud-proof kind: proven on real misconduct, refused on an honest block."""

from __future__ import annotations

import dataclasses

import pytest

from protocol.blocks import QUEUE_DEPOSIT, Block, QueueItem
from protocol.chainbuilder import attest
from protocol.constants import TOKEN
from protocol.encoding import compute_attestation_hash
from protocol.exceptions import InvalidEncoding, InvalidProof
from protocol.fraud import (
    CensorshipEvidence,
    EquivocationEvidence,
    FraudContext,
    InvalidStateEvidence,
    ReceiptViolationEvidence,
    compute_evidence_hash,
    decode_evidence,
    encode_evidence,
    evidence_block_number,
    evidence_offender,
    verify_fraud_proof,
)
from protocol.hashing import compute_prefix_chain, compute_tx_root, keccak256
from protocol.receipts import sign_receipt
from protocol.transactions import decode_transaction, sign_transaction
from protocol.witness import build_witness

from .conftest import transfer


def round_trip(kind, evidence):
    raw = encode_evidence(evidence)
    decoded = decode_evidence(kind, raw)
    assert decoded == evidence
    return decoded


def invalid_state_ctx(chain, block):
    parent = chain.blocks[block.number - 1]
    return FraudContext(parent_state_root=parent.header.state_root,
                        fee_recipient=chain.operator_of(block.header.producer),
                        accepted_block_hash=block.hash)


def resign(chain, block, **changes):
    header = dataclasses.replace(block.header, **changes)
    key = chain.key_of(header.producer)
    return Block(header, key.sign(b"block", chain.params.chain_id, header.hash), block.queue_items,
                 block.transactions)


def txs(params, accounts, n=4):
    return [transfer(params, accounts[i % 3], accounts[3 + i % 2].address, TOKEN, nonce=i // 3)
            for i in range(n)]


# --- invalid_state --------------------------------------------------------------------------


def test_invalid_state_bad_state_root_is_proven_with_minimal_witness(chain, params, accounts):
    honest = chain.build(txs(params, accounts), append=False)
    bad = resign(chain, honest, state_root=b"\x13" * 32)
    parent_state = chain.head_state
    witness = build_witness(parent_state, bad, chain.operator_of(bad.header.producer), params)
    evidence = round_trip("invalid_state", InvalidStateEvidence(bad, tuple(witness)))
    verdict = verify_fraud_proof("invalid_state", evidence, invalid_state_ctx(chain, bad), params)
    assert verdict.offender == bad.header.producer
    assert verdict.block_number == bad.number
    assert "state root" in verdict.reason
    assert evidence_offender(evidence) == bad.header.producer
    assert evidence_block_number(evidence) == bad.number


def test_invalid_state_forged_transaction_is_proven(chain, params, accounts):
    good = transfer(params, accounts[0], accounts[1].address, TOKEN, nonce=0)
    # a transaction the sender never signed: another key's signature cannot move its funds;
    # the leader inserts a transfer draining account 2 with a wrong nonce
    forged = decode_transaction(sign_transaction(accounts[2].private_key, chain_id=params.chain_id,
                                                 nonce=7, to=accounts[5].address, value=TOKEN,
                                                 max_fee_per_gas=2 * params.base_fee_wei))
    honest = chain.build([good], append=False)
    raw = (good.raw, forged.raw)
    bad = Block(honest.header, honest.signature, honest.queue_items, raw)
    bad = resign(chain, bad, tx_root=compute_tx_root(keccak256(t) for t in raw))
    witness = build_witness(chain.head_state, bad, chain.operator_of(bad.header.producer), params)
    verdict = verify_fraud_proof("invalid_state", InvalidStateEvidence(bad, tuple(witness)),
                                 invalid_state_ctx(chain, bad), params)
    assert "invalid transaction" in verdict.reason and "NonceTooHigh" in verdict.reason


def test_invalid_state_false_accusation_is_refused(chain, params, accounts):
    honest = chain.build(txs(params, accounts))
    witness = build_witness(chain.states[-2], honest, chain.operator_of(honest.header.producer), params)
    with pytest.raises(InvalidProof, match="it is valid"):
        verify_fraud_proof("invalid_state", InvalidStateEvidence(honest, tuple(witness)),
                           invalid_state_ctx(chain, honest), params)


def test_invalid_state_incomplete_witness_is_refused(chain, params, accounts):
    honest = chain.build(txs(params, accounts), append=False)
    bad = resign(chain, honest, state_root=b"\x13" * 32)
    witness = build_witness(chain.head_state, bad, chain.operator_of(bad.header.producer), params)
    with pytest.raises(InvalidProof, match="witness incomplete"):
        verify_fraud_proof("invalid_state", InvalidStateEvidence(bad, tuple(witness[1:])),
                           invalid_state_ctx(chain, bad), params)


def test_invalid_state_block_not_accepted_on_l1_is_refused(chain, params, accounts):
    honest = chain.build(txs(params, accounts), append=False)
    bad = resign(chain, honest, state_root=b"\x13" * 32)
    witness = build_witness(chain.head_state, bad, chain.operator_of(bad.header.producer), params)
    ctx = dataclasses.replace(invalid_state_ctx(chain, bad), accepted_block_hash=honest.hash)
    with pytest.raises(InvalidProof, match="is not the block L1 accepted"):
        verify_fraud_proof("invalid_state", InvalidStateEvidence(bad, tuple(witness)), ctx, params)
    with pytest.raises(InvalidProof, match="not on L1's accepted chain"):
        verify_fraud_proof("invalid_state", InvalidStateEvidence(bad, tuple(witness)), FraudContext(), params)


# --- receipt_violation ----------------------------------------------------------------------


def _receipted_block(chain, params, accounts, reorder):
    transactions = txs(params, accounts, 3)
    slot = chain.next_slot()
    leader = chain.leader_key(slot)
    hashes = [tx.hash for tx in transactions]
    chain_links = compute_prefix_chain(hashes)
    receipt = sign_receipt(leader, params.chain_id, hashes[2], slot, 2, chain_links[2])
    ordered = [transactions[1], transactions[0], transactions[2]] if reorder else transactions
    # account 0's two transactions keep their nonce order when 0 and 1 swap (different senders)
    block = chain.build(ordered, slot=slot, append=False)
    return receipt, block


def test_receipt_violation_reordered_prefix_is_proven(chain, params, accounts):
    receipt, block = _receipted_block(chain, params, accounts, reorder=True)
    hashes = tuple(keccak256(t) for t in block.transactions)
    evidence = round_trip("receipt_violation",
                          ReceiptViolationEvidence(receipt, block.header, block.signature, hashes))
    verdict = verify_fraud_proof("receipt_violation", evidence, FraudContext(), params)
    assert verdict.offender == receipt.leader and verdict.slot == receipt.slot


def test_receipt_violation_omission_is_proven(chain, params, accounts):
    receipt, block = _receipted_block(chain, params, accounts, reorder=False)
    short = chain.build([decode_transaction(t) for t in block.transactions[:2]], slot=block.slot, append=False)
    hashes = tuple(keccak256(t) for t in short.transactions)
    verdict = verify_fraud_proof("receipt_violation",
                                 ReceiptViolationEvidence(receipt, short.header, short.signature, hashes),
                                 FraudContext(), params)
    assert "nothing" in verdict.reason


def test_receipt_violation_refused_when_block_keeps_promise(chain, params, accounts):
    receipt, block = _receipted_block(chain, params, accounts, reorder=False)
    hashes = tuple(keccak256(t) for t in block.transactions)
    with pytest.raises(InvalidProof, match="keeps the receipt's promise"):
        verify_fraud_proof("receipt_violation",
                           ReceiptViolationEvidence(receipt, block.header, block.signature, hashes),
                           FraudContext(), params)


def test_receipt_violation_refused_on_bad_hashes_or_signatures(chain, params, accounts):
    receipt, block = _receipted_block(chain, params, accounts, reorder=True)
    hashes = tuple(keccak256(t) for t in block.transactions)
    with pytest.raises(InvalidProof, match="tx_root"):
        verify_fraud_proof("receipt_violation", ReceiptViolationEvidence(
            receipt, block.header, block.signature, hashes[::-1]), FraudContext(), params)
    with pytest.raises(InvalidProof, match="receipt signature"):
        verify_fraud_proof("receipt_violation", ReceiptViolationEvidence(
            dataclasses.replace(receipt, index=1), block.header, block.signature, hashes),
            FraudContext(), params)
    with pytest.raises(InvalidProof, match="header signature"):
        verify_fraud_proof("receipt_violation", ReceiptViolationEvidence(
            receipt, block.header, bytes(64), hashes), FraudContext(), params)


# --- equivocation ---------------------------------------------------------------------------


def test_equivocation_two_blocks_same_slot_is_proven(chain, params, accounts):
    one = chain.build(append=False)
    two = chain.build(txs(params, accounts, 1), slot=one.slot, append=False)
    evidence = round_trip("equivocation", EquivocationEvidence((one.header, one.signature),
                                                               (two.header, two.signature)))
    verdict = verify_fraud_proof("equivocation", evidence, FraudContext(), params)
    assert verdict.offender == one.header.producer and verdict.slot == one.slot


def test_equivocation_two_attestations_same_slot_is_proven(chain, params, accounts):
    one = chain.build(append=False)
    two = chain.build(txs(params, accounts, 1), slot=one.slot, append=False)
    key = chain.keys[2]
    evidence = round_trip("equivocation", EquivocationEvidence(attest(key, one.header, params),
                                                               attest(key, two.header, params)))
    assert verify_fraud_proof("equivocation", evidence, FraudContext(), params).offender == key.public


def test_equivocation_refused_for_same_block_other_slot_or_signer(chain, params, accounts):
    one = chain.build(append=False)
    with pytest.raises(InvalidProof, match="same block"):
        verify_fraud_proof("equivocation", EquivocationEvidence((one.header, one.signature),
                                                                (one.header, one.signature)),
                           FraudContext(), params)
    later = chain.build(slot=one.slot + 1, producer=chain.key_of(one.header.producer), append=False)
    with pytest.raises(InvalidProof, match="different slots"):
        verify_fraud_proof("equivocation", EquivocationEvidence((one.header, one.signature),
                                                                (later.header, later.signature)),
                           FraudContext(), params)
    a, b = attest(chain.keys[0], one.header, params), attest(chain.keys[1], later.header, params)
    with pytest.raises(InvalidProof, match="different node keys"):
        verify_fraud_proof("equivocation", EquivocationEvidence(a, b), FraudContext(), params)
    forged = dataclasses.replace(attest(chain.keys[0], later.header, params), slot=one.slot,
                                 signature=bytes(64))
    with pytest.raises(InvalidProof, match="does not verify"):
        verify_fraud_proof("equivocation", EquivocationEvidence(a, forged), FraudContext(), params)
    assert compute_attestation_hash(one.hash, one.number, one.slot) != compute_attestation_hash(
        later.hash, later.number, later.slot)


# --- censorship -----------------------------------------------------------------------------


def test_censorship_is_proven_and_refused_when_not_due(chain, params, accounts):
    item = QueueItem(0, QUEUE_DEPOSIT, 3, accounts[0].address, accounts[1].address, TOKEN)
    due = 3 + params.force_delay_l1_blocks
    censoring = chain.build(l1_origin=due, append=False)
    evidence = round_trip("censorship", CensorshipEvidence(censoring.header, censoring.signature, item))
    verdict = verify_fraud_proof("censorship", evidence, FraudContext(queue_item=item), params)
    assert verdict.offender == censoring.header.producer
    early = chain.build(l1_origin=due - 1, append=False)
    with pytest.raises(InvalidProof, match="is due at l1_origin"):
        verify_fraud_proof("censorship", CensorshipEvidence(early.header, early.signature, item),
                           FraudContext(queue_item=item), params)
    fake = dataclasses.replace(item, l1_block=0)
    with pytest.raises(InvalidProof, match="not L1's item"):
        verify_fraud_proof("censorship", CensorshipEvidence(censoring.header, censoring.signature, fake),
                           FraudContext(queue_item=item), params)
    consumed = chain.build(queue_items=[item], l1_origin=due, append=False)
    with pytest.raises(InvalidProof, match="was consumed"):
        verify_fraud_proof("censorship", CensorshipEvidence(consumed.header, consumed.signature, item),
                           FraudContext(queue_item=item), params)


# --- encoding -------------------------------------------------------------------------------


def test_decode_evidence_rejects_unknown_kind_and_garbage():
    with pytest.raises(InvalidEncoding, match="unknown fraud-proof kind"):
        decode_evidence("bribery", b"\xc0")
    for kind in ("invalid_state", "receipt_violation", "equivocation", "censorship"):
        with pytest.raises(InvalidEncoding):
            decode_evidence(kind, b"\xc3\x01\x02")


def test_kind_mismatch_is_refused(chain, params):
    one = chain.build(append=False)
    evidence = EquivocationEvidence((one.header, one.signature), (one.header, one.signature))
    with pytest.raises(InvalidProof, match="given as"):
        verify_fraud_proof("censorship", evidence, FraudContext(), params)


def test_evidence_hash_depends_on_kind():
    assert compute_evidence_hash("equivocation", b"x") != compute_evidence_hash("censorship", b"x")
