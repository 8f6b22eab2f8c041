"""Node: the per-app bundle of one sequencer: settings, chain params, keys, database, the block
tree, the mempool, the L1 and peer clients, and the caches of L1 data (sequencer sets, queue,
registered sequencers). The jobs in `sequencer/core/` act on it; no module globals, so several
nodes can run in one process.

Spec: docs/spec/sequencer.md
"""

from __future__ import annotations

import asyncio
import collections
import logging
from typing import Any

import httpx

from nodekit.db import create_all, make_engine
from nodekit.errors import TemporaryError
from nodekit.loop import Clock, SystemClock
from nodekit.settings import load_chain_params
from protocol.accounts import address_of
from protocol.blocks import Attestation, Block, QueueItem
from protocol.encoding import decode_block, decode_qc, encode_block, encode_qc
from protocol.exceptions import BeforeGenesis, InvalidParams, ProtocolError
from protocol.genesis import compute_genesis_block, compute_genesis_state, make_devnet_genesis
from protocol.receipts import Receipt
from protocol.schedule import SequencerSet, compute_epoch, compute_leader, compute_slot
from protocol.signing import NodeKey
from protocol.transactions import Transaction, decode_transaction
from protocol.transition import apply_block

from . import models, repo
from .core.chain import ChainStore, Entry
from .core.forwarder import Forwarder
from .core.mempool import Mempool
from .l1client import L1Client
from .metrics import SequencerMetrics
from .peers import PeerClient
from .settings import SequencerSettings

log = logging.getLogger("seqnet.sequencer")

DECODE_CACHE_SIZE = 200_000


class Node:
    def __init__(self, settings: SequencerSettings, clock: Clock | None = None, *,
                 l1_transport: httpx.AsyncBaseTransport | None = None,
                 peer_transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.settings = settings
        self.clock = clock or SystemClock()
        self.params = load_chain_params(settings)
        self.faults: set[str] = set(settings.fault)
        if self.faults and not self.params.is_devnet:
            raise InvalidParams(f"fault flags {sorted(self.faults)} are refused: the chain is "
                                f"not a devnet (is_devnet=false)")
        self.log = logging.getLogger(f"seqnet.sequencer.{settings.name}")
        self.genesis = make_devnet_genesis(self.params, settings.extra_accounts)
        genesis_state = compute_genesis_state(self.genesis)
        self.genesis_block = compute_genesis_block(self.genesis, genesis_state.state_root())
        self.key = (NodeKey.from_seed(bytes.fromhex(settings.node_key_seed))
                    if settings.node_key_seed else NodeKey.generate())
        self.operator_key = bytes.fromhex(settings.operator_key) if settings.operator_key else None
        self.operator = address_of(self.operator_key) if self.operator_key else None
        self.is_follower = self.operator_key is None
        self.metrics = SequencerMetrics()

        self.engine = make_engine(settings.database_url)
        create_all(self.engine, models.metadata)
        self.receipt_writer = repo.ReceiptWriter(self.engine)

        self.store = ChainStore(self.genesis_block, genesis_state)
        self.mempool = Mempool()
        self.decoded: dict[bytes, Transaction] = {}
        self.receipts: dict[bytes, Receipt] = {}
        """Receipts this node signed, by tx hash."""
        self.receipt_raws: dict[bytes, bytes] = {}
        self.relayed: dict[bytes, Receipt] = {}
        """Receipts of other leaders this node relayed or was gossiped (bounded)."""
        self.latest_peer_receipt_slot = -1
        """The newest slot a peer leader's receipt was seen for (gossip, forwarding): that
        leader was alive and will seal a block the next leader should wait for."""
        self.gc_frozen_ms = 0
        """When `core.follower.freeze_long_lived` last froze the heap."""
        self.attestations: dict[bytes, dict[bytes, bytes]] = {}
        """block hash -> attester -> signature (verified)."""
        self.pending_attestations: dict[bytes, list[Attestation]] = {}
        """Attestations to blocks not seen yet."""
        self.votes: dict[int, bytes] = {}
        self.invalid_blocks: dict[bytes, str] = {}
        self.validating: dict[bytes, int] = {}
        """Blocks being validated: hash -> slot."""
        self.sealing = None
        """The SlotSession whose block is being built (producer.build_and_send), if any."""
        self.block_work = (settings.block_slice_ms / 1000, settings.block_pause_ms / 1000,
                           settings.block_pause_for_ms / 1000)
        """nodekit.loop.run_sliced's (budget_s, pause_s, pause_for_s) for building and
        validating blocks."""
        self.observations: collections.deque = collections.deque(maxlen=4096)
        self.observation_id = 0
        self.evidence: list[dict[str, Any]] = []
        self.gossip_buffer: list[dict[str, Any]] = []

        self.l1 = L1Client(settings.l1_url, self.params, self.operator_key, transport=l1_transport)
        self.peer_client = PeerClient(self.key, self.params.chain_id, self.clock,
                                      transport=peer_transport)
        self.forwarder = Forwarder(self)
        self.sets: dict[int, SequencerSet] = {}
        self.peers: dict[bytes, str] = {}
        """node key -> endpoint of the other registered sequencers."""
        self.registered: set[bytes] = set()
        self.jailed: dict[bytes, int] = {}
        self.peers_refreshed_ms = -10**12
        self.l1_head = -1
        self.queue: dict[int, QueueItem] = {}
        self.queue_fetched_head = -1
        self.l1_synced = not settings.sync_from_l1
        self.l1_chain: dict[int, bytes] = {}
        """number -> hash of L1's accepted chain as this node saw it (for rollbacks)."""
        self.l1_recorded = 0
        self.registered_on_l1 = False

        self.session = None  # core.producer.SlotSession of the slot this node leads
        self.last_sealed_slot = -1
        self.tasks: set[asyncio.Task] = set()
        self.started_slot = self.current_slot(self.clock.now_ms())
        self.load()

    # --- lifecycle ----------------------------------------------------------------------------

    def load(self) -> None:
        """Rebuild the block tree by re-executing the stored blocks from genesis, then put every
        receipted transaction that is not on the chain back into the mempool."""
        for raw, qc_raw, fee_recipient in repo.load_blocks(self.engine):
            block = decode_block(raw)
            parent = self.store.get(block.header.parent_hash)
            if parent is None or block.hash in self.store.entries:
                continue
            txs = tuple(self.decode(tx) for tx in block.transactions)
            state = parent.state.copy()
            output = apply_block(state, block, fee_recipient, self.params, txs)
            if output.state_root != block.header.state_root:
                self.log.error("stored block %d does not re-execute; dropped", block.number)
                continue
            entry = Entry(block, state, output, txs, decode_qc(qc_raw) if qc_raw else None,
                          fee_recipient=fee_recipient)
            self.store.add(entry)
        self.store.update_canonical()
        self.votes = repo.load_votes(self.engine)
        for row in repo.load_receipts(self.engine):
            receipt = Receipt(row.tx_hash, row.slot, row.idx, row.prefix_hash, self.key.public,
                              row.signature)
            self.receipts[row.tx_hash] = receipt
            self.receipt_raws[row.tx_hash] = row.raw
            if row.tx_hash not in self.store.tx_index:
                tx = self.decode(row.raw)
                self.mempool.add(tx, receipt)
                self.gossip_buffer.append({"raw": "0x" + row.raw.hex(), "receipt": None})
        if self.store.head.number:
            self.log.info("resumed at block %d (%d receipted transactions pending)",
                          self.store.head.number, len(self.mempool))

    async def close(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.l1.aclose()
        await self.peer_client.aclose()
        self.receipt_writer.close()
        self.engine.dispose()

    def spawn(self, coro) -> asyncio.Task:
        """Run `coro` in the background (broadcasts); `drain()` waits for all of them."""
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            error = task.exception()
            if isinstance(error, (TemporaryError, ProtocolError)):
                self.log.debug("background task failed: %s", error)
            else:
                self.log.error("background task crashed: %r", error, exc_info=error)

    async def drain(self, rounds: int = 10) -> None:
        for _ in range(rounds):
            if not self.tasks:
                return
            await asyncio.gather(*list(self.tasks), return_exceptions=True)

    # --- helpers ------------------------------------------------------------------------------

    def decode(self, raw: bytes) -> Transaction:
        """decode_transaction once per node: recovered transactions are cached by their bytes."""
        tx = self.decoded.get(raw)
        if tx is None:
            tx = decode_transaction(raw)
            if len(self.decoded) >= DECODE_CACHE_SIZE:
                self.decoded.clear()
            self.decoded[raw] = tx
        return tx

    def get_receipt(self, tx_hash: bytes) -> Receipt | None:
        """The receipt of a transaction: this node's own, or a leader's it relayed or heard of."""
        receipt = self.receipts.get(tx_hash) or self.relayed.get(tx_hash)
        if receipt is None:
            pooled = self.mempool.get(tx_hash)
            receipt = pooled.receipt if pooled is not None else None
        return receipt

    def remember_receipt(self, receipt: Receipt) -> None:
        if receipt.leader != self.key.public:
            if receipt.slot > self.latest_peer_receipt_slot:
                self.latest_peer_receipt_slot = receipt.slot
            if len(self.relayed) >= DECODE_CACHE_SIZE:
                self.relayed.clear()
            self.relayed[receipt.tx_hash] = receipt

    def current_slot(self, now_ms: int) -> int:
        try:
            return compute_slot(now_ms, self.params)
        except BeforeGenesis:
            return -1

    def cached_leader(self, slot: int) -> bytes | None:
        if slot < 0:
            return None
        sequencer_set = self.sets.get(compute_epoch(slot, self.params))
        if sequencer_set is None or not sequencer_set.members:
            return None
        return compute_leader(sequencer_set, slot, self.params)

    async def get_set(self, epoch: int) -> SequencerSet | None:
        sequencer_set = self.sets.get(epoch)
        if sequencer_set is None:
            sequencer_set = await self.l1.get_sequencer_set(epoch)
            if sequencer_set is not None:
                self.sets[epoch] = sequencer_set
        return sequencer_set

    async def leader_of(self, slot: int) -> bytes | None:
        if slot < 0:
            return None
        sequencer_set = await self.get_set(compute_epoch(slot, self.params))
        if sequencer_set is None or not sequencer_set.members:
            return None
        return compute_leader(sequencer_set, slot, self.params)

    async def refresh_peers(self, force: bool = False) -> None:
        now = self.clock.now_ms()
        if not force and now - self.peers_refreshed_ms < 1000:
            return
        self.peers_refreshed_ms = now
        sequencers = await self.l1.get_sequencers()
        self.registered = {s.node_key for s in sequencers}
        self.peers = {s.node_key: s.endpoint for s in sequencers
                      if s.node_key != self.key.public and s.endpoint}
        self.jailed = {s.node_key: s.jailed_from_slot for s in sequencers
                       if s.jailed_from_slot is not None}

    def jailed_at(self, slot: int) -> set[bytes]:
        return {key for key, from_slot in self.jailed.items() if slot >= from_slot}

    async def refresh_l1(self) -> Any:
        status = await self.l1.get_status()
        self.l1_head = max(self.l1_head, status.head)
        return status

    async def get_queue(self, start: int, l1_origin: int) -> list[QueueItem]:
        """L1's queue items from `start` on, fresh enough to judge which are due at `l1_origin`."""
        if self.queue_fetched_head < l1_origin or self.queue_fetched_head < 0:
            status = await self.refresh_l1()
            items = await self.l1.get_queue(start)
            for item in items:
                self.queue[item.index] = item
            self.queue_fetched_head = status.head
        items = []
        index = start
        while index in self.queue:
            items.append(self.queue[index])
            index += 1
        return items

    def fee_recipient(self, sequencer_set: SequencerSet, node_key: bytes) -> bytes:
        member = sequencer_set.get_member(node_key)
        if member is None:
            raise ProtocolError(f"node key {node_key.hex()[:16]}.. is not in epoch "
                                f"{sequencer_set.epoch}'s set")
        return member.operator

    def persist_block(self, entry: Entry) -> None:
        block = entry.block
        repo.save_block(self.engine, block.hash, block.number, block.slot,
                        block.header.parent_hash, encode_block(block),
                        encode_qc(entry.qc) if entry.qc else None, entry.fee_recipient,
                        self.clock.now_ms())

    def observe(self, kind: str, data: dict[str, Any]) -> None:
        """Everything signed this node saw (blocks, also invalid ones, and attestations), for
        rangers to follow (GET /observations)."""
        self.observation_id += 1
        self.observations.append({"id": self.observation_id, "kind": kind, **data})

    def status(self) -> dict[str, Any]:
        now = self.clock.now_ms()
        slot = self.current_slot(now)
        leader = self.cached_leader(slot)
        head = self.store.head
        return {
            "name": self.settings.name,
            "node_key": "0x" + self.key.public.hex(),
            "operator": "0x" + self.operator.hex() if self.operator else None,
            "chain_id": self.params.chain_id,
            "genesis_hash": "0x" + self.genesis_block.hash.hex(),
            "slot": slot,
            "epoch": compute_epoch(slot, self.params) if slot >= 0 else None,
            "leader": "0x" + leader.hex() if leader else None,
            "is_leader": leader == self.key.public,
            "heads": {label: _head_json(self.store.head_for_label(label))
                      for label in ("unsafe", "attested", "safe", "finalized")},
            "head": _head_json(head),
            "l1_head": self.l1_head,
            "l1_synced": self.l1_synced,
            "registered": self.registered_on_l1,
            "follower": self.is_follower,
            "peers": [{"node_key": "0x" + k.hex(), "endpoint": e} for k, e in self.peers.items()],
            "mempool": len(self.mempool),
            "faults": sorted(self.faults),
            "session": self.session.describe() if self.session is not None else None,
        }


def _head_json(entry: Entry) -> dict[str, Any]:
    return {"number": entry.number, "hash": "0x" + entry.hash.hex(), "slot": entry.slot}
