"""A restarted sequencer learns the QC of the newest block by sync (found by the chaos suite).

The attestations to a block go out once, when it is sealed. A node that is down then gets
the block later from a peer's GET /blocks, and without its QC it cannot seal on it: when it
led the next slot it skipped it, then built on the block's parent in its following slot,
orphaning an attested block (tests/chaos, DESIGN.md section 4).
"""

from __future__ import annotations

from protocol.encoding import encode_qc
from sequencer.core import syncer

from ..helpers import add_node, client_of, make_net, run


async def _restarted_leader_scenario(tmp_path):
    net = await make_net(tmp_path)
    for slot in range(1, 4):
        await net.run_slot(slot)
    # a slot s whose leader differs from the leaders of s-1 and s-2 (they run without it)
    leaders = [await net.leader(slot) for slot in range(40)]
    s = next(s for s in range(6, 40) if leaders[s] not in (leaders[s - 1], leaders[s - 2]))
    for slot in range(4, s - 2):
        await net.run_slot(slot)
    victim = await net.leader(s)
    index = net.nodes.index(victim)
    net.router.down.add(victim.settings.name)
    await victim.close()
    await net.run_slot(s - 2)
    await net.run_slot(s - 1)
    tip = next(n for n in net.live()).store.head
    assert tip.slot == s - 1 and tip.qc is not None  # attested while the victim was down
    restarted = (await add_node(net, tmp_path, index)).state.node
    await restarted.refresh_peers(force=True)
    await syncer.tick(restarted, net.clock.now_ms())
    return net, restarted, tip, s


def test_sync_brings_the_qc_of_the_newest_block(tmp_path):
    async def scenario():
        net, restarted, tip, s = await _restarted_leader_scenario(tmp_path)
        try:
            entry = restarted.store.get(tip.hash)
            assert entry is not None and entry.qc is not None
            assert encode_qc(entry.qc) == encode_qc(tip.qc)
            assert restarted.store.choose_parent(s) is entry
            # the restarted leader seals on the attested tip: nothing is orphaned
            await net.run_slot(s)
            head = restarted.store.head
            assert head.slot == s and head.block.header.parent_hash == tip.hash
            for node in net.live():
                assert node.store.is_canonical(tip.hash)
        finally:
            await net.close()
    run(scenario())


def test_sync_ignores_a_forged_qc(tmp_path):
    async def scenario():
        net, restarted, tip, s = await _restarted_leader_scenario(tmp_path)
        try:
            entry = restarted.store.get(tip.hash)
            entry.qc = None
            parent = restarted.store.get(tip.block.header.parent_hash)
            # a QC for another block (the parent's) does not attest the tip
            assert not await syncer.adopt_qc(restarted, tip.hash, "0x" + encode_qc(parent.qc).hex())
            assert not await syncer.adopt_qc(restarted, tip.hash, "0x1234")
            assert entry.qc is None
            async with client_of(net, net.live()[0].settings.name) as client:
                row = (await client.get(f"/blocks/0x{tip.hash.hex()}")).json()
            assert await syncer.adopt_qc(restarted, tip.hash, row["qc"])
            assert entry.qc is not None
        finally:
            await net.close()
    run(scenario())
