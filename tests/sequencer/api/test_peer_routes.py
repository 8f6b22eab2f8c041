"""Peer routes (signed by node keys, accepted only from registered sequencers) and the batched
forwarding path, in process: the fast-lane routes must answer exactly as the FastAPI ones."""

from __future__ import annotations

import orjson
import pytest

from protocol.exceptions import ProtocolError
from protocol.receipts import receipt_from_json, verify_receipt
from protocol.signing import NodeKey
from sequencer.peers import sign_peer_headers

from ..helpers import client_of, make_net, run, transfer


async def _open_slot(net, slot: int):
    params = net.params
    for earlier in range(1, slot):
        await net.run_slot(earlier)
    await net.tick_all(params.genesis_time_ms + slot * params.slot_ms + params.parent_wait_ms)
    return await net.leader(slot)


def test_peer_messages_need_a_valid_signature_from_a_registered_key(tmp_path):
    async def scenario():
        net = await make_net(tmp_path)
        try:
            leader = await _open_slot(net, 2)
            peer = next(n for n in net.nodes if n is not leader)
            body = orjson.dumps({"raws": ["0x" + transfer(net.params, 0, 0).hex()]})
            path = "/peer/forward_batch"
            now = net.clock.now_ms()
            async with client_of(net, leader.settings.name) as client:
                unsigned = await client.post(path, content=body,
                                             headers={"content-type": "application/json"})
                assert unsigned.status_code == 401, unsigned.text
                assert "X-Seqnet-Signature" in unsigned.json()["detail"]

                stranger = NodeKey.from_seed(b"\x42" * 32)
                headers = sign_peer_headers(stranger, net.params.chain_id, path, body, now)
                unknown = await client.post(path, content=body, headers=headers)
                assert unknown.status_code == 403, unknown.text
                assert "not a sequencer registered on L1" in unknown.json()["detail"]

                headers = sign_peer_headers(peer.key, net.params.chain_id, path, body, now)
                forged = orjson.dumps({"raws": ["0x" + transfer(net.params, 1, 0).hex()]})
                tampered = await client.post(path, content=forged, headers=headers)
                assert tampered.status_code == 401, tampered.text
                assert "does not verify" in tampered.json()["detail"]

                other_chain = sign_peer_headers(peer.key, net.params.chain_id + 1, path, body, now)
                assert (await client.post(path, content=body, headers=other_chain)).status_code == 401

                stale = sign_peer_headers(peer.key, net.params.chain_id, path, body, now - 3_600_000)
                assert (await client.post(path, content=body, headers=stale)).status_code == 401
            assert leader.session.txs == []  # nothing refused was sequenced
        finally:
            await net.close()
    run(scenario())


def test_forward_batch_answers_one_result_per_transaction_in_order(tmp_path):
    async def scenario():
        net = await make_net(tmp_path)
        try:
            leader = await _open_slot(net, 2)
            peer = next(n for n in net.nodes if n is not leader)
            good = [transfer(net.params, 2, 0), transfer(net.params, 3, 0), transfer(net.params, 2, 1)]
            too_low = transfer(net.params, 3, 0, value=1)  # nonce 0 again: NonceTooLow
            raws = ["0x" + good[0].hex(), "0xzz", "0x" + good[1].hex(), "0x" + too_low.hex(),
                    "0x" + good[2].hex()]
            answer = await peer.peer_client.post(f"http://{leader.settings.name}",
                                                 "/peer/forward_batch", {"raws": raws})
            results = answer["results"]
            assert len(results) == 5
            receipts = [receipt_from_json(results[i]["receipt"]) for i in (0, 2, 4)]
            assert [r.index for r in receipts] == [0, 1, 2]
            assert all(r.leader == leader.key.public and verify_receipt(r, net.params.chain_id)
                       for r in receipts)
            assert results[1]["status"] == 400 and results[1]["error"] == "InvalidEncoding"
            assert results[3]["status"] == 400 and results[3]["error"] == "NonceTooLow"
            assert len(leader.session.txs) == 3
            # group commit: every receipt answered is in the leader's database already
            from sequencer import repo
            for receipt in receipts:
                row = repo.get_receipt(leader.engine, receipt.tx_hash)
                assert row is not None and (row.slot, row.idx) == (receipt.slot, receipt.index)
            assert leader.receipt_writer.deferred is None
        finally:
            await net.close()
    run(scenario())


class RefusingSqlite:
    """The receipt writer's SQLite connection, refusing every write after the first `allow`
    (a full disk)."""

    def __init__(self, inner, allow: int = 0):
        self.inner = inner
        self.allow = allow

    def _write(self, method: str, *args):
        if self.allow <= 0:
            raise OSError("disk full")
        self.allow -= 1
        return getattr(self.inner, method)(*args)

    def execute(self, *args):
        return self._write("execute", *args)

    def executemany(self, *args):
        return self._write("executemany", *args)

    def commit(self):
        self.inner.commit()

    def rollback(self):
        self.inner.rollback()


def test_forward_batch_answers_no_receipt_the_database_refused(tmp_path):
    """A failed group commit: no receipt is answered, kept in memory or gossiped."""
    async def scenario():
        net = await make_net(tmp_path)
        try:
            leader = await _open_slot(net, 2)
            peer = next(n for n in net.nodes if n is not leader)
            raws = [transfer(net.params, 2, 0), transfer(net.params, 3, 0)]
            writer = leader.receipt_writer
            real, writer.sqlite = writer.sqlite, RefusingSqlite(writer.sqlite)
            try:
                answer = await peer.peer_client.post(f"http://{leader.settings.name}",
                                                     "/peer/forward_batch",
                                                     {"raws": ["0x" + r.hex() for r in raws]})
            finally:
                writer.sqlite = real
            results = answer["results"]
            assert [r.get("error") for r in results] == ["NodeUnavailable"] * 2, results
            assert all(r["status"] == 503 and "disk full" in r["detail"] for r in results)
            hashes = {leader.decode(r).hash for r in raws}
            assert not hashes & set(leader.receipts)
            assert not any(item.get("receipt") for item in leader.gossip_buffer)
            from sequencer import repo
            assert all(repo.get_receipt(leader.engine, h) is None for h in hashes)
        finally:
            await net.close()
    run(scenario())


def test_non_leader_forwards_concurrent_transactions_in_few_batches(tmp_path):
    async def scenario():
        import asyncio

        from sequencer.core import intake
        net = await make_net(tmp_path)
        try:
            leader = await _open_slot(net, 2)
            peer = next(n for n in net.nodes if n is not leader)
            raws = [transfer(net.params, sender, nonce) for sender in range(4)
                    for nonce in range(5)]
            receipts = await asyncio.gather(*(intake.submit(peer, raw) for raw in raws))
            assert sorted(r.index for r in receipts) == list(range(len(raws)))
            assert all(r.leader == leader.key.public for r in receipts)
            # 20 transactions submitted at once went out in at most 2 requests (one per lane
            # slot), not 20
            assert peer.forwarder.batches_sent <= 2
            assert len(leader.session.txs) == len(raws)
        finally:
            await net.close()
    run(scenario())


def test_forward_batch_waits_for_the_leaders_session_to_open(tmp_path):
    """Forwarded to the leader of the slot before its session opened (the slot just began):
    held, then receipted in that slot (the path that commits the group and waits)."""
    async def scenario():
        import asyncio

        net = await make_net(tmp_path)
        try:
            params = net.params
            await net.run_slot(1)
            await net.run_slot(2)
            leader = await net.leader(3)
            peer = next(n for n in net.nodes if n is not leader)
            start3 = params.genesis_time_ms + 3 * params.slot_ms
            await net.clock.set_ms(start3 + 1, settle=1)
            leader.session = None  # as if its loop had not ticked yet in slot 3
            raws = ["0x" + transfer(params, 2, 0).hex(), "0x" + transfer(params, 3, 0).hex()]
            task = asyncio.create_task(peer.peer_client.post(
                f"http://{leader.settings.name}", "/peer/forward_batch", {"raws": raws}))
            for _ in range(5):
                await asyncio.sleep(0.01)
            assert not task.done()  # held: no session yet
            await net.tick_all(start3 + params.parent_wait_ms)
            results = (await asyncio.wait_for(task, 10))["results"]
            receipts = [receipt_from_json(r["receipt"]) for r in results]
            assert [(r.slot, r.index) for r in receipts] == [(3, 0), (3, 1)]
        finally:
            await net.close()
    run(scenario())


def test_submit_answers_no_receipt_the_database_refused(tmp_path):
    """POST /txs: a receipt whose write fails at once, or whose group commit fails, is
    answered 503 and taken back (not remembered, not gossiped), as forward_batch's are; a
    retry does not get a receipt the database never held."""
    import asyncio

    from sequencer import repo
    from sequencer.core import intake

    async def scenario():
        net = await make_net(tmp_path)
        try:
            leader = await _open_slot(net, 2)
            writer = leader.receipt_writer
            real = writer.sqlite
            first = transfer(net.params, 2, 0)
            writer.sqlite = RefusingSqlite(real)                  # the write at once fails
            try:
                async with client_of(net, leader.settings.name) as client:
                    response = await client.post("/txs", json={"raw": "0x" + first.hex()})
            finally:
                writer.sqlite = real
            assert response.status_code == 503, response.text
            assert response.json()["error"] == "NodeUnavailable"
            assert "disk full" in response.json()["detail"]
            assert leader.decode(first).hash not in leader.receipts

            # one turn of the loop: the first few commit at once, the last is queued and its
            # group commit fails
            raws = [transfer(net.params, sender, 0) for sender in
                    range(3, 4 + repo.IMMEDIATE_PER_TURN)]
            writer.sqlite = RefusingSqlite(real, allow=repo.IMMEDIATE_PER_TURN)
            try:
                results = await asyncio.gather(*(intake.submit(leader, raw) for raw in raws),
                                               return_exceptions=True)
            finally:
                writer.sqlite = real
            *stored, refused = results
            assert all(r.tx_hash == leader.decode(raw).hash for r, raw in zip(stored, raws))
            assert isinstance(refused, intake.NodeUnavailable), refused
            lost = leader.decode(raws[-1])
            assert lost.hash not in leader.receipts
            assert not any(item["raw"] == "0x" + lost.raw.hex() for item in leader.gossip_buffer)
            assert repo.get_receipt(leader.engine, lost.hash) is None
            with pytest.raises(ProtocolError):                    # no unstored receipt
                await intake.submit(leader, raws[-1])
        finally:
            await net.close()
    run(scenario())


def test_a_drain_the_database_refuses_keeps_and_gossips_no_receipt(tmp_path):
    """A leader's session takes the pool (drain_mempool) with one commit; its receipts used to
    be remembered and queued for gossip before that commit, so a refused commit left peers
    hearing of receipts the database never held."""
    from sequencer.core import producer

    async def scenario():
        net = await make_net(tmp_path)
        try:
            leader = await _open_slot(net, 2)
            pooled = [leader.decode(transfer(net.params, sender, 0)) for sender in (2, 3)]
            for tx in pooled:
                leader.mempool.add(tx, None, net.clock.now_ms())
            writer = leader.receipt_writer
            real, writer.sqlite = writer.sqlite, RefusingSqlite(writer.sqlite)
            try:
                with pytest.raises(OSError, match="disk full"):
                    producer.drain_mempool(leader, leader.session)
            finally:
                writer.sqlite = real
            hashes = {tx.hash for tx in pooled}
            assert not hashes & set(leader.receipts)
            assert not any(item["raw"] == "0x" + tx.raw.hex()
                           for tx in pooled for item in leader.gossip_buffer)
            assert all(leader.mempool.get(h).receipt is None for h in hashes)
        finally:
            await net.close()
    run(scenario())
