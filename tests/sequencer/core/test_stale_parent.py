"""A leader whose parent went stale does not orphan the newer block (found by the chaos suite).

The leader of slot s+1 fixed its parent before the block of slot s arrived (a starved machine,
or an L1 outage during which it could not validate that block), receipted the transactions
it was handed, among them some the block of slot s already holds, and so cannot rebase onto
that block at its seal. It used to seal on the older parent: its block, of the higher slot,
won the fork choice everywhere and orphaned the block of slot s (attested meanwhile), and the
peers that had already built on it were split between two branches until L1 settled it. It
now signs nothing for the slot: the block of slot s stays, its receipted transactions go to
the next leader (DESIGN.md section 4).
"""

from __future__ import annotations

from protocol.hashing import keccak256
from sequencer.core import validator

from ..helpers import client_of, make_net, run, transfer


def test_leader_does_not_orphan_a_block_that_arrived_after_its_parent_was_fixed(tmp_path):
    async def scenario():
        net = await make_net(tmp_path)
        try:
            params = net.params
            leaders = [await net.nodes[0].leader_of(s) for s in range(0, 40)]
            slot = next(s for s in range(2, 36)
                        if len({leaders[s], leaders[s + 1], leaders[s + 2]}) == 3)
            for s in range(1, slot):
                await net.run_slot(s)
            grandparent = net.nodes[0].store.head
            start = params.genesis_time_ms + slot * params.slot_ms
            await net.tick_all(start + params.parent_wait_ms)
            late, nxt = net.node_by_key(leaders[slot]), net.node_by_key(leaders[slot + 1])
            raw = transfer(params, 0, 0)
            async with client_of(net, late.settings.name) as client:
                response = await client.post("/txs", json={"raw": "0x" + raw.hex()})
                assert response.status_code == 200, response.text
            await net.tick_all(start + params.parent_wait_ms + 60)    # gossip the receipt
            assert keccak256(raw) in nxt.mempool
            peers, late.peers = late.peers, {}                         # its block is late:
            late.peers_refreshed_ms = float("inf")
            await net.tick_all(start + params.slot_ms - 5)             # sealed, sent nowhere
            block = late.store.head.block
            assert block.slot == slot and [keccak256(t) for t in block.transactions] == \
                [keccak256(raw)]
            next_start = start + params.slot_ms
            await net.tick_all(next_start + params.slot_ms // 2 + 20)  # waited, gave up
            session = nxt.session
            assert session is not None and session.slot == slot + 1
            assert session.parent.hash == grandparent.hash and keccak256(raw) in session.hashes
            # the block arrives, everyone validates and attests it
            late.peers = peers
            await validator.broadcast_block(late, block)
            await net.drain()
            for node in net.nodes:
                assert node.store.is_canonical(block.hash)
            await net.tick_all(next_start + params.slot_ms - 5)        # nxt's seal
            for node in net.nodes:
                assert node.store.is_canonical(block.hash), node.settings.name
                assert not any(node.store.get(h).block.header.parent_hash == grandparent.hash
                               for h in node.store.by_slot.get(slot + 1, []))
            await net.run_slot(slot + 2)
            heads = {node.store.head.hash for node in net.nodes}
            assert len(heads) == 1
            head = net.nodes[0].store.head
            assert head.slot == slot + 2 and head.block.header.parent_hash == block.hash
            assert sum(keccak256(raw) == keccak256(t) for n in range(1, head.number + 1)
                       for t in net.nodes[0].store.at(n).block.transactions) == 1
        finally:
            await net.close()
    run(scenario())
