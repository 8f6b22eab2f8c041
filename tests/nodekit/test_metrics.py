"""Per-app Prometheus registries, /metrics, and request metrics per route template."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client import Counter

from nodekit.errors_http import install_error_handlers
from nodekit.metrics import install_request_metrics, make_registry, metrics_router


def make_app(name: str):
    registry = make_registry()
    app = FastAPI()
    install_error_handlers(app)
    install_request_metrics(app, registry)
    app.include_router(metrics_router(registry))
    produced = Counter("seqnet_blocks_produced_total", "Blocks sealed", registry=registry)

    @app.get("/blocks/{number}")
    def block(number: int) -> dict:
        produced.inc()
        return {"number": number, "node": name}

    @app.get("/crash")
    def crash() -> dict:
        raise RuntimeError("bug")

    return app


def test_two_apps_in_one_process_keep_their_own_metrics():
    with TestClient(make_app("a"), raise_server_exceptions=False) as a, \
            TestClient(make_app("b"), raise_server_exceptions=False) as b:
        for number in range(3):
            assert a.get(f"/blocks/{number}").status_code == 200
        b.get("/blocks/9")
        a_text = a.get("/metrics").text
        b_text = b.get("/metrics").text
    assert "seqnet_blocks_produced_total 3.0" in a_text
    assert "seqnet_blocks_produced_total 1.0" in b_text


def test_requests_counted_per_route_template_and_status():
    with TestClient(make_app("a"), raise_server_exceptions=False) as client:
        client.get("/blocks/1")
        client.get("/blocks/2")
        client.get("/blocks/x")          # 422
        client.get("/nowhere")           # 404, unmatched
        client.get("/crash")             # 500
        response = client.get("/metrics")
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert 'seqnet_http_requests_total{method="GET",route="/blocks/{number}",status="200"} 2.0' \
        in text
    assert 'route="/blocks/{number}",status="422"} 1.0' in text
    assert 'route="unmatched",status="404"} 1.0' in text
    assert 'route="/crash",status="500"} 1.0' in text
    assert 'seqnet_http_request_duration_seconds_count{method="GET",route="/blocks/{number}"} 3.0' \
        in text
    assert 'route="/metrics"' not in text
