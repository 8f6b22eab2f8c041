"""The peer syncer: a node that starts empty, restarts, or receives a block whose parent it
lacks catches up from its peers' canonical chains (GET /blocks?raw=true), validating every
block like a gossiped one.

Spec: docs/spec/sequencer.md#sync
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nodekit.errors import RemoteRejected, TemporaryError
from protocol.encoding import decode_block, decode_qc, encode_qc
from protocol.exceptions import ProtocolError
from protocol.schedule import compute_epoch
from protocol.transition import validate_quorum_certificate

from .. import repo
from .validator import on_block

if TYPE_CHECKING:
    from ..node import Node

PAGE = 64


async def tick(node: "Node", now_ms: int) -> None:
    if not node.l1_synced:
        return
    for endpoint in list(node.peers.values()):
        try:
            await sync_from(node, endpoint)
        except (TemporaryError, RemoteRejected) as error:
            node.log.debug("sync from %s failed: %s", endpoint, error)


async def sync_from(node: "Node", endpoint: str) -> int:
    status = await node.peer_client.get(endpoint, "/status")
    their_head = int(status["head"]["number"])
    ours = node.store.head
    try:
        their_hash = bytes.fromhex(str(status["head"]["hash"])[2:])
    except ValueError:
        return 0
    if their_head < ours.number:
        return 0
    if their_hash in node.store.entries:
        if node.store.entries[their_hash].qc is None:
            # we hold their head but not its QC: its attestations went out while we were down
            row = await node.peer_client.get(endpoint, f"/blocks/0x{their_hash.hex()}",
                                             {"raw": "true"})
            await adopt_qc(node, their_hash, row.get("qc"))
        return 0
    if their_head == ours.number + 1 and \
            int(status["head"].get("slot", -1)) >= node.current_slot(node.clock.now_ms()) - 1:
        # One block ahead and that block is fresh: its gossip is most likely on the way (or
        # being validated). Fetching pages of full blocks for it on every tick cost a busy
        # node a tenth of its CPU; a peer that stays ahead is caught up on a later tick.
        return 0
    # Start right after our head; `orphan` below walks back when we are on another branch.
    start = ours.number + 1
    imported = 0
    while start <= their_head:
        rows = await node.peer_client.get(endpoint, "/blocks",
                                          {"from": start, "limit": PAGE, "raw": "true"})
        if not rows:
            break
        for row in sorted(rows, key=lambda r: r["number"]):
            if not row.get("raw") or row["number"] == 0:
                continue
            try:
                block = decode_block(bytes.fromhex(row["raw"][2:]))
            except (ValueError, ProtocolError):
                return imported
            result = await on_block(node, block, source=endpoint)
            if result in ("accepted", "known"):
                await adopt_qc(node, block.hash, row.get("qc"))
            if result == "orphan":
                if start <= 1:
                    return imported
                start = max(1, start - PAGE)
                break
            if result == "invalid":
                return imported
            imported += result == "accepted"
        else:
            start = max(r["number"] for r in rows) + 1
    return imported


async def adopt_qc(node: "Node", block_hash: bytes, qc_hex: object) -> bool:
    """Keep a peer's QC for a block this node holds without one. The attestations to a block
    go out once, when it is sealed: a node that was down or restarting then learns the
    block by sync, but its QC only from the next block's header. Without the QC, a restarted
    node that leads the next slot cannot seal on that block and builds on its parent
    instead, orphaning an attested block (found by the chaos suite, tests/chaos). The QC is
    verified like a header's parent QC: > 2/3 of the block's epoch power."""
    entry = node.store.get(block_hash)
    if entry is None or entry.qc is not None or not isinstance(qc_hex, str):
        return False
    try:
        qc = decode_qc(bytes.fromhex(qc_hex[2:]))
        sequencer_set = await node.get_set(compute_epoch(entry.slot, node.params))
        validate_quorum_certificate(qc, entry.block.header, sequencer_set, node.params)
    except (ValueError, ProtocolError, TemporaryError) as error:
        node.log.debug("QC of block %d from a peer refused: %s", entry.number, error)
        return False
    entry.qc = qc
    repo.save_qc(node.engine, entry.hash, encode_qc(qc))
    return True
