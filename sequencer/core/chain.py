"""The block tree this node holds in memory, fork choice and head labels.

Every valid block is kept with its post-state (State.copy is O(1)), its decoded transactions
and, once known, its QC. The canonical chain is the fork-choice path: among the descendants
of the anchor (the newest block L1 accepted that this node holds; genesis at first), the
block with the highest slot, ties broken by the lowest hash. A valid block always carries a QC
for its parent, so every block of a chain but its tip is attested (DESIGN.md section 4).

Head labels: unsafe (valid, gossiped), attested (QC known), safe (on L1's accepted chain),
finalized (L1's challenge window passed).

Spec: docs/spec/sequencer.md#fork-choice
"""

from __future__ import annotations

from dataclasses import dataclass, field

from protocol.blocks import QUEUE_FORCED_TX, Block, QuorumCertificate
from protocol.state import State
from protocol.transactions import Transaction
from protocol.transition import BlockOutput, TxOutcome

UNSAFE, ATTESTED, SAFE, FINALIZED = "unsafe", "attested", "safe", "finalized"


@dataclass
class Entry:
    block: Block
    state: State
    output: BlockOutput | None
    txs: tuple[Transaction, ...]
    qc: QuorumCertificate | None = None
    """A QC for this block (from the child's header or assembled from attestations)."""
    received_ms: int = 0
    fee_recipient: bytes = b"\x00" * 20
    children: list[bytes] = field(default_factory=list)

    @property
    def hash(self) -> bytes:
        return self.block.hash

    @property
    def number(self) -> int:
        return self.block.header.number

    @property
    def slot(self) -> int:
        return self.block.header.slot


def forced_outcomes(entry: Entry) -> tuple[TxOutcome, ...]:
    """What the block's forced (L1 queue) transactions did, in queue order (applied or
    skipped as invalid); they come first among the block's outcomes."""
    if entry.output is None:
        return ()
    count = sum(1 for item in entry.block.queue_items if item.kind == QUEUE_FORCED_TX)
    return entry.output.outcomes[:count]


class ChainStore:
    def __init__(self, genesis: Block, genesis_state: State) -> None:
        self.genesis_hash = genesis.hash
        self.entries: dict[bytes, Entry] = {
            genesis.hash: Entry(genesis, genesis_state, None, ())}
        self.canonical: list[bytes] = [genesis.hash]
        self.tx_index: dict[bytes, tuple[bytes, int]] = {}
        """tx hash -> (block hash, position) for the canonical chain (sequenced txs)."""
        self.forced_index: dict[bytes, tuple[bytes, int]] = {}
        """tx hash -> (block hash, position among the block's forced transactions) for the
        transactions of the canonical chain that came through the L1 queue."""
        self.by_slot: dict[int, list[bytes]] = {}
        self.anchor: bytes = genesis.hash
        self.l1_accepted: tuple[int, bytes] = (0, genesis.hash)
        self.l1_finalized: tuple[int, bytes] = (0, genesis.hash)
        self.safe_number = 0
        self.finalized_number = 0

    # --- reads ------------------------------------------------------------------------------

    def get(self, block_hash: bytes) -> Entry | None:
        return self.entries.get(block_hash)

    @property
    def head(self) -> Entry:
        return self.entries[self.canonical[-1]]

    def at(self, number: int) -> Entry | None:
        if 0 <= number < len(self.canonical):
            return self.entries[self.canonical[number]]
        return None

    def is_canonical(self, block_hash: bytes) -> bool:
        entry = self.entries.get(block_hash)
        return entry is not None and self.at(entry.number) is entry

    def attested_head(self) -> Entry:
        head = self.head
        if head.qc is not None or head.number == 0:
            return head
        return self.entries[self.canonical[-2]]

    def label(self, entry: Entry) -> str:
        if self.is_canonical(entry.hash):
            if entry.number <= self.finalized_number:
                return FINALIZED
            if entry.number <= self.safe_number:
                return SAFE
        if entry.qc is not None or entry.number == 0:
            return ATTESTED
        return UNSAFE

    def head_for_label(self, label: str) -> Entry:
        if label == FINALIZED:
            return self.entries[self.canonical[self.finalized_number]]
        if label == SAFE:
            return self.entries[self.canonical[self.safe_number]]
        if label == ATTESTED:
            return self.attested_head()
        return self.head

    def descendants(self, root: bytes) -> list[Entry]:
        out, stack = [], [root]
        while stack:
            entry = self.entries[stack.pop()]
            out.append(entry)
            stack.extend(entry.children)
        return out

    def choose_parent(self, slot: int) -> Entry:
        """The block a leader of `slot` builds on: the newest block (highest slot below `slot`)
        descending from the anchor that is attested, or is genesis, or is of slot-1 (its QC
        normally arrives within milliseconds; the seal waits for it)."""
        best = self.entries[self.anchor]
        for entry in self.descendants(self.anchor):
            if entry.slot >= slot:
                continue
            if entry.qc is None and entry.number != 0 and entry.slot != slot - 1:
                continue
            if (entry.slot, best.hash) > (best.slot, entry.hash):
                best = entry
        return best

    # --- writes -----------------------------------------------------------------------------

    def add(self, entry: Entry) -> None:
        block = entry.block
        if block.hash in self.entries:
            return
        parent = self.entries[block.header.parent_hash]
        self.entries[block.hash] = entry
        parent.children.append(block.hash)
        self.by_slot.setdefault(block.header.slot, []).append(block.hash)
        if block.header.parent_qc is not None and parent.qc is None:
            parent.qc = block.header.parent_qc

    def remove_subtree(self, root: bytes) -> list[Entry]:
        """Drop `root` and its descendants (a block L1 rolled back); returns them."""
        removed = [e for e in self.descendants(root)]
        root_entry = self.entries[root]
        parent = self.entries.get(root_entry.block.header.parent_hash)
        if parent is not None and root in parent.children:
            parent.children.remove(root)
        for entry in removed:
            del self.entries[entry.hash]
            hashes = self.by_slot.get(entry.slot, [])
            if entry.hash in hashes:
                hashes.remove(entry.hash)
        return removed

    def compute_head(self) -> Entry:
        best = self.entries[self.anchor]
        for entry in self.descendants(self.anchor):
            if (entry.slot, best.hash) > (best.slot, entry.hash):
                best = entry
        return best

    def update_canonical(self) -> tuple[list[Entry], list[Entry]]:
        """Re-run fork choice; returns (entries that left the canonical chain, entries that
        joined it), each in chain order."""
        head = self.compute_head()
        if head.hash == self.canonical[-1]:
            return [], []
        path = []
        entry = head
        while not (entry.number < len(self.canonical)
                   and self.canonical[entry.number] == entry.hash):
            path.append(entry)
            entry = self.entries[entry.block.header.parent_hash]
        fork = entry.number
        left = [self.entries[h] for h in self.canonical[fork + 1:] if h in self.entries]
        for old in left:
            self._unindex(old)
        del self.canonical[fork + 1:]
        path.reverse()
        for new in path:
            self.canonical.append(new.hash)
            self._index(new)
        return left, path

    def reindex(self) -> None:
        """Rebuild the transaction indexes from the canonical chain (after a rollback)."""
        self.tx_index, self.forced_index = {}, {}
        for block_hash in self.canonical:
            self._index(self.entries[block_hash])

    def _index(self, entry: Entry) -> None:
        for position, tx in enumerate(entry.txs):
            self.tx_index[tx.hash] = (entry.hash, position)
        for position, outcome in enumerate(forced_outcomes(entry)):
            self.forced_index[outcome.tx_hash] = (entry.hash, position)

    def _unindex(self, entry: Entry) -> None:
        for tx in entry.txs:
            if self.tx_index.get(tx.hash, (None,))[0] == entry.hash:
                del self.tx_index[tx.hash]
        for outcome in forced_outcomes(entry):
            if self.forced_index.get(outcome.tx_hash, (None,))[0] == entry.hash:
                del self.forced_index[outcome.tx_hash]

    def set_l1_heads(self, accepted: tuple[int, bytes], finalized: tuple[int, bytes]) -> None:
        """L1's accepted and finalized heads: move the anchor and the safe/finalized labels."""
        self.l1_accepted = accepted
        self.l1_finalized = finalized
        number, block_hash = accepted
        if block_hash in self.entries:
            self.anchor = block_hash
        self.safe_number = self._agreeing(number, block_hash)
        self.finalized_number = min(self._agreeing(*finalized), self.safe_number)

    def _agreeing(self, number: int, block_hash: bytes) -> int:
        """The highest canonical number <= `number` known to be on L1's chain."""
        entry = self.entries.get(block_hash)
        if entry is not None and self.is_canonical(block_hash):
            return number
        return min(self.safe_number, len(self.canonical) - 1, number)
