"""GET /withdrawals/{tx_hash}: every node answers the arguments of L1's claim_withdrawal for a
withdrawal on its canonical chain, and the proof verifies against the block's withdrawals_root;
forced withdrawals (L1 queue) come first in a block's numbering. Unknown, pending and
non-withdrawal transactions are 404, a malformed hash 400.

Spec: docs/spec/sequencer.md#withdrawal-proofs
"""

from __future__ import annotations

from l1mock.core import args as l1_args
from l1mock.core.contract import METHODS
from protocol.accounts import dev_accounts
from protocol.blocks import QUEUE_FORCED_TX, QueueItem
from protocol.constants import BRIDGE_ADDRESS
from protocol.hashing import keccak256
from protocol.withdrawals import Withdrawal, verify_withdrawal_proof

from ..helpers import client_of, make_net, run, transfer

CLAIM_ARGS = ("block_number", "sender", "amount", "index", "proof")
"""What client/commands/l1.py::claim_for passes on to L1's claim_withdrawal."""


def _hex(data: bytes) -> str:
    return "0x" + data.hex()


def test_withdrawal_proofs_verify_under_the_block_root_on_every_node(tmp_path):
    async def scenario():
        net = await make_net(tmp_path)
        try:
            params = net.params
            accounts = dev_accounts(10)
            forced = transfer(params, 3, 0, value=5_000, to=BRIDGE_ADDRESS)
            net.l1.queue = [QueueItem(index=0, kind=QUEUE_FORCED_TX, l1_block=1,
                                      sender=accounts[3].address, raw_tx=forced)]
            plain = transfer(params, 0, 0, value=1_000)
            first = transfer(params, 1, 0, value=7_000, to=BRIDGE_ADDRESS)
            second = transfer(params, 2, 0, value=9_000, to=BRIDGE_ADDRESS)
            await net.run_slot(1)  # the nodes learn of the queue item; block 2 is due to take it
            start = params.genesis_time_ms + 2 * params.slot_ms
            await net.tick_all(start + params.parent_wait_ms)
            leader = await net.leader(2)
            async with client_of(net, leader.settings.name) as client:
                for raw in (plain, first, second):
                    response = await client.post("/txs", json={"raw": _hex(raw)})
                    assert response.status_code == 200, response.text
            await net.tick_all(start + params.slot_ms - 5)
            await net.run_slot(3)
            store = net.nodes[0].store
            number = store.tx_index[keccak256(first)]
            block_number = store.get(number[0]).number
            assert store.forced_index[keccak256(forced)][0] == number[0], \
                "the forced withdrawal should land in the same block as the sequenced ones"
            expected = {forced: (3, 5_000, 0), first: (1, 7_000, 1), second: (2, 9_000, 2)}

            for node in net.nodes:
                async with client_of(net, node.settings.name) as client:
                    block = (await client.get(f"/blocks/{block_number}")).json()
                    for raw, (who, amount, index) in expected.items():
                        response = await client.get(f"/withdrawals/{_hex(keccak256(raw))}")
                        assert response.status_code == 200, response.text
                        body = response.json()
                        assert body["block_number"] == block_number
                        assert body["block_hash"] == block["hash"]
                        assert body["sender"] == _hex(accounts[who].address)
                        assert body["amount"] == str(amount) and body["index"] == index
                        assert body["withdrawals_root"] == block["withdrawals_root"]
                        assert body["head_label"] in ("unsafe", "attested")
                        claim = Withdrawal(accounts[who].address, amount, index)
                        proof = [bytes.fromhex(item[2:]) for item in body["proof"]]
                        root = bytes.fromhex(block["withdrawals_root"][2:])
                        assert verify_withdrawal_proof(root, claim, proof)
                        assert not verify_withdrawal_proof(
                            root, Withdrawal(claim.sender, amount + 1, index), proof)
                        # L1 parses these arguments as they come (the CLI passes them on).
                        spec = METHODS["claim_withdrawal"]
                        parsed = l1_args.parse_args("claim_withdrawal",
                                                    {k: body[k] for k in CLAIM_ARGS}, spec.args,
                                                    spec.optional)
                        assert parsed["proof"] == proof and parsed["amount"] == amount

            # Once L1 finalizes the block the label says so: the claim can go to L1.
            await net.batch()
            net.l1.finalized = len(net.l1.chain)
            assert net.l1.finalized >= block_number
            await net.follow_l1()
            async with client_of(net, net.nodes[0].settings.name) as client:
                body = (await client.get(f"/withdrawals/{_hex(keccak256(first))}")).json()
                assert body["head_label"] == "finalized"
        finally:
            await net.close()
    run(scenario())


def test_withdrawal_lookup_refusals(tmp_path):
    async def scenario():
        net = await make_net(tmp_path)
        try:
            params = net.params
            plain = transfer(params, 0, 0, value=1_000)
            pending = transfer(params, 1, 0, value=2_000, to=BRIDGE_ADDRESS)
            start = params.genesis_time_ms + params.slot_ms
            await net.tick_all(start + params.parent_wait_ms)
            leader = await net.leader(1)
            async with client_of(net, leader.settings.name) as client:
                assert (await client.post("/txs", json={"raw": _hex(plain)})).status_code == 200
            await net.tick_all(start + params.slot_ms - 5)
            await net.run_slot(2)
            await net.tick_all(params.genesis_time_ms + 3 * params.slot_ms + params.parent_wait_ms)
            leader = await net.leader(3)
            async with client_of(net, leader.settings.name) as client:
                assert (await client.post("/txs", json={"raw": _hex(pending)})).status_code == 200
                assert net.nodes[0].store.tx_index.get(keccak256(plain)) is not None

                not_withdrawal = await client.get(f"/withdrawals/{_hex(keccak256(plain))}")
                assert not_withdrawal.status_code == 404
                assert not_withdrawal.json()["error"] == "UnknownWithdrawal"
                assert "not a withdrawal" in not_withdrawal.json()["detail"]

                unknown = await client.get(f"/withdrawals/0x{'ab' * 32}")
                assert unknown.status_code == 404
                assert unknown.json()["error"] == "UnknownWithdrawal"
                assert "no transaction" in unknown.json()["detail"]

                waiting = await client.get(f"/withdrawals/{_hex(keccak256(pending))}")
                assert waiting.status_code == 404 and "pending" in waiting.json()["detail"]

                for bad in ("0x1234", "0x" + "zz" * 32, "ab" * 32):
                    malformed = await client.get(f"/withdrawals/{bad}")
                    assert malformed.status_code == 400, bad
                    assert malformed.json()["error"] == "InvalidEncoding"
        finally:
            await net.close()
    run(scenario())


def test_withdrawal_route_is_in_openapi(tmp_path):
    async def scenario():
        net = await make_net(tmp_path, count=1)
        try:
            async with client_of(net, "seq1") as client:
                spec = (await client.get("/openapi.json")).json()
            route = spec["paths"]["/withdrawals/{tx_hash}"]["get"]
            assert set(route["responses"]) >= {"200", "400", "404"}
            schema = spec["components"]["schemas"]["WithdrawalResponse"]
            assert set(schema["properties"]) >= {*CLAIM_ARGS, "withdrawals_root", "head_label"}
        finally:
            await net.close()
    run(scenario())
