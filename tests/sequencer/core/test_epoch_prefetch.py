"""The follower fetches the next epoch's sequencer set as soon as L1 snapshotted it, so an L1
outage at the epoch change does not stop the chain (found by the chaos suite)."""

from __future__ import annotations

from protocol.schedule import compute_epoch
from sequencer.core import follower

from ..helpers import make_net, run


def test_next_epoch_set_is_fetched_ahead_and_blocks_go_on_while_l1_is_down(tmp_path):
    async def scenario():
        net = await make_net(tmp_path)
        try:
            params = net.params
            first = params.epoch_slots            # first slot of epoch 1
            ahead = first - params.lookahead_slots  # L1 snapshots epoch 1 from here on
            for slot in range(1, ahead):
                await net.run_slot(slot)
            await net.follow_l1()
            assert all(1 not in n.sets for n in net.nodes)  # not yet within the lookahead
            await net.clock.set_ms(params.genesis_time_ms + ahead * params.slot_ms, settle=1)
            for node in net.live():
                await follower.tick(node, net.clock.now_ms())
            assert all(1 in n.sets for n in net.nodes)
            net.l1.reachable = False                         # L1 down across the epoch change
            for slot in range(ahead, first + 3):
                await net.run_slot(slot)
            head = net.nodes[0].store.head
            assert compute_epoch(head.slot, params) == 1 and head.slot >= first + 1
            assert len({n.store.head.hash for n in net.nodes}) == 1
        finally:
            await net.close()
    run(scenario())
