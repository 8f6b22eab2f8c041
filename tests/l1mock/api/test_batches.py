"""submit_batch and the chain reads: acceptance, each rejection, idempotency, finalization,
rewards, ranger reports, downtime jailing; GET /batches, /blocks, /epochs, /slots."""

from __future__ import annotations

from protocol.blocks import QuorumCertificate
from protocol.chainbuilder import make_qc, attest
from protocol.constants import TOKEN
from protocol.schedule import compute_schedule

from ..helpers import ACCOUNTS, NODE_KEYS, STAKES, amount, block_args, hx, with_header


def test_valid_batch_is_accepted_and_finalizes_with_rewards(l1, params):
    chain = l1.start_chain()
    blocks = [chain.build() for _ in range(3)]
    result = l1.submit(9, *blocks)
    assert result == {"accepted": 3, "skipped": 0, "batch_id": 0, "first": 1, "last": 3}
    status = l1.get("/status")
    assert status["accepted"]["number"] == 3 and status["finalized"]["number"] == 0
    block = l1.get("/blocks/2")
    assert block["hash"] == hx(blocks[1].hash) and block["status"] == "accepted"
    assert block["raw"] and block["parent_qc"]["number"] == 1
    assert l1.get(f"/blocks/by-hash/{hx(blocks[1].hash)}")["number"] == 2
    assert l1.get("/batches/0")["hashes"] == [hx(b.hash) for b in blocks]
    assert l1.get("/batches")[0]["id"] == 0

    l1.mine(params.challenge_window_l1_blocks)
    assert l1.get("/status")["finalized"]["number"] == 3
    assert l1.get("/blocks/3")["status"] == "finalized"
    # each block pays 1 token to its producer's pool: 10% commission, then pro rata
    producer = blocks[0].header.producer
    seq = l1.get(f"/sequencers/{hx(producer)}")
    assert int(seq["rewards"]) == sum(b.header.producer == producer for b in blocks) * TOKEN
    operator = seq["operator"]
    pending = int(l1.get(f"/accounts/{operator}")["pending_rewards"])
    assert pending == int(seq["rewards"])  # no delegators: everything to the operator
    before = int(l1.get(f"/accounts/{operator}")["balance"])
    who = next(a for a in ACCOUNTS if hx(a.address) == operator)
    assert l1.call(who, "claim_rewards") == {"amount": str(pending)}
    assert int(l1.get(f"/accounts/{operator}")["balance"]) == before + pending


def test_rewards_split_commission_then_pro_rata(l1, params):
    chain = l1.start_chain()
    block = chain.build()
    producer = block.header.producer
    index = [k.public for k in NODE_KEYS].index(producer)
    l1.call(8, "delegate", sequencer=hx(producer), amount=amount(STAKES[index]))  # half the pool
    l1.submit(0, block)
    l1.mine(params.challenge_window_l1_blocks)
    delegator = int(l1.get(f"/accounts/{hx(ACCOUNTS[8].address)}")["pending_rewards"])
    operator = int(l1.get(f"/accounts/{hx(ACCOUNTS[index].address)}")["pending_rewards"])
    assert delegator == 45 * TOKEN // 100  # (1 - 10%) / 2
    assert operator == TOKEN - delegator


def test_resubmission_is_idempotent_and_extends(l1):
    chain = l1.start_chain()
    b1, b2, b3 = (chain.build() for _ in range(3))
    l1.submit(0, b1, b2)
    assert l1.submit(0, b1, b2) == {"accepted": 0, "skipped": 2, "batch_id": None}
    assert l1.submit(1, b2, b3)["accepted"] == 1
    assert l1.get("/status")["accepted"]["number"] == 3


def test_batch_signed_by_wrong_leader_is_refused(l1):
    chain = l1.start_chain()
    slot = chain.next_slot()
    wrong = next(k for k in NODE_KEYS[:4] if k.public != chain.leader_key(slot).public)
    block = chain.build(producer=wrong, append=False)
    error = l1.reject(0, "submit_batch", "WrongLeader", **block_args(block))
    assert "block 1" in error["detail"] and f"slot {slot}" in error["detail"]


def test_bad_producer_signature_is_refused(l1):
    chain = l1.start_chain()
    block = chain.build(append=False)
    forged = type(block)(block.header, b"\x01" * 64, block.queue_items, block.transactions)
    l1.reject(0, "submit_batch", "InvalidSignature", **block_args(forged))


def test_missing_or_weak_parent_qc_is_refused(l1):
    chain = l1.start_chain()
    b1 = chain.build()
    l1.submit(0, b1)
    b2 = chain.build(append=False)
    no_qc = with_header(chain, b2, parent_qc=None)
    l1.reject(0, "submit_batch", "MissingQuorum", **block_args(no_qc))
    # the two smallest stakes: 45k of 110k is not > 2/3
    weak = make_qc(b1.header, [attest(k, b1.header, l1.params) for k in NODE_KEYS[2:4]])
    l1.reject(0, "submit_batch", "MissingQuorum", **block_args(with_header(chain, b2, parent_qc=weak)))
    bad_sig = QuorumCertificate(b1.hash, 1, b1.header.slot,
                                tuple((k.public, b"\x00" * 64) for k in NODE_KEYS[:4]))
    l1.reject(0, "submit_batch", "BadQuorumCertificate",
              **block_args(with_header(chain, b2, parent_qc=bad_sig)))
    assert l1.submit(0, b2)["accepted"] == 1


def test_broken_continuity_is_refused(l1):
    chain = l1.start_chain()
    b1, b2, b3 = (chain.build() for _ in range(3))
    l1.reject(0, "submit_batch", "WrongParent", **block_args(b2))
    l1.reject(0, "submit_batch", "InvalidCall", **block_args(b1, b3))
    l1.submit(0, b1)
    other = with_header(chain, b2, parent_hash=b"\x07" * 32)
    l1.reject(0, "submit_batch", "WrongParent", **block_args(other))
    earlier_slot = with_header(chain, b2, slot=b1.header.slot,
                               timestamp_ms=b1.header.timestamp_ms)
    l1.reject(0, "submit_batch", None, **block_args(earlier_slot))
    conflicting = with_header(chain, b1, timestamp_ms=b1.header.timestamp_ms + 1)
    l1.reject(0, "submit_batch", "BlockConflict", **block_args(conflicting))


def test_block_of_unsnapshotted_epoch_is_refused(l1):
    chain = l1.start_chain()
    far = chain.build(slot=10 * l1.params.epoch_slots, append=False)
    l1.reject(0, "submit_batch", "EpochNotSnapshotted", **block_args(far))


def test_l1_origin_ahead_of_l1_is_refused(l1):
    chain = l1.start_chain()
    block = chain.build(l1_origin=l1.contract.head_number + 5, append=False)
    l1.reject(0, "submit_batch", "BadL1Origin", **block_args(block))


def test_truncated_and_garbage_rlp_is_refused(l1):
    chain = l1.start_chain()
    raw = block_args(chain.build(append=False))["blocks"][0]
    l1.reject(0, "submit_batch", "InvalidEncoding", blocks=[raw[:-10]])
    l1.reject(0, "submit_batch", "InvalidEncoding", blocks=["0xc0"])
    l1.reject(0, "submit_batch", "InvalidEncoding", blocks=["0x" + "ff" * 40])
    l1.reject(0, "submit_batch", "InvalidCall", blocks=["0xzz"])
    l1.reject(0, "submit_batch", "InvalidCall", blocks=[])


def test_missed_slots_are_counted_and_downtime_jails(l1, params):
    chain = l1.start_chain()
    # produce only in slots led by sequencer 0; everyone else misses theirs
    keeper = NODE_KEYS[0].public
    blocks = []
    for slot in range(1, 4 * params.epoch_slots):
        if chain.leader_key(slot).public == keeper:
            blocks.append(chain.build(slot=slot))
    l1.mine_until(params.genesis_time_ms + 4 * params.epoch_ms - params.lookahead_slots * params.slot_ms)
    l1.submit(0, *blocks)
    sequencers = {s["node_key"]: s for s in l1.get("/sequencers")}
    assert sequencers[hx(keeper)]["produced"] == len(blocks)
    assert sequencers[hx(keeper)]["missed"] == 0
    jailed = [s for s in sequencers.values() if s["status"] == "jailed"]
    assert jailed, "a sequencer that missed more than half of its slots is jailed"
    for seq in jailed:
        assert seq["missed"] > params.downtime_max_missed
        assert "downtime" in seq["jail_reason"]
        assert int(seq["slashed"]) == int(seq["self_stake"]) * 100 // 9_900
    slashes = l1.get("/slashes")
    assert {s["reason"] for s in slashes} == {"downtime"}
    # unjail after the delay
    operator = next(a for a in ACCOUNTS if hx(a.address) == jailed[0]["operator"])
    l1.reject(operator, "unjail", "UnjailTooEarly")
    l1.mine(params.unjail_delay_l1_blocks)
    l1.call(operator, "unjail")
    assert l1.get(f"/sequencers/{jailed[0]['node_key']}")["status"] == "active"


def test_ranger_reports_share_the_ranger_reward(l1, params):
    chain = l1.start_chain()
    for i in (6, 7):
        l1.call(i, "register_ranger", node_key=hx(NODE_KEYS[i].public), bond=amount(1_000))
    b1, b2 = chain.build(), chain.build()
    l1.submit(0, b1, b2)
    assert l1.call(6, "report_verified", block_hashes=[hx(b1.hash), hx(b2.hash)]) == {"recorded": 2}
    assert l1.call(7, "report_verified", block_hashes=[hx(b1.hash)]) == {"recorded": 1}
    assert l1.get("/blocks/1")["verified_by"] == [hx(NODE_KEYS[6].public), hx(NODE_KEYS[7].public)]
    l1.mine(params.challenge_window_l1_blocks)
    reward = params.ranger_reward_wei
    assert int(l1.get(f"/accounts/{hx(ACCOUNTS[6].address)}")["pending_rewards"]) == reward // 2 + reward
    assert int(l1.get(f"/accounts/{hx(ACCOUNTS[7].address)}")["pending_rewards"]) == reward // 2
    # reports on a finalized block record nothing
    assert l1.call(7, "report_verified", block_hashes=[hx(b2.hash)]) == {"recorded": 0}


def test_epochs_and_schedule_follow_protocol(l1, params):
    chain = l1.start_chain()
    epoch = l1.get("/epochs/1")
    expected = compute_schedule(chain.sequencer_set(1), params)
    assert epoch["schedule"] == [hx(k) for k in expected]
    assert [m["power"] for m in epoch["members"]] == [m.power for m in chain.sequencer_set(1).members]
    assert epoch["total_power"] == sum(STAKES)
    slot = params.epoch_slots + 3
    assert l1.get(f"/slots/{slot}")["leader"] == hx(expected[3])
    assert [e["epoch"] for e in l1.get("/epochs")] == [0, 1]
    l1.get("/epochs/99", status=404)
    l1.get("/slots/999", status=404)


def test_block_reads_not_found(l1):
    l1.get("/blocks/5", status=404)
    l1.get(f"/blocks/by-hash/{'0x' + '00' * 32}", status=404)
    l1.get("/batches/0", status=404)
    assert l1.get("/blocks/0")["status"] == "genesis"
    assert l1.get("/blocks", **{"from": 0})[0]["number"] == 0
