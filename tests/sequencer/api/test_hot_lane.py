"""The sequencer's hot lane (nodekit.fastlane in front of the FastAPI app): every request to a
hot route gets, through the lane, the same status, JSON body, content headers and request
metrics as through the FastAPI app behind it, for success and every error class; every
other method on those paths, and every other route, is FastAPI's answer."""

from __future__ import annotations

import httpx
import orjson
import pytest
from prometheus_client.exposition import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from nodekit.errors import RemoteRejected, TemporaryError
from nodekit.fastlane import HotLane
from protocol.encoding import encode_block
from protocol.signing import NodeKey
from sequencer.core import intake
from sequencer.peers import sign_peer_headers

from ..helpers import make_net, run, transfer

HOT_ROUTES = {("POST", "/txs"), ("POST", "/"), ("POST", "/rpc"), ("POST", "/peer/txs"),
              ("POST", "/peer/forward"), ("POST", "/peer/forward_batch"),
              ("POST", "/peer/blocks"), ("POST", "/peer/attestations")}
JSON = {"content-type": "application/json"}
MAX_BODY = 4096


async def open_slot(net, slot: int):
    params = net.params
    for earlier in range(1, slot):
        await net.run_slot(earlier)
    await net.tick_all(params.genesis_time_ms + slot * params.slot_ms + params.parent_wait_ms)
    return await net.leader(slot)


def request_counts(node) -> dict:
    counts = {}
    for family in text_string_to_metric_families(generate_latest(node.metrics.registry).decode()):
        for sample in family.samples:
            if sample.name in ("seqnet_http_requests_total",
                               "seqnet_http_request_duration_seconds_count"):
                counts[sample.name, tuple(sorted(sample.labels.items()))] = sample.value
    return counts


class Both:
    """One node's app reached through its hot lane and straight through its FastAPI app."""

    def __init__(self, app: HotLane) -> None:
        self.node = app.state.node
        self.hot = httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://seq")
        self.slow = httpx.AsyncClient(transport=httpx.ASGITransport(app=app.app),
                                      base_url="http://seq")

    async def send(self, client: httpx.AsyncClient, method: str, path: str, **kwargs) -> tuple:
        before = request_counts(self.node)
        response = await client.request(method, path, **kwargs)
        after = request_counts(self.node)
        counted = {key: after[key] - before.get(key, 0) for key in after
                   if after[key] != before.get(key, 0)}
        headers = {name: response.headers.get(name)
                   for name in ("content-type", "content-length", "retry-after", "allow")}
        return response.status_code, response.content, headers, counted

    async def compare(self, method: str, path: str, **kwargs) -> tuple[int, bytes]:
        """Sends the request both ways (the lane first); asserts the same answer and metrics."""
        hot = await self.send(self.hot, method, path, **kwargs)
        slow = await self.send(self.slow, method, path, **kwargs)
        assert hot == slow, (method, path)
        return hot[0], hot[1]

    async def aclose(self) -> None:
        await self.hot.aclose()
        await self.slow.aclose()


def error(name: str, detail: str) -> bytes:
    return orjson.dumps({"error": name, "detail": detail})


def test_the_lane_serves_exactly_the_hot_routes(tmp_path):
    async def scenario():
        net = await make_net(tmp_path, count=1)
        try:
            app = net.apps[0]
            assert isinstance(app, HotLane)
            assert set(app.routes) == HOT_ROUTES
            paths = app.openapi()["paths"]  # FastAPI still documents every one of them
            assert all(method.lower() in paths[path] for method, path in HOT_ROUTES)
        finally:
            await net.close()
    run(scenario())


def test_intake_and_json_rpc_answers_match_fastapi(tmp_path, monkeypatch):
    async def scenario():
        net = await make_net(tmp_path, settings_changes={i: {"max_body_bytes": MAX_BODY}
                                                         for i in range(4)})
        both = None
        try:
            leader = await open_slot(net, 2)
            both = Both(next(a for a in net.apps if a.state.node is leader))
            raw = transfer(net.params, 0, 0)
            status, body = await both.compare("POST", "/txs", json={"raw": "0x" + raw.hex()})
            assert status == 200 and set(orjson.loads(body)) == {"tx_hash", "receipt"}
            assert len(leader.session.txs) == 1  # the second send got the same receipt

            refusals = {
                b"not json": error("InvalidEncoding", 'body must be {"raw": "0x..."}'),
                b'{"raw": "0xzz"}': None, b"[]": None, b'{"tx": 1}': None,
                orjson.dumps({"raw": "0x" + transfer(net.params, 0, 0, value=1).hex()}): None,
            }
            for content, expected in refusals.items():
                status, body = await both.compare("POST", "/txs", content=content, headers=JSON)
                assert status == 400, content
                assert expected is None or body == expected
            too_large = error("PayloadTooLarge", f"request body exceeds {MAX_BODY} bytes")
            big = b'{"raw": "0x' + b"00" * MAX_BODY + b'"}'
            for path in ("/txs", "/", "/rpc"):
                assert await both.compare("POST", path, content=big) == (413, too_large)

                async def chunks():
                    yield big[:3000]
                    yield big[3000:]
                hot = await both.send(both.hot, "POST", path, content=chunks())
                slow = await both.send(both.slow, "POST", path, content=chunks())
                assert hot == slow and hot[:2] == (413, too_large)

            rpc = {"jsonrpc": "2.0", "id": 7, "method": "eth_chainId", "params": []}
            send_raw = {"jsonrpc": "2.0", "id": 8, "method": "eth_sendRawTransaction",
                        "params": ["0x" + raw.hex()]}
            for path in ("/", "/rpc"):
                assert await both.compare("POST", path, json=rpc) == \
                    (200, orjson.dumps({"jsonrpc": "2.0", "id": 7,
                                        "result": hex(net.params.chain_id)}))
                await both.compare("POST", path, json=[rpc, send_raw, {"id": 9}])
                await both.compare("POST", path, json=[])
                await both.compare("POST", path, json={"jsonrpc": "2.0", "method": "nope"})
                assert await both.compare("POST", path, content=b"{") == \
                    (200, b'{"jsonrpc":"2.0","id":null,"error":{"code":-32700,'
                          b'"message":"parse error"}}')

            leader.faults.add("offline")  # NodeUnavailable: a ProtocolError answered 503
            status, body = await both.compare("POST", "/txs", json={"raw": "0x" + raw.hex()})
            assert (status, orjson.loads(body)["error"]) == (503, "NodeUnavailable")
            leader.faults.discard("offline")

            failures = {"temporary": TemporaryError("the leader did not answer"),
                        "rejected": RemoteRejected(400, "NonceTooLow", "nonce 0, expected 1"),
                        "bug": RuntimeError("boom")}
            expected = {"temporary": (503, error("TemporaryError", "the leader did not answer")),
                        "rejected": (502, error("NonceTooLow",
                                                "upstream refused: nonce 0, expected 1")),
                        "bug": (500, error("InternalError", "RuntimeError: boom"))}
            for kind, failure in failures.items():
                async def failing(*_args, _failure=failure, **_kwargs):
                    raise _failure
                monkeypatch.setattr(intake, "submit", failing)
                assert await both.compare("POST", "/txs", json={"raw": "0x" + raw.hex()}) == \
                    expected[kind], kind
                await both.compare("POST", "/", json=send_raw)  # JSON-RPC: 200 with an error
            monkeypatch.undo()
        finally:
            if both is not None:
                await both.aclose()
            await net.close()
    run(scenario())


def test_peer_route_answers_match_fastapi(tmp_path):
    async def scenario():
        net = await make_net(tmp_path)
        both = None
        try:
            leader = await open_slot(net, 2)
            peer = next(n for n in net.nodes if n is not leader)
            both = Both(next(a for a in net.apps if a.state.node is leader))
            chain_id = net.params.chain_id

            def signed(key, path, content: bytes) -> dict:
                return {"content": content,
                        "headers": sign_peer_headers(key, chain_id, path, content,
                                                     net.clock.now_ms())}

            stranger = NodeKey.from_seed(b"\x42" * 32)
            raw = transfer(net.params, 1, 0)
            bodies = {
                "/peer/txs": [b'{"txs": []}', b'{"txs": "x"}'],
                "/peer/forward": [orjson.dumps({"raw": "0x" + raw.hex()}), b'{"raw": "0xzz"}'],
                "/peer/forward_batch": [b'{"raws": []}', b'{"raws": ["0xzz"]}', b'{"raws": 1}'],
                "/peer/blocks": [b'{"block": "0xzz"}', b"{}", orjson.dumps(
                    {"block": "0x" + encode_block(leader.store.at(1).block).hex()})],
                "/peer/attestations": [b'{"attestations": []}', b'{"attestations": "x"}',
                                       b'{"attestations": ["0x00"]}'],
            }
            for path, contents in bodies.items():
                unsigned = await both.compare("POST", path, content=contents[0], headers=JSON)
                assert unsigned[0] == 401 and \
                    orjson.loads(unsigned[1])["error"] == "Unauthorized"
                unknown = await both.compare("POST", path, **signed(stranger, path, contents[0]))
                assert unknown == (403, error("Forbidden", f"node key 0x{stranger.public.hex()[:16]}"
                                                           f".. is not a sequencer registered on L1"))
                tampered = signed(peer.key, path, contents[0])
                tampered["content"] = contents[0] + b" "
                assert (await both.compare("POST", path, **tampered))[0] == 401
                for content in (*contents, b"[]", b"not json"):
                    await both.compare("POST", path, **signed(peer.key, path, content))
            assert await both.compare("POST", "/peer/txs",
                                      **signed(peer.key, "/peer/txs", b'{"txs": []}')) == \
                (200, b'{"added":0}')
            assert await both.compare("POST", "/peer/attestations",
                                      **signed(peer.key, "/peer/attestations",
                                               b'{"attestations": []}')) == (200, b'{"accepted":0}')
            block = orjson.dumps({"block": "0x" + encode_block(leader.store.at(1).block).hex()})
            status, body = await both.compare("POST", "/peer/blocks",
                                              **signed(peer.key, "/peer/blocks", block))
            assert status == 200 and set(orjson.loads(body)) == {"result"}
            assert await both.compare("POST", "/peer/blocks",
                                      **signed(peer.key, "/peer/blocks", b"[]")) == \
                (400, error("InvalidEncoding", "peer message body must be a JSON object"))
            status, body = await both.compare(
                "POST", "/peer/forward", **signed(peer.key, "/peer/forward",
                                                  orjson.dumps({"raw": "0x" + raw.hex()})))
            assert status == 200 and set(orjson.loads(body)) == {"receipt"}
        finally:
            if both is not None:
                await both.aclose()
            await net.close()
    run(scenario())


@pytest.mark.parametrize("method, path", [("GET", "/"), ("GET", "/rpc"), ("GET", "/txs"),
                                          ("PUT", "/txs"), ("HEAD", "/txs"),
                                          ("GET", "/peer/txs"), ("DELETE", "/peer/blocks"),
                                          ("POST", "/txs/"), ("POST", "/peer/nothing"),
                                          ("GET", "/health"), ("GET", "/mempool")])
def test_other_methods_and_routes_fall_through_to_fastapi(tmp_path, method, path):
    async def scenario():
        net = await make_net(tmp_path, count=1)
        both = Both(net.apps[0])
        try:
            return await both.compare(method, path, content=b"{}")
        finally:
            await both.aclose()
            await net.close()
    status, body = run(scenario())
    if (method, path) in {("GET", "/health"), ("GET", "/mempool")}:
        assert status == 200
    elif path.startswith("/peer/nothing"):
        assert status == 404
    elif path != "/txs/":
        assert status == 405
        if method != "HEAD":
            assert body == error("MethodNotAllowed", "Method Not Allowed")


def test_hot_requests_are_counted_per_route(tmp_path):
    async def scenario():
        net = await make_net(tmp_path, count=1)
        both = Both(net.apps[0])
        try:
            for _ in range(2):
                await both.send(both.hot, "POST", "/txs", content=b"nope")
            await both.send(both.hot, "POST", "/rpc", content=b"{")
            await both.send(both.hot, "POST", "/peer/forward", content=b"{}")
            return (await both.hot.get("/metrics")).text
        finally:
            await both.aclose()
            await net.close()
    text = run(scenario())
    for line in ('seqnet_http_requests_total{method="POST",route="/txs",status="400"} 2.0',
                 'seqnet_http_requests_total{method="POST",route="/rpc",status="200"} 1.0',
                 'seqnet_http_requests_total{method="POST",route="/peer/forward",'
                 'status="401"} 1.0',
                 'seqnet_http_request_duration_seconds_count{method="POST",route="/txs"} 2.0'):
        assert line in text, line
