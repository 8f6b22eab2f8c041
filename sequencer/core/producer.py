"""The slot pipeline of a leader (DESIGN.md section 4) and the receipt path (section 5).

At the start of its slot s the leader waits at most `parent_wait_ms` for the block of slot
s-1, then opens a `SlotSession`: the parent (fork choice, `ChainStore.choose_parent`), the
l1_origin (the newest L1 head it knows), the due queue items, and the pending state (parent
state + queue items + its own receipted transactions, as an account overlay). From then on
every valid transaction gets a receipt at the next index, after one database commit. Near the
end of the slot it seals: only with a QC for the parent; without one it signs nothing and its
receipted transactions stay in the pool (gossiped) for the next leader.

Spec: docs/spec/sequencer.md#slot-pipeline
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from protocol.blocks import Block
from protocol.constants import BRIDGE_ADDRESS, ZERO_HASH
from protocol.exceptions import InvalidTransaction, NonceTooHigh, NonceTooLow, ProtocolError
from protocol.hashing import compute_prefix_hash
from protocol.receipts import Receipt, compute_receipt_hash, receipt_to_json
from protocol.schedule import compute_epoch, compute_slot_start_ms
from protocol.state import Account
from protocol.transactions import Transaction, compute_fee, validate_transaction
from protocol.transition import (apply_block, apply_transfer, build_block_steps,
                                 compute_due_queue_index)
from nodekit.loop import run_sliced

from ..errors import NodeUnavailable
from . import batcher
from .chain import Entry

if TYPE_CHECKING:
    from ..node import Node


class SlotSession:
    """The leader's open sequence for one slot."""

    def __init__(self, node: "Node", slot: int, parent: Entry, l1_origin: int, queue_items,
                 fee_recipient: bytes) -> None:
        self.node = node
        self.slot = slot
        self.parent = parent
        self.l1_origin = l1_origin
        self.queue_items = tuple(queue_items)
        self.fee_recipient = fee_recipient
        self.txs: list[Transaction] = []
        self.hashes: set[bytes] = set()
        self.prefix = ZERO_HASH
        self.open = True
        self.done = False
        self.speculative = False
        """Opened before the block of slot-1 arrived, on the state that block is predicted
        to leave (see open_speculative_session); rebased onto the real block when it comes."""
        self.rebase_failure = ""
        """Why the last rebase failed (logs)."""
        state = parent.state.copy()
        if self.queue_items:
            body = Block(header=parent.block.header, signature=b"", queue_items=self.queue_items)
            apply_block(state, body, fee_recipient, node.params, ())
        self.base = state
        self.accounts: dict[bytes, Account] = {}

    def describe(self) -> dict:
        return {"slot": self.slot, "parent": self.parent.number, "open": self.open,
                "transactions": len(self.txs), "l1_origin": self.l1_origin,
                "queue_items": len(self.queue_items), "speculative": self.speculative}

    def account(self, address: bytes) -> Account:
        account = self.accounts.get(address)
        if account is None:
            account = self.base.get_account(address)
            self.accounts[address] = account
        return account

    def check(self, tx: Transaction) -> None:
        """Raise the InvalidTransaction `tx` would hit after the transactions receipted so far."""
        validate_transaction(tx, self.account(tx.sender), self.node.params)

    def append(self, tx: Transaction) -> tuple[int, bytes]:
        """Apply `tx` to the pending state (already checked) and return (index, prefix_hash)."""
        apply_transfer(self.accounts, self.account, tx,
                       compute_fee(tx, self.node.params.base_fee_wei), self.fee_recipient)
        index = len(self.txs)
        self.txs.append(tx)
        self.hashes.add(tx.hash)
        self.prefix = compute_prefix_hash(self.prefix, tx.hash)
        return index, self.prefix

    def pending_account(self, address: bytes) -> Account:
        return self.accounts.get(address) or self.base.get_account(address)


def receipt_in_session(node: "Node", session: SlotSession, tx: Transaction) -> Receipt:
    """The receipt path: check against the pending state, commit, sign. Synchronous on purpose
    (no await between the index assignment and the commit)."""
    existing = node.receipts.get(tx.hash)
    if existing is not None and existing.slot == session.slot:
        return existing
    try:
        session.check(tx)
    except NonceTooLow:
        known = node.get_receipt(tx.hash)
        if known is not None:
            return known  # sequenced already (a retried forward): the receipt it got
        raise
    receipt = _sign_next(node, session, tx)
    now = node.clock.now_ms()
    try:
        node.receipt_writer.record(tx.hash, tx.raw, receipt.slot, receipt.index,
                                   receipt.prefix_hash, receipt.signature, now)
    except Exception as error:  # noqa: BLE001 - SQLAlchemy/DBAPI errors alike
        # nothing keeps the receipt (not answered, remembered or gossiped); the transaction
        # keeps its place in the session, as after a failed group commit (intake._durable)
        raise receipt_not_stored(node, error, "1") from None
    _keep(node, tx, receipt)
    node.mempool.add(tx, receipt, now)
    node.metrics.receipts.inc()
    return receipt


def receipt_not_stored(node: "Node", error: Exception, what: str) -> NodeUnavailable:
    """Log a failed commit of receipts (`what` of them) and give the refusal to answer."""
    node.log.error("commit of %s receipts failed: %s", what, error)
    return NodeUnavailable(f"the receipt could not be stored: {error}")


def _sign_next(node: "Node", session: SlotSession, tx: Transaction) -> Receipt:
    """Append `tx` (checked) to the session and sign its receipt."""
    index, prefix = session.append(tx)
    key = node.key
    obj_hash = compute_receipt_hash(tx.hash, session.slot, index, prefix, key.public)
    signature = key.sign(b"receipt", node.params.chain_id, obj_hash)
    return Receipt(tx.hash, session.slot, index, prefix, key.public, signature)


def _keep(node: "Node", tx: Transaction, receipt: Receipt) -> None:
    """Remember a receipt this node signed, and gossip it: peers pool the transaction, and the
    next leader predicts this block from these receipts."""
    node.receipts[tx.hash] = receipt
    node.receipt_raws[tx.hash] = tx.raw
    node.gossip_buffer.append({"raw": "0x" + tx.raw.hex(), "receipt": receipt_to_json(receipt)})


def drain_mempool(node: "Node", session: SlotSession) -> int:
    """Receipt every pool transaction valid after the session's parent, in pool order, and
    commit their receipts in one database transaction (an upsert: a transaction this node
    receipted in an earlier slot that got no block is receipted again; one commit per
    transaction stalled the event loop for seconds with a large pool)."""
    rows = []
    taken = []
    now = node.clock.now_ms()
    # what reached the pool after the intake moved on belongs to the next slot's leader (it
    # is forwarding or receipting it) unless an earlier leader receipted it: a seal held
    # past the slot (seal_hold_ms) drained such a transaction into this slot's block and
    # the next leader answered NonceTooLow for it (found by the long chaos run)
    intake_moved = compute_slot_start_ms(session.slot + 1, node.params) - seal_margin_ms(node)
    for entry in node.mempool.ordered():
        tx = entry.tx
        if tx.hash in node.store.tx_index or tx.hash in session.hashes:
            continue
        if entry.received_ms >= intake_moved and (entry.receipt is None or
                                                 entry.receipt.slot >= session.slot):
            continue
        try:
            session.check(tx)
        except NonceTooHigh:
            continue
        except InvalidTransaction:
            node.mempool.remove(tx.hash)
            continue
        receipt = _sign_next(node, session, tx)
        rows.append((tx.hash, tx.raw, receipt.slot, receipt.index, receipt.prefix_hash,
                     receipt.signature, now))
        taken.append((entry, tx, receipt))
    if rows:
        # committed before any of them is remembered or gossiped: if the database refuses,
        # no peer hears of a receipt it never held (the transactions keep their places in
        # the session, as after a failed write in receipt_in_session)
        node.receipt_writer.record_tuples(rows)
    for entry, tx, receipt in taken:
        _keep(node, tx, receipt)
        entry.receipt = entry.receipt or receipt
    return len(rows)


# --- the slot loop --------------------------------------------------------------------------

def seal_margin_ms(node: "Node") -> int:
    """How long before the end of its slot a leader seals: the block must reach the next
    leader within its parent wait."""
    return max(1, min(100, node.params.slot_ms // 10))


def seal_hold_ms(node: "Node") -> int:
    """How long past its slot a speculative session may wait, at the seal, for the block it
    stands on that is being validated here: a fifth of the slot, so that its own block, built
    after, still reaches the next leader inside that leader's parent wait (half a slot when it
    saw this node's receipts: `parent_wait_ms`)."""
    return node.params.slot_ms // 5


def intake_slot(node: "Node", now_ms: int) -> int:
    """The slot whose leader takes new transactions at `now_ms`: the current one, or the next
    one once the current leader has sealed (its seal margin before the slot ends). Routing new
    transactions to the next leader then, instead of holding them until the next slot starts
    and its parent wait ends, is what keeps receipt latency flat across slot boundaries."""
    slot = node.current_slot(now_ms)
    if slot < 0:
        return slot
    if now_ms >= compute_slot_start_ms(slot + 1, node.params) - seal_margin_ms(node):
        return slot + 1
    return slot


async def tick(node: "Node", now_ms: int) -> None:
    """One round of the slot loop: seal the open session when its slot ends, open the next.

    The next slot's session opens early, in the seal window of the current slot, once the
    current slot's block (its parent) is here: the parent is then fixed, as it would be at
    the slot's start, and the transactions routed to this node in the window are receipted at
    once (DESIGN.md section 4, slot pipeline; docs/spec/sequencer.md#slot-pipeline)."""
    if node.is_follower or "offline" in node.faults or not node.l1_synced:
        return
    session = node.session
    if session is not None and session.speculative and not session.done:
        # the parent is fixed when the block of slot-1 is here, or when the parent wait of
        # the session's slot is over (step 1): the newest block then
        waited = now_ms >= compute_slot_start_ms(session.slot, node.params) + \
            parent_wait_ms(node, session.slot) and not _pending_block_in_work(node, session.slot - 1)
        await settle_speculation(node, session, final=waited)
    if session is not None and not session.done:
        end = compute_slot_start_ms(session.slot + 1, node.params)
        if now_ms >= end - seal_margin_ms(node):
            await seal(node, session, now_ms)
        if not session.done:
            return
    current = node.current_slot(now_ms)
    slot = intake_slot(node, now_ms)
    early = slot > current
    if slot <= node.genesis_block.header.slot or slot <= node.started_slot or \
            slot <= node.last_sealed_slot:
        return  # slot 0 is the genesis block's
    if session is not None and session.slot >= slot:
        return
    leader = await node.leader_of(slot)
    if leader != node.key.public or node.key.public in node.jailed_at(slot):
        # a jailed leader's slots are empty by rule (L1 and peers refuse its blocks)
        node.session = None
        return
    start = compute_slot_start_ms(slot, node.params)
    previous = node.store.by_slot.get(slot - 1)
    if early:
        if previous is None:
            # the block of slot-1 is being sealed: take transactions now, on the state it is
            # predicted to leave, instead of holding them until it is built and validated
            await open_speculative_session(node, slot)
            return
    elif now_ms >= compute_slot_start_ms(slot + 1, node.params) - seal_margin_ms(node):
        return  # too late for this slot (e.g. the loop stalled)
    elif not previous and now_ms < start + parent_wait_ms(node, slot):
        return
    await open_session(node, slot)


def _pending_block_in_work(node: "Node", slot: int) -> bool:
    """A block of `slot` is being built here or validated: it is here, just not ready."""
    sealing = node.sealing
    return (sealing is not None and sealing.slot == slot) or slot in node.validating.values()


def parent_wait_ms(node: "Node", slot: int) -> int:
    """How long the leader of `slot` waits for the block of `slot - 1`: `parent_wait_ms`, or
    half the slot when that block's leader was seen handing out receipts for it (gossip,
    forwarding). A live leader with transactions will seal a block, and one starved of CPU
    seals it late: building on the block before would orphan it and push its transactions
    back by slots. An offline leader hands out nothing, so failover still costs only
    `parent_wait_ms` (docs/adr/0004-parent-wait.md)."""
    wait = node.params.parent_wait_ms
    if node.latest_peer_receipt_slot >= slot - 1:
        wait = max(wait, node.params.slot_ms // 2)
    return wait


async def open_session(node: "Node", slot: int) -> SlotSession:
    parent = node.store.choose_parent(slot)
    sequencer_set = await node.get_set(compute_epoch(slot, node.params))
    fee_recipient = node.fee_recipient(sequencer_set, node.key.public)
    l1_origin = max(parent.block.header.l1_origin, node.l1_head)
    queue = await node.get_queue(parent.block.header.l1_queue_index, l1_origin)
    due = compute_due_queue_index(queue, l1_origin, node.params)
    start = parent.block.header.l1_queue_index
    items = [item for item in queue if item.index < due] if due > start else []
    if "censor" in node.faults:
        items = []
    session = SlotSession(node, slot, parent, l1_origin, items, fee_recipient)
    node.session = session
    drain_mempool(node, session)
    node.log.debug("slot %d: leading on block %d (%d txs carried)", slot, parent.number,
                   len(session.txs))
    return session


class _SessionState:
    """The accounts a session's block will leave (its own block being built): what a
    speculative `SlotSession.base` reads."""

    def __init__(self, session: SlotSession) -> None:
        self.get_account = session.pending_account

    def depends_on_prediction(self, tx: Transaction, account: Account, params) -> bool:
        return False  # the block is certain (this node builds it): nothing rests on a guess


_UNREAD = Account(0, 0)
"""What `_PredictedState.get_account` gives for the accounts it does not compute."""

_NO_FEE_RECIPIENT = b""
"""Where `_PredictedState.get_account` sends per-transaction fees (dropped): it credits their
sum to the fee recipient itself."""


class _PredictedState:
    """The accounts another leader's block is predicted to leave: its parent's state plus the
    transactions that leader receipted, applied per account when the account is first read
    (`protocol.transition.apply_transfer`, the rule blocks execute by). Building it costs a pass
    over the transactions, not a validation of each: right at the seal, when every node is
    busy with blocks; a wrong prediction is caught by the rebase onto the real block."""

    def __init__(self, parent_state, txs: list[Transaction], fee_recipient: bytes,
                 base_fee_wei: int) -> None:
        self.parent_state = parent_state
        self.fee_recipient = fee_recipient
        self.base_fee_wei = base_fee_wei
        self.touching: dict[bytes, list[Transaction]] = {}
        self.senders: set[bytes] = set()
        self.fees = 0
        for tx in txs:
            self.senders.add(tx.sender)
            self.touching.setdefault(tx.sender, []).append(tx)
            if tx.to != BRIDGE_ADDRESS and tx.to != tx.sender:
                self.touching.setdefault(tx.to, []).append(tx)
            self.fees += compute_fee(tx, base_fee_wei)

    def depends_on_prediction(self, tx: Transaction, account: Account, params) -> bool:
        """Whether `tx`, valid on `account` (its sender's pending account in the session),
        could be invalid if the predicted block never comes: its sender sends a predicted
        transaction (its nonce rests on it), or needs what predicted transactions pay it."""
        sender = tx.sender
        if sender in self.senders:
            return True
        if sender not in self.touching and sender != self.fee_recipient:
            return False
        # not a sender: all the prediction does to it is pay it
        credit = sum(t.value for t in self.touching.get(sender, ()))
        if sender == self.fee_recipient:
            credit += self.fees
        try:
            validate_transaction(tx, Account(account.nonce, account.balance - credit), params)
        except InvalidTransaction:
            return True
        return False

    def get_account(self, address: bytes) -> Account:
        account = self.parent_state.get_account(address)
        txs = self.touching.get(address)
        if txs is None and address != self.fee_recipient:
            return account
        # the predicted transactions that touch `address`, applied by the protocol's rule;
        # the other accounts they touch are not read (a trie read each, right at the seal)
        # and their results are dropped; the fees are credited in one sum below
        accounts = {address: account}
        for tx in txs or ():
            apply_transfer(accounts, lambda other: accounts.get(other, _UNREAD), tx,
                           compute_fee(tx, self.base_fee_wei), _NO_FEE_RECIPIENT)
        account = accounts[address]
        if address == self.fee_recipient:
            account = Account(account.nonce, account.balance + self.fees)
        return account


async def open_speculative_session(node: "Node", slot: int) -> SlotSession | None:
    """Open the session of `slot` in the seal window of slot-1, before that block is here.

    Its base is the state the block of slot-1 is predicted to leave: the parent its leader
    builds on plus the transactions that leader receipted for slot-1 (gossiped with their
    receipts, index 0, 1, 2... without a gap; a leader's block starts with exactly what it
    receipted). New transactions valid on that state are receipted at once; the others wait
    for the real block. No pool transaction is drained into it: one the other leader may
    have receipted meanwhile would be in both blocks. Receipts commit to order, not to the
    parent (docs/spec/sequencer.md#slot-pipeline), so when the block arrives the session is
    rebased onto it (`settle_speculation`) and every promise holds as long as its
    transactions stay valid there, in order (docs/adr/0005-speculative-early-open.md)."""
    pending_slot = slot - 1
    leader = await node.leader_of(pending_slot)
    own = node.sealing
    if leader == node.key.public:
        if own is None or own.slot != pending_slot or node.faults:
            return None  # no block of its own in the making (or a faulty one): no prediction
    elif leader is None:
        return None
    pending_set = await node.get_set(compute_epoch(pending_slot, node.params))
    sequencer_set = await node.get_set(compute_epoch(slot, node.params))
    if pending_set is None or sequencer_set is None:
        return None
    if node.store.by_slot.get(pending_slot) or (node.session is not None and
                                                 node.session.slot >= slot):
        return None  # the block came (or a session opened) while this awaited
    if leader == node.key.public:
        parent = own.parent  # its own block being built: the prediction is exact
        base, predicted = _SessionState(own), len(own.txs)
    else:
        parent = node.store.choose_parent(pending_slot)
        txs = _receipted_by(node, leader, pending_slot)
        base = _PredictedState(parent.state, txs, node.fee_recipient(pending_set, leader),
                               node.params.base_fee_wei)
        predicted = len(txs)
    session = SlotSession(node, slot, parent, max(parent.block.header.l1_origin, node.l1_head),
                          (), node.fee_recipient(sequencer_set, node.key.public))
    session.base = base
    session.speculative = True
    node.session = session
    node.metrics.speculative_sessions.inc()
    node.log.debug("slot %d: speculative session on block %d + %d predicted txs of slot %d",
                   slot, parent.number, predicted, pending_slot)
    return session


def _receipted_by(node: "Node", leader: bytes, slot: int) -> list[Transaction]:
    """The transactions `leader` receipted for `slot` that this node holds, in receipt order,
    up to the first index it lacks (what follows a gap is not known to be in the block)."""
    receipted = sorted((entry.receipt.index, entry.tx) for entry in node.mempool.entries.values()
                       if entry.receipt is not None and entry.receipt.slot == slot
                       and entry.receipt.leader == leader)
    txs = []
    for index, tx in receipted:
        if index != len(txs):
            break
        txs.append(tx)
    return txs


async def settle_speculation(node: "Node", session: SlotSession, *, final: bool = False) -> bool:
    """Move a speculative session onto the block of slot-1 once it is here (or, with `final`,
    onto the newest parent there is, at the seal). True when the session stands on a real
    block; False when it cannot (a receipted transaction is not valid there, in order): it
    then signs nothing for its slot and its receipted transactions, already gossiped, go to
    the next leader, as without a QC."""
    parent = node.store.choose_parent(session.slot)
    if parent.slot < session.slot - 1 and not final:
        return False  # not here yet
    # the L1 origin is fixed now, as a session opened at this moment would fix it; if the queue
    # items due at it do not fit before the receipted transactions, the one fixed at the open
    latest = max(session.l1_origin, node.l1_head)
    if await rebase(node, session, parent, latest) or \
            (latest != session.l1_origin and await rebase(node, session, parent)):
        session.speculative = False
        drain_mempool(node, session)  # what opening on this parent takes (carried txs...)
        return True
    session.open = False
    session.done = True
    node.metrics.slots_skipped.inc()
    node.metrics.speculation_failed.inc()
    node.log.warning("slot %d: the %d transactions receipted on the predicted state are not "
                     "valid in order on block %d (%s); no block, they go to the next leader",
                     session.slot, len(session.txs), parent.number, session.rebase_failure)
    return False


async def seal(node: "Node", session: SlotSession, now_ms: int) -> bool:
    """Close the session and start building its block, if the parent has a QC. The block is
    built in slices in a task of its own (`build_and_send`), so that the slot loop opens the
    next session meanwhile and requests are answered between slices."""
    params = node.params
    end = compute_slot_start_ms(session.slot + 1, params)
    if session.speculative and _pending_block_in_work(node, session.slot - 1) and \
            now_ms < end + seal_hold_ms(node):
        # The block this session predicted is here and being validated (slowly: this node
        # took the slot's transactions meanwhile): settling on its parent now would orphan a
        # valid block and carry its transactions into this one, ever bigger under load (seen
        # with bench/ingest_bench.py, docs/performance.md 2026-11-25). Intake has moved to the
        # next leader already; the timestamp stays inside the slot.
        return False
    if session.speculative and not await settle_speculation(node, session, final=True):
        return False
    better = node.store.choose_parent(session.slot)
    if better is not session.parent and better.slot > session.parent.slot and \
            not await rebase(node, session, better):
        # A newer block arrived after the parent was fixed and the receipted transactions
        # cannot move onto it (some are in it already). A block on the old parent would have
        # the higher slot and orphan the newer one, attested by now: sign nothing instead; the
        # receipted transactions go to the next leader, as without a QC (found by the chaos
        # suite, tests/chaos).
        session.open = False
        session.done = True
        node.metrics.slots_skipped.inc()
        node.log.info("slot %d: block %d (slot %d) arrived after the parent %d was fixed and "
                      "the session cannot move onto it; no block, %d receipted txs handed over",
                      session.slot, better.number, better.slot, session.parent.number,
                      len(session.txs))
        return False
    parent = session.parent
    if parent.qc is None and parent.number != 0:
        if now_ms < end:
            return False  # the QC may still arrive; the next tick retries
        session.open = False
        session.done = True
        node.metrics.slots_skipped.inc()
        node.log.info("slot %d: no QC for parent %d; no block, %d receipted txs handed over",
                      session.slot, parent.number, len(session.txs))
        return False
    session.open = False
    session.done = True
    node.last_sealed_slot = session.slot
    timestamp = min(max(now_ms, compute_slot_start_ms(session.slot, params)), end - 1)
    node.sealing = session
    node.spawn(build_and_send(node, session, timestamp))
    return True


async def build_and_send(node: "Node", session: SlotSession, timestamp: int) -> Block | None:
    """Build and sign the sealed session's block (in slices), store it, attest it and send it
    to the peers."""
    started = time.perf_counter()
    from .. import faults
    from . import validator
    try:
        try:
            block, state, output, extra = await run_sliced(
                faults.build_steps(node, session, timestamp), *node.block_work)
        except ProtocolError as error:
            node.log.error("slot %d: cannot build the block: %s", session.slot, error)
            return None
        node.metrics.seal_seconds.observe(time.perf_counter() - started)
        node.metrics.blocks_produced.inc()
        validator.accept_own_block(node, block, state, output, session.fee_recipient)
    finally:
        if node.sealing is session:
            node.sealing = None
    if extra:  # equivocation: a second block for other peers
        await validator.broadcast_equivocation(node, block, extra)
    else:
        node.spawn(validator.broadcast_block(node, block))
    if node.faults:
        node.spawn(batcher.submit_faulty_block(node))
    node.log.debug("slot %d: sealed block %d on %d (slot %d), %d txs, built in %.0f ms",
                   session.slot, block.number, session.parent.number, session.parent.slot,
                   len(block.transactions), (time.perf_counter() - started) * 1000)
    return block


async def rebase(node: "Node", session: SlotSession, parent: Entry,
                 l1_origin: int | None = None) -> bool:
    """Move the session onto a newer parent that arrived late (the block of slot s-1 after
    the parent wait). Receipts commit to the order of the transactions, not to the parent,
    so this keeps every promise as long as all receipted transactions stay valid, in order,
    on the new parent. Otherwise the session keeps its parent (and its L1 origin; `l1_origin`
    is the one to try, the session's by default).

    The receipted transactions are replayed in slices (`_replay_steps`): a speculative session
    holds the ~500 transactions of half a slot when its parent arrives, and replaying them in
    one go held every request for 30-55 ms (docs/performance.md, 2026-11-25 later). The
    session keeps receipting meanwhile; the replay catches up with it, and the switch happens
    with nothing left to replay."""
    try:
        l1_origin = max(parent.block.header.l1_origin,
                        session.l1_origin if l1_origin is None else l1_origin)
        queue = await node.get_queue(parent.block.header.l1_queue_index, l1_origin)
        due = compute_due_queue_index(queue, l1_origin, node.params)
        items = [item for item in queue if item.index < due]
        if "censor" in node.faults:
            items = []
        fresh = SlotSession(node, session.slot, parent, l1_origin, items, session.fee_recipient)
        failure = await run_sliced(_replay_steps(node, session, fresh), node.block_work[0])
    except ProtocolError as error:
        failure = f"{error.name}: {error}"
    if failure is None and fresh.prefix != session.prefix:
        failure = "the prefix differs"
    if failure is not None:
        session.rebase_failure = failure
        return False
    session.parent, session.l1_origin, session.queue_items = parent, l1_origin, fresh.queue_items
    session.base, session.accounts = fresh.base, fresh.accounts
    node.log.debug("slot %d: rebased onto block %d", session.slot, parent.number)
    return True


def _replay_steps(node: "Node", session: SlotSession, fresh: SlotSession):
    """Append the session's transactions to `fresh`, one step each, up to the last one the
    session holds when the steps run out (it may grow between steps); return why one does
    not fit there, or None."""
    position = 0
    while position < len(session.txs):
        tx = session.txs[position]
        if tx.hash in node.store.tx_index:
            number = node.store.get(node.store.tx_index[tx.hash][0]).number
            return f"tx {position} (0x{tx.hash.hex()[:16]}..) is in block {number} already"
        try:
            fresh.check(tx)
        except ProtocolError as error:
            return f"tx {position} (0x{tx.hash.hex()[:16]}..): {error.name}: {error}"
        fresh.append(tx)
        position += 1
        yield
    return None


def build_session_block_steps(node: "Node", session: SlotSession, timestamp: int,
                              transactions=None):
    """build_block_steps for the session: a generator returning (block, state, output)."""
    parent = session.parent
    return build_block_steps(
        parent.block.header, parent.state, slot=session.slot, timestamp_ms=timestamp,
        producer=node.key, fee_recipient=session.fee_recipient, params=node.params,
        transactions=session.txs if transactions is None else transactions,
        queue_items=session.queue_items, l1_origin=session.l1_origin, parent_qc=parent.qc)
