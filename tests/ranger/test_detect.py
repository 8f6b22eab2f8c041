"""ranger/detect.py on ChainBuilder-built honest and faulty chains: each fault kind found with
evidence L1 accepts, and nothing found on honest blocks."""

from __future__ import annotations

import dataclasses

import pytest

from protocol.accounts import dev_accounts
from protocol.blocks import QUEUE_DEPOSIT, Block, QueueItem
from protocol.chainbuilder import ChainBuilder, attest
from protocol.constants import TOKEN
from protocol.fraud import FraudContext, decode_evidence, verify_fraud_proof
from protocol.hashing import compute_prefix_chain, compute_tx_root, keccak256
from protocol.params import devnet_params
from protocol.receipts import sign_receipt
from protocol.transactions import decode_transaction, sign_transaction
from ranger.detect import (
    check_censorship,
    check_equivocation,
    check_receipt,
    compute_sample_secret,
    compute_tx_hashes,
    compute_witness_size,
    execute_block,
    is_sampled,
)


@pytest.fixture(scope="module")
def params():
    return devnet_params()


@pytest.fixture(scope="module")
def accounts():
    return dev_accounts(10)


@pytest.fixture
def chain(params):
    return ChainBuilder(params)


def transfer(params, account, to, value, nonce):
    return decode_transaction(sign_transaction(
        account.private_key, chain_id=params.chain_id, nonce=nonce, to=to, value=value,
        max_fee_per_gas=2 * params.base_fee_wei, max_priority_fee_per_gas=params.base_fee_wei))


def txs(params, accounts, n=3):
    return [transfer(params, accounts[i % 3], accounts[3 + i % 2].address, TOKEN, i // 3)
            for i in range(n)]


def resign(chain, block, **changes):
    header = dataclasses.replace(block.header, **changes)
    key = chain.key_of(header.producer)
    return Block(header, key.sign(b"block", chain.params.chain_id, header.hash), block.queue_items,
                 block.transactions)


def fee_recipient(chain, block):
    return chain.operator_of(block.header.producer)


def l1_ctx(chain, block):
    return FraudContext(parent_state_root=chain.head_state.state_root(),
                        fee_recipient=fee_recipient(chain, block), accepted_block_hash=block.hash)


# --- invalid_state ----------------------------------------------------------------------------


def test_honest_block_has_no_finding_and_gives_its_state(chain, params, accounts):
    block = chain.build(txs(params, accounts), append=False)
    result = execute_block(block, chain.head_state, fee_recipient(chain, block), params)
    assert result.finding is None
    assert result.state.state_root() == block.header.state_root


def test_invalid_state_bad_state_root_found_with_minimal_witness(chain, params, accounts):
    honest = chain.build(txs(params, accounts), append=False)
    bad = resign(chain, honest, state_root=b"\x13" * 32)
    parent_root = chain.head_state.state_root()
    result = execute_block(bad, chain.head_state, fee_recipient(chain, bad), params)
    finding = result.finding
    assert finding is not None and finding.kind == "invalid_state"
    assert finding.offender == bad.header.producer and finding.block_number == bad.number
    # the ranger goes on from the true state, not the claimed one
    assert result.state.state_root() == honest.header.state_root
    assert chain.head_state.state_root() == parent_root
    # L1 accepts the evidence as encoded
    decoded = decode_evidence("invalid_state", finding.raw)
    assert verify_fraud_proof("invalid_state", decoded, l1_ctx(chain, bad), params).offender \
        == bad.header.producer
    nodes, size = compute_witness_size(finding)
    assert 0 < nodes and 0 < size < 10_000
    # minimal: dropping any node breaks the proof
    assert len(set(decoded.witness)) == len(decoded.witness)


def test_invalid_state_forged_transaction_found(chain, params, accounts):
    good = transfer(params, accounts[0], accounts[1].address, TOKEN, 0)
    forged = transfer(params, accounts[2], accounts[5].address, TOKEN, 7)   # nonce far ahead
    honest = chain.build([good], append=False)
    raws = (good.raw, forged.raw)
    bad = Block(honest.header, honest.signature, honest.queue_items, raws)
    bad = resign(chain, bad, tx_root=compute_tx_root(keccak256(t) for t in raws))
    result = execute_block(bad, chain.head_state, fee_recipient(chain, bad), params)
    assert result.finding is not None
    assert "invalid transaction" in result.finding.reason
    assert result.state.state_root() == chain.head_state.state_root()


def test_invalid_state_undecodable_transaction_found(chain, params, accounts):
    honest = chain.build([], append=False)
    raws = (b"\x02\xc0garbage",)
    bad = Block(honest.header, honest.signature, honest.queue_items, raws)
    bad = resign(chain, bad, tx_root=compute_tx_root(keccak256(t) for t in raws))
    result = execute_block(bad, chain.head_state, fee_recipient(chain, bad), params)
    assert result.finding is not None and result.finding.kind == "invalid_state"


def test_invalid_state_wrong_withdrawals_root_found(chain, params, accounts):
    honest = chain.build(txs(params, accounts), append=False)
    bad = resign(chain, honest, withdrawals_root=b"\x77" * 32)
    result = execute_block(bad, chain.head_state, fee_recipient(chain, bad), params)
    assert result.finding is not None and "withdrawals root" in result.finding.reason


def test_invalid_state_evidence_is_deterministic(chain, params, accounts):
    bad = resign(chain, chain.build(txs(params, accounts), append=False), state_root=b"\x13" * 32)
    one = execute_block(bad, chain.head_state, fee_recipient(chain, bad), params).finding
    two = execute_block(bad, chain.head_state, fee_recipient(chain, bad), params).finding
    assert one.evidence_hash == two.evidence_hash


# --- receipt_violation --------------------------------------------------------------------------


def receipted(chain, params, accounts):
    transactions = txs(params, accounts, 3)
    slot = chain.next_slot()
    leader = chain.leader_key(slot)
    hashes = [tx.hash for tx in transactions]
    links = compute_prefix_chain(hashes)
    receipts = [sign_receipt(leader, params.chain_id, hashes[i], slot, i, links[i])
                for i in range(3)]
    return transactions, receipts, slot


def test_receipt_kept_is_no_finding(chain, params, accounts):
    transactions, receipts, slot = receipted(chain, params, accounts)
    block = chain.build(transactions, slot=slot, append=False)
    for receipt in receipts:
        assert check_receipt(receipt, block.header, block.signature, compute_tx_hashes(block),
                             params) is None


def test_receipt_violation_reordering_found(chain, params, accounts):
    transactions, receipts, slot = receipted(chain, params, accounts)
    block = chain.build([transactions[1], transactions[0], transactions[2]], slot=slot, append=False)
    finding = check_receipt(receipts[0], block.header, block.signature, compute_tx_hashes(block),
                            params)
    assert finding is not None and finding.kind == "receipt_violation"
    assert finding.offender == receipts[0].leader and finding.slot == slot


def test_receipt_violation_front_running_insertion_found(chain, params, accounts):
    transactions, receipts, slot = receipted(chain, params, accounts)
    # the leader inserts its own transaction ahead of the receipted ones
    own = transfer(params, accounts[9], accounts[8].address, TOKEN, 0)
    block = chain.build([own] + transactions, slot=slot, append=False)
    findings = [check_receipt(r, block.header, block.signature, compute_tx_hashes(block), params)
                for r in receipts]
    assert all(f is not None for f in findings)


def test_receipt_violation_omission_found(chain, params, accounts):
    transactions, receipts, slot = receipted(chain, params, accounts)
    block = chain.build(transactions[:2], slot=slot, append=False)
    hashes = compute_tx_hashes(block)
    assert check_receipt(receipts[0], block.header, block.signature, hashes, params) is None
    finding = check_receipt(receipts[2], block.header, block.signature, hashes, params)
    assert finding is not None and "nothing" in finding.reason


def test_receipt_of_another_slot_or_leader_is_ignored(chain, params, accounts):
    transactions, receipts, slot = receipted(chain, params, accounts)
    other = chain.build([transactions[1]], slot=slot + 1, append=False)
    assert check_receipt(receipts[0], other.header, other.signature, compute_tx_hashes(other),
                         params) is None


# --- equivocation -----------------------------------------------------------------------------


def test_equivocation_two_headers_found(chain, params, accounts):
    one = chain.build(append=False)
    two = chain.build(txs(params, accounts, 1), slot=one.slot, append=False)
    finding = check_equivocation((one.header, one.signature), (two.header, two.signature), params)
    assert finding is not None and finding.kind == "equivocation"
    assert finding.offender == one.header.producer
    # the pair's order does not change the evidence (deduplication by hash)
    again = check_equivocation((two.header, two.signature), (one.header, one.signature), params)
    assert again.evidence_hash == finding.evidence_hash


def test_equivocation_two_attestations_found(chain, params, accounts):
    one = chain.build(append=False)
    two = chain.build(txs(params, accounts, 1), slot=one.slot, append=False)
    key = chain.keys[1]
    finding = check_equivocation(attest(key, one.header, params), attest(key, two.header, params),
                                 params)
    assert finding is not None and finding.offender == key.public


def test_no_equivocation_for_same_block_other_slot_or_bad_signature(chain, params, accounts):
    one = chain.build(append=False)
    assert check_equivocation((one.header, one.signature), (one.header, one.signature), params) is None
    later = chain.build(slot=one.slot + 4, producer=chain.key_of(one.header.producer), append=False)
    assert check_equivocation((one.header, one.signature), (later.header, later.signature),
                              params) is None
    two = chain.build(txs(params, accounts, 1), slot=one.slot, append=False)
    assert check_equivocation((one.header, one.signature), (two.header, bytes(64)), params) is None


# --- censorship -------------------------------------------------------------------------------


def deposit(index, l1_block, accounts):
    return QueueItem(index=index, kind=QUEUE_DEPOSIT, l1_block=l1_block,
                     sender=accounts[0].address, to=accounts[1].address, amount=5 * TOKEN)


def test_censorship_found_when_due_item_skipped(chain, params, accounts):
    item = deposit(0, 1, accounts)
    block = chain.build(l1_origin=1 + params.force_delay_l1_blocks, append=False)
    finding = check_censorship(block.header, block.signature, [item], params)
    assert finding is not None and finding.kind == "censorship"
    assert finding.offender == block.header.producer


def test_no_censorship_when_consumed_or_not_due(chain, params, accounts):
    item = deposit(0, 1, accounts)
    not_due = chain.build(l1_origin=1 + params.force_delay_l1_blocks - 1, append=False)
    assert check_censorship(not_due.header, not_due.signature, [item], params) is None
    consumed = chain.build(queue_items=[item], l1_origin=1 + params.force_delay_l1_blocks,
                           append=False)
    assert check_censorship(consumed.header, consumed.signature, [item], params) is None


# --- sampling ---------------------------------------------------------------------------------


def test_sampling_rate_and_unpredictability():
    secret = compute_sample_secret(b"\x01" * 32)
    other = compute_sample_secret(b"\x02" * 32)
    hashes = [keccak256(i.to_bytes(4, "big")) for i in range(2000)]
    assert all(is_sampled(secret, h, 1.0) for h in hashes[:50])
    assert not any(is_sampled(secret, h, 0.0) for h in hashes[:50])
    picked = [h for h in hashes if is_sampled(secret, h, 0.25)]
    assert 400 < len(picked) < 600
    # another key samples other blocks
    picked_other = {h for h in hashes if is_sampled(other, h, 0.25)}
    assert len(set(picked) & picked_other) < 250
