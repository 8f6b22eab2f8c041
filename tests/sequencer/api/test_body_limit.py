"""Request bodies above `max_body_bytes` get 413 PayloadTooLarge before any parsing, on the
fast-lane routes (/txs, JSON-RPC, peer intake) and FastAPI's alike; state is untouched."""

from __future__ import annotations

from ..helpers import client_of, make_net, run, transfer


def test_oversized_bodies_get_413_and_change_nothing(tmp_path):
    async def scenario():
        net = await make_net(tmp_path, settings_changes={0: {"max_body_bytes": 4096}})
        try:
            node = net.nodes[0]
            big = b'{"raw": "0x' + b"00" * 4096 + b'"}'
            async with client_of(net, "seq1") as client:
                for path in ("/txs", "/rpc", "/", "/peer/forward_batch", "/peer/blocks"):
                    answer = await client.post(path, content=big,
                                               headers={"content-type": "application/json"})
                    assert answer.status_code == 413, (path, answer.text)
                    assert answer.json()["error"] == "PayloadTooLarge"
                assert len(node.mempool) == 0 and node.gossip_buffer == []
                small = await client.post("/txs", json={"raw": "0x" + transfer(net.params, 0, 0).hex()})
                assert small.status_code != 413
        finally:
            await net.close()
    run(scenario())
