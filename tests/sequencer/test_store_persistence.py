"""The sequencer's store on SQLite and PostgreSQL: what a restart needs survives it.

A leader receipts transactions (committed before it signs), produces and attests blocks; the
process goes away without a seal or any further write (a crash); a node started on the same
database has the same blocks with their QCs, every signed receipt (same signature), every vote,
and puts the receipted transactions back into its pool, which the chain then includes exactly
once. The repo-level test checks each write on both backends.

Spec: docs/spec/sequencer.md#storage
"""

from __future__ import annotations

import pytest

from nodekit.db import create_all, drop_postgres_test_schema, make_engine, postgres_test_url
from protocol.hashing import keccak256
from sequencer import models, repo

from .helpers import add_node, client_of, make_net, run, transfer


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.sqlite3'}"
        return
    url = postgres_test_url("seqnet_seq")
    if url is None:
        pytest.skip("PostgreSQL test skipped: no server answers at 127.0.0.1:5432 (database "
                    "test, trust auth; or set SEQNET_TEST_POSTGRES_URL)")
    try:
        yield url
    finally:
        drop_postgres_test_schema(url)


def test_repo_writes_survive_a_new_engine(database_url):
    engine = make_engine(database_url)
    create_all(engine, models.metadata)
    writer = repo.ReceiptWriter(engine)
    writer.record(b"\x01" * 32, b"raw-1", 5, 0, b"\xaa" * 32, b"\x51" * 64, 1000)
    writer.record_tuples([(b"\x02" * 32, b"raw-2", 5, 1, b"\xbb" * 32, b"\x52" * 64, 1001)])
    repo.save_block(engine, b"\x10" * 32, 1, 5, b"\x00" * 32, b"block-1", None, b"\x09" * 20, 7)
    repo.save_block(engine, b"\x10" * 32, 1, 5, b"\x00" * 32, b"block-1", None, b"\x09" * 20, 7)
    repo.save_block(engine, b"\x11" * 32, 2, 6, b"\x10" * 32, b"block-2", b"qc-2", b"\x09" * 20, 8)
    repo.save_qc(engine, b"\x10" * 32, b"qc-1")
    assert repo.record_vote(engine, 5, b"\x10" * 32)
    assert repo.record_vote(engine, 5, b"\x10" * 32)          # the same vote again: fine
    assert not repo.record_vote(engine, 5, b"\x12" * 32)      # a second block of slot 5: never
    writer.close()
    engine.dispose()

    engine = make_engine(database_url)                        # "restart"
    create_all(engine, models.metadata)
    assert repo.load_blocks(engine) == [(b"block-1", b"qc-1", b"\x09" * 20),
                                        (b"block-2", b"qc-2", b"\x09" * 20)]
    rows = repo.load_receipts(engine)
    assert [(r.tx_hash, r.raw, r.slot, r.idx, r.prefix_hash, r.signature) for r in rows] == [
        (b"\x01" * 32, b"raw-1", 5, 0, b"\xaa" * 32, b"\x51" * 64),
        (b"\x02" * 32, b"raw-2", 5, 1, b"\xbb" * 32, b"\x52" * 64)]
    assert repo.load_votes(engine) == {5: b"\x10" * 32}
    assert not repo.record_vote(engine, 5, b"\x12" * 32)
    writer = repo.ReceiptWriter(engine)    # receipted again in a later slot (drain): upsert
    writer.record_tuples([(b"\x02" * 32, b"raw-2", 7, 0, b"\xcc" * 32, b"\x53" * 64, 2000),
                          (b"\x03" * 32, b"raw-3", 7, 1, b"\xdd" * 32, b"\x54" * 64, 2000)])
    writer.close()
    assert repo.get_receipt(engine, b"\x02" * 32).slot == 7
    assert repo.get_receipt(engine, b"\x02" * 32).prefix_hash == b"\xcc" * 32
    assert repo.get_receipt(engine, b"\x03" * 32).idx == 1
    repo.delete_blocks(engine, [b"\x11" * 32])
    assert [raw for raw, _, _ in repo.load_blocks(engine)] == [b"block-1"]
    engine.dispose()


def test_leader_crash_and_restart_keeps_blocks_receipts_and_votes(tmp_path, database_url):
    async def scenario():
        net = await make_net(tmp_path)
        try:
            params = net.params
            # the leader of slot 3 keeps its store in `database_url`
            leader_key = await net.nodes[0].leader_of(3)
            index = next(i for i, n in enumerate(net.nodes) if n.key.public == leader_key)
            await net.nodes[index].close()
            await add_node(net, tmp_path, index, database_url=database_url)
            net.l1.genesis_hash = net.nodes[0].genesis_block.hash
            for node in net.nodes:
                await node.refresh_peers(force=True)
            await net.run_slot(1)
            await net.run_slot(2)
            start = params.genesis_time_ms + 3 * params.slot_ms
            await net.tick_all(start + params.parent_wait_ms)
            leader = net.nodes[index]
            assert leader.session is not None and leader.session.slot == 3
            raws = [transfer(params, 0, 0), transfer(params, 1, 0), transfer(params, 0, 1)]
            async with client_of(net, leader.settings.name) as client:
                for raw in raws:
                    response = await client.post("/txs", json={"raw": "0x" + raw.hex()})
                    assert response.status_code == 200, response.text
            before = {
                "head": leader.store.head.hash,
                "blocks": [leader.store.at(n).hash for n in range(leader.store.head.number + 1)],
                "qcs": {n: leader.store.at(n).qc for n in range(1, leader.store.head.number + 1)},
                "receipts": {h: leader.receipts[h] for h in map(keccak256, raws)},
                "votes": dict(leader.votes),
            }
            assert before["votes"] and all(before["qcs"][n] is not None for n in (1, 2))
            # crash before the seal: nothing more is written, nothing gossiped
            net.router.down.add(leader.settings.name)
            leader.gossip_buffer.clear()
            leader.session = None
            await leader.close()
            for node in net.nodes:
                if node is not leader:
                    for raw in raws:
                        node.mempool.remove(keccak256(raw))
            app = await add_node(net, tmp_path, index, database_url=database_url)
            restarted = app.state.node
            await restarted.refresh_peers(force=True)
            assert restarted.store.head.hash == before["head"]
            assert [restarted.store.at(n).hash for n in range(len(before["blocks"]))] == \
                before["blocks"]
            for number, qc in before["qcs"].items():
                assert restarted.store.at(number).qc == qc
            assert restarted.votes == before["votes"]
            for tx_hash, receipt in before["receipts"].items():
                assert restarted.receipts[tx_hash] == receipt      # same signature
                assert restarted.mempool.get(tx_hash).receipt == receipt
            # the chain goes on and includes every receipted transaction exactly once
            for slot in range(4, 10):
                await net.run_slot(slot)
            hashes = list(before["receipts"])
            for node in net.nodes:
                included = [tx.hash for n in range(1, node.store.head.number + 1)
                            for tx in node.store.at(n).txs]
                assert sorted(h for h in included if h in hashes) == sorted(hashes)
            assert len({n.store.head.hash for n in net.nodes}) == 1
        finally:
            await net.close()
    run(scenario())


def test_receipt_writer_replaces_an_earlier_receipt_and_never_keeps_the_write_lock(database_url):
    """A transaction receipted again in a later slot (its first slot got no block) replaces
    its row; a failed write is rolled back so the other writers of the process don't wait."""
    import time

    engine = make_engine(database_url)
    create_all(engine, models.metadata)
    writer = repo.ReceiptWriter(engine)
    tx_hash = keccak256(b"tx")
    writer.record(tx_hash, b"raw", 5, 0, b"\x01" * 32, b"\x02" * 64, 1000)
    writer.record(tx_hash, b"raw", 7, 3, b"\x03" * 32, b"\x04" * 64, 2000)
    rows = [r for r in repo.load_receipts(engine) if r.tx_hash == tx_hash]
    assert [(r.slot, r.idx, r.signature) for r in rows] == [(7, 3, b"\x04" * 64)]
    with pytest.raises(Exception):
        writer.record(tx_hash, None, 8, 0, b"\x05" * 32, b"\x06" * 64, 3000)  # raw NOT NULL
    started = time.monotonic()
    repo.save_block(engine, b"\x07" * 32, 1, 1, b"\x00" * 32, b"block", None, b"\x08" * 20, 1)
    assert time.monotonic() - started < 2.0, "save_block waited on a lock the writer kept"
    writer.record(keccak256(b"next"), b"raw2", 9, 0, b"\x09" * 32, b"\x0a" * 64, 4000)
    assert {r.tx_hash for r in repo.load_receipts(engine)} == {tx_hash, keccak256(b"next")}
    writer.close()
    engine.dispose()


def test_receipt_writer_group_commit_writes_in_order_and_rolls_back_whole(database_url):
    """Deferred records are committed together by flush(), after any earlier ones, so a later
    upsert of the same hash wins; a refused group leaves nothing behind and no lock."""
    import time

    engine = make_engine(database_url)
    create_all(engine, models.metadata)
    writer = repo.ReceiptWriter(engine)
    first, second = keccak256(b"g1"), keccak256(b"g2")
    writer.defer()
    writer.record(first, b"raw1", 5, 0, b"\x01" * 32, b"\x02" * 64, 1000)
    writer.record(second, b"raw2", 5, 1, b"\x03" * 32, b"\x04" * 64, 1000)
    writer.record(first, b"raw1", 6, 0, b"\x05" * 32, b"\x06" * 64, 2000)  # receipted again
    assert repo.load_receipts(engine) == []  # nothing committed before flush
    writer.flush()
    rows = {r.tx_hash: (r.slot, r.idx) for r in repo.load_receipts(engine)}
    assert rows == {first: (6, 0), second: (5, 1)}
    writer.defer()
    writer.record(keccak256(b"g3"), b"raw3", 7, 0, b"\x07" * 32, b"\x08" * 64, 3000)
    writer.record(keccak256(b"g4"), None, 7, 1, b"\x09" * 32, b"\x0a" * 64, 3000)  # NOT NULL
    with pytest.raises(Exception):
        writer.flush()
    assert writer.deferred is None
    assert {r.tx_hash for r in repo.load_receipts(engine)} == {first, second}
    started = time.monotonic()
    repo.save_block(engine, b"\x0b" * 32, 1, 1, b"\x00" * 32, b"block", None, b"\x0c" * 20, 1)
    assert time.monotonic() - started < 2.0, "save_block waited on a lock the writer kept"
    writer.close()
    engine.dispose()


def test_receipt_writer_commits_one_turn_of_the_loop_together(database_url):
    """On the event loop the first few receipts of a turn are committed at once and the
    others of that turn together at the start of the next; `durable()` returns once they are, and
    raises what the commit raised (nothing is answered on a receipt that is not stored)."""
    import asyncio

    engine = make_engine(database_url)
    create_all(engine, models.metadata)
    writer = repo.ReceiptWriter(engine)
    commits = []
    write = writer._write_tuples
    writer._write_tuples = lambda rows: (commits.append(len(rows)), write(rows))

    def record(name: bytes, slot: int, raw: bytes | None = b"raw") -> None:
        writer.record(keccak256(name), raw, slot, 0, b"\x01" * 32, b"\x02" * 64, slot)

    async def scenario():
        first = repo.IMMEDIATE_PER_TURN
        for i in range(first + 5):                       # one turn, under load
            record(bytes([i]), 5)
        assert commits == [1] * first                    # the first few, at once
        assert len(repo.load_receipts(engine)) == first  # the others queued
        await writer.durable()
        assert commits == [1] * first + [5]
        assert len(repo.load_receipts(engine)) == first + 5
        await writer.durable()                           # nothing queued: returns at once
        await asyncio.sleep(0)
        record(b"light", 6)                              # alone in its turn: at once
        assert commits == [1] * first + [5, 1] and writer.flushed is None
        for i in range(first - 1):                       # fill this turn's immediate ones
            record(b"more" + bytes([i]), 6)
        record(b"bad", 6, raw=None)                      # NOT NULL: refused at the commit
        with pytest.raises(Exception):
            await writer.durable()
        # a synchronous flush (forward_batch's group commit) writes the queue first, in order
        record(b"q", 7)
        writer.defer()
        record(b"q", 8)
        writer.flush()
        await writer.durable()
        rows = {r.tx_hash: r.slot for r in repo.load_receipts(engine)}
        assert rows[keccak256(b"q")] == 8 and len(rows) == first + 5 + 1 + first - 1 + 1

    asyncio.run(scenario())
    writer.close()
    engine.dispose()
