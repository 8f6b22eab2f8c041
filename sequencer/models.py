"""The sequencer's tables (its own database; no other service reads it).

What is persisted is what a restart needs and cannot get back: every block this node accepted
(raw RLP and, once known, its QC), every transaction it receipted (committed before the receipt
is signed), and the slot of every attestation it signed (so that it never signs two blocks of
one slot, even across a crash). States are rebuilt by re-executing the blocks from genesis.

Spec: docs/spec/sequencer.md#storage
"""

from __future__ import annotations

from sqlalchemy import Column, Index, LargeBinary, String, Table

from nodekit.db import BigInt, make_metadata

metadata = make_metadata()

blocks = Table(
    "seq_blocks", metadata,
    Column("hash", LargeBinary, primary_key=True),
    Column("number", BigInt, nullable=False),
    Column("slot", BigInt, nullable=False),
    Column("parent_hash", LargeBinary, nullable=False),
    Column("raw", LargeBinary, nullable=False),
    Column("qc", LargeBinary, nullable=True),
    Column("fee_recipient", LargeBinary, nullable=False),
    Column("received_ms", BigInt, nullable=False),
)
Index("ix_seq_blocks_number", blocks.c.number)

receipts = Table(
    "seq_receipts", metadata,
    Column("tx_hash", LargeBinary, primary_key=True),
    Column("raw", LargeBinary, nullable=False),
    Column("slot", BigInt, nullable=False),
    Column("idx", BigInt, nullable=False),
    Column("prefix_hash", LargeBinary, nullable=False),
    Column("signature", LargeBinary, nullable=False),
    Column("received_ms", BigInt, nullable=False),
)
Index("ix_seq_receipts_slot", receipts.c.slot, receipts.c.idx)

votes = Table(
    "seq_votes", metadata,
    Column("slot", BigInt, primary_key=True),
    Column("block_hash", LargeBinary, nullable=False),
)

meta = Table(
    "seq_meta", metadata,
    Column("key", String(64), primary_key=True),
    Column("value", LargeBinary, nullable=False),
)
