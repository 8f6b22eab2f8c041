"""The slot pipeline with a fake clock: receipts, sealing, attestations, QCs, fork choice."""

from __future__ import annotations

from protocol.receipts import receipt_from_json, verify_receipt
from protocol.encoding import decode_block
from protocol.hashing import compute_prefix_chain, keccak256

from ..helpers import client_of, make_net, run, transfer


def test_leader_receipts_seals_and_peers_attest(tmp_path):
    async def scenario():
        net = await make_net(tmp_path)
        try:
            params = net.params
            await net.run_slot(1)
            await net.run_slot(2)
            heads = {n.store.head.hash for n in net.nodes}
            assert len(heads) == 1 and net.nodes[0].store.head.number == 2
            # block 1 has a QC (carried by block 2); block 2 gets one from attestations
            for node in net.nodes:
                assert node.store.at(1).qc is not None
                assert node.store.at(2).qc is not None
            # open slot 3 and send a transfer to a node that does not lead it
            start3 = params.genesis_time_ms + 3 * params.slot_ms
            await net.tick_all(start3 + params.parent_wait_ms)
            leader = await net.leader(3)
            other = next(n for n in net.nodes if n is not leader)
            raws = [transfer(params, 0, 0), transfer(params, 1, 0), transfer(params, 0, 1)]
            async with client_of(net, other.settings.name) as client:
                receipts = []
                for raw in raws:
                    response = await client.post("/txs", json={"raw": "0x" + raw.hex()})
                    assert response.status_code == 200, response.text
                    receipts.append(receipt_from_json(response.json()["receipt"]))
            chain = compute_prefix_chain([keccak256(r) for r in raws])
            for index, receipt in enumerate(receipts):
                assert receipt.leader == leader.key.public and receipt.slot == 3
                assert receipt.index == index and receipt.prefix_hash == chain[index]
                assert verify_receipt(receipt, params.chain_id)
            await net.tick_all(start3 + params.slot_ms - 5)
            block = leader.store.head.block
            assert block.slot == 3 and [keccak256(t) for t in block.transactions] == \
                [keccak256(r) for r in raws]
            assert len({n.store.head.hash for n in net.nodes}) == 1
            # everyone agrees on balances
            sender = net.nodes[0].decode(raws[0]).sender
            for node in net.nodes:
                assert node.store.head.state.get_account(sender).nonce == 2
        finally:
            await net.close()
    run(scenario())


def test_invalid_transactions_are_refused_with_reasons(tmp_path):
    async def scenario():
        net = await make_net(tmp_path)
        try:
            params = net.params
            start = params.genesis_time_ms + params.slot_ms
            await net.tick_all(start + params.parent_wait_ms)
            leader = await net.leader(1)
            async with client_of(net, leader.settings.name) as client:
                ok = await client.post("/txs", json={"raw": "0x" + transfer(params, 2, 0).hex()})
                assert ok.status_code == 200
                low = await client.post("/txs", json={"raw": "0x" + transfer(params, 2, 0).hex()})
                assert low.status_code == 200  # the same transaction: the same receipt
                again = await client.post("/txs", json={"raw": "0x" + transfer(
                    params, 2, 0, value=5).hex()})
                assert again.status_code == 400 and again.json()["error"] == "NonceTooLow"
                rich = await client.post("/txs", json={"raw": "0x" + transfer(
                    params, 3, 0, value=10**30).hex()})
                assert rich.json()["error"] == "InsufficientBalance"
                junk = await client.post("/txs", json={"raw": "0x1234"})
                assert junk.status_code == 400
        finally:
            await net.close()
    run(scenario())


def test_faulty_leader_posts_its_bad_block_to_l1_at_once(tmp_path):
    """bad_state_root must be provable on L1: the faulty leader posts its block right after
    sealing it, without waiting for a batcher turn (it seals at its slot's end, so the next
    batcher tick runs in someone else's slot). Honest leaders post nothing outside the batcher."""
    async def scenario():
        net = await make_net(tmp_path, settings_changes={1: {"fault": ["bad_state_root"]}})
        try:
            faulty = net.nodes[1]
            leaders = [await net.nodes[0].leader_of(s) for s in range(1, 40)]
            slot = 1 + leaders.index(faulty.key.public)
            for s in range(1, slot):
                await net.run_slot(s)
            assert net.l1.batches == 0  # no batcher tick ran: honest blocks wait for it
            await net.run_slot(slot)
            for _ in range(20):
                if net.l1.chain:
                    break
                await net.drain()
            produced = [decode_block(raw) for _, raw in net.l1.chain]
            assert produced and produced[-1].header.producer == faulty.key.public
            assert produced[-1].slot == slot
            assert [b.number for b in produced] == list(range(1, len(produced) + 1))
        finally:
            await net.close()
    run(scenario())


def test_next_leader_takes_transactions_in_the_seal_window(tmp_path):
    """After the leader of slot s sealed (its seal margin before the slot ends), the leader of
    s+1 opens its session as soon as block s is here, and transactions are receipted for s+1
    at once instead of waiting for slot s+1 to start and its parent wait to end."""
    async def scenario():
        net = await make_net(tmp_path)
        try:
            params = net.params
            await net.run_slot(1)
            await net.run_slot(2)   # seals block 2 at 5 ms before slot 2 ends
            start3 = params.genesis_time_ms + 3 * params.slot_ms
            assert net.clock.now_ms() < start3
            await net.tick_all(start3 - 3)   # still slot 2, in its seal window
            leader3 = await net.leader(3)
            assert leader3.session is not None and leader3.session.slot == 3
            assert leader3.session.parent.slot == 2
            other = next(n for n in net.nodes if n is not leader3)
            async with client_of(net, other.settings.name) as client:
                response = await client.post("/txs", json={"raw": "0x" + transfer(params, 0, 0).hex()})
            assert response.status_code == 200, response.text
            receipt = receipt_from_json(response.json()["receipt"])
            assert receipt.slot == 3 and receipt.leader == leader3.key.public and receipt.index == 0
            assert net.clock.now_ms() < start3   # answered before slot 3 began
            await net.tick_all(start3 + params.slot_ms - 5)
            block = leader3.store.head.block
            assert block.slot == 3 and len(block.transactions) == 1
            assert len({n.store.head.hash for n in net.nodes}) == 1
        finally:
            await net.close()
    run(scenario())


def test_next_leader_waits_longer_for_a_live_leaders_late_block(tmp_path):
    """The previous leader was seen handing out receipts: its block is coming (late on a
    starved machine), so the next leader waits up to half a slot for it instead of
    `parent_wait_ms`, and builds on it. Without such receipts it waits `parent_wait_ms`."""
    from sequencer.core import producer, validator

    async def scenario():
        net = await make_net(tmp_path)
        try:
            params = net.params
            leaders = [await net.nodes[0].leader_of(s) for s in range(0, 40)]
            slot = next(s for s in range(2, 38) if leaders[s] != leaders[s + 1])
            for s in range(1, slot):
                await net.run_slot(s)
            start = params.genesis_time_ms + slot * params.slot_ms
            await net.tick_all(start + params.parent_wait_ms)
            late, nxt = net.node_by_key(leaders[slot]), net.node_by_key(leaders[slot + 1])
            assert producer.parent_wait_ms(nxt, slot + 1) == params.parent_wait_ms
            async with client_of(net, late.settings.name) as client:
                response = await client.post("/txs", json={"raw": "0x" + transfer(params, 0, 0).hex()})
                assert response.status_code == 200, response.text
            await net.tick_all(start + params.parent_wait_ms + 60)   # gossip the receipt
            assert nxt.latest_peer_receipt_slot == slot
            assert producer.parent_wait_ms(nxt, slot + 1) == params.slot_ms // 2
            peers, late.peers = late.peers, {}                        # its block is "late":
            late.peers_refreshed_ms = float("inf")
            await net.tick_all(start + params.slot_ms - 5)            # it seals, tells nobody
            next_start = start + params.slot_ms
            await net.tick_all(next_start + params.parent_wait_ms + 20)
            assert nxt.session is None or nxt.session.slot != slot + 1 or \
                nxt.session.speculative  # still waiting for the parent
            late.peers = peers
            block = late.store.head.block
            assert block.slot == slot and len(block.transactions) == 1
            assert await validator.on_block(nxt, block, "test") == "accepted"
            await net.tick_all(next_start + params.parent_wait_ms + 30)
            assert nxt.session is not None and nxt.session.slot == slot + 1
            assert nxt.session.parent.hash == block.hash   # built on the late block
        finally:
            await net.close()
    run(scenario())
