"""apply_block and every rejection rule of validate_block / validate_block_envelope."""

from __future__ import annotations

import dataclasses

import pytest

from protocol.blocks import QUEUE_DEPOSIT, QUEUE_FORCED_TX, Block, QueueItem
from protocol.constants import BRIDGE_ADDRESS, EMPTY_TRIE_ROOT, TOKEN
from protocol.exceptions import (
    BadL1Origin,
    BadQueueItems,
    BadQuorumCertificate,
    BadStateRoot,
    BadTxRoot,
    BadWithdrawalsRoot,
    BlockContainsInvalidTransaction,
    InvalidSignature,
    MissingQuorum,
    ProducerJailed,
    QueueItemSkipped,
    SlotNotAfterParent,
    TimestampOutsideSlot,
    WrongLeader,
    WrongParent,
)
from protocol.schedule import compute_epoch, compute_leader
from protocol.state import Account
from protocol.transactions import sign_transaction
from protocol.transition import apply_block, build_block, compute_due_queue_index, validate_block
from protocol.withdrawals import Withdrawal, compute_withdrawals_root, get_withdrawal_proof, verify_withdrawal_proof

from .conftest import transfer


def validate(chain, block, queue=(), l1_head=100, jailed=()):
    parent_index = block.number - 1
    parent = chain.blocks[parent_index].header
    return validate_block(block, parent, chain.states[parent_index],
                          chain.set_for_slot(block.header.slot),
                          chain.set_for_slot(parent.slot) if parent.number else None,
                          list(queue), l1_head, chain.params, jailed)


def resign(chain, block, **header_changes):
    """The same block with header fields changed, signed again by its producer."""
    header = dataclasses.replace(block.header, **header_changes)
    key = chain.key_of(header.producer)
    return Block(header, key.sign(b"block", chain.params.chain_id, header.hash), block.queue_items,
                 block.transactions)


# --- execution ------------------------------------------------------------------------------


def test_apply_block_moves_value_charges_fee_to_producer_and_bumps_nonce(chain, params, accounts):
    alice, bob = accounts[0], accounts[1]  # operators are accounts 6-9
    tx = transfer(params, alice, bob.address, 3 * TOKEN, nonce=0, max_fee=5 * params.base_fee_wei,
                  tip=params.base_fee_wei)
    block = chain.build([tx])
    state = chain.head_state
    fee = 21_000 * 2 * params.base_fee_wei          # min(5 gwei, base 1 + tip 1)
    operator = chain.operator_of(block.header.producer)
    before = chain.states[0]
    assert state.get_account(alice.address) == Account(1, before.get_account(alice.address).balance - 3 * TOKEN - fee)
    assert state.get_account(bob.address).balance == before.get_account(bob.address).balance + 3 * TOKEN
    assert state.get_account(operator).balance == before.get_account(operator).balance + fee
    assert block.header.withdrawals_root == EMPTY_TRIE_ROOT
    validate(chain, block)


def test_apply_block_is_deterministic_and_leaves_parent_state_unchanged(chain, params, accounts):
    root_before = chain.head_state.state_root()
    tx = transfer(params, accounts[2], accounts[3].address, 1, nonce=0)
    block = chain.build([tx])
    assert chain.states[0].state_root() == root_before
    assert chain.head_state.state_root() == block.header.state_root
    state = chain.states[0].copy()
    output = apply_block(state, block, chain.operator_of(block.header.producer), params)
    assert output.state_root == block.header.state_root


def test_transfer_to_bridge_burns_and_records_withdrawal(chain, params, accounts):
    tx = transfer(params, accounts[4], BRIDGE_ADDRESS, 7 * TOKEN, nonce=0)
    block = chain.build([tx])
    expected = [Withdrawal(accounts[4].address, 7 * TOKEN, 0)]
    assert block.header.withdrawals_root == compute_withdrawals_root(expected)
    assert chain.head_state.get_account(BRIDGE_ADDRESS) == Account(0, 0)
    proof = get_withdrawal_proof(expected, 0)
    assert verify_withdrawal_proof(block.header.withdrawals_root, expected[0], proof)
    assert not verify_withdrawal_proof(block.header.withdrawals_root,
                                       Withdrawal(accounts[4].address, 8 * TOKEN, 0), proof)


def test_deposits_and_forced_transactions_run_first_and_bad_forced_tx_is_skipped(chain, params, accounts):
    stranger = b"\x99" * 20
    forced = sign_transaction(accounts[5].private_key, chain_id=params.chain_id, nonce=0,
                              to=stranger, value=TOKEN, max_fee_per_gas=2 * params.base_fee_wei)
    bad_forced = sign_transaction(accounts[6].private_key, chain_id=params.chain_id + 1, nonce=0,
                                  to=stranger, value=TOKEN, max_fee_per_gas=2 * params.base_fee_wei)
    items = [QueueItem(0, QUEUE_DEPOSIT, 1, accounts[0].address, stranger, 5 * TOKEN),
             QueueItem(1, QUEUE_FORCED_TX, 1, accounts[5].address, raw_tx=forced),
             QueueItem(2, QUEUE_FORCED_TX, 1, accounts[6].address, raw_tx=bad_forced)]
    # the sequenced transaction from the forced sender must use nonce 1: the forced one ran first
    tx = transfer(params, accounts[5], stranger, TOKEN, nonce=1)
    block = chain.build([tx], queue_items=items, l1_origin=3)
    output = chain.outputs[-1]
    assert chain.head_state.get_account(stranger).balance == 7 * TOKEN
    assert [o.applied for o in output.outcomes] == [True, False, True]
    assert "WrongChainId" in output.outcomes[1].reason
    assert block.header.l1_queue_index == 3
    validate(chain, block, queue=items)


# --- validity rules -------------------------------------------------------------------------


def test_valid_chain_of_blocks_with_qcs_validates(chain):
    for _ in range(3):
        validate(chain, chain.build())


def test_invalid_block_wrong_leader(chain):
    chain.build()
    slot = chain.next_slot()
    leader = compute_leader(chain.set_for_slot(slot), slot, chain.params)
    impostor = next(k for k in chain.keys if k.public != leader)
    block = chain.build(slot=slot, producer=impostor, append=False)
    with pytest.raises(WrongLeader, match=f"slot {slot} is led by"):
        validate(chain, block)


def test_invalid_block_producer_jailed(chain):
    block = chain.build()
    with pytest.raises(ProducerJailed):
        validate(chain, block, jailed={block.header.producer})


def test_invalid_block_bad_signature(chain):
    block = chain.build()
    forged = Block(block.header, bytes(64), block.queue_items, block.transactions)
    with pytest.raises(InvalidSignature, match="producer signature"):
        validate(chain, forged)


def test_invalid_block_wrong_parent(chain):
    chain.build()
    block = chain.build(append=False)
    with pytest.raises(WrongParent):
        validate(chain, resign(chain, block, parent_hash=b"\x01" * 32))


def test_invalid_block_slot_not_after_parent(chain):
    chain.build(slot=5)
    block = chain.build(append=False)
    bad = resign(chain, block, slot=5, producer=block.header.producer)
    with pytest.raises((SlotNotAfterParent, WrongLeader)):
        validate(chain, bad)


def test_invalid_block_timestamp_outside_slot(chain, params):
    block = chain.build(append=False)
    with pytest.raises(TimestampOutsideSlot):
        validate(chain, resign(chain, block, timestamp_ms=block.header.timestamp_ms + params.slot_ms))


def test_invalid_block_missing_quorum(chain):
    first = chain.build()
    block = chain.build(append=False)
    qc = block.header.parent_qc
    weak = dataclasses.replace(qc, signers=qc.signers[:2])       # 2 of 4 members
    with pytest.raises(MissingQuorum, match="not more than 2/3"):
        validate(chain, resign(chain, block, parent_qc=weak))
    with pytest.raises(MissingQuorum, match="no QC"):
        validate(chain, resign(chain, block, parent_qc=None))
    assert first.number == 1


def test_invalid_block_qc_for_another_block_or_forged(chain):
    chain.build()
    block = chain.build(append=False)
    qc = block.header.parent_qc
    with pytest.raises(BadQuorumCertificate, match="not the parent"):
        validate(chain, resign(chain, block, parent_qc=dataclasses.replace(qc, block_hash=b"\x05" * 32)))
    forged = dataclasses.replace(qc, signers=tuple((k, bytes(64)) for k, _ in qc.signers))
    with pytest.raises(BadQuorumCertificate, match="does not verify"):
        validate(chain, resign(chain, block, parent_qc=forged))
    doubled = dataclasses.replace(qc, signers=(qc.signers[0], qc.signers[0]) + qc.signers[1:])
    with pytest.raises(BadQuorumCertificate, match="twice"):
        validate(chain, resign(chain, block, parent_qc=doubled))


def test_invalid_block_bad_tx_root(chain, params, accounts):
    tx = transfer(params, accounts[0], accounts[1].address, 1, nonce=0)
    block = chain.build([tx], append=False)
    with pytest.raises(BadTxRoot):
        validate(chain, resign(chain, block, tx_root=b"\x00" * 32))


def test_invalid_block_bad_state_root(chain):
    block = chain.build(append=False)
    with pytest.raises(BadStateRoot):
        validate(chain, resign(chain, block, state_root=b"\x01" * 32))


def test_invalid_block_bad_withdrawals_root(chain):
    block = chain.build(append=False)
    with pytest.raises(BadWithdrawalsRoot):
        validate(chain, resign(chain, block, withdrawals_root=b"\x01" * 32))


def test_invalid_block_contains_invalid_transaction(chain, params, accounts):
    good = transfer(params, accounts[0], accounts[1].address, 1, nonce=0)
    block = chain.build([good], append=False)
    replayed = Block(block.header, block.signature, block.queue_items, block.transactions * 2)
    from protocol.hashing import compute_tx_root, keccak256

    replayed = resign(chain, replayed, tx_root=compute_tx_root(keccak256(t) for t in replayed.transactions))
    with pytest.raises(BlockContainsInvalidTransaction, match="NonceTooLow"):
        validate(chain, replayed)


def test_invalid_block_l1_origin_beyond_l1_head(chain):
    block = chain.build(l1_origin=50, append=False)
    with pytest.raises(BadL1Origin):
        validate(chain, block, l1_head=49)


def test_invalid_block_queue_item_skipped(chain, params, accounts):
    item = QueueItem(0, QUEUE_DEPOSIT, 1, accounts[0].address, accounts[1].address, TOKEN)
    due_origin = 1 + params.force_delay_l1_blocks
    block = chain.build(l1_origin=due_origin, append=False)
    with pytest.raises(QueueItemSkipped, match="queue item 0 is due"):
        validate(chain, block, queue=[item])
    # not yet due one L1 block earlier: skipping is allowed
    early = chain.build(l1_origin=due_origin - 1, append=False)
    validate(chain, early, queue=[item])


def test_invalid_block_queue_items_differ_from_l1(chain, accounts):
    item = QueueItem(0, QUEUE_DEPOSIT, 1, accounts[0].address, accounts[1].address, TOKEN)
    fake = dataclasses.replace(item, amount=1000 * TOKEN)
    block = chain.build(queue_items=[fake], l1_origin=1, append=False)
    with pytest.raises(BadQueueItems, match="differs"):
        validate(chain, block, queue=[item])
    with pytest.raises(BadQueueItems, match="does not hold"):
        validate(chain, block, queue=[])


def test_compute_due_queue_index(params):
    items = [QueueItem(i, QUEUE_DEPOSIT, l1, b"\x01" * 20, b"\x02" * 20, 1)
             for i, l1 in enumerate([1, 1, 4, 9])]
    d = params.force_delay_l1_blocks
    assert compute_due_queue_index(items, 0, params) == 0
    assert compute_due_queue_index(items, 1 + d, params) == 2
    assert compute_due_queue_index(items, 4 + d, params) == 3
    assert compute_due_queue_index(items, 100, params) == 4
    assert compute_due_queue_index(items[2:], 100, params) == 4
    assert compute_due_queue_index([], 100, params) == 0


def test_epoch_boundary_qc_checked_against_parent_epoch(chain, params):
    last_slot = params.epoch_slots - 1
    chain.build(slot=last_slot)
    block = chain.build(slot=params.epoch_slots)
    assert compute_epoch(block.header.slot, params) == 1
    validate(chain, block)


def test_build_block_output_matches_block_roots(chain, params, accounts):
    txs = [transfer(params, accounts[0], accounts[1].address, i, nonce=i) for i in range(5)]
    block, state, output = build_block(
        chain.head.header, chain.head_state, slot=1, timestamp_ms=chain.head.header.timestamp_ms + params.slot_ms,
        producer=chain.leader_key(1), fee_recipient=b"\x42" * 20, params=params, transactions=txs)
    assert output.tx_hashes == tuple(tx.hash for tx in txs)
    assert state.get_account(b"\x42" * 20).balance == output.fees_wei == 5 * 21_000 * 2 * params.base_fee_wei


def test_steps_give_what_the_one_call_gives_and_yield_between_slices(params):
    """apply_block_steps / validate_block_steps (what services drive in slices on their event
    loop) return exactly apply_block's / validate_block's result, and yield more than once
    for a block of more than STEP_TXS transactions."""
    from protocol.accounts import generated_accounts
    from protocol.chainbuilder import ChainBuilder
    from protocol.genesis import make_devnet_genesis
    from protocol.transition import (STEP_TXS, apply_block_steps, run_steps,
                                     validate_block_steps)
    senders = generated_accounts(STEP_TXS + 40)   # funded at genesis, as the benches do
    chain = ChainBuilder(params, genesis=make_devnet_genesis(params, len(senders)))
    txs = [transfer(params, s, senders[(i + 1) % len(senders)].address, 1, 0)
           for i, s in enumerate(senders)]
    block = chain.build(txs)
    fee_recipient = chain.operator_of(block.header.producer)

    state_once = chain.states[0].copy()
    once = apply_block(state_once, block, fee_recipient, params, txs)
    state_steps = chain.states[0].copy()
    steps = apply_block_steps(state_steps, block, fee_recipient, params, txs)
    slices = 0
    while True:
        try:
            next(steps)
            slices += 1
        except StopIteration as done:
            sliced = done.value
            break
    assert slices >= 3          # transactions, trie writes, root subtrees
    assert sliced == once and state_steps.state_root() == block.header.state_root

    parent = chain.blocks[0].header
    args = (block, parent, chain.states[0], chain.set_for_slot(block.header.slot), None, [], 100,
            params)
    state, output = run_steps(validate_block_steps(*args))
    assert output == once and state.state_root() == block.header.state_root
