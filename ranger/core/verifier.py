"""Verifier: re-executes L1's accepted blocks in order on its own state. Every block is applied
(the state of the next one depends on it); the sampled ones are recorded as verified and
reported to L1. A block whose roots or transactions are wrong becomes an invalid_state finding
with the minimal witness, and the verifier halts there until L1 rolls the block back.

Spec: docs/spec/ranger.md#verification
"""

from __future__ import annotations

import logging

from nodekit.errors import TemporaryError
from nodekit.loop import run_loop
from protocol.encoding import decode_block

from .. import repo
from ..detect import execute_block, is_sampled
from ..models import VerificationRecord
from ..node import STATE_HISTORY, RangerNode

log = logging.getLogger("ranger.verifier")
BATCH = 64


async def get_fee_recipient(node: RangerNode, producer: bytes) -> bytes:
    operator = node.operators.get(producer)
    if operator is None:
        for seq in await node.l1.get_sequencers():
            node.operators[bytes.fromhex(seq["node_key"][2:])] = bytes.fromhex(seq["operator"][2:])
            if seq.get("endpoint"):
                node.sequencer_endpoints[bytes.fromhex(seq["node_key"][2:])] = seq["endpoint"]
        operator = node.operators.get(producer)
    if operator is None:
        raise TemporaryError(f"producer 0x{producer.hex()[:16]}.. is not a registered sequencer")
    return operator


async def tick(node: RangerNode, now_ms: int) -> None:
    chain = node.chain
    if chain.halted_at is not None:
        return
    for record in repo.get_blocks(node.sessions, chain.executed + 1, BATCH):
        number = chain.executed + 1
        if record.number != number:
            return
        block = decode_block(record.raw)
        if block.header.parent_hash != chain.hashes[number - 1]:
            return   # the follower is rewinding a rollback
        fee_recipient = await get_fee_recipient(node, block.header.producer)
        result = execute_block(block, chain.states[number - 1], fee_recipient, node.params)
        node.metrics.blocks_executed.inc()
        sampled = is_sampled(node.sample_secret, block.hash, node.settings.sample_rate)
        valid = result.finding is None
        repo.add_verification(node.sessions, VerificationRecord(
            block_hash=block.hash, number=number, slot=block.slot, producer=block.header.producer,
            sampled=sampled, valid=valid, reason=result.error, verified_at_ms=now_ms,
            report_status="pending" if sampled and valid else "skipped"))
        if sampled:
            node.metrics.blocks_verified.inc()
        node.observe((block.header, block.signature), "l1", block)
        if not valid:
            node.store_finding(result.finding, "l1", block.hash, block.header.timestamp_ms)
            chain.halted_at = number
            return
        chain.states[number] = result.state
        chain.hashes[number] = block.hash
        chain.executed = number
        chain.states.pop(number - STATE_HISTORY, None)
        node.metrics.head.set(number)


async def run(node: RangerNode) -> None:
    await run_loop("verifier", lambda now: tick(node, now), node.settings.poll_ms, node.clock, log)
