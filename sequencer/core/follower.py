"""The L1 follower: L1 head, registered sequencers (peers), head labels, blocks L1 accepted
that this node does not hold (validated and imported: catch-up and `--sync-from-l1`), and
rollbacks after a proven fraud (the discarded blocks leave the tree; their transactions go
back to the pool and are sequenced again if still valid).

Spec: docs/spec/sequencer.md#l1-follower
"""

from __future__ import annotations

import gc
from typing import TYPE_CHECKING

from protocol.encoding import decode_block
from protocol.schedule import compute_epoch

from .. import repo
from .validator import on_block, update_chain

if TYPE_CHECKING:
    from ..node import Node

L1_PAGE = 64


async def tick(node: "Node", now_ms: int) -> None:
    if now_ms - node.peers_refreshed_ms >= node.settings.peers_refresh_ms:
        await node.refresh_peers(force=True)
    status = await node.refresh_l1()
    previous = node.store.l1_accepted
    if status.accepted_number < previous[0]:
        roll_back(node, status.accepted_number)
    if status.accepted_hash not in node.store.entries:
        await import_from_l1(node, status.accepted_number)
    if status.accepted_hash in node.store.entries:
        node.l1_synced = True
    node.store.set_l1_heads((status.accepted_number, status.accepted_hash),
                            (status.finalized_number, status.finalized_hash))
    update_chain(node)
    for number in range(max(node.l1_recorded + 1, 1), node.store.safe_number + 1):
        node.l1_chain[number] = node.store.canonical[number]
    node.l1_recorded = max(node.l1_recorded, node.store.safe_number)
    node.metrics.head.labels("safe").set(node.store.safe_number)
    node.metrics.head.labels("finalized").set(node.store.finalized_number)
    await prefetch_next_set(node, now_ms)
    freeze_long_lived(node, now_ms)


def freeze_long_lived(node: "Node", now_ms: int) -> None:
    """`gc.freeze()` every `gc_freeze_ms`: what a sequencer keeps (blocks, post-states, receipts)
    outlives every collection, and a full collection's pause grows with it. The cost: a cycle
    that is alive at a freeze and dies later is never collected (reference counting frees
    the rest), a few in-flight objects at most each time."""
    interval = node.settings.gc_freeze_ms
    if interval and now_ms - node.gc_frozen_ms >= interval:
        node.gc_frozen_ms = now_ms
        gc.freeze()


async def prefetch_next_set(node: "Node", now_ms: int) -> None:
    """Fetch the next epoch's set as soon as L1 snapshots it (`lookahead_slots` before the
    epoch starts), not when the epoch starts: an L1 outage at the epoch change must not stop
    the chain (found by the chaos suite)."""
    slot = node.current_slot(now_ms)
    if slot < 0:
        return
    upcoming = compute_epoch(slot + node.params.lookahead_slots, node.params)
    if upcoming not in node.sets:
        await node.get_set(upcoming)


def roll_back(node: "Node", head_number: int) -> None:
    """L1 discarded every accepted block above `head_number` (a proven fraud)."""
    discarded = [node.l1_chain.pop(n) for n in sorted(node.l1_chain) if n > head_number]
    node.l1_recorded = min(node.l1_recorded, head_number)
    node.log.warning("L1 rolled back to block %d: discarding %d blocks", head_number,
                     len(discarded))
    removed = []
    for block_hash in discarded:
        if block_hash in node.store.entries:
            removed += node.store.remove_subtree(block_hash)
    canonical = set(node.store.canonical)
    for entry in removed:
        for tx in entry.txs:
            node.mempool.add(tx, node.receipts.get(tx.hash), node.clock.now_ms())
        node.invalid_blocks[entry.hash] = "rolled back on L1"
    repo.delete_blocks(node.engine, [e.hash for e in removed])
    if any(e.hash in canonical for e in removed):
        node.store.canonical = node.store.canonical[:min(e.number for e in removed
                                                         if e.hash in canonical)]
        node.store.reindex()
    node.store.safe_number = min(node.store.safe_number, head_number)
    node.store.finalized_number = min(node.store.finalized_number, head_number)
    update_chain(node)


async def import_from_l1(node: "Node", accepted_number: int) -> int:
    """Validate and import L1's accepted blocks this node lacks; returns how many."""
    start = max(1, min(node.store.safe_number + 1, accepted_number))
    imported = 0
    while start <= accepted_number:
        blocks = await node.l1.get_blocks(start, L1_PAGE)
        if not blocks:
            break
        for item in blocks:
            if item.raw is None or item.number == 0:
                continue
            if item.hash in node.store.entries:
                continue
            block = decode_block(item.raw)
            result = await on_block(node, block, source="l1")
            if result == "orphan" and start > 1:
                start = max(1, node.store.finalized_number)
                node.store.safe_number = min(node.store.safe_number, start - 1)
                return imported
            if result not in ("accepted", "known"):
                return imported
            imported += 1
        start = blocks[-1].number + 1
    return imported
