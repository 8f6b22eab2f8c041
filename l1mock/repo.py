"""Reads and writes of the L1 mock's database: one function per query or write.

Spec: docs/adr/0002-l1-persistence.md
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import Engine, insert, select
from sqlalchemy.engine import Connection

from protocol.l1calls import L1Call

from .core.state import Event, StoredBlock
from .models import call_table, event_table, l1_block_table, l2_block_table, meta_table, metadata


def create_schema(engine: Engine) -> None:
    metadata.create_all(engine)


def get_meta(engine: Engine) -> dict[str, str]:
    with engine.connect() as conn:
        return {row.key: row.value for row in conn.execute(select(meta_table))}


def put_meta(engine: Engine, values: dict[str, str]) -> None:
    with engine.begin() as conn:
        conn.execute(insert(meta_table), [{"key": k, "value": v} for k, v in values.items()])


def insert_events(conn: Connection, events: Sequence[Event]) -> None:
    if events:
        conn.execute(insert(event_table), [
            {"id": e.id, "l1_block": e.l1_block, "kind": e.kind,
             "data": json.dumps(e.data, separators=(",", ":"))} for e in events])


def insert_l2_blocks(conn: Connection, blocks: Sequence[StoredBlock]) -> None:
    if blocks:
        conn.execute(insert(l2_block_table), [
            {"hash": b.hash, "number": b.number, "batch_id": b.batch_id, "l1_block": b.l1_block,
             "raw": b.raw} for b in blocks])


def insert_l1_block(conn: Connection, number: int, timestamp_ms: int) -> None:
    conn.execute(insert(l1_block_table), [{"number": number, "timestamp_ms": timestamp_ms}])


def insert_call(conn: Connection, seq: int, l1_block: int, call: L1Call,
                result: dict[str, Any]) -> None:
    conn.execute(insert(call_table), [{
        "seq": seq, "l1_block": l1_block, "method": call.method, "sender": call.sender,
        "nonce": call.nonce, "args": json.dumps(call.args, separators=(",", ":")),
        "signature": call.signature, "result": json.dumps(result, separators=(",", ":"))}])


def iter_inputs(engine: Engine) -> Iterator[tuple[str, Any]]:
    """Every input in the order it was applied: ("tick", (number, timestamp_ms)) for each L1
    block, followed by ("call", (seq, L1Call)) for the calls applied at that block."""
    with engine.connect() as blocks_conn, engine.connect() as calls_conn:
        blocks = blocks_conn.execution_options(yield_per=1000).execute(
            select(l1_block_table).order_by(l1_block_table.c.number))
        calls = calls_conn.execution_options(yield_per=200).execute(
            select(call_table).order_by(call_table.c.seq))
        pending = next(calls, None)
        for block in blocks:
            yield "tick", (block.number, block.timestamp_ms)
            while pending is not None and pending.l1_block <= block.number:
                call = L1Call(method=pending.method, sender=bytes(pending.sender),
                              nonce=pending.nonce, args=json.loads(pending.args),
                              signature=bytes(pending.signature))
                yield "call", (pending.seq, call)
                pending = next(calls, None)
        if pending is not None:
            raise RuntimeError(f"call {pending.seq} references L1 block {pending.l1_block}, "
                               "which the database does not hold")


def get_events(engine: Engine, after: int, limit: int, kinds: Sequence[str] = ()) -> list[dict]:
    query = select(event_table).where(event_table.c.id > after)
    if kinds:
        query = query.where(event_table.c.kind.in_(list(kinds)))
    query = query.order_by(event_table.c.id).limit(limit)
    with engine.connect() as conn:
        return [{"id": row.id, "l1_block": row.l1_block, "kind": row.kind,
                 "data": json.loads(row.data)} for row in conn.execute(query)]


def get_l2_block_raws(engine: Engine, hashes: Sequence[bytes]) -> dict[bytes, bytes]:
    if not hashes:
        return {}
    query = select(l2_block_table.c.hash, l2_block_table.c.raw).where(
        l2_block_table.c.hash.in_(list(hashes)))
    with engine.connect() as conn:
        return {bytes(row.hash): bytes(row.raw) for row in conn.execute(query)}


def get_call_result(engine: Engine, seq: int) -> dict | None:
    with engine.connect() as conn:
        row = conn.execute(select(call_table.c.result).where(call_table.c.seq == seq)).first()
    return None if row is None else json.loads(row.result)
