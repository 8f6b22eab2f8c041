"""deposit, force_tx, the queue deadline in submit_batch, claim_withdrawal; GET /queue."""

from __future__ import annotations

from protocol.blocks import QUEUE_DEPOSIT, QueueItem
from protocol.constants import BRIDGE_ADDRESS, TOKEN
from protocol.withdrawals import get_withdrawal_proof

from ..helpers import ACCOUNTS, amount, block_args, hx, signed_transfer


def test_deposit_locks_tokens_and_enqueues(l1, params):
    bridge_before = int(l1.get(f"/accounts/{hx(BRIDGE_ADDRESS)}")["balance"])
    assert l1.call(0, "deposit", to=hx(ACCOUNTS[3].address), amount=amount(7)) == {"index": 0}
    item = l1.get("/queue/0")
    assert item["kind"] == "deposit" and item["amount"] == amount(7)
    assert item["to"] == hx(ACCOUNTS[3].address) and item["consumed"] is False
    assert item["due_l1_origin"] == item["l1_block"] + params.force_delay_l1_blocks
    assert int(l1.get(f"/accounts/{hx(BRIDGE_ADDRESS)}")["balance"]) == bridge_before + 7 * TOKEN
    assert l1.get("/status")["queue_length"] == 1
    assert [i["index"] for i in l1.get("/queue", pending=True)] == [0]


def test_deposit_rejections(l1):
    from protocol.accounts import generated_accounts
    l1.reject(generated_accounts(1)[0], "deposit", "InsufficientFunds",
              to=hx(ACCOUNTS[3].address), amount="1")
    l1.reject(0, "deposit", "InvalidCall", to="0x00", amount="1")


def test_force_tx_enqueues_a_signed_transaction(l1, params):
    tx = signed_transfer(params, ACCOUNTS[2], ACCOUNTS[3].address, TOKEN, 0)
    assert l1.call(9, "force_tx", raw_tx=hx(tx.raw)) == {"index": 0}
    item = l1.get("/queue/0")
    assert item["kind"] == "forced_tx" and item["raw_tx"] == hx(tx.raw)
    l1.reject(9, "force_tx", "InvalidEncoding", raw_tx="0x02c0")
    l1.reject(9, "force_tx", "InvalidCall", raw_tx="0x" + "00" * (128 * 1024 + 1))
    l1.get("/queue/5", status=404)


def test_blocks_must_consume_due_queue_items(l1, params):
    chain = l1.start_chain()
    l1.call(0, "deposit", to=hx(ACCOUNTS[4].address), amount=amount(3))
    item = l1.contract.queue[0]
    l1.mine(params.force_delay_l1_blocks)
    due_origin = item.l1_block + params.force_delay_l1_blocks
    skipping = chain.build(l1_origin=due_origin, append=False)
    error = l1.reject(0, "submit_batch", "QueueItemSkipped", **block_args(skipping))
    assert "queue item 0" in error["detail"]
    wrong = QueueItem(0, QUEUE_DEPOSIT, item.l1_block, item.sender, item.to, item.amount + 1)
    l1.reject(0, "submit_batch", "BadQueueItems",
              **block_args(chain.build(l1_origin=due_origin, queue_items=[wrong], append=False)))
    # before the deadline a block may leave it; consuming it is accepted
    early = chain.build(l1_origin=due_origin - 1)
    consuming = chain.build(l1_origin=due_origin, queue_items=[item])
    assert l1.submit(0, early, consuming)["accepted"] == 2
    assert l1.get("/queue/0")["consumed"] is True and l1.get("/status")["queue_head"] == 1


def test_withdrawal_is_claimable_after_finalization(l1, params):
    chain = l1.start_chain()
    sender = ACCOUNTS[5]
    tx = signed_transfer(params, sender, BRIDGE_ADDRESS, 2 * TOKEN, 0)
    block = chain.build(transactions=[tx])
    withdrawals = chain.outputs[-1].withdrawals
    assert len(withdrawals) == 1
    proof = [hx(node) for node in get_withdrawal_proof(withdrawals, 0)]
    args = dict(block_number=1, sender=hx(sender.address), amount=amount(2), index=0, proof=proof)
    l1.reject(7, "claim_withdrawal", "UnknownBlock", **args)
    l1.submit(0, block)
    l1.reject(7, "claim_withdrawal", "BlockNotFinal", **args)
    l1.mine(params.challenge_window_l1_blocks)
    l1.reject(7, "claim_withdrawal", "InvalidProof", **dict(args, amount=amount(3)))
    l1.reject(7, "claim_withdrawal", "InvalidProof", **dict(args, proof=[]))
    before = int(l1.get(f"/accounts/{hx(sender.address)}")["balance"])
    assert l1.call(7, "claim_withdrawal", **args) == {"amount": amount(2)}
    assert int(l1.get(f"/accounts/{hx(sender.address)}")["balance"]) == before + 2 * TOKEN
    l1.reject(7, "claim_withdrawal", "AlreadyClaimed", **args)
