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


def test_follower_freezes_the_long_lived_heap_every_gc_freeze_ms(tmp_path):
    import gc

    async def scenario():
        net = await make_net(tmp_path, settings_changes={1: {"gc_freeze_ms": 0}})
        try:
            frozen_before = gc.get_freeze_count()
            node, never = net.nodes[0], net.nodes[1]
            await follower.tick(never, net.clock.now_ms())
            assert gc.get_freeze_count() == frozen_before  # 0: never
            await follower.tick(node, net.clock.now_ms())
            assert gc.get_freeze_count() > frozen_before and node.gc_frozen_ms == net.clock.now_ms()
            gc.unfreeze()
            await follower.tick(node, net.clock.now_ms() + 1)   # not yet due again
            assert gc.get_freeze_count() == 0
        finally:
            gc.unfreeze()
            await net.close()
    run(scenario())
