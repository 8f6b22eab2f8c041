"""Follower: keeps `ranger_blocks` equal to L1's accepted chain (blocks from the batches, with
their full RLP), and notices rollbacks (a fraud proof discarded blocks) to rewind the state.

Spec: docs/spec/ranger.md#following
"""

from __future__ import annotations

import logging

from nodekit.errors import ServiceError
from nodekit.loop import run_loop
from protocol.blocks import Block
from protocol.encoding import decode_attestation, decode_block, decode_signed_header
from protocol.exceptions import ProtocolError
from protocol.fraud import decode_evidence

from .. import repo
from ..models import BlockRecord
from ..node import RangerNode

log = logging.getLogger("ranger.follower")
PAGE = 64


async def tick(node: RangerNode, now_ms: int) -> None:
    status = await node.l1.get_status()
    node.l1_status = status
    accepted = int(status["accepted"]["number"])
    node.metrics.l1_head.set(accepted)
    head = repo.get_head_block(node.sessions)
    ours = head.number if head is not None else 0
    if head is not None:
        if ours > accepted or not await _same_block(node, head):
            await _rewind(node, min(ours, accepted))
            return
    if accepted <= ours:
        return
    blocks = await node.l1.get_blocks(ours + 1, PAGE)
    records = []
    for item in sorted(blocks, key=lambda b: b["number"]):
        if item["number"] <= ours or not item.get("raw"):
            continue
        raw = bytes.fromhex(item["raw"][2:])
        block = decode_block(raw)
        records.append(BlockRecord(number=block.number, hash=block.hash, slot=block.slot,
                                   producer=block.header.producer, raw=raw,
                                   l1_block=item.get("l1_block")))
    # only a contiguous run continues the stored chain
    run = []
    expected = ours + 1
    for record in records:
        if record.number != expected:
            break
        run.append(record)
        expected += 1
    repo.put_blocks(node.sessions, run)


async def _same_block(node: RangerNode, record: BlockRecord) -> bool:
    item = await node.l1.get_block(record.number)
    return item is not None and bytes.fromhex(item["hash"][2:]) == record.hash


async def _rewind(node: RangerNode, start: int) -> None:
    """L1 rolled back: find the newest stored block L1 still has, drop everything after."""
    number = start
    while number > 0:
        record = repo.get_block(node.sessions, number)
        if record is not None and await _same_block(node, record):
            break
        number -= 1
    dropped = repo.delete_blocks_from(node.sessions, number + 1)
    log.warning("%s: L1 rolled back to block %d; dropped %d blocks", node.settings.name, number,
                len(dropped))
    rewind_state(node, number)


def rewind_state(node: RangerNode, number: int) -> None:
    chain = node.chain
    if chain.halted_at is not None and chain.halted_at > number:
        chain.halted_at = None
    if chain.executed <= number:
        return
    if number not in chain.states:
        node.reset_chain()   # deeper than the history kept: re-execute from genesis
        return
    for n in [n for n in chain.states if n > number]:
        del chain.states[n]
        chain.hashes.pop(n, None)
    chain.executed = number
    node.metrics.head.set(number)


# --- what the sequencers saw --------------------------------------------------------------------


def parse_observation(item: dict) -> tuple[object, Block | None] | None:
    """One entry of a sequencer's GET /observations: {"id", "kind", "raw": 0x-hex} with kind
    block (encode_block), header (encode_signed_header) or attestation (encode_attestation).
    Returns (signed object, full block or None), or None for anything else."""
    raw_hex = item.get("raw") or item.get("block") or item.get("header") or item.get("attestation")
    if not isinstance(raw_hex, str) or not raw_hex.startswith("0x"):
        return None
    try:
        raw = bytes.fromhex(raw_hex[2:])
    except ValueError:
        return None
    kind = str(item.get("kind", ""))
    try:
        if "attestation" in kind:
            return decode_attestation(raw), None
        if "header" in kind:
            return decode_signed_header(raw), None
        block = decode_block(raw)
        return (block.header, block.signature), block
    except ProtocolError:
        return None


def sequencer_urls(node: RangerNode) -> list[str]:
    urls = list(node.settings.sequencer_urls)
    for url in node.sequencer_endpoints.values():
        if url and url not in urls:
            urls.append(url)
    return urls


async def tick_sequencers(node: RangerNode, now_ms: int) -> None:
    """Pull what each sequencer observed since the last cursor (signed blocks, also invalid
    ones, and attestations): equivocation and censorship are proven from these."""
    if not node.sequencer_endpoints or now_ms - node.sequencers_refreshed_ms > 30_000:
        try:
            for seq in await node.l1.get_sequencers():
                key = bytes.fromhex(seq["node_key"][2:])
                node.operators[key] = bytes.fromhex(seq["operator"][2:])
                node.sequencer_endpoints[key] = seq.get("endpoint") or ""
            node.sequencers_refreshed_ms = now_ms
        except ServiceError as error:
            log.debug("sequencer list unavailable: %s", error)
    for url in sequencer_urls(node):
        client = node.peer_client(url)
        cursor_key = f"observations:{url}"
        cursor = int(repo.get_meta(node.sessions, cursor_key) or 0)
        try:
            answer = await client.get("/observations", params={"after": cursor, "limit": 500})
        except ServiceError as error:
            log.debug("%s: observations unavailable: %s", url, error)
            continue
        items = answer.get("observations", []) if isinstance(answer, dict) else answer or []
        if not isinstance(items, list):
            continue
        last = cursor
        for item in items:
            if not isinstance(item, dict):
                continue
            if isinstance(item.get("id"), int):
                last = max(last, item["id"])
            if item.get("kind") == "equivocation" and isinstance(item.get("evidence"), str):
                try:
                    evidence = decode_evidence("equivocation", bytes.fromhex(item["evidence"][2:]))
                except (ProtocolError, ValueError):
                    continue
                node.observe(evidence.first, url)
                node.observe(evidence.second, url)
                continue
            parsed = parse_observation(item)
            if parsed is not None:
                obj, block = parsed
                node.observe(obj, url, block)
        if isinstance(answer, dict) and isinstance(answer.get("next"), int):
            last = max(last, answer["next"])
        if last < cursor:      # the sequencer restarted: its ids begin again
            last = 0
        if last != cursor:
            repo.set_meta(node.sessions, cursor_key, str(last))


async def tick_all(node: RangerNode, now_ms: int) -> None:
    await tick(node, now_ms)
    await tick_sequencers(node, now_ms)


async def run(node: RangerNode) -> None:
    await run_loop("follower", lambda now: tick_all(node, now), node.settings.poll_ms, node.clock,
                   log)
