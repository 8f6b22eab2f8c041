"""One function per query or write of the sequencer's database.

The receipt path writes through `ReceiptWriter`: one prepared INSERT and one COMMIT per
receipt on a connection kept open (no ORM, no session), committed before the receipt is
released; a batch forwarded by a peer is committed once for all its receipts (group commit).
SQLite runs in WAL mode with synchronous=NORMAL: a committed transaction survives a crash of
the process (kill -9); only a power cut may lose the last ones (docs/spec/sequencer.md).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from sqlalchemy import Engine, insert, select, update
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from . import models


def _insert_for(engine: Engine, table):
    if engine.dialect.name == "sqlite":
        return sqlite_insert(table)
    from sqlalchemy.dialects.postgresql import insert as pg_insert

    return pg_insert(table)


RECEIPT_FIELDS = ("raw", "slot", "idx", "prefix_hash", "signature", "received_ms")


IMMEDIATE_PER_TURN = 4
"""Receipts committed one by one in a turn of the event loop before the rest of the turn is
grouped (`ReceiptWriter`): 1,000 tx/s brings at most a few per turn, full load dozens."""


class ReceiptWriter:
    """The hot-path writer of receipted transactions.

    On the event loop, the first IMMEDIATE_PER_TURN receipts of a turn of the loop are
    committed at once each; the others of that turn are queued and committed together, in one
    transaction, at the start of the next turn (group commit): a commit per receipt wrote its
    own WAL pages and cost the leader ~28 us per transaction, the largest item of its receipt
    path. Under light load nothing waits: a queued receipt's answer waits for the next turn,
    often behind a slice of block work, and a rule that queued more (whatever came within
    2 ms of a commit, or all but the first of a turn) raised the paced p99
    (docs/performance.md, 2026-11-25). A caller answers a client only after
    `await durable()`. Without a running loop (scripts, sync tests) `record` commits at once.
    `defer()`/`flush()` is the synchronous group commit of `POST /peer/forward_batch`.

    The write is an upsert: a transaction this node receipted in an earlier slot that got no
    block is receipted again in a later slot, and the newer receipt is the one that binds.
    A failed write is rolled back at once: the connection must never keep SQLite's write
    lock, or every other writer of the process would wait out the busy timeout on the loop.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.conn = engine.connect()
        stmt = _insert_for(engine, models.receipts)
        self.stmt = stmt.on_conflict_do_update(
            index_elements=["tx_hash"], set_={name: stmt.excluded[name] for name in RECEIPT_FIELDS})
        # SQLite: the same upsert straight on the DBAPI connection. SQLAlchemy's execute cost
        # ~30 us of the ~110 us a receipt's write took here (docs/performance.md); PostgreSQL
        # keeps the Core statement.
        self.sqlite = None
        if engine.dialect.name == "sqlite":
            self.sqlite = self.conn.connection.dbapi_connection
            columns = ("tx_hash",) + RECEIPT_FIELDS
            self.sqlite_sql = (
                f"INSERT INTO {models.receipts.name} ({', '.join(columns)}) "
                f"VALUES ({', '.join('?' for _ in columns)}) ON CONFLICT (tx_hash) DO UPDATE SET "
                + ", ".join(f"{name} = excluded.{name}" for name in RECEIPT_FIELDS))

        self.deferred: list[tuple] | None = None
        self.queued: list[tuple] = []
        self.commits_this_turn = 0
        self.flushed: asyncio.Future | None = None
        """Resolved when the queued rows are committed (or failed: the exception)."""

    async def durable(self) -> None:
        """Return once every row recorded so far is committed; raise what the commit raised."""
        if self.flushed is not None:
            await asyncio.shield(self.flushed)

    def _next_turn(self) -> None:
        """The start of the next turn of the loop: commit what the last one queued."""
        self.commits_this_turn = 0
        self._commit_queued()

    def _commit_queued(self) -> None:
        rows, self.queued = self.queued, []
        flushed, self.flushed = self.flushed, None
        try:
            if rows:
                self._write_tuples(rows)
        except Exception as error:  # noqa: BLE001 - handed to every waiting caller
            if flushed is not None and not flushed.done():
                flushed.set_exception(error)
                flushed.exception()  # retrieved here too: a caller may have gone away
            return
        if flushed is not None and not flushed.done():
            flushed.set_result(None)

    def defer(self) -> None:
        """Group commit: buffer `record`s until `flush()`. The caller releases none of the
        receipts before `flush()` returns, and does not yield to the event loop in between
        (another coroutine could otherwise hand out a receipt not yet committed)."""
        if self.deferred is None:
            self.deferred = []

    def flush(self) -> None:
        """Commit the queued and deferred records (in that order, in two transactions) and
        leave deferred mode."""
        if self.queued or self.flushed is not None:
            self._commit_queued()
        rows, self.deferred = self.deferred, None
        if rows:
            self._write_tuples(rows)

    def record(self, tx_hash: bytes, raw: bytes, slot: int, index: int, prefix_hash: bytes,
               signature: bytes, received_ms: int) -> None:
        row = (tx_hash, raw, slot, index, prefix_hash, signature, received_ms)
        if self.deferred is not None:
            self.deferred.append(row)
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._write_tuples([row])
            return
        if self.commits_this_turn < IMMEDIATE_PER_TURN and self.flushed is None:
            self._write_tuples([row])          # one of the first of this turn: at once
            if not self.commits_this_turn:
                loop.call_soon(self._next_turn)
            self.commits_this_turn += 1
            return
        self.queued.append(row)                # _next_turn, scheduled already, commits it
        if self.flushed is None:
            self.flushed = loop.create_future()

    def _write_tuples(self, rows: list[tuple]) -> None:
        if self.sqlite is None:
            columns = ("tx_hash",) + RECEIPT_FIELDS
            self._write([dict(zip(columns, row)) for row in rows])
            return
        try:
            if len(rows) == 1:
                self.sqlite.execute(self.sqlite_sql, rows[0])
            else:
                self.sqlite.executemany(self.sqlite_sql, rows)
            self.sqlite.commit()
        except BaseException:
            self.sqlite.rollback()
            raise

    def record_tuples(self, rows: list[tuple]) -> None:
        """Commit many receipts, (tx_hash, *RECEIPT_FIELDS) each, in one transaction."""
        self.flush()  # keep the order of writes: a later upsert of the same hash wins
        if rows:
            self._write_tuples(rows)

    def _write(self, rows: dict | list[dict]) -> None:
        try:
            self.conn.execute(self.stmt, rows)
            self.conn.commit()
        except BaseException:
            self.conn.rollback()
            raise

    def close(self) -> None:
        self.flush()
        self.conn.close()


def save_block(engine: Engine, block_hash: bytes, number: int, slot: int, parent_hash: bytes,
               raw: bytes, qc: bytes | None, fee_recipient: bytes, received_ms: int) -> None:
    with engine.begin() as conn:
        stmt = _insert_for(engine, models.blocks).on_conflict_do_nothing()
        conn.execute(stmt, {"hash": block_hash, "number": number, "slot": slot,
                            "parent_hash": parent_hash, "raw": raw, "qc": qc,
                            "fee_recipient": fee_recipient,
                            "received_ms": received_ms})


def save_qc(engine: Engine, block_hash: bytes, qc: bytes) -> None:
    with engine.begin() as conn:
        conn.execute(update(models.blocks).where(models.blocks.c.hash == block_hash)
                     .values(qc=qc))


def delete_blocks(engine: Engine, hashes: Iterable[bytes]) -> None:
    hashes = list(hashes)
    if not hashes:
        return
    with engine.begin() as conn:
        conn.execute(models.blocks.delete().where(models.blocks.c.hash.in_(hashes)))


def load_blocks(engine: Engine) -> list[tuple[bytes, bytes | None, bytes]]:
    """(raw, qc, fee_recipient) of every stored block, by number."""
    with engine.connect() as conn:
        rows = conn.execute(select(models.blocks.c.raw, models.blocks.c.qc,
                                   models.blocks.c.fee_recipient)
                            .order_by(models.blocks.c.number, models.blocks.c.slot)).all()
    return [(row.raw, row.qc, row.fee_recipient) for row in rows]


def load_receipts(engine: Engine) -> list:
    with engine.connect() as conn:
        return conn.execute(select(models.receipts)
                            .order_by(models.receipts.c.slot, models.receipts.c.idx)).all()


def get_receipt(engine: Engine, tx_hash: bytes):
    with engine.connect() as conn:
        return conn.execute(select(models.receipts)
                            .where(models.receipts.c.tx_hash == tx_hash)).first()


def record_vote(engine: Engine, slot: int, block_hash: bytes) -> bool:
    """Remember that this node attested `block_hash` in `slot`; False when it already attested
    another block of that slot (never sign a second one)."""
    with engine.begin() as conn:
        row = conn.execute(select(models.votes.c.block_hash)
                           .where(models.votes.c.slot == slot)).first()
        if row is not None:
            return row.block_hash == block_hash
        conn.execute(insert(models.votes), {"slot": slot, "block_hash": block_hash})
    return True


def load_votes(engine: Engine) -> dict[int, bytes]:
    with engine.connect() as conn:
        return {row.slot: row.block_hash for row in conn.execute(select(models.votes)).all()}
