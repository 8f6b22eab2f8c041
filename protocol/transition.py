"""The state transition: validate a block and apply it. Reads top-down like EELS's fork.py:
`validate_block` -> `validate_block_envelope` -> `apply_block` -> `apply_transaction`.

The L1 mock runs `validate_block_envelope` (everything but execution) on every batch;
sequencers and rangers run `validate_block` (envelope + re-execution); fraud proofs run
`apply_block` over a witness (protocol/witness.py). One implementation for all of them.

Spec: docs/spec/blocks.md
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Generator, Iterator, Sequence
from dataclasses import dataclass
from typing import TypeVar

from .blocks import QUEUE_DEPOSIT, QUEUE_FORCED_TX, Block, Header, QueueItem, QuorumCertificate
from .constants import BRIDGE_ADDRESS
from .encoding import compute_attestation_hash
from .exceptions import (
    BadL1Origin,
    BadQueueItems,
    BadQuorumCertificate,
    BadStateRoot,
    BadTxRoot,
    BadWithdrawalsRoot,
    BlockContainsInvalidTransaction,
    InvalidSignature,
    InvalidTransaction,
    MissingQuorum,
    ProducerJailed,
    ProtocolError,
    QueueItemSkipped,
    SlotNotAfterParent,
    TimestampOutsideSlot,
    WrongLeader,
    WrongParent,
)
from .hashing import compute_tx_root, keccak256
from .params import ChainParams
from .schedule import SequencerSet, compute_epoch, compute_leader, compute_slot_start_ms
from .signing import NodeKey, verify_node_signature
from .state import Account, State
from .transactions import Transaction, compute_fee, decode_transaction, validate_transaction
from .withdrawals import Withdrawal, compute_withdrawals_root


@dataclass(frozen=True, slots=True)
class TxOutcome:
    """What executing one transaction did; JSON-RPC receipts are built from it."""

    tx_hash: bytes
    sender: bytes
    to: bytes
    value: int
    fee_wei: int
    gas_price_wei: int
    forced: bool = False
    """Came from the L1 queue rather than the leader's sequence."""
    applied: bool = True
    """False for a forced transaction that was invalid and skipped."""
    reason: str = ""


@dataclass(frozen=True, slots=True)
class BlockOutput:
    state_root: bytes
    withdrawals_root: bytes
    withdrawals: tuple[Withdrawal, ...]
    outcomes: tuple[TxOutcome, ...]
    """Forced transactions first (in queue order), then the sequenced ones."""
    tx_hashes: tuple[bytes, ...]
    """Hashes of the sequenced transactions, in order: the tx_root's chain."""
    touched: frozenset[bytes]
    """Every address read or written: the accounts a witness must prove."""
    fees_wei: int


# --- execution ----------------------------------------------------------------------------


class _Overlay:
    """Accounts read and written during one block, flushed to the trie once at the end:
    the producer's fee account changes with every transaction but is written once."""

    __slots__ = ("state", "accounts")

    def __init__(self, state: State) -> None:
        self.state = state
        self.accounts: dict[bytes, Account] = {}

    def get(self, address: bytes) -> Account:
        account = self.accounts.get(address)
        if account is None:
            account = self.state.get_account(address)
            self.accounts[address] = account
        return account

    def flush_steps(self, chunk: int) -> Iterator[None]:
        """Write the accounts to the trie, yielding every `chunk` of them."""
        set_account = self.state.set_account
        for count, (address, account) in enumerate(self.accounts.items(), 1):
            set_account(address, account)
            if count % chunk == 0:
                yield


def apply_transfer(accounts: dict[bytes, Account], read: Callable[[bytes], Account],
                   tx: Transaction, fee: int, fee_recipient: bytes) -> None:
    """Write into `accounts` what a valid transfer changes: the sender's nonce +1 and balance
    - (value + fee), the recipient's balance + value (nothing for a withdrawal to the bridge:
    its value leaves L2), the fee recipient's balance + fee. `read` gives an account's
    current value (`accounts` first). The one rule of a transfer's effect, shared by block
    execution (`_execute`) and the states a leader reasons on before a block exists
    (`sequencer.core.producer`: its pending session, a predicted block).

    Spec: docs/spec/blocks.md#execution
    """
    sender = read(tx.sender)
    accounts[tx.sender] = Account(sender.nonce + 1, sender.balance - tx.value - fee)
    if tx.to != BRIDGE_ADDRESS:
        recipient = read(tx.to)
        accounts[tx.to] = Account(recipient.nonce, recipient.balance + tx.value)
    if fee:
        producer = read(fee_recipient)
        accounts[fee_recipient] = Account(producer.nonce, producer.balance + fee)


def _execute(overlay: _Overlay, tx: Transaction, fee_recipient: bytes, params: ChainParams,
             withdrawals: list[Withdrawal]) -> TxOutcome:
    """Validate `tx` against the current state and apply it; raises InvalidTransaction."""
    validate_transaction(tx, overlay.get(tx.sender), params)
    fee = compute_fee(tx, params.base_fee_wei)
    apply_transfer(overlay.accounts, overlay.get, tx, fee, fee_recipient)
    if tx.to == BRIDGE_ADDRESS:
        withdrawals.append(Withdrawal(tx.sender, tx.value, len(withdrawals)))
    return TxOutcome(tx.hash, tx.sender, tx.to, tx.value, fee, fee // 21_000 if fee else 0)


T = TypeVar("T")

STEP_TXS = 256
"""Transactions executed (or accounts written to the trie) between two yields of the
`*_steps` generators: about a millisecond of work on this machine.

Spec: docs/spec/blocks.md#execution
"""


def run_steps(steps: Generator[None, None, T]) -> T:
    """Run a `*_steps` generator to its end and return its result (the synchronous form)."""
    while True:
        try:
            next(steps)
        except StopIteration as done:
            return done.value


def apply_block(state: State, block: Block, fee_recipient: bytes, params: ChainParams,
                transactions: Sequence[Transaction] | None = None) -> BlockOutput:
    """Apply the block's queue items and transactions to `state` (mutated) and return the
    roots. `transactions` may carry the already-decoded sequenced transactions so that no
    node recovers a sender twice. Raises BlockContainsInvalidTransaction when a sequenced
    transaction is invalid; an invalid forced transaction is skipped (L1 cannot know its
    validity when it queues it).

    Spec: docs/spec/blocks.md#execution
    """
    return run_steps(apply_block_steps(state, block, fee_recipient, params, transactions))


def apply_block_steps(state: State, block: Block, fee_recipient: bytes, params: ChainParams,
                      transactions: Sequence[Transaction] | None = None,
                      ) -> Generator[None, None, BlockOutput]:
    """`apply_block` in slices of about a millisecond: a generator that yields between them
    and returns the BlockOutput. A service drives it on its event loop
    (`nodekit.loop.run_sliced`) so that a 1,000-transaction block does not hold every
    request for tens of milliseconds (docs/performance.md); the result is the same."""
    overlay = _Overlay(state)
    withdrawals: list[Withdrawal] = []
    outcomes: list[TxOutcome] = []
    fees = 0

    for item in block.queue_items:
        if item.kind == QUEUE_DEPOSIT:
            account = overlay.get(item.to)
            overlay.accounts[item.to] = Account(account.nonce, account.balance + item.amount)
        elif item.kind == QUEUE_FORCED_TX:
            outcomes.append(_apply_forced(overlay, item, fee_recipient, params, withdrawals))
            fees += outcomes[-1].fee_wei

    if transactions is None:
        try:
            transactions = [decode_transaction(raw) for raw in block.transactions]
        except ProtocolError as error:
            raise BlockContainsInvalidTransaction(f"undecodable transaction: {error}") from None
    tx_hashes = []
    for position, tx in enumerate(transactions):
        try:
            outcome = _execute(overlay, tx, fee_recipient, params, withdrawals)
        except InvalidTransaction as error:
            failure = BlockContainsInvalidTransaction(
                f"transaction {position} (0x{tx.hash.hex()}): {error.name}: {error}")
            # A witness for the fraud proof must prove what was read before the failure.
            failure.touched = frozenset(overlay.accounts)
            raise failure from None
        outcomes.append(outcome)
        fees += outcome.fee_wei
        tx_hashes.append(tx.hash)
        if position % STEP_TXS == STEP_TXS - 1:
            yield

    touched = frozenset(overlay.accounts)
    yield from overlay.flush_steps(STEP_TXS)
    yield from state.root_steps()
    return BlockOutput(
        state_root=state.state_root(),
        withdrawals_root=compute_withdrawals_root(withdrawals),
        withdrawals=tuple(withdrawals),
        outcomes=tuple(outcomes),
        tx_hashes=tuple(tx_hashes),
        touched=touched,
        fees_wei=fees,
    )


def _apply_forced(overlay: _Overlay, item: QueueItem, fee_recipient: bytes, params: ChainParams,
                  withdrawals: list[Withdrawal]) -> TxOutcome:
    tx_hash = keccak256(item.raw_tx)
    try:
        tx = decode_transaction(item.raw_tx)
    except ProtocolError as error:
        return TxOutcome(tx_hash, b"", b"", 0, 0, 0, forced=True, applied=False,
                         reason=f"{error.name}: {error}")
    try:
        outcome = _execute(overlay, tx, fee_recipient, params, withdrawals)
    except InvalidTransaction as error:
        return TxOutcome(tx_hash, tx.sender, tx.to or b"", tx.value, 0, 0, forced=True,
                         applied=False, reason=f"{error.name}: {error}")
    return TxOutcome(outcome.tx_hash, outcome.sender, outcome.to, outcome.value, outcome.fee_wei,
                     outcome.gas_price_wei, forced=True)


# --- validation ---------------------------------------------------------------------------


def validate_header_link(header: Header, parent: Header, params: ChainParams) -> None:
    """Number, parent hash, slot after the parent's, timestamp inside the slot."""
    if header.number != parent.number + 1:
        raise WrongParent(f"block number {header.number} does not follow parent {parent.number}")
    if header.parent_hash != parent.hash:
        raise WrongParent(f"parent_hash 0x{header.parent_hash.hex()} != parent 0x{parent.hash.hex()}")
    if header.slot <= parent.slot:
        raise SlotNotAfterParent(f"slot {header.slot} is not after the parent's slot {parent.slot}")
    start = compute_slot_start_ms(header.slot, params)
    if not start <= header.timestamp_ms < start + params.slot_ms:
        raise TimestampOutsideSlot(
            f"timestamp {header.timestamp_ms} outside slot {header.slot} "
            f"[{start}, {start + params.slot_ms})")


def validate_quorum_certificate(qc: QuorumCertificate | None, parent: Header,
                                parent_set: SequencerSet | None, params: ChainParams) -> None:
    """The parent QC carries valid attestations to the parent from > 2/3 of its epoch's power.

    Spec: docs/spec/blocks.md#quorum-certificates
    """
    if parent.number == 0:
        if qc is not None:
            raise BadQuorumCertificate("the genesis block takes no QC")
        return
    if qc is None:
        raise MissingQuorum(f"no QC for parent block {parent.number}")
    if parent_set is None:
        raise MissingQuorum(f"no sequencer set known for the parent's slot {parent.slot}")
    if (qc.block_hash, qc.number, qc.slot) != (parent.hash, parent.number, parent.slot):
        raise BadQuorumCertificate(
            f"QC is for block {qc.number} slot {qc.slot} 0x{qc.block_hash.hex()[:16]}.., "
            f"not the parent {parent.number} slot {parent.slot}")
    obj_hash = compute_attestation_hash(qc.block_hash, qc.number, qc.slot)
    seen: set[bytes] = set()
    for node_key, signature in qc.signers:
        if node_key in seen:
            raise BadQuorumCertificate(f"QC counts attester {node_key.hex()[:16]}.. twice")
        seen.add(node_key)
        if parent_set.get_member(node_key) is None:
            raise BadQuorumCertificate(
                f"QC attester {node_key.hex()[:16]}.. is not in epoch {parent_set.epoch}'s set")
        if not verify_node_signature(node_key, b"attestation", params.chain_id, obj_hash, signature):
            raise BadQuorumCertificate(f"QC attestation by {node_key.hex()[:16]}.. does not verify")
    if not parent_set.has_quorum(seen):
        power = sum(parent_set.get_member(k).power for k in seen)
        raise MissingQuorum(
            f"QC power {power} is not more than 2/3 of {parent_set.total_power}")


def compute_due_queue_index(queue: Sequence[QueueItem], l1_origin: int,
                            params: ChainParams) -> int:
    """Index after the last item of `queue` (pending items, in order) that is due at
    `l1_origin`: an item enqueued at L1 block b is due once l1_origin >= b + force_delay.

    Spec: docs/spec/l1-queue.md#deadline
    """
    due = queue[0].index if queue else 0
    for item in queue:
        if item.l1_block + params.force_delay_l1_blocks > l1_origin:
            break
        due = item.index + 1
    return due


def validate_queue_consumption(block: Block, parent: Header, queue: Sequence[QueueItem],
                               params: ChainParams) -> None:
    """Queue items consumed in order, equal to L1's, and none that is due left behind.
    `queue` holds L1's items from parent.l1_queue_index on."""
    header = block.header
    start = parent.l1_queue_index
    count = header.l1_queue_index - start
    if count < 0:
        raise BadQueueItems(f"l1_queue_index {header.l1_queue_index} goes back from {start}")
    if count != len(block.queue_items):
        raise BadQueueItems(
            f"header consumes {count} queue items but the body carries {len(block.queue_items)}")
    if count > len(queue) or (queue and queue[0].index != start):
        raise BadQueueItems(
            f"block consumes queue items [{start}, {header.l1_queue_index}) that L1 does not hold")
    for offset, item in enumerate(block.queue_items):
        if item != queue[offset]:
            raise BadQueueItems(f"queue item {start + offset} differs from L1's")
    due = compute_due_queue_index(queue, header.l1_origin, params)
    if header.l1_queue_index < due:
        raise QueueItemSkipped(
            f"queue item {header.l1_queue_index} is due at l1_origin {header.l1_origin} "
            f"(items up to {due - 1} are due) but was not consumed")


def validate_block_envelope(block: Block, parent: Header, sequencer_set: SequencerSet,
                            parent_set: SequencerSet | None, queue: Sequence[QueueItem],
                            l1_head: int, params: ChainParams,
                            jailed: Collection[bytes] = ()) -> None:
    """Every rule but execution: the checks L1 runs on each submitted block.

    Spec: docs/spec/blocks.md#validity
    """
    header = block.header
    validate_header_link(header, parent, params)
    if sequencer_set.epoch != compute_epoch(header.slot, params):
        raise WrongLeader(f"sequencer set of epoch {sequencer_set.epoch} given for slot {header.slot}")
    leader = compute_leader(sequencer_set, header.slot, params)
    if header.producer != leader:
        raise WrongLeader(
            f"slot {header.slot} is led by {leader.hex()[:16]}.., not {header.producer.hex()[:16]}..")
    if header.producer in jailed:
        raise ProducerJailed(f"producer {header.producer.hex()[:16]}.. is jailed")
    if not verify_node_signature(header.producer, b"block", params.chain_id, header.hash,
                                 block.signature):
        raise InvalidSignature(f"block {header.number}: producer signature does not verify")
    validate_quorum_certificate(header.parent_qc, parent, parent_set, params)
    tx_root = compute_tx_root(keccak256(raw) for raw in block.transactions)
    if tx_root != header.tx_root:
        raise BadTxRoot(f"tx_root 0x{header.tx_root.hex()} != computed 0x{tx_root.hex()}")
    if not parent.l1_origin <= header.l1_origin <= l1_head:
        raise BadL1Origin(
            f"l1_origin {header.l1_origin} outside [parent's {parent.l1_origin}, L1 head {l1_head}]")
    validate_queue_consumption(block, parent, queue, params)


def validate_block(block: Block, parent: Header, parent_state: State, sequencer_set: SequencerSet,
                   parent_set: SequencerSet | None, queue: Sequence[QueueItem], l1_head: int,
                   params: ChainParams, jailed: Collection[bytes] = (),
                   transactions: Sequence[Transaction] | None = None) -> tuple[State, BlockOutput]:
    """Full validation: the envelope, then re-execution on a copy of the parent's state.
    Returns the post-state and the output; `parent_state` is left unchanged.

    Spec: docs/spec/blocks.md#validity
    """
    return run_steps(validate_block_steps(block, parent, parent_state, sequencer_set, parent_set,
                                          queue, l1_head, params, jailed, transactions))


def validate_block_steps(block: Block, parent: Header, parent_state: State,
                         sequencer_set: SequencerSet, parent_set: SequencerSet | None,
                         queue: Sequence[QueueItem], l1_head: int, params: ChainParams,
                         jailed: Collection[bytes] = (),
                         transactions: Sequence[Transaction] | None = None,
                         ) -> Generator[None, None, tuple[State, BlockOutput]]:
    """`validate_block` in slices (see apply_block_steps)."""
    validate_block_envelope(block, parent, sequencer_set, parent_set, queue, l1_head, params, jailed)
    yield
    member = sequencer_set.get_member(block.header.producer)
    state = parent_state.copy()
    output = yield from apply_block_steps(state, block, member.operator, params, transactions)
    validate_block_output(block.header, output)
    return state, output


def validate_block_output(header: Header, output: BlockOutput) -> None:
    if output.state_root != header.state_root:
        raise BadStateRoot(
            f"block {header.number}: state root 0x{header.state_root.hex()} != re-executed "
            f"0x{output.state_root.hex()}")
    if output.withdrawals_root != header.withdrawals_root:
        raise BadWithdrawalsRoot(
            f"block {header.number}: withdrawals root 0x{header.withdrawals_root.hex()} != "
            f"re-executed 0x{output.withdrawals_root.hex()}")


# --- production ---------------------------------------------------------------------------


def build_block(parent: Header, parent_state: State, *, slot: int, timestamp_ms: int,
                producer: NodeKey, fee_recipient: bytes, params: ChainParams,
                transactions: Sequence[Transaction] = (), queue_items: Sequence[QueueItem] = (),
                l1_origin: int | None = None, parent_qc: QuorumCertificate | None = None,
                ) -> tuple[Block, State, BlockOutput]:
    """Execute and sign a block on `parent` (whose state is copied, not changed).
    The caller chooses valid transactions; an invalid one raises as in apply_block.

    Spec: docs/spec/blocks.md#production
    """
    return run_steps(build_block_steps(
        parent, parent_state, slot=slot, timestamp_ms=timestamp_ms, producer=producer,
        fee_recipient=fee_recipient, params=params, transactions=transactions,
        queue_items=queue_items, l1_origin=l1_origin, parent_qc=parent_qc))


def build_block_steps(parent: Header, parent_state: State, *, slot: int, timestamp_ms: int,
                      producer: NodeKey, fee_recipient: bytes, params: ChainParams,
                      transactions: Sequence[Transaction] = (),
                      queue_items: Sequence[QueueItem] = (), l1_origin: int | None = None,
                      parent_qc: QuorumCertificate | None = None,
                      ) -> Generator[None, None, tuple[Block, State, BlockOutput]]:
    """`build_block` in slices (see apply_block_steps)."""
    state = parent_state.copy()
    body = Block(header=parent, signature=b"", queue_items=tuple(queue_items),
                 transactions=tuple(tx.raw for tx in transactions))
    output = yield from apply_block_steps(state, body, fee_recipient, params, transactions)
    header = Header(
        number=parent.number + 1,
        parent_hash=parent.hash,
        slot=slot,
        timestamp_ms=timestamp_ms,
        producer=producer.public,
        tx_root=compute_tx_root(output.tx_hashes),
        state_root=output.state_root,
        withdrawals_root=output.withdrawals_root,
        l1_origin=parent.l1_origin if l1_origin is None else l1_origin,
        l1_queue_index=parent.l1_queue_index + len(queue_items),
        parent_qc=parent_qc,
    )
    block = Block(header=header, signature=producer.sign(b"block", params.chain_id, header.hash),
                  queue_items=tuple(queue_items), transactions=body.transactions)
    return block, state, output


def sign_header(header: Header, producer: NodeKey, params: ChainParams) -> bytes:
    return producer.sign(b"block", params.chain_id, header.hash)
