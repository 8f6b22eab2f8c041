"""Serve a service's hottest routes in front of its FastAPI app, in one ASGI call.

Every request to FastAPI passes about a dozen ASGI layers before its endpoint (FastAPI's and
Starlette's entry points and middleware, ours, the router, the route's request/response
wrappers); on a sequencer under load that was ~14% of the leader's CPU outside the endpoints
(docs/performance.md). The routes that carry every transaction (intake, JSON-RPC, peer
forwarding and gossip) need none of it, so `HotLane` answers exactly their (method, path)
itself and hands every other request to the FastAPI app unchanged.

What a hot request gets is what the app's stack gives it (nodekit.errors_http,
nodekit.metrics), by calling the same functions:

- a Content-Length that is not a number (400) or above the limit (413) is refused before
  reading, and not counted in the request metrics (BodySizeLimitMiddleware sits outside
  RequestMetricsMiddleware);
- the body is read from receive(); one that streams past the limit is 413, counted;
- the endpoint's exceptions go to the app's own exception handlers (`app.exception_handlers`,
  looked up as Starlette does); any other is CatchAllMiddleware's 500 (logged), and a client
  that went away before its whole body gets no answer (counted 500);
- one request is recorded in the app's RequestMetrics, labelled with the route's path.

A hot endpoint is `endpoint(context, body, headers, path) -> Response`: `context` is what the
service passes (the sequencer's Node), `body` the whole request body, `headers` a Starlette
`Headers`, `path` the request path (the route's). The FastAPI declarations of the same routes
call the same functions, so OpenAPI documents them and the logic lives in one place. FastAPI's
own OpenTelemetry instrumentation (on only when an OpenTelemetry provider is configured, never
in seqnet) does not see hot requests.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from fastapi import FastAPI
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from .errors_http import body_too_large, content_length_refusal, unhandled_error_response
from .metrics import RequestMetrics

HotEndpoint = Callable[[Any, bytes, Headers, str], Awaitable[Response]]
"""endpoint(context, body, headers, path) -> Response (body in memory)."""


async def read_body(receive: Callable[[], Awaitable[dict]], max_bytes: int) -> bytes:
    """The whole request body. Raises HTTPException(413) once more than `max_bytes` arrived
    (what BodySizeLimitMiddleware's receive raises) and ClientDisconnect when the client
    leaves first (what Starlette's `Request.body()` raises)."""
    chunks: list[bytes] = []
    received = 0
    while True:
        message = await receive()
        kind = message["type"]
        if kind == "http.request":
            chunk = message.get("body", b"")
            received += len(chunk)
            if received > max_bytes:
                raise HTTPException(413, body_too_large(max_bytes))
            if not message.get("more_body", False):
                if not chunks:
                    return bytes(chunk)
                chunks.append(chunk)
                return b"".join(chunks)
            if chunk:
                chunks.append(chunk)
        elif kind == "http.disconnect":
            raise ClientDisconnect()


class HotLane:
    """Pure ASGI: answers the hot routes itself, passes everything else to `app`.

    Attributes it does not have are the FastAPI app's (`state`, `openapi()`, `routes` ...),
    so it stands in for the app in tests and launchers; `app` is the FastAPI app itself.
    """

    def __init__(self, app: FastAPI, routes: Iterable[tuple[str, str, HotEndpoint]],
                 context: Any, *, max_body_bytes: int, metrics: RequestMetrics) -> None:
        """`routes`: (method, path, endpoint); `metrics`: the app's (install_request_metrics);
        `max_body_bytes`: the app's body limit (install_body_size_limit)."""
        self.app = app
        self.routes: dict[tuple[str, str], HotEndpoint] = {
            (method, path): endpoint for method, path, endpoint in routes}
        if app.root_path:  # paths would be relative to it: leave the matching to Starlette
            self.routes = {}
        self.context = context
        self.max_body_bytes = max_body_bytes
        self.metrics = metrics
        self._handlers: tuple[dict, dict] | None = None

    def __getattr__(self, name: str) -> Any:
        if name == "app":  # not set yet (copy, unpickling): no recursion
            raise AttributeError(name)
        return getattr(self.app, name)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and not scope.get("root_path"):
            endpoint = self.routes.get((scope["method"], scope["path"]))
            if endpoint is not None:
                await self._serve(endpoint, scope, receive, send)
                return
        await self.app(scope, receive, send)

    async def _serve(self, endpoint: HotEndpoint, scope: dict[str, Any], receive: Any,
                     send: Any) -> None:
        headers = scope["headers"]
        refusal = content_length_refusal(headers, self.max_body_bytes)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        status = 500  # counted when no answer starts, as RequestMetricsMiddleware does
        answering = False
        started = time.perf_counter()
        try:
            try:
                body = await read_body(receive, self.max_body_bytes)
                response = await endpoint(self.context, body, Headers(raw=headers),
                                          scope["path"])
            except Exception as exc:
                response = await self._handled(scope, receive, exc)
                if response is None:
                    return
            status = response.status_code
            answering = True
            if type(response).__call__ is Response.__call__:
                await send({"type": "http.response.start", "status": status,
                            "headers": response.raw_headers})
                await send({"type": "http.response.body", "body": response.body})
                if response.background is not None:
                    await response.background()
            else:
                await response(scope, receive, send)
        except Exception as exc:
            # A handler or the answer failed: what CatchAllMiddleware does (an answer that
            # started cannot be replaced).
            response = unhandled_error_response(scope, exc)
            if response is None:
                return
            if answering:
                raise
            await response(scope, receive, send)
        finally:
            self.metrics.observe(scope["method"], scope["path"], status,
                                 time.perf_counter() - started)

    async def _handled(self, scope: dict[str, Any], receive: Any,
                       exc: Exception) -> Response | None:
        """The app's exception handler's answer to `exc`, else CatchAllMiddleware's."""
        if self._handlers is None:
            # As FastAPI builds its ExceptionMiddleware: 500 and Exception go elsewhere.
            handlers = self.app.exception_handlers
            self._handlers = ({k: v for k, v in handlers.items()
                               if isinstance(k, type) and k is not Exception},
                              {k: v for k, v in handlers.items()
                               if isinstance(k, int) and k != 500})
        by_class, by_status = self._handlers
        handler = by_status.get(exc.status_code) if isinstance(exc, HTTPException) else None
        if handler is None:
            handler = next((by_class[cls] for cls in type(exc).__mro__ if cls in by_class),
                           None)
        if handler is None:
            return unhandled_error_response(scope, exc)
        answer = handler(Request(scope, receive), exc)
        return await answer if isinstance(answer, Awaitable) else answer
