"""Speculative early open (docs/adr/0005-speculative-early-open.md): in the seal window of slot
s the leader of s+1 receipts new transactions at once, on the state the block of slot s is
predicted to leave, and moves onto that block when it arrives; a transaction it receipted
that is not valid there, in order, costs it its slot (no block), never a broken receipt.
"""

from __future__ import annotations

import asyncio

from protocol.accounts import dev_accounts
from protocol.blocks import Block
from protocol.constants import BRIDGE_ADDRESS, GWEI, ZERO_HASH
from protocol.hashing import compute_prefix_hash, keccak256
from protocol.params import devnet_params
from protocol.state import Account, State
from protocol.transactions import decode_transaction, sign_transaction
from protocol.transition import apply_block
from sequencer.core import validator
from sequencer.core.producer import _PredictedState

from ..helpers import client_of, make_net, run, transfer


def test_predicted_state_is_the_state_apply_block_leaves():
    params = devnet_params()
    accounts = dev_accounts(10)
    fee_recipient = b"\x77" * 20
    genesis = {a.address: Account(0, 10**21) for a in accounts}
    genesis[fee_recipient] = Account(3, 5)
    parent = State.from_accounts(genesis)
    txs = [decode_transaction(raw) for raw in (
        transfer(params, 0, 0),
        transfer(params, 0, 1, value=7),                                   # same sender again
        transfer(params, 1, 0, to=accounts[1].address),                    # to itself
        transfer(params, 2, 0, value=10**16, to=BRIDGE_ADDRESS),           # a withdrawal
        transfer(params, 3, 0, to=b"\x55" * 20),                           # a fresh account
        transfer(params, 4, 0, to=fee_recipient),                          # to the fee account
    )]
    state = parent.copy()
    body = Block(header=None, signature=b"", transactions=tuple(tx.raw for tx in txs))
    output = apply_block(state, body, fee_recipient, params, txs)
    predicted = _PredictedState(parent, txs, fee_recipient, params.base_fee_wei)
    touched = set(output.touched) | {accounts[9].address, b"\x66" * 20}
    for address in touched:
        assert predicted.get_account(address) == state.get_account(address), address.hex()


def test_a_transaction_depends_on_the_prediction_only_where_its_validity_does():
    params = devnet_params()
    accounts = dev_accounts(10)
    poor = b"\x44" * 20
    genesis = {a.address: Account(0, 10**21) for a in accounts}
    parent = State.from_accounts(genesis)
    txs = [decode_transaction(transfer(params, 0, 0, value=10**17, to=accounts[1].address)),
           decode_transaction(transfer(params, 2, 0, value=10**18, to=poor))]
    predicted = _PredictedState(parent, txs, b"\x77" * 20, params.base_fee_wei)

    def depends(raw: bytes) -> bool:
        tx = decode_transaction(raw)
        return predicted.depends_on_prediction(tx, predicted.get_account(tx.sender), params)

    assert depends(transfer(params, 0, 1))                   # its nonce rests on the block
    assert not depends(transfer(params, 1, 0))               # paid by it, but rich enough
    assert not depends(transfer(params, 3, 0))               # untouched
    # an account that holds only what the predicted block pays it
    key = bytes.fromhex("11" * 32)
    spend = decode_transaction(sign_transaction(key, chain_id=params.chain_id, nonce=0,
                                                to=accounts[5].address, value=10**17,
                                                max_fee_per_gas=2 * GWEI))
    funded = _PredictedState(parent, [decode_transaction(
        transfer(params, 4, 0, value=10**18, to=spend.sender))], b"\x77" * 20,
        params.base_fee_wei)
    assert funded.depends_on_prediction(spend, funded.get_account(spend.sender), params)


async def _into_boundary_slot(net):
    """Run the chain up to a slot s >= 2 whose leader and the next two leaders differ, and
    into s after its parent wait: (s, start of s, leaders by slot, leader of s, of s+1)."""
    params = net.params
    leaders = [await net.nodes[0].leader_of(s) for s in range(0, 40)]
    slot = next(s for s in range(2, len(leaders) - 3)
                if len({leaders[s], leaders[s + 1], leaders[s + 2]}) == 3)
    for s in range(1, slot):
        await net.run_slot(s)
    start = params.genesis_time_ms + slot * params.slot_ms
    await net.tick_all(start + params.parent_wait_ms)
    return slot, start, leaders, net.node_by_key(leaders[slot]), net.node_by_key(leaders[slot + 1])


async def _seal_with_a_slow_block(net, slot, current, nxt, start):
    """The leader of the boundary slot receipts one transfer (gossiped with its receipt) and
    seals a block its peers do not get yet; the next leader opens speculatively: (that
    block, the peers to give back, the next leader's session)."""
    params = net.params
    first = transfer(params, 0, 0)
    async with client_of(net, current.settings.name) as client:
        response = await client.post("/txs", json={"raw": "0x" + first.hex()})
        assert response.status_code == 200, response.text
    await net.tick_all(start + params.parent_wait_ms + 60)    # gossip the receipt
    peers, current.peers = current.peers, {}                    # its block is slow
    current.peers_refreshed_ms = float("inf")
    await net.tick_all(start + params.slot_ms - 5)              # it seals
    block, session = current.store.head.block, nxt.session
    assert block.slot == slot
    assert session is not None and session.slot == slot + 1 and session.speculative
    return block, peers, session


async def _boundary_and_slow_block(net):
    """_into_boundary_slot, then _seal_with_a_slow_block: (s, start of s, leader of s, of s+1,
    the slow block, the peers to give back, the next leader's speculative session)."""
    slot, start, _, current, nxt = await _into_boundary_slot(net)
    block, peers, session = await _seal_with_a_slow_block(net, slot, current, nxt, start)
    return slot, start, current, nxt, block, peers, session


def _blocks_of_slot(nodes, slot: int) -> list[Block]:
    """Each node's one stored block of `slot`."""
    blocks = []
    for node in nodes:
        [entry] = [node.store.get(h) for h in node.store.by_slot.get(slot, [])]
        blocks.append(entry.block)
    return blocks


async def _seal_next_and_check(net, nxt, slot: int, start: int, parent_hash: bytes,
                               raws: list[bytes]) -> None:
    """The leader of s+1 seals: every live node's block of s+1 stands on `parent_hash` and
    holds `raws`, in order, and no speculation failed."""
    await net.tick_all(start + 2 * net.params.slot_ms - 5)
    await net.drain()
    for sealed in _blocks_of_slot(net.live(), slot + 1):
        assert sealed.header.parent_hash == parent_hash
        assert [keccak256(t) for t in sealed.transactions] == [keccak256(r) for r in raws]
    assert nxt.metrics.speculation_failed._value.get() == 0


def test_next_leader_receipts_in_the_seal_window_before_the_block_and_keeps_its_promise(tmp_path):
    async def scenario():
        net = await make_net(tmp_path)
        try:
            params = net.params
            slot, start, current, nxt, block, peers, session = await _boundary_and_slow_block(net)
            assert session.parent.slot < slot                           # block s is not here
            # a sender the pending block does not touch: receipted at once
            other = transfer(params, 2, 0)
            async with client_of(net, nxt.settings.name) as client:
                response = await client.post("/txs", json={"raw": "0x" + other.hex()})
                assert response.status_code == 200, response.text
            receipt = response.json()["receipt"]
            assert receipt["slot"] == slot + 1 and receipt["index"] == 0
            assert receipt["prefix_hash"] == "0x" + compute_prefix_hash(
                ZERO_HASH, keccak256(other)).hex()
            # the sender's next nonce is valid only if block s comes: it waits for the block
            second = transfer(params, 0, 1)

            async def send_second():
                async with client_of(net, nxt.settings.name) as client:
                    return await client.post("/txs", json={"raw": "0x" + second.hex()})
            waiting = asyncio.create_task(send_second())
            for _ in range(20):
                await asyncio.sleep(0.005)
            assert not waiting.done() and keccak256(second) not in session.hashes
            # the block arrives: the session moves onto it, the waiting one is receipted
            current.peers = peers
            await validator.broadcast_block(current, block)
            await net.drain()
            await net.tick_all(start + params.slot_ms + 20)
            assert not session.speculative and session.parent.hash == block.hash
            response = await asyncio.wait_for(waiting, 10)
            assert response.status_code == 200, response.text
            assert response.json()["receipt"]["index"] == 1
            await _seal_next_and_check(net, nxt, slot, start, block.hash, [other, second])
        finally:
            await net.close()
    run(scenario())


def test_a_speculative_receipt_that_conflicts_with_the_block_costs_the_slot_not_the_promise(
        tmp_path):
    async def scenario():
        net = await make_net(tmp_path)
        try:
            params = net.params
            slot, start, leaders, current, nxt = await _into_boundary_slot(net)
            peers, current.peers = current.peers, {}      # nobody hears of its receipts
            current.peers_refreshed_ms = float("inf")
            taken = transfer(params, 1, 0)
            async with client_of(net, current.settings.name) as client:
                response = await client.post("/txs", json={"raw": "0x" + taken.hex()})
                assert response.status_code == 200, response.text
            await net.tick_all(start + params.slot_ms - 5)              # it seals
            block = current.store.head.block
            assert block.slot == slot and len(block.transactions) == 1
            # the same nonce, another transaction, at the next leader, in the seal window
            rival = transfer(params, 1, 0, value=3)
            async with client_of(net, nxt.settings.name) as client:
                response = await client.post("/txs", json={"raw": "0x" + rival.hex()})
                assert response.status_code == 200, response.text
            assert response.json()["receipt"]["slot"] == slot + 1
            current.peers = peers
            await validator.broadcast_block(current, block)
            await net.drain()
            await net.tick_all(start + params.slot_ms + 20)
            assert nxt.session.done and not nxt.session.open
            assert nxt.metrics.speculation_failed._value.get() == 1
            await net.tick_all(start + 2 * params.slot_ms - 5)
            await net.drain()
            for node in net.nodes:       # no block of slot s+1: no receipt of it can be broken
                assert not node.store.by_slot.get(slot + 1)
                assert node.store.is_canonical(block.hash)
            await net.run_slot(slot + 2)
            head = net.nodes[0].store.head
            assert head.slot == slot + 2 and head.block.header.parent_hash == block.hash
        finally:
            await net.close()
    run(scenario())


def test_when_the_pending_block_never_comes_the_session_settles_on_its_parent(tmp_path):
    """The leader of s dies after handing out receipts: the speculative session of s+1 took
    only transactions that do not depend on its block, so at the end of the parent wait it
    settles on s's parent and keeps them; s's receipted transactions follow them."""
    async def scenario():
        net = await make_net(tmp_path)
        try:
            params = net.params
            slot, start, leaders, current, nxt = await _into_boundary_slot(net)
            parent = current.store.head
            first = transfer(params, 0, 0)
            async with client_of(net, current.settings.name) as client:
                response = await client.post("/txs", json={"raw": "0x" + first.hex()})
                assert response.status_code == 200, response.text
            await net.tick_all(start + params.parent_wait_ms + 60)    # gossip the receipt
            net.router.down.add(current.settings.name)                 # it dies
            await net.tick_all(start + params.slot_ms - 5)
            assert nxt.session.slot == slot + 1 and nxt.session.speculative
            other = transfer(params, 2, 0)
            async with client_of(net, nxt.settings.name) as client:
                response = await client.post("/txs", json={"raw": "0x" + other.hex()})
                assert response.status_code == 200, response.text
            assert response.json()["receipt"]["index"] == 0
            await net.tick_all(start + params.slot_ms + params.slot_ms // 2 + 20)
            session = nxt.session
            assert not session.speculative and session.parent.hash == parent.hash
            assert [tx.hash for tx in session.txs] == [keccak256(other), keccak256(first)]
            await _seal_next_and_check(net, nxt, slot, start, parent.hash, [other, first])
        finally:
            await net.close()
    run(scenario())


def test_a_leader_whose_seal_is_late_takes_nothing_in_its_seal_window(tmp_path):
    """From the seal window on, new transactions belong to the next leader (it may already
    receipt them speculatively). A leader whose seal tick runs late must not receipt one
    in that window, by gossip or forwarding: the transaction would be in both blocks and the
    next leader's session could not move onto this block (found by bench/ingest_bench.py:
    speculation failed at the start of the 20 s run)."""
    from sequencer.core import intake

    async def scenario():
        net = await make_net(tmp_path)
        try:
            params = net.params
            slot, start, leaders, current, nxt = await _into_boundary_slot(net)
            assert current.session.slot == slot and current.session.open
            await net.clock.set_ms(start + params.slot_ms - 50)       # window; no tick yet
            from sequencer.core import producer
            await producer.tick(nxt, net.clock.now_ms())              # nxt opens, speculative
            assert nxt.session.slot == slot + 1 and nxt.session.speculative
            late = transfer(params, 4, 0)
            await intake.on_gossip(current, leaders[slot + 1], [{"raw": "0x" + late.hex()}])
            assert keccak256(late) not in current.session.hashes
            async with client_of(net, current.settings.name) as client:
                peer_batch = await client.post("/txs", json={"raw": "0x" + late.hex()})
            assert keccak256(late) not in current.session.hashes
            assert peer_batch.status_code == 200, peer_batch.text     # the next leader's
            assert peer_batch.json()["receipt"]["slot"] == slot + 1
        finally:
            await net.close()
    run(scenario())


def test_a_leader_answers_a_late_forward_of_a_transaction_it_took_by_gossip_with_its_receipt(
        tmp_path):
    """A non-leader gossips a transaction and forwards it too. When the gossip reached the
    leader in its slot and the forward only after the intake moved on, the leader answered
    NotLeader; the forwarder then went to the next leader, which receipted the transaction a
    second time on its prediction and lost its slot (bench/ingest_bench.py full-one). The
    leader must answer with the receipt it gave, before and after its seal."""
    from sequencer.core import intake, producer

    async def scenario():
        net = await make_net(tmp_path)
        try:
            params = net.params
            slot, start, leaders, current, nxt = await _into_boundary_slot(net)
            gossiped = transfer(params, 4, 0)
            forwarder = next(node for node in net.nodes if node not in (current, nxt))
            await intake.on_gossip(current, forwarder.key.public, [{"raw": "0x" + gossiped.hex()}])
            given = current.receipts[keccak256(gossiped)]
            assert given.slot == slot
            await net.clock.set_ms(start + params.slot_ms - 50)       # window; no seal tick yet
            [answer] = await intake.submit_forwarded(current, [gossiped])
            assert answer.get("receipt", {}).get("slot") == slot, answer
            assert answer["receipt"]["signature"] == "0x" + given.signature.hex()
            await producer.tick(current, net.clock.now_ms())          # it seals
            assert current.last_sealed_slot == slot
            [answer] = await intake.submit_forwarded(current, [gossiped])
            assert answer.get("receipt", {}).get("index") == given.index, answer
            # a transaction it never took still goes to the next leader
            other = transfer(params, 5, 0)
            [answer] = await intake.submit_forwarded(current, [other])
            assert answer.get("error") == "NotLeader", answer
        finally:
            await net.close()
    run(scenario())


def test_the_seal_waits_for_the_predicted_block_while_it_is_being_validated(tmp_path):
    """Under load the next leader validates the block it predicted slowly (it takes the
    slot's transactions meanwhile). Settling on that block's parent at its seal would orphan
    a valid block and carry its transactions into its own, ever bigger (bench/ingest_bench.py
    full-leader, 15 s): the seal waits for the validation, up to `seal_hold_ms`."""
    from sequencer.core import producer

    async def scenario():
        net = await make_net(tmp_path)
        try:
            params = net.params
            slot, start, current, nxt, block, peers, session = await _boundary_and_slow_block(net)
            nxt.validating[block.hash] = block.slot                     # validation under way
            seal_at = start + 2 * params.slot_ms - 5
            for now in (seal_at, seal_at + 10, start + 2 * params.slot_ms + 100):
                await net.clock.set_ms(now)
                await producer.tick(nxt, now)
                assert nxt.session is session and session.speculative and not session.done
            # a transaction that reaches the pool after the intake moved on (gossiped by a
            # node forwarding it to the leader of s+2) is not for this late seal
            from sequencer.core import intake
            late = transfer(params, 6, 0)
            await intake.on_gossip(nxt, current.key.public, [{"raw": "0x" + late.hex()}])
            assert keccak256(late) in nxt.mempool
            del nxt.validating[block.hash]                              # validated: here it is
            current.peers = peers
            await validator.broadcast_block(current, block)
            await net.drain()
            await net.clock.set_ms(start + 2 * params.slot_ms + 120)
            await producer.tick(nxt, net.clock.now_ms())
            assert session.done and nxt.last_sealed_slot == slot + 1
            await net.drain()
            for sealed in _blocks_of_slot(net.nodes, slot + 1):
                assert sealed.header.parent_hash == block.hash
                assert sealed.header.timestamp_ms < start + 2 * params.slot_ms
                assert late not in sealed.transactions
            assert nxt.metrics.speculation_failed._value.get() == 0
        finally:
            await net.close()
    run(scenario())


def test_the_seal_hold_is_bounded(tmp_path):
    """A validation that never ends does not hold the slot past `seal_hold_ms`: the session
    then settles on the newest parent there is, as before."""
    from sequencer.core import producer

    async def scenario():
        net = await make_net(tmp_path)
        try:
            params = net.params
            slot, start, leaders, current, nxt = await _into_boundary_slot(net)
            current.peers, current.peers_refreshed_ms = {}, float("inf")
            await net.tick_all(start + params.slot_ms - 5)              # it seals, empty
            block = current.store.head.block
            session = nxt.session
            assert session.slot == slot + 1 and session.speculative
            nxt.validating[block.hash] = block.slot
            late = start + 2 * params.slot_ms + producer.seal_hold_ms(nxt)
            await net.clock.set_ms(late)
            await producer.tick(nxt, late)
            assert not session.speculative and session.parent.slot < slot
        finally:
            await net.close()
    run(scenario())


def test_the_move_onto_the_block_replays_in_slices_and_takes_what_intake_added_meanwhile(
        tmp_path, monkeypatch):
    """The replay of the receipted transactions onto the arrived block gives the event loop a
    turn between transactions (it held requests for 30-55 ms in one go), and a transaction
    receipted on the predicted state during the replay is replayed too before the switch."""
    from sequencer.core import producer

    async def scenario():
        net = await make_net(tmp_path)
        try:
            params = net.params
            slot, start, current, nxt, block, peers, session = await _boundary_and_slow_block(net)
            taken = [transfer(params, sender, 0) for sender in (2, 3, 4)]
            async with client_of(net, nxt.settings.name) as client:
                for raw in taken:
                    response = await client.post("/txs", json={"raw": "0x" + raw.hex()})
                    assert response.status_code == 200, response.text
            current.peers = peers
            await validator.broadcast_block(current, block)
            await net.drain()
            assert session.speculative and nxt.store.get(block.hash) is not None

            meanwhile = decode_transaction(transfer(params, 5, 0))
            replay = producer._replay_steps

            def replay_with_intake(node, replayed, fresh):
                steps = replay(node, replayed, fresh)
                next(steps)                                   # transaction 0 replayed
                producer.receipt_in_session(node, replayed, meanwhile)  # intake, between
                yield
                return (yield from steps)
            monkeypatch.setattr(producer, "_replay_steps", replay_with_intake)
            nxt.block_work = (0.0, 0.0, 0.0)                  # a turn after every step
            turns = 0

            async def count_turns():
                nonlocal turns
                while True:
                    turns += 1
                    await asyncio.sleep(0)
            counter = asyncio.create_task(count_turns())
            settled = await producer.settle_speculation(nxt, session)
            counter.cancel()
            assert settled and not session.speculative and session.parent.hash == block.hash
            assert turns >= 4                                  # one per replayed transaction
            assert [tx.hash for tx in session.txs] == \
                [keccak256(raw) for raw in taken] + [meanwhile.hash]
            assert session.pending_account(meanwhile.sender).nonce == 1
            await _seal_next_and_check(net, nxt, slot, start, block.hash,
                                       taken + [meanwhile.raw])
        finally:
            await net.close()
    run(scenario())
