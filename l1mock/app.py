"""create_app(settings): the L1 mock's FastAPI app. Lifespan opens the node (database,
replay) and runs the L1 clock; routers per topic; one error mapping.

Spec: docs/spec/l1.md
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from nodekit.loop import Clock, SystemClock
from nodekit.metrics import install_request_metrics, metrics_router
from protocol.exceptions import ProtocolError

from .api import accounts, calls, chain, epochs, events, fraud, queue, staking, status
from .core import clock as l1_clock
from .errors import NotFound, StoreUnavailable
from .node import L1Node
from .settings import L1Settings

log = logging.getLogger("l1mock")


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
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    return app


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ProtocolError)
    async def protocol_error(_request: Request, error: ProtocolError) -> JSONResponse:
        code = 404 if isinstance(error, NotFound) else 503 if isinstance(error, StoreUnavailable) \
            else 400
        return JSONResponse({"error": error.name, "detail": str(error)}, status_code=code)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_request: Request, error: RequestValidationError) -> JSONResponse:
        detail = jsonable_encoder(error.errors(), custom_encoder={
            bytes: lambda b: b[:200].decode("utf-8", "replace"),
            Exception: str})
        return JSONResponse({"error": "ValidationError", "detail": detail}, status_code=422)

    @app.exception_handler(Exception)
    async def unexpected(_request: Request, error: Exception) -> JSONResponse:
        log.exception("unexpected error")
        return JSONResponse({"error": "InternalError", "detail": type(error).__name__},
                            status_code=500)


class BodySizeLimit:
    """Pure ASGI middleware: 413 for a body above `max_bytes` (declared or streamed)."""

    def __init__(self, app: Any, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = -1
                if declared < 0 or declared > self.max_bytes:
                    await self._reject(send, declared)
                    return
        received = 0
        messages = []
        while True:
            message = await receive()
            if message["type"] != "http.request":
                messages.append(message)
                break
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                await self._reject(send, received)
                return
            messages.append(message)
            if not message.get("more_body", False):
                break

        async def replay() -> dict:
            if messages:
                return messages.pop(0)
            return await receive()

        await self.app(scope, replay, send)

    async def _reject(self, send: Any, size: int) -> None:
        body = (b'{"error":"BodyTooLarge","detail":"request body above %d bytes"}'
                % self.max_bytes)
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})
