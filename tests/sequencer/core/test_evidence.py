"""Equivocation evidence reaches the rangers: pushed to every ranger registered on L1
(POST /evidence/equivocation, in the form the ranger checks) and listed in GET /evidence and
GET /observations (the rangers' pull).

Spec: docs/spec/sequencer.md#validation-and-attestations
"""

from __future__ import annotations

import httpx
import orjson

from protocol.fraud import decode_evidence
from protocol.schedule import compute_slot_start_ms
from protocol.transition import build_block
from ranger.api.evidence import decode_signed_object
from ranger.detect import check_equivocation
from sequencer.core import validator

from ..helpers import make_net, run


def test_equivocation_is_pushed_to_the_registered_rangers(tmp_path):
    async def scenario():
        net = await make_net(tmp_path)
        pushed: list[dict] = []

        async def ranger(request: httpx.Request) -> httpx.Response:
            assert request.url.path == "/evidence/equivocation"
            pushed.append(orjson.loads(request.content))
            return httpx.Response(200, json={"id": len(pushed)})

        net.router.apps["ranger1"] = httpx.MockTransport(ranger)
        net.l1.rangers = ["http://ranger1"]
        try:
            params = net.params
            await net.run_slot(1)
            first = net.nodes[0].store.at(1)
            producer = net.node_by_key(first.block.header.producer)
            witness = next(n for n in net.nodes if n is not producer)
            genesis = witness.store.at(0)
            # the producer signs a second block for slot 1
            second, _, _ = build_block(
                genesis.block.header, genesis.state, slot=1,
                timestamp_ms=compute_slot_start_ms(1, params) + 1, producer=producer.key,
                fee_recipient=first.fee_recipient, params=params,
                l1_origin=first.block.header.l1_origin)
            assert second.hash != first.hash
            assert await validator.on_block(witness, second, source="test") == "accepted"
            await net.drain()
            assert len(pushed) == 1
            body = pushed[0]
            assert body["source"] == witness.settings.name
            finding = check_equivocation(decode_signed_object(bytes.fromhex(body["first"][2:])),
                                         decode_signed_object(bytes.fromhex(body["second"][2:])),
                                         params)
            assert finding is not None and finding.kind == "equivocation"
            # also there for a ranger that pulls
            async with httpx.AsyncClient(transport=net.router,
                                         base_url=f"http://{witness.settings.name}") as client:
                evidence = (await client.get("/evidence")).json()
                assert [e["slot"] for e in evidence] == [1]
                observed = (await client.get("/observations")).json()["observations"]
                assert any(o["kind"] == "equivocation" for o in observed)
            # a ranger that is down costs nothing but a log line
            net.router.down.add("ranger1")
            raw = bytes.fromhex(evidence[0]["evidence"][2:])
            assert await validator.push_equivocation(
                witness, decode_evidence("equivocation", raw)) == 0
        finally:
            await net.close()
    run(scenario())
