"""Prometheus metrics per app (DESIGN.md section 9: `/metrics` on every service).

Every app gets its own `CollectorRegistry` from `make_registry()`, never the global one:
the embedded devnet runs several nodes in one process, and each must report only its own.

    registry = make_registry()
    app.include_router(metrics_router(registry))
    install_request_metrics(app, registry)
    blocks = Counter("seqnet_blocks_produced_total", "Blocks sealed", registry=registry)
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, FastAPI, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import generate_latest

LATENCY_BUCKETS_S = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
                     2.5, 5.0)
"""Request latency buckets: the receipt path is about 2 ms at p50, 25 ms is its p99 goal."""


def make_registry() -> CollectorRegistry:
    """A fresh registry for one app."""
    return CollectorRegistry(auto_describe=True)


def metrics_router(registry: CollectorRegistry, path: str = "/metrics") -> APIRouter:
    """A router serving `registry` at `path` in Prometheus' text format."""
    router = APIRouter()

    @router.get(path, include_in_schema=False)
    def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return router


class RequestMetrics:
    """The request counter and latency histogram of one app, and the one way to record a
    request in them (RequestMetricsMiddleware and nodekit.fastlane both call `observe`).

    The labelled children are cached per label set: `labels()` validates and locks on every
    call, and the set of (method, route, status) an app sees is small and fixed."""

    def __init__(self, requests: Counter, latency: Histogram) -> None:
        self.requests = requests
        """`{prefix}_requests_total{method,route,status}`."""
        self.latency = latency
        """`{prefix}_request_duration_seconds{method,route}`."""
        self._counted: dict[tuple[str, str, int], Any] = {}
        self._timed: dict[tuple[str, str], Any] = {}

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        """One request: `route` is the matched path template, or "unmatched"."""
        counter = self._counted.get((method, route, status))
        if counter is None:
            counter = self._counted[method, route, status] = \
                self.requests.labels(method, route, str(status))
        counter.inc()
        timer = self._timed.get((method, route))
        if timer is None:
            timer = self._timed[method, route] = self.latency.labels(method, route)
        timer.observe(seconds)


class RequestMetricsMiddleware:
    """Pure ASGI middleware: counts requests and observes latency per route template.

    Labels use the matched route's path template (`/blocks/{number}`), never the raw path, so
    the number of series stays bounded; unmatched paths share the label "unmatched".
    """

    def __init__(self, app: Any, metrics: RequestMetrics,
                 skip_paths: frozenset[str] = frozenset({"/metrics"})) -> None:
        self.app = app
        self.metrics = metrics
        self.skip_paths = skip_paths

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope.get("path") in self.skip_paths:
            await self.app(scope, receive, send)
            return
        status = 500
        started = time.perf_counter()

        async def send_with_status(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        finally:
            route = scope.get("route")
            label = getattr(route, "path", None) or "unmatched"
            self.metrics.observe(scope.get("method", ""), label, status,
                                 time.perf_counter() - started)


def install_request_metrics(app: FastAPI, registry: CollectorRegistry,
                            prefix: str = "seqnet_http") -> RequestMetrics:
    """Count requests (`{prefix}_requests_total{method,route,status}`) and time them
    (`{prefix}_request_duration_seconds{method,route}`) into `registry`; returns the metrics
    so that a path around the middleware (nodekit.fastlane) records into the same series."""
    requests = Counter(f"{prefix}_requests_total", "HTTP requests served",
                       ("method", "route", "status"), registry=registry)
    latency = Histogram(f"{prefix}_request_duration_seconds", "HTTP request latency",
                        ("method", "route"), buckets=LATENCY_BUCKETS_S, registry=registry)
    metrics = RequestMetrics(requests, latency)
    app.add_middleware(RequestMetricsMiddleware, metrics=metrics)
    return metrics
