"""Restart safety: a transaction receipted by a leader that crashes before sealing is not lost."""

from __future__ import annotations

from protocol.hashing import keccak256

from ..helpers import add_node, client_of, make_net, run, transfer


def test_receipted_transaction_survives_a_crash_before_the_seal(tmp_path):
    async def scenario():
        net = await make_net(tmp_path)
        try:
            params = net.params
            await net.run_slot(1)
            start = params.genesis_time_ms + 2 * params.slot_ms
            await net.tick_all(start + params.parent_wait_ms)
            leader = await net.leader(2)
            raw = transfer(params, 4, 0)
            async with client_of(net, leader.settings.name) as client:
                response = await client.post("/txs", json={"raw": "0x" + raw.hex()})
                assert response.status_code == 200
            # crash: no seal, no gossip; the process state is gone
            index = net.nodes.index(leader)
            net.router.down.add(leader.settings.name)
            leader.gossip_buffer.clear()
            await leader.close()
            for node in net.nodes:
                if node is not leader:
                    node.mempool.remove(keccak256(raw))
            app = await add_node(net, tmp_path, index)
            restarted = app.state.node
            await restarted.refresh_peers(force=True)
            assert keccak256(raw) in restarted.mempool
            assert restarted.mempool.get(keccak256(raw)).receipt is not None
            # the re-gossip hands it to the pool; a later leader includes it
            for slot in range(3, 8):
                await net.run_slot(slot)
            head = restarted.store.head
            assert keccak256(raw) in net.nodes[(index + 1) % 4].store.tx_index
            assert len({n.store.head.hash for n in net.nodes}) == 1, head
        finally:
            await net.close()
    run(scenario())
