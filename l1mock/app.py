"""create_app(settings): the L1 mock's FastAPI app. Lifespan opens the node (database,
replay) and runs the L1 clock; routers per topic; one error mapping.

Spec: docs/spec/l1.md
"""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager

from fastapi import FastAPI

from nodekit.errors_http import install_body_size_limit, install_error_handlers
from nodekit.loop import Clock, SystemClock
from nodekit.metrics import install_request_metrics, metrics_router

from .api import accounts, calls, chain, epochs, events, fraud, queue, staking, status
from .core import clock as l1_clock
from .node import L1Node
from .settings import L1Settings

def create_app(settings: L1Settings, clock: Clock | None = None) -> FastAPI:
    clock = clock or SystemClock()
    node = L1Node.open(settings, start_ms=clock.now_ms())

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        node.attach_loop(asyncio.get_running_loop())
        tasks = []
        if settings.clock_enabled:
            tasks.append(asyncio.create_task(l1_clock.run(node, clock), name="l1-clock"))
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            node.close()

    app = FastAPI(title="seqnet L1 mock", version="0.1.0", lifespan=lifespan,
                  description="The mock L1 of seqnet: clock, token ledger, locking pool, epochs "
                              "and leader schedules, batch inbox, forced-inclusion queue, fraud "
                              "proofs, slashing, rewards. Spec: docs/spec/l1.md")
    app.state.node = node
    app.state.settings = settings
    for module in (calls, status, accounts, staking, epochs, chain, queue, fraud, events):
        app.include_router(module.router)
    app.include_router(metrics_router(node.metrics.registry))
    install_request_metrics(app, node.metrics.registry)
    install_error_handlers(app)
    install_body_size_limit(app, settings.max_body_bytes)
    return app
