"""Gossiped transactions (sequencer.core.intake.on_gossip): a batch is pooled in slices, and
the leader of the open slot receipts what it did not have."""

from __future__ import annotations

import asyncio

from protocol.hashing import keccak256

from ..helpers import make_net, run, transfer


async def _count_turns_while(awaitable) -> tuple[object, int]:
    """(the result of `awaitable`, how many turns the event loop took meanwhile)."""
    turns = 0

    async def count() -> None:
        nonlocal turns
        while True:
            turns += 1
            await asyncio.sleep(0)
    counter = asyncio.create_task(count())
    await asyncio.sleep(0)
    try:
        result = await awaitable
    finally:
        counter.cancel()
    return result, turns


def test_a_gossiped_batch_is_pooled_in_slices_and_the_leader_receipts_it(tmp_path):
    """Each gossiped transaction costs a signature recovery; a batch of a few hundred in one
    go held every request of the node for 10-35 ms (docs/performance.md)."""
    from sequencer.core import intake

    async def scenario():
        net = await make_net(tmp_path)
        try:
            params = net.params
            slot = 2
            await net.run_slot(1)
            await net.tick_all(params.genesis_time_ms + slot * params.slot_ms
                               + params.parent_wait_ms)
            leader = await net.leader(slot)
            peer = next(node for node in net.nodes if node is not leader)
            raws = [transfer(params, sender, 0) for sender in range(6)]
            items = [{"raw": "0x" + raw.hex()} for raw in raws] + [{"raw": "0xzz"}]
            for node in (peer, leader):
                node.block_work = (0.0, 0.0, 0.0)            # a turn after every step
                added, turns = await _count_turns_while(
                    intake.on_gossip(node, b"\x01" * 32, items))
                assert added == len(raws)                     # the malformed item is skipped
                assert turns >= len(raws)
                assert all(keccak256(raw) in node.mempool.entries for raw in raws)
            assert [tx.hash for tx in leader.session.txs] == [keccak256(raw) for raw in raws]
            assert all(keccak256(raw) in leader.receipts for raw in raws)
        finally:
            await net.close()
    run(scenario())
