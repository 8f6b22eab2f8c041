"""create_app(settings): the sequencer's FastAPI app, behind the hot lane of its intake,
JSON-RPC and peer routes (nodekit.fastlane). The lifespan registers the node on L1 (when its
key is not registered yet) and runs one loop per job; routers per topic; one error mapping
(nodekit.errors_http). Nothing else.

Spec: docs/spec/sequencer.md
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from nodekit.errors import RemoteRejected, TemporaryError
from nodekit.errors_http import install_body_size_limit, install_error_handlers
from nodekit.fastlane import HotLane
from nodekit.loop import Clock, run_loop
from nodekit.metrics import install_request_metrics, metrics_router
from protocol.constants import TOKEN

from .api import admin, blocks, jsonrpc, peer, status, txs, withdrawals
from .core import batcher, follower, intake, producer, syncer
from .node import Node
from .settings import SequencerSettings

log = logging.getLogger("seqnet.sequencer")


async def register(node: Node) -> None:
    """Register the node key on L1 unless it is registered; retry while L1 is unreachable."""
    delay = 0.2
    while True:
        try:
            await node.refresh_peers(force=True)
            if node.key.public in node.registered:
                node.registered_on_l1 = True
                return
            if node.is_follower or not node.settings.register_on_start:
                return
            endpoint = node.settings.public_url or \
                f"http://{node.settings.host}:{node.settings.port}"
            await node.l1.register_sequencer(node.key.public, endpoint,
                                             node.settings.stake_tokens * TOKEN,
                                             node.settings.commission_bps)
            node.log.info("registered on L1 as 0x%s (%s)", node.key.public.hex()[:16], endpoint)
        except (TemporaryError, RemoteRejected) as error:
            node.log.warning("registration on L1 failed, retrying: %s", error)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)


def start_jobs(node: Node) -> list[asyncio.Task]:
    s = node.settings
    clock = node.clock
    jobs = [
        ("follower", lambda now: follower.tick(node, now), s.l1_poll_ms),
        ("producer", lambda now: producer.tick(node, now), s.producer_tick_ms),
        ("gossip", lambda now: intake.gossip_tick(node, now), s.gossip_ms),
        ("batcher", lambda now: batcher.tick(node, now), s.batch_ms),
        ("syncer", lambda now: syncer.tick(node, now), s.sync_ms),
    ]
    return [asyncio.create_task(_supervised(name, tick, interval, clock, node.log),
                                name=f"{s.name}-{name}") for name, tick, interval in jobs]


async def _supervised(name, tick, interval, clock: Clock, logger) -> None:
    """run_loop, restarted after a crash (a bug is logged loudly, the node keeps serving)."""
    while True:
        try:
            await run_loop(name, tick, interval, clock, logger)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - logged by run_loop with its traceback
            await asyncio.sleep(0.5)


def create_app(settings: SequencerSettings, clock: Clock | None = None, *,
               l1_transport: httpx.AsyncBaseTransport | None = None,
               peer_transport: httpx.AsyncBaseTransport | None = None) -> HotLane:
    """The FastAPI app behind the hot lane of the routes every transaction takes
    (nodekit.fastlane); the returned object stands in for the app (`state`, `openapi()`)."""
    node = Node(settings, clock, l1_transport=l1_transport, peer_transport=peer_transport)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        tasks: list[asyncio.Task] = []
        if settings.loops_enabled:
            async def boot() -> None:
                await register(node)
                tasks.extend(start_jobs(node))
            tasks.append(asyncio.create_task(boot(), name=f"{settings.name}-boot"))
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await node.close()

    app = FastAPI(title="seqnet sequencer", version="0.1.0", lifespan=lifespan,
                  description="A staked sequencer of seqnet: intake with signed soft-confirmation "
                              "receipts, block production in its slots, attestations, sync, batch "
                              "submission, Ethereum JSON-RPC (POST / and /rpc) and REST. "
                              "Spec: docs/spec/sequencer.md")
    app.state.node = node
    app.state.settings = settings
    for module in (txs, blocks, withdrawals, status, peer, admin, jsonrpc):
        app.include_router(module.router)
    app.include_router(metrics_router(node.metrics.registry))
    request_metrics = install_request_metrics(app, node.metrics.registry)
    install_error_handlers(app)
    install_body_size_limit(app, settings.max_body_bytes)
    return HotLane(app, [("POST", "/txs", txs.submit_tx_body), ("POST", "/", jsonrpc.rpc_body),
                         ("POST", "/rpc", jsonrpc.rpc_body), *peer.HOT_ROUTES],
                   node, max_body_bytes=settings.max_body_bytes, metrics=request_metrics)
