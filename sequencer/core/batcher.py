"""The batcher: attested blocks go to the L1 batch inbox continuously.

Rule (docs/spec/sequencer.md#batches): the leader of the current slot submits every block of
its canonical chain from L1's accepted head up to its attested head (at most max_batch_blocks
per call). When L1 lags the attested head by more than `LAG_SLOTS` slots (the leader is down),
every node submits. L1 skips blocks it already holds, so a resubmission is harmless. A devnet
node with a fault whose fraud L1 must see posts its own faulty block as soon as it seals it.

Spec: docs/spec/sequencer.md#batches
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nodekit.errors import RemoteRejected
from protocol.encoding import encode_block

from .. import faults as faults_module

if TYPE_CHECKING:
    from ..node import Node

LAG_SLOTS = 4


async def tick(node: "Node", now_ms: int) -> None:
    if node.is_follower or "offline" in node.faults or not node.l1_synced:
        return
    store = node.store
    head = store.attested_head()
    if head.number <= store.safe_number:
        return
    slot = node.current_slot(now_ms)
    safe_entry = store.at(store.safe_number)
    lagging = safe_entry is None or head.slot - safe_entry.slot > LAG_SLOTS
    if node.cached_leader(slot) != node.key.public and not lagging:
        return
    await submit_through(node, head)


async def submit_faulty_block(node: "Node") -> None:
    """Devnet faults whose fraud must be provable on L1 (`SUBMIT_AT_ONCE`): the faulty leader
    posts its unattested block right after sealing it. Its slot is over by then (blocks are
    sealed at the slot's end), so waiting for the batcher's leader turn would rarely come
    before the honest chain moves on."""
    if not node.faults & faults_module.SUBMIT_AT_ONCE or not node.l1_synced:
        return
    head = node.store.head
    if head.block.header.producer == node.key.public and head.number > node.store.safe_number:
        await submit_through(node, head)


async def submit_through(node: "Node", head) -> None:
    """Submit the canonical blocks after L1's accepted head, up to `head` (at most
    max_batch_blocks)."""
    store = node.store
    safe = store.safe_number
    last = min(head.number, safe + node.settings.max_batch_blocks)
    raws = [encode_block(store.at(n).block) for n in range(safe + 1, last + 1)]
    try:
        result = await node.l1.submit_batch(raws)
    except RemoteRejected as error:
        node.log.warning("submit_batch of blocks %d..%d refused: %s", safe + 1, last, error)
        return
    node.metrics.batches.inc()
    node.log.debug("submitted blocks %d..%d: %s", safe + 1, last, result)
