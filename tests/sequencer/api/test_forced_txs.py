"""Transactions forced through the L1 queue show up in JSON-RPC and REST like sequenced ones:
eth_getTransactionReceipt (status 1, or 0 with the reason when the transaction was invalid and
skipped), eth_getTransactionByHash and GET /txs/{hash}, on every node.

Spec: docs/spec/sequencer.md#rest-and-json-rpc
"""

from __future__ import annotations

from protocol.accounts import dev_accounts
from protocol.blocks import QUEUE_FORCED_TX, QueueItem
from protocol.hashing import keccak256

from ..helpers import client_of, make_net, run, transfer


def test_forced_transactions_have_json_rpc_receipts(tmp_path):
    async def scenario():
        net = await make_net(tmp_path)
        try:
            params = net.params
            sender = dev_accounts(10)[2]
            good = transfer(params, 2, 0, value=777)
            bad = transfer(params, 2, 5)  # nonce gap: skipped when executed
            net.l1.queue = [
                QueueItem(index=0, kind=QUEUE_FORCED_TX, l1_block=1, sender=sender.address,
                          raw_tx=good),
                QueueItem(index=1, kind=QUEUE_FORCED_TX, l1_block=1, sender=sender.address,
                          raw_tx=bad)]
            for slot in (1, 2, 3):
                await net.run_slot(slot)
            block = next(n for n in range(1, net.nodes[0].store.head.number + 1)
                         if net.nodes[0].store.at(n).block.queue_items)
            for node in net.nodes:
                async with client_of(net, node.settings.name) as client:
                    async def rpc(method, *args):
                        response = await client.post("/rpc", json={
                            "jsonrpc": "2.0", "id": 1, "method": method, "params": list(args)})
                        return response.json()["result"]
                    receipt = await rpc("eth_getTransactionReceipt", "0x" + keccak256(good).hex())
                    assert receipt is not None, node.settings.name
                    assert receipt["status"] == "0x1" and receipt["forced"] is True
                    assert receipt["blockNumber"] == hex(block)
                    assert receipt["transactionIndex"] == "0x0" and receipt["queueIndex"] == "0x0"
                    assert receipt["from"] == "0x" + sender.address.hex()
                    assert receipt["gasUsed"] == hex(21000)
                    skipped = await rpc("eth_getTransactionReceipt", "0x" + keccak256(bad).hex())
                    assert skipped["status"] == "0x0" and skipped["queueIndex"] == "0x1"
                    assert "Nonce" in skipped["reason"]
                    tx = await rpc("eth_getTransactionByHash", "0x" + keccak256(good).hex())
                    assert tx["blockNumber"] == hex(block) and tx["value"] == hex(777)
                    assert tx["forced"] is True
                    view = (await client.get("/txs/0x" + keccak256(good).hex())).json()
                    assert view["status"] == "included" and view["forced"] is True
                    assert view["block_number"] == block and view["queue_index"] == 0
                    assert (await client.get("/txs/0x" + keccak256(bad).hex())).json()[
                        "status"] == "skipped"
                    balance = await rpc("eth_getBalance",
                                        "0x" + dev_accounts(10)[3].address.hex(), "latest")
                    assert int(balance, 16) > 0
        finally:
            await net.close()
    run(scenario())
