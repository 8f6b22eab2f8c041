"""PUT /admin/faults toggles a running node's devnet fault flags: bearer token required, the
admin routes absent without --admin-token, unknown kinds and non-devnet chains refused, and a
flag set at runtime takes effect at once (offline: intake refused, no block in its slot;
bad_state_root: its next block is refused by the peers and posted to L1).

Spec: docs/spec/sequencer.md#faults-devnet-only
"""

from __future__ import annotations

import dataclasses

from protocol.encoding import decode_block

from ..helpers import client_of, make_net, run, transfer

TOKEN = "s3cret-admin"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def test_runtime_fault_flags_need_the_token_and_take_effect(tmp_path):
    async def scenario():
        net = await make_net(tmp_path, settings_changes={1: {"admin_token": TOKEN}})
        try:
            node = net.nodes[1]
            async with client_of(net, "seq2") as admin, client_of(net, "seq1") as plain:
                assert (await plain.get("/admin/faults")).status_code == 404  # no token set
                assert (await admin.get("/admin/faults")).status_code == 401
                refused = await admin.put("/admin/faults", json={"faults": ["offline"]},
                                          headers={"Authorization": "Bearer wrong"})
                assert refused.status_code == 401 and node.faults == set()
                unknown = await admin.put("/admin/faults", json={"faults": ["teleport"]},
                                          headers=AUTH)
                assert unknown.status_code in (400, 422) and "teleport" in unknown.text
                assert node.faults == set()

                # offline: the node refuses transactions and produces nothing in its slots
                put = await admin.put("/admin/faults", json={"faults": ["offline"]}, headers=AUTH)
                assert put.status_code == 200 and put.json() == {"faults": ["offline"]}
                assert (await admin.get("/admin/faults", headers=AUTH)).json() == {"faults": ["offline"]}
                answer = await admin.post("/txs", json={"raw": "0x" + transfer(net.params, 0, 0).hex()})
                assert answer.status_code == 503 and "offline" in answer.text
                leaders = [await node.leader_of(s) for s in range(1, 40)]
                slot = 1 + leaders.index(node.key.public)
                for s in range(1, slot + 1):
                    await net.run_slot(s)
                assert all(b.slot != slot for b in (n.store.head.block for n in net.nodes))
                honest = net.nodes[0].store
                assert node.key.public not in {honest.get(h).block.header.producer
                                               for hashes in honest.by_slot.values()
                                               for h in hashes}

                # bad_state_root at runtime: its next block is refused and posted to L1
                put = await admin.put("/admin/faults", json={"faults": ["bad_state_root"]},
                                      headers=AUTH)
                assert put.status_code == 200
                slot = slot + leaders[slot:].index(node.key.public) + 1
                for s in range(net.nodes[0].store.head.slot + 1, slot + 1):
                    await net.run_slot(s)
                for _ in range(20):
                    await net.drain()
                own = [node.store.get(h) for h in node.store.by_slot.get(slot, [])]
                own = [e for e in own if e.block.header.producer == node.key.public]
                assert len(own) == 1
                own = own[0]
                # the peers refused it: not on their chains
                assert all(n.store.at(own.number) is None or n.store.at(own.number).hash != own.hash
                           for n in net.nodes if n is not node)
                posted = [decode_block(raw) for _, raw in net.l1.chain]
                assert posted and posted[-1].hash == own.hash

                # cleared: back to normal
                put = await admin.put("/admin/faults", json={"faults": []}, headers=AUTH)
                assert put.json() == {"faults": []} and node.faults == set()
        finally:
            await net.close()
    run(scenario())


def test_fault_flags_are_refused_on_a_chain_that_is_not_a_devnet(tmp_path):
    async def scenario():
        net = await make_net(tmp_path, settings_changes={1: {"admin_token": TOKEN}})
        try:
            node = net.nodes[1]
            node.params = dataclasses.replace(node.params, is_devnet=False)
            async with client_of(net, "seq2") as admin:
                put = await admin.put("/admin/faults", json={"faults": ["censor"]}, headers=AUTH)
                assert put.status_code in (400, 422) and "not a devnet" in put.text
                assert node.faults == set()
        finally:
            await net.close()
    run(scenario())
