"""Blocks and attestations from peers: full validation, storage, voting, QC assembly.

A peer block is validated with `protocol.transition.validate_block` against its parent's
state, the epoch's set from L1, L1's queue and head; a valid block is stored and, if this node
has not attested another block of that slot (checked against its database), attested. The
attestation goes to every peer (4 nodes: broadcast). Attestations are verified and counted;
more than 2/3 of the epoch's power makes a QC and labels the block `attested`.

Spec: docs/spec/sequencer.md#validation
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from protocol.blocks import Attestation, Block
from protocol.encoding import (compute_attestation_hash, decode_attestation, encode_attestation,
                               encode_block, encode_qc, encode_signed_header)
from protocol.exceptions import ProtocolError
from protocol.fraud import EquivocationEvidence, encode_evidence
from protocol.schedule import compute_epoch, compute_slot_start_ms
from protocol.signing import verify_node_signature
from protocol.transition import validate_block_steps
from nodekit.loop import run_sliced
from nodekit.errors import RemoteRejected, TemporaryError

from .. import repo
from ..peers import gather_quietly
from .chain import Entry

if TYPE_CHECKING:
    from ..node import Node

ATTEST_WINDOW_SLOTS = 2
"""Blocks older than this many slots are stored (sync) but not attested."""
MAX_PENDING_BLOCKS = 256
"""Blocks not here yet whose attestations are kept (the oldest goes first)."""


def _hex(data: bytes) -> str:
    return "0x" + data.hex()


def accept_own_block(node: "Node", block: Block, state, output, fee_recipient: bytes) -> Entry:
    entry = Entry(block, state, output, tuple(node.decode(raw) for raw in block.transactions),
                  received_ms=node.clock.now_ms(), fee_recipient=fee_recipient)
    insert_entry(node, entry)
    node.observe("block", {"raw": _hex(encode_block(block)), "hash": _hex(block.hash),
                           "number": block.number, "slot": block.slot, "valid": True,
                           "source": "self"})
    attest(node, entry)
    return entry


def insert_entry(node: "Node", entry: Entry) -> None:
    parent = node.store.get(entry.block.header.parent_hash)
    parent_had_qc = parent is not None and parent.qc is not None
    node.store.add(entry)
    node.persist_block(entry)
    if parent is not None and not parent_had_qc and entry.block.header.parent_qc is not None:
        # the store keeps the first QC it learns; so does the database (a restart sees the same)
        repo.save_qc(node.engine, parent.hash, encode_qc(entry.block.header.parent_qc))
    for attestation in node.pending_attestations.pop(entry.hash, []):
        add_attestation(node, attestation, verified=True)
    update_chain(node)


def update_chain(node: "Node") -> None:
    left, joined = node.store.update_canonical()
    for entry in left:
        for tx in entry.txs:
            if tx.hash not in node.store.tx_index:
                node.mempool.add(tx, node.receipts.get(tx.hash), node.clock.now_ms())
    for entry in joined:
        for tx in entry.txs:
            node.mempool.remove(tx.hash)
    head = node.store.head
    node.metrics.head.labels("unsafe").set(head.number)
    node.metrics.mempool.set(len(node.mempool))


async def broadcast_block(node: "Node", block: Block, peers: dict | None = None) -> None:
    body = {"block": _hex(encode_block(block))}
    targets = node.peers if peers is None else peers
    await gather_quietly([node.peer_client.post(url, "/peer/blocks", body)
                          for url in targets.values()])


async def broadcast_equivocation(node: "Node", block: Block, other: Block) -> None:
    """Fault `equivocate`: one block to half the peers, another to the rest."""
    keys = sorted(node.peers)
    half = {k: node.peers[k] for k in keys[: len(keys) // 2]}
    rest = {k: node.peers[k] for k in keys[len(keys) // 2:]}
    node.spawn(broadcast_block(node, block, rest))
    node.spawn(broadcast_block(node, other, half))


async def on_block(node: "Node", block: Block, source: str = "") -> str:
    """Validate and store a block from a peer (or sync); returns what happened."""
    if block.hash in node.store.entries:
        return "known"
    if block.hash in node.invalid_blocks:
        return "invalid"
    if block.hash in node.validating:
        return "pending"
    node.validating[block.hash] = block.slot
    try:
        return await _on_new_block(node, block, source)
    finally:
        node.validating.pop(block.hash, None)


async def _on_new_block(node: "Node", block: Block, source: str) -> str:
    header = block.header
    parent = node.store.get(header.parent_hash)
    node.observe("block", {"raw": _hex(encode_block(block)), "hash": _hex(block.hash),
                           "number": block.number, "slot": block.slot, "valid": None,
                           "source": source})
    if parent is None:
        return "orphan"
    started = time.perf_counter()
    try:
        sequencer_set = await node.get_set(compute_epoch(header.slot, node.params))
        if sequencer_set is None:
            raise TemporaryError(f"epoch of slot {header.slot} is not snapshotted on L1")
        parent_set = (None if parent.number == 0 else
                      await node.get_set(compute_epoch(parent.slot, node.params)))
        if header.l1_origin > node.l1_head:
            await node.refresh_l1()
        queue = await node.get_queue(parent.block.header.l1_queue_index, header.l1_origin)
        txs = [node.decode(raw) for raw in block.transactions]
        slice_s, pause_s, pause_for_s = node.block_work
        if node.current_slot(node.clock.now_ms()) - block.slot > ATTEST_WINDOW_SLOTS:
            pause_s = 0.0  # catching up (sync): no live traffic depends on this block's pace
        state, output = await run_sliced(validate_block_steps(
            block, parent.block.header, parent.state, sequencer_set, parent_set, queue,
            node.l1_head, node.params, node.jailed_at(header.slot), txs),
            slice_s, pause_s, pause_for_s)
        fee_recipient = node.fee_recipient(sequencer_set, header.producer)
    except ProtocolError as error:
        node.invalid_blocks[block.hash] = f"{error.name}: {error}"
        node.metrics.blocks_validated.labels("invalid").inc()
        node.log.warning("block %d slot %d from %s is invalid: %s: %s", block.number,
                         block.slot, source or "?", error.name, error)
        node.observe("verdict", {"hash": _hex(block.hash), "valid": False,
                                 "reason": f"{error.name}: {error}"})
        return "invalid"
    node.metrics.validate_seconds.observe(time.perf_counter() - started)
    node.metrics.blocks_validated.labels("valid").inc()
    check_equivocation(node, block)
    entry = Entry(block, state, output, tuple(txs), received_ms=node.clock.now_ms(),
                  fee_recipient=fee_recipient)
    insert_entry(node, entry)
    if node.current_slot(node.clock.now_ms()) - block.slot <= ATTEST_WINDOW_SLOTS:
        attest(node, entry)
    node.log.debug("block %d slot %d from %s: valid, %d ms after its slot's end, validated in "
                   "%.0f ms", block.number, block.slot, source or "?",
                   node.clock.now_ms() - compute_slot_start_ms(block.slot + 1, node.params),
                   (time.perf_counter() - started) * 1000)
    return "accepted"


def check_equivocation(node: "Node", block: Block) -> None:
    for other_hash in node.store.by_slot.get(block.slot, []):
        other = node.store.get(other_hash)
        if other_hash == block.hash or other is None or other.block.header.producer != block.header.producer:
            continue
        evidence = EquivocationEvidence((other.block.header, other.block.signature),
                                        (block.header, block.signature))
        raw = encode_evidence(evidence)
        node.evidence.append({"kind": "equivocation", "offender": _hex(block.header.producer),
                              "slot": block.slot, "evidence": _hex(raw)})
        node.observe("evidence", node.evidence[-1])
        node.log.warning("equivocation by %s in slot %d", block.header.producer.hex()[:16],
                         block.slot)
        node.spawn(push_equivocation(node, evidence))


async def push_equivocation(node: "Node", evidence: EquivocationEvidence) -> int:
    """Hand equivocation evidence to every ranger registered on L1
    (`POST {endpoint}/evidence/equivocation {"first", "second"}`: two signed headers); the
    rangers prove it on L1. Rangers also pull it from GET /observations, so a ranger that is
    down now still gets it. Returns how many rangers took it."""
    try:
        endpoints = await node.l1.get_ranger_endpoints()
    except (TemporaryError, RemoteRejected) as error:
        node.log.warning("cannot list the rangers to push equivocation evidence: %s", error)
        return 0
    body = {"first": _hex(encode_signed_header(*evidence.first)),
            "second": _hex(encode_signed_header(*evidence.second)),
            "source": node.settings.name}
    results = await gather_quietly([node.peer_client.post(url, "/evidence/equivocation", body)
                                    for url in endpoints])
    taken = sum(1 for result in results if not isinstance(result, Exception))
    node.log.info("equivocation evidence pushed to %d of %d rangers", taken, len(endpoints))
    return taken


def attest(node: "Node", entry: Entry) -> Attestation | None:
    """Sign an attestation to `entry` unless this node attested another block of its slot."""
    if node.is_follower or "offline" in node.faults:
        return None
    block = entry.block
    sequencer_set = node.sets.get(compute_epoch(block.slot, node.params))
    if sequencer_set is None or sequencer_set.get_member(node.key.public) is None:
        return None
    voted = node.votes.get(block.slot)
    if voted is not None and voted != block.hash:
        return None
    if voted is None:
        if not repo.record_vote(node.engine, block.slot, block.hash):
            return None
        node.votes[block.slot] = block.hash
    obj_hash = compute_attestation_hash(block.hash, block.number, block.slot)
    attestation = Attestation(block.hash, block.number, block.slot, node.key.public,
                              node.key.sign(b"attestation", node.params.chain_id, obj_hash))
    node.metrics.attestations.inc()
    add_attestation(node, attestation)
    body = {"attestations": [_hex(encode_attestation(attestation))]}
    node.spawn(gather_quietly([node.peer_client.post(url, "/peer/attestations", body)
                               for url in node.peers.values()]))
    return attestation


def _signature_verifies(node: "Node", attestation: Attestation) -> bool:
    """The attester's signature over the attestation's (block hash, number, slot); this node's
    own attestations are taken as they are."""
    if attestation.attester == node.key.public:
        return True
    obj_hash = compute_attestation_hash(attestation.block_hash, attestation.number,
                                        attestation.slot)
    return verify_node_signature(attestation.attester, b"attestation", node.params.chain_id,
                                 obj_hash, attestation.signature)


def add_attestation(node: "Node", attestation: Attestation, *, verified: bool = False) -> bool:
    """Count an attestation (its signature checked unless `verified`: kept while its block was
    not here); assemble the QC at quorum. False when refused."""
    entry = node.store.get(attestation.block_hash)
    if entry is None:
        # an attestation to a block not here yet (its attester validated it first): kept for
        # when the block comes, but only a verified one by a member of the slot's set, if that
        # set is known here (the fuzz suite's mutated attestations to unknown hashes piled up
        # in this buffer), and only for so many blocks
        sequencer_set = node.sets.get(compute_epoch(attestation.slot, node.params))
        if sequencer_set is not None and sequencer_set.get_member(attestation.attester) is None:
            return False
        if not _signature_verifies(node, attestation):
            return False
        pending = node.pending_attestations.get(attestation.block_hash)
        if pending is None:
            if len(node.pending_attestations) >= MAX_PENDING_BLOCKS:
                del node.pending_attestations[next(iter(node.pending_attestations))]
            pending = node.pending_attestations[attestation.block_hash] = []
        if len(pending) < 64 and attestation not in pending:
            pending.append(attestation)
        return True
    if (entry.number, entry.slot) != (attestation.number, attestation.slot):
        return False
    sequencer_set = node.sets.get(compute_epoch(entry.slot, node.params))
    if sequencer_set is None or sequencer_set.get_member(attestation.attester) is None:
        return False
    signers = node.attestations.setdefault(entry.hash, {})
    if attestation.attester in signers:
        return True
    if not verified and not _signature_verifies(node, attestation):
        return False
    signers[attestation.attester] = attestation.signature
    node.observe("attestation", {"raw": _hex(encode_attestation(attestation)),
                                 "block_hash": _hex(entry.hash), "slot": entry.slot})
    if entry.qc is None and sequencer_set.has_quorum(signers):
        from protocol.chainbuilder import make_qc
        entry.qc = make_qc(entry.block.header, [
            Attestation(entry.hash, entry.number, entry.slot, key, sig)
            for key, sig in signers.items()])
        repo.save_qc(node.engine, entry.hash, encode_qc(entry.qc))
    return True


def on_attestations(node: "Node", raws: list[bytes]) -> int:
    accepted = 0
    for raw in raws:
        try:
            attestation = decode_attestation(raw)
        except ProtocolError:
            continue
        if add_attestation(node, attestation):
            accepted += 1
    return accepted
