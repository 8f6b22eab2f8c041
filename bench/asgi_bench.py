"""CPU per request of a sequencer's ASGI app, in process: no socket, no uvicorn, no crypto.

An in-process network (tests/sequencer/helpers, populated as the robustness suites do: the
leader of slot 4 has an open session holding one receipted transaction) and, per case, N
requests sent straight into the leader's ASGI callable with a constant receive() and a
send() that only keeps the status. What it measures is the app's own per-request work:
routing, middleware, body reading, the endpoint, the response.

    .venv/bin/python bench/asgi_bench.py [-n 20000] [--repeat 3] [--case txs-known ...]

Cases: txs-known (POST /txs of the session's transaction: 200 with its receipt, the decode
cache and the session answer it), txs-invalid (POST /txs with a bad hex: 400),
rpc-chainid (POST / eth_chainId: 200), peer-unsigned (POST /peer/txs without signature
headers: 401), health (GET /health: not a hot route, FastAPI's path).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.robustness.sequencer_net import OPEN_SLOT, _populate  # noqa: E402
from tests.sequencer.helpers import make_net  # noqa: E402


def make_scope(method: str, path: str, body: bytes, headers: list[tuple[bytes, bytes]]) -> dict:
    """What uvicorn (httptools) hands an app for one request."""
    return {"type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1", "server": ("127.0.0.1", 8545), "client": ("127.0.0.1", 50000),
            "scheme": "http", "method": method, "root_path": "", "path": path,
            "raw_path": path.encode(), "query_string": b"",
            "headers": [(b"host", b"127.0.0.1:8545"), (b"content-length", b"%d" % len(body)),
                        *headers]}


async def run_case(app, method: str, path: str, body: bytes, n: int,
                   headers: list[tuple[bytes, bytes]]) -> tuple[float, int]:
    """CPU seconds per request over `n` requests, and the status of the last answer."""
    message = {"type": "http.request", "body": body, "more_body": False}
    status = 0

    async def receive():
        return message

    async def send(event):
        nonlocal status
        if event["type"] == "http.response.start":
            status = event["status"]

    for _ in range(200):  # warm-up: caches, lazy middleware stack
        await app(make_scope(method, path, body, headers), receive, send)
    gc.collect()
    started = time.process_time()
    for _ in range(n):
        await app(make_scope(method, path, body, headers), receive, send)
    return (time.process_time() - started) / n, status


async def main(args) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        net = await make_net(Path(tmp))
        try:
            await _populate(net)
            leader = await net.leader(OPEN_SLOT)
            app = next(a for a in net.apps if a.state.node is leader)
            known = next(iter(leader.session.txs)).raw
            json_ct = [(b"content-type", b"application/json")]
            cases = {
                "txs-known": ("POST", "/txs", b'{"raw":"0x%s"}' % known.hex().encode(), json_ct),
                "txs-invalid": ("POST", "/txs", b'{"raw":"0x02zz"}', json_ct),
                "rpc-chainid": ("POST", "/", b'{"jsonrpc":"2.0","id":1,"method":"eth_chainId",'
                                             b'"params":[]}', json_ct),
                "peer-unsigned": ("POST", "/peer/txs", b'{"txs":[]}', json_ct),
                "health": ("GET", "/health", b"", []),
            }
            for name in args.case or cases:
                method, path, body, headers = cases[name]
                runs = [await run_case(app, method, path, body, args.n, headers)
                        for _ in range(args.repeat)]
                per_request = statistics.median(r[0] for r in runs)
                print(f"{name:14s} {method:4s} {path:10s} status {runs[-1][1]}  "
                      f"{per_request * 1e6:7.1f} us/request (median of {args.repeat} x {args.n})")
        finally:
            await net.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-n", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--case", action="append")
    asyncio.run(main(parser.parse_args()))
