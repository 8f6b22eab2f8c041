"""create_app(settings): the ranger's FastAPI app. Lifespan opens the node (database, keys,
L1 client) and runs one loop per job: follower, verifier, watchtower, reporter.

Spec: docs/spec/ranger.md
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from starlette.responses import Response

from nodekit.errors import RemoteRejected, TemporaryError
from nodekit.errors_http import error_response, install_error_handlers
from nodekit.loop import Clock
from nodekit.metrics import install_request_metrics, metrics_router

from .api import evidence, receipts, reports, status
from .api.errors import AdminDisabled, NotFound
from .core import follower, reporter, verifier, watchtower
from .node import RangerNode
from .settings import RangerSettings

log = logging.getLogger("ranger")
JOBS = (follower, verifier, watchtower, reporter)


def create_app(settings: RangerSettings, clock: Clock | None = None, node: RangerNode | None = None
               ) -> FastAPI:
    node = node or RangerNode(settings, clock)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        tasks = []
        if settings.loops_enabled:
            tasks = [asyncio.create_task(job.run(node), name=f"ranger-{job.__name__.rsplit('.', 1)[-1]}")
                     for job in JOBS]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await node.close()

    app = FastAPI(title="seqnet ranger", version="0.1.0", lifespan=lifespan,
                  description="A seqnet ranger: follows L1's accepted chain and the sequencers, "
                              "re-executes blocks, watches users' receipts, proves misconduct "
                              "on L1. Spec: docs/spec/ranger.md")
    app.state.node = node
    app.state.settings = settings
    for module in (status, receipts, reports, evidence):
        app.include_router(module.router)
    app.include_router(metrics_router(node.metrics.registry))
    install_request_metrics(app, node.metrics.registry)
    install_error_handlers(app)

    @app.exception_handler(NotFound)
    async def not_found(_request: Request, error: NotFound) -> Response:
        return error_response(404, "NotFound", str(error))

    @app.exception_handler(AdminDisabled)
    async def admin_disabled(_request: Request, error: AdminDisabled) -> Response:
        return error_response(403, "AdminDisabled", str(error))

    @app.exception_handler(RemoteRejected)
    async def remote_rejected(_request: Request, error: RemoteRejected) -> Response:
        return error_response(502, error.error, f"L1 refused: {error.detail}")

    @app.exception_handler(TemporaryError)
    async def temporary(_request: Request, error: TemporaryError) -> Response:
        return error_response(503, "L1Unavailable", str(error))

    return app
