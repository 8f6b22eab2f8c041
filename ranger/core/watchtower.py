"""Watchtower: checks the receipts users handed over against the leader's block of their slot
(from L1's accepted chain or seen from sequencers), and the signed headers seen from sequencers
against L1's queue (censorship). Equivocation is caught as objects are observed (node.observe).

Spec: docs/spec/ranger.md#receipts
"""

from __future__ import annotations

import logging

from nodekit.loop import run_loop
from protocol.encoding import decode_block, decode_signed_header
from protocol.receipts import decode_receipt

from .. import repo
from ..detect import check_censorship, check_receipt, compute_tx_hashes
from ..node import RangerNode

log = logging.getLogger("ranger.watchtower")


def candidate_blocks(node: RangerNode, slot: int, leader: bytes) -> list:
    """Every full block signed by `leader` for `slot` the ranger knows of."""
    blocks = {}
    for record in repo.get_blocks_for_slot(node.sessions, slot, leader):
        blocks[record.hash] = decode_block(record.raw)
    for obs in repo.get_observations(node.sessions, "header", leader, slot):
        if obs.block_raw and obs.obj_hash not in blocks:
            blocks[obs.obj_hash] = decode_block(obs.block_raw)
    return list(blocks.values())


def check_pending_receipts(node: RangerNode, now_ms: int) -> None:
    status = node.l1_status or {}
    accepted_slot = int(status.get("accepted", {}).get("slot", 0))
    for record in repo.get_pending_receipts(node.sessions):
        receipt = decode_receipt(record.raw)
        blocks = candidate_blocks(node, receipt.slot, receipt.leader)
        violated = None
        kept = None
        for block in blocks:
            finding = check_receipt(receipt, block.header, block.signature,
                                    compute_tx_hashes(block), node.params)
            if finding is not None:
                stored, _ = node.store_finding(finding, "receipt", block.hash,
                                               block.header.timestamp_ms)
                violated = (block, stored)
                break
            kept = block
        if violated is not None:
            repo.set_receipt_status(node.sessions, record.id, "violated", now_ms,
                                    violated[0].hash, violated[1].id)
        elif kept is not None and _is_final_for_slot(node, receipt.slot, accepted_slot):
            repo.set_receipt_status(node.sessions, record.id, "kept", now_ms, kept.hash)
        elif not blocks and accepted_slot > receipt.slot + node.settings.receipt_timeout_slots:
            repo.set_receipt_status(node.sessions, record.id, "no_block", now_ms)


def _is_final_for_slot(node: RangerNode, slot: int, accepted_slot: int) -> bool:
    """A kept receipt stays open a while: an equivocating leader may show another block."""
    return accepted_slot > slot + 2


async def check_observed_headers(node: RangerNode, now_ms: int) -> None:
    headers = repo.get_unchecked_headers(node.sessions, 200)
    if not headers:
        return
    status = node.l1_status or await node.l1.get_status()
    queue_length = int(status.get("queue_length", 0))
    l1_head = int(status.get("l1_head", 0))
    decoded = [(obs, *decode_signed_header(obs.raw)) for obs in headers]
    needed = [h.l1_queue_index for _, h, _ in decoded if h.l1_queue_index < queue_length]
    queue = []
    if needed:
        start = min(needed)
        while start < queue_length:
            page = await node.l1.get_queue(start, 1000)
            if not page:
                break
            queue += page
            start = page[-1].index + 1
    done = []
    for obs, header, signature in decoded:
        if header.l1_origin > l1_head:
            continue   # L1 has not reached the origin yet: check later
        finding = check_censorship(header, signature, queue, node.params)
        if finding is not None:
            node.store_finding(finding, "observation", header.hash, header.timestamp_ms)
        done.append(obs.id)
    repo.mark_censorship_checked(node.sessions, done)


async def tick(node: RangerNode, now_ms: int) -> None:
    check_pending_receipts(node, now_ms)
    await check_observed_headers(node, now_ms)


async def run(node: RangerNode) -> None:
    await run_loop("watchtower", lambda now: tick(node, now), node.settings.poll_ms, node.clock, log)
