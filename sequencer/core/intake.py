"""Transaction intake: `POST /txs` and `eth_sendRawTransaction` end here.

The leader of the current slot receipts the transaction itself (`producer.receipt_in_session`).
Any other node keeps it in its pool, gossips it, forwards it to the leader and relays the
leader's receipt; when leadership moved meanwhile (the leader answers NotLeader, or cannot be
reached) it retries with the leader of the new slot. A transaction that arrives at the leader
while it waits for its parent is held until the session opens, not refused. In the seal window
(the last `seal_margin_ms` of a slot, after its leader sealed) new transactions go to the next
slot's leader, which opens its session early once the sealed block is here
(`producer.intake_slot`).

Spec: docs/spec/sequencer.md#intake
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from nodekit.errors import RemoteRejected, TemporaryError
from nodekit.errors_http import protocol_error_status
from nodekit.loop import run_sliced
from protocol.exceptions import InvalidTransaction, ProtocolError
from protocol.receipts import Receipt, receipt_from_json, receipt_to_json
from protocol.transactions import validate_transaction_static

from ..errors import NodeUnavailable, NoLeader, NotLeader
from ..peers import gather_quietly
from .producer import intake_slot, receipt_in_session, receipt_not_stored

if TYPE_CHECKING:
    from ..node import Node

POLL_S = 0.005
MAX_POLLS = 1000


class RelayedRejection(ProtocolError):
    """The leader refused the transaction; `name` is the leader's reason."""

    def __init__(self, name: str, detail: str) -> None:
        super().__init__(detail)
        self._name = name

    @property
    def name(self) -> str:
        return self._name


def _hex(data: bytes) -> str:
    return "0x" + data.hex()


def _receipt_at_once(node: "Node", tx) -> Receipt | None:
    """The receipt this node can give without waiting (no await): the one a sequenced
    transaction already has, or a new one from its open session; None otherwise."""
    known = node.get_receipt(tx.hash)
    if known is not None and (tx.hash in node.store.tx_index or _in_block_in_work(node, known)):
        return known  # already sequenced (e.g. the leader answered late): same receipt
    session = node.session
    if session is not None and session.open and \
            session.slot >= intake_slot(node, node.clock.now_ms()):
        # this slot's session until its seal window, or the next one's opened early in that
        # window (a leader whose seal tick is late takes nothing in the window: the next
        # leader does, and one transaction must not get both)
        if session.speculative and _waits_for_the_block(node, session, tx):
            return None
        return receipt_in_session(node, session, tx)
    return None


async def _durable(node: "Node", tx, receipt: Receipt) -> Receipt:
    """`receipt` once it is committed here (this node's receipts are written by group commit,
    `repo.ReceiptWriter`): no client holds a receipt a kill -9 could take back. If the commit
    fails, the receipt is taken back as forward_batch's are (`_commit_group`): a retry must
    not get a receipt the database never held."""
    if receipt.leader == node.key.public:
        try:
            await node.receipt_writer.durable()
        except Exception as error:  # noqa: BLE001 - SQLAlchemy/DBAPI errors alike
            if node.receipts.get(tx.hash) is receipt:
                _take_back_receipt(node, tx)
            raise receipt_not_stored(node, error, "queued") from None
    return receipt


def _in_block_in_work(node: "Node", receipt: Receipt) -> bool:
    """This node receipted the transaction in its session that is still open or waiting for
    its seal, or in the slot it sealed last, whose block is being built or sent. A non-leader
    gossips a transaction and forwards it too: when the gossip reached this leader before the
    intake moved on and the forward after, answering NotLeader sent the forward to the next
    leader, which receipted it a second time on its prediction (before this leader's receipt
    gossip came), and that slot was lost (found with bench/ingest_bench.py,
    docs/performance.md 2026-11-25)."""
    if receipt.leader != node.key.public:
        return False
    session = node.session
    return receipt.slot == node.last_sealed_slot or (
        session is not None and session.slot == receipt.slot and not session.done)


def _waits_for_the_block(node: "Node", session, tx) -> bool:
    """In a speculative session, a transaction is receipted at once only if it is valid
    whether or not the predicted block comes; the others wait for the real block (its
    leader may have died: ADR 0005). An invalid one that holds a receipt gets it back."""
    try:
        session.check(tx)
    except InvalidTransaction:
        return node.get_receipt(tx.hash) is None  # maybe valid after the real block
    return session.base.depends_on_prediction(tx, session.account(tx.sender), node.params)


def _admit(node: "Node", raw: bytes):
    """Decode `raw` (once per node) and apply the checks that need no state."""
    tx = node.decode(raw)
    validate_transaction_static(tx, node.params)
    if "offline" in node.faults:
        raise NodeUnavailable("this sequencer is offline (fault flag)")
    return tx


async def submit(node: "Node", raw: bytes, *, forwarded: bool = False) -> Receipt:
    """Get `raw` a leader's receipt (see the module docstring)."""
    tx = _admit(node, raw)
    pooled = added_to_pool = False
    slot_ms = node.params.slot_ms
    for _ in range(MAX_POLLS):
        receipt = _receipt_at_once(node, tx)
        if receipt is not None:
            return await _durable(node, tx, receipt)
        now = node.clock.now_ms()
        session = node.session
        slot = intake_slot(node, now)
        leader = node.cached_leader(slot)
        if leader is None:
            leader = await node.leader_of(slot)
        if leader is None:
            raise NoLeader(f"no leader is known for slot {slot} (before genesis or the epoch is "
                           f"not snapshotted on L1 yet)")
        if leader == node.key.public and not node.is_follower:
            if forwarded and (session is None or session.slot < slot) and \
                    node.store.head.slot >= slot:
                raise NotLeader(f"slot {slot} is sealed")
            await asyncio.sleep(POLL_S)  # the session opens after the parent wait
            continue
        if forwarded:
            raise NotLeader(f"this node does not lead slot {slot}; the leader is "
                            f"0x{leader.hex()[:16]}..")
        if not pooled:
            added_to_pool = tx.hash not in node.mempool
            node.mempool.add(tx, None, now)
            node.gossip_buffer.append({"raw": _hex(tx.raw), "receipt": None})
            pooled = True
        endpoint = node.peers.get(leader)
        if endpoint is None:
            await node.refresh_peers()
            endpoint = node.peers.get(leader)
        if endpoint is None:
            raise NodeUnavailable(f"the leader 0x{leader.hex()[:16]}.. of slot {slot} has no "
                                  f"known endpoint")
        try:
            receipt = await node.forwarder.forward(endpoint, leader, tx.hash, tx.raw)
        except RemoteRejected as error:
            if error.error in ("NotLeader", "NoLeader"):
                await asyncio.sleep(POLL_S * 2)
                continue
            if error.status in (401, 403):
                raise NodeUnavailable(f"the leader refused this node: {error.detail}") from None
            if added_to_pool:
                _unpool(node, tx)
            raise RelayedRejection(error.error, error.detail) from None
        except TemporaryError:
            # The leader is down: wait for the next slot (and its leader).
            next_start = node.params.genesis_time_ms + (slot + 1) * slot_ms
            remaining_ms = next_start - node.clock.now_ms()
            await asyncio.sleep(max(POLL_S, min(remaining_ms, slot_ms) / 1000))
            continue
        node.metrics.forwarded.inc()
        node.remember_receipt(receipt)
        entry = node.mempool.get(tx.hash)
        if entry is not None and entry.receipt is None:
            entry.receipt = receipt
        return receipt
    raise NodeUnavailable("no leader answered in time; the transaction stays in the pool")


def _unpool(node: "Node", tx) -> None:
    """Take back a transaction this node pooled only to forward it, once the leader refused it
    (NonceTooLow, InsufficientBalance...): the sender was told no, so it must neither stay
    pending here nor be gossiped to the peers."""
    entry = node.mempool.get(tx.hash)
    if entry is not None and entry.receipt is None:
        node.mempool.remove(tx.hash)
        _ungossip(node, tx)


def _ungossip(node: "Node", tx) -> None:
    """Drop `tx` from the gossip buffer (not sent yet)."""
    raw = _hex(tx.raw)
    node.gossip_buffer[:] = [item for item in node.gossip_buffer if item["raw"] != raw]


async def submit_forwarded(node: "Node", raws: list[bytes | ProtocolError]) -> list[dict]:
    """The leader's side of `POST /peer/forward_batch`: one result per transaction, in order
    (so receipts follow the order the forwarder received them in). An entry that could not
    be parsed is passed as its error.

    Group commit: the receipts its open session gives at once are written in one database
    transaction, committed before any of them is answered and before this coroutine yields
    to the event loop (nothing else can hand them out meanwhile: they are not gossiped, not
    served). A transaction that must wait (no open session yet) commits the group first."""
    results: list[dict] = []
    group: list[tuple[int, object]] = []   # (position in results, tx) awaiting the commit
    writer = node.receipt_writer
    try:
        for raw in raws:
            writer.defer()
            try:
                if isinstance(raw, ProtocolError):
                    raise raw
                tx = _admit(node, raw)
                receipt = _receipt_at_once(node, tx)
                if receipt is not None:
                    group.append((len(results), tx))
                else:
                    _commit_group(node, results, group)
                    receipt = await submit(node, raw, forwarded=True)
            except ProtocolError as error:
                results.append({"status": protocol_error_status(error), "error": error.name,
                                "detail": str(error)})
                continue
            results.append({"receipt": receipt_to_json(receipt)})
    finally:
        _commit_group(node, results, group)
    return results


def _commit_group(node: "Node", results: list[dict], group: list) -> None:
    """Commit the deferred receipts; if the database refuses, take them back (never
    answered, never gossiped) and answer each of their transactions with the reason."""
    try:
        node.receipt_writer.flush()
    except Exception as error:  # noqa: BLE001 - SQLAlchemy/DBAPI errors alike, all of them fatal here
        failure = receipt_not_stored(node, error, str(len(group)))
        for position, tx in group:
            _take_back_receipt(node, tx)
            if position < len(results):
                results[position] = {"status": protocol_error_status(failure),
                                     "error": failure.name, "detail": str(failure)}
    group.clear()


def _take_back_receipt(node: "Node", tx) -> None:
    node.receipts.pop(tx.hash, None)
    node.receipt_raws.pop(tx.hash, None)
    _ungossip(node, tx)
    entry = node.mempool.get(tx.hash)
    if entry is not None:
        entry.receipt = None


async def on_gossip(node: "Node", sender: bytes, items: list[dict]) -> int:
    """Transactions gossiped by a peer: pool them; the leader receipts them at once.

    A batch is decoded in slices (`_gossip_steps`): each transaction costs a signature
    recovery (~50 us), and a batch of a few hundred held every request of this node for
    10-35 ms (docs/performance.md, 2026-11-25 later)."""
    return await run_sliced(_gossip_steps(node, sender, items), node.block_work[0])


def _gossip_steps(node: "Node", sender: bytes, items: list[dict]):
    added = 0
    for item in items:
        yield
        try:
            raw = bytes.fromhex(str(item.get("raw", ""))[2:])
            tx = node.decode(raw)
            validate_transaction_static(tx, node.params)
        except (ValueError, ProtocolError):
            continue
        if tx.hash in node.store.tx_index:
            continue
        receipt = None
        if item.get("receipt"):
            try:
                receipt = receipt_from_json(item["receipt"])
            except ProtocolError:
                receipt = None
            if receipt is not None and (receipt.leader != sender or receipt.tx_hash != tx.hash):
                receipt = None
        now = node.clock.now_ms()
        node.mempool.add(tx, receipt, now)
        if receipt is not None:
            node.remember_receipt(receipt)
        added += 1
        # the session and the intake slot as they are now: the loop may have moved on
        # between two steps
        session = node.session
        if session is not None and session.open and session.slot >= intake_slot(node, now) \
                and not session.speculative and tx.hash not in session.hashes:
            # (not into a speculative session: the previous leader may have receipted it)
            try:
                receipt_in_session(node, session, tx)
            except InvalidTransaction:
                pass
    return added


async def gossip_tick(node: "Node", now_ms: int) -> None:
    """Send the buffered transactions (with receipts) to every peer in one batch each."""
    if not node.gossip_buffer or "offline" in node.faults:
        return
    batch, node.gossip_buffer = node.gossip_buffer, []
    if not node.peers:
        await node.refresh_peers()
    body = {"txs": batch}
    await gather_quietly([node.peer_client.post(url, "/peer/txs", body)
                          for url in node.peers.values()])


def receipt_json(receipt: Receipt) -> dict:
    return receipt_to_json(receipt)
