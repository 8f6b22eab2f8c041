"""Serve a service's hottest routes ahead of FastAPI's router.

FastAPI (0.165) matches a request against every included router in turn, with context
bookkeeping per candidate; on the sequencer that cost about as much CPU per transaction as
recovering its sender (docs/performance.md). The routes that carry every transaction
(intake, JSON-RPC, peer forwarding and gossip) are therefore also registered as plain
Starlette routes at the head of the route table, with the same endpoint functions. The
FastAPI declarations stay where they are: OpenAPI documents them, and every other method or
path falls through to them. Exception handlers apply to both, so errors look the same.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable

from fastapi import FastAPI, Request
from starlette.responses import Response
from starlette.routing import Route

Endpoint = Callable[[Request], Awaitable[Response]]


def install_fast_routes(app: FastAPI, routes: Iterable[tuple[str, str, Endpoint]]) -> None:
    """`routes`: (method, path, endpoint taking the Request); first match wins."""
    fast = [Route(path, endpoint, methods=[method]) for method, path, endpoint in routes]
    app.router.routes[0:0] = fast
