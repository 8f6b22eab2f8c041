"""Transactions known to this node and not yet on its canonical chain.

Order: transactions another leader receipted come first by (slot, index) (a leader that
could not seal hands them over in receipt order), then the rest by arrival.

Spec: docs/spec/sequencer.md#mempool
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from protocol.receipts import Receipt
from protocol.transactions import Transaction

_NO_RECEIPT = (1 << 62, 0)


@dataclass
class PoolEntry:
    tx: Transaction
    receipt: Receipt | None
    seq: int
    received_ms: int

    @property
    def order(self) -> tuple[int, int, int]:
        if self.receipt is None:
            return (*_NO_RECEIPT, self.seq)
        return (self.receipt.slot, self.receipt.index, self.seq)


class Mempool:
    def __init__(self) -> None:
        self.entries: dict[bytes, PoolEntry] = {}
        self._seq = itertools.count()

    def __len__(self) -> int:
        return len(self.entries)

    def __contains__(self, tx_hash: bytes) -> bool:
        return tx_hash in self.entries

    def get(self, tx_hash: bytes) -> PoolEntry | None:
        return self.entries.get(tx_hash)

    def add(self, tx: Transaction, receipt: Receipt | None = None, now_ms: int = 0) -> PoolEntry:
        entry = self.entries.get(tx.hash)
        if entry is None:
            entry = PoolEntry(tx, receipt, next(self._seq), now_ms)
            self.entries[tx.hash] = entry
        elif receipt is not None and (entry.receipt is None or receipt.slot < entry.receipt.slot):
            entry.receipt = receipt
        return entry

    def remove(self, tx_hash: bytes) -> None:
        self.entries.pop(tx_hash, None)

    def ordered(self) -> list[PoolEntry]:
        return sorted(self.entries.values(), key=lambda e: e.order)
