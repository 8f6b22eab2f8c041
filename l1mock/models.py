"""SQLAlchemy tables of the L1 mock (prefix `l1_`, so a shared database stays readable).

The inputs of the contract are the source of truth: `l1_blocks` (the clock) and `l1_calls`
(every accepted call, in order). `l1_events` and `l1_l2_blocks` are written in the same
transaction as the input that produced them and serve reads; they are never replayed.
See docs/adr/0002-l1-persistence.md.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, LargeBinary, MetaData, String, Table, Text

metadata = MetaData()

meta_table = Table(
    "l1_meta", metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)
"""Genesis hash, chain params and schema version of the database."""

l1_block_table = Table(
    "l1_blocks", metadata,
    Column("number", BigInteger, primary_key=True, autoincrement=False),
    Column("timestamp_ms", BigInteger, nullable=False),
)

call_table = Table(
    "l1_calls", metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("l1_block", BigInteger, nullable=False),
    Column("method", String(64), nullable=False),
    Column("sender", LargeBinary(20), nullable=False),
    Column("nonce", BigInteger, nullable=False),
    Column("args", Text, nullable=False),
    Column("signature", LargeBinary(65), nullable=False),
    Column("result", Text, nullable=False),
)
Index("ix_l1_calls_l1_block", call_table.c.l1_block)

event_table = Table(
    "l1_events", metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("l1_block", BigInteger, nullable=False),
    Column("kind", String(64), nullable=False),
    Column("data", Text, nullable=False),
)

l2_block_table = Table(
    "l1_l2_blocks", metadata,
    Column("hash", LargeBinary(32), primary_key=True),
    Column("number", BigInteger, nullable=False),
    Column("batch_id", Integer, nullable=False),
    Column("l1_block", BigInteger, nullable=False),
    Column("raw", LargeBinary, nullable=False),
)
Index("ix_l1_l2_blocks_number", l2_block_table.c.number)
