"""nodekit.fastlane.HotLane answers its routes exactly as the FastAPI app behind it would
answer the same endpoint declared as a route: status, JSON body, content headers, request
metrics, for success, every error class, oversized bodies and a client that went away."""

from __future__ import annotations

import asyncio
import logging

import httpx
import orjson
import pytest
from fastapi import FastAPI, Request
from fastapi import HTTPException as FastAPIHTTPException
from fastapi.exceptions import RequestValidationError
from prometheus_client.exposition import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from starlette.exceptions import HTTPException
from starlette.responses import Response

from nodekit.errors import RemoteRejected, ResetError, TemporaryError
from nodekit.errors_http import install_body_size_limit, install_error_handlers
from nodekit.fastlane import HotLane
from nodekit.metrics import install_request_metrics, make_registry
from protocol.exceptions import InvalidEncoding, ProtocolError

MAX_BODY = 256


class Missing(ProtocolError):
    http_status = 404


RAISES = {
    "protocol": lambda: InvalidEncoding("raw must be 0x hex"),
    "missing": lambda: Missing("no such thing"),
    "temporary": lambda: TemporaryError("L1 did not answer"),
    "rejected": lambda: RemoteRejected(400, "NonceTooLow", "nonce 3, expected 4"),
    "unauthorized": lambda: HTTPException(401, "missing peer signature"),
    "forbidden": lambda: FastAPIHTTPException(403, "not a registered key"),
    "validation": lambda: RequestValidationError(
        [{"loc": ("body", "raw"), "msg": "Value error, raw must be hex", "type": "value_error"}]),
    "bug": lambda: RuntimeError("boom"),
    "service-bug": lambda: ResetError("diverged"),
}


async def endpoint(context, body: bytes, headers, path: str):
    """What a hot endpoint looks like: everything from (context, body, headers, path)."""
    request = orjson.loads(body)
    kind = request["kind"]
    if kind in RAISES:
        raise RAISES[kind]()
    return Response(orjson.dumps({"kind": kind, "context": context, "path": path,
                                  "echo": headers.get("x-echo"), "size": len(body)}),
                    media_type="application/json")


def make_lane() -> tuple[HotLane, object]:
    """A service the way create_app builds one: metrics, error handlers, body limit."""
    app = FastAPI()
    registry = make_registry()
    metrics = install_request_metrics(app, registry)
    install_error_handlers(app)
    install_body_size_limit(app, MAX_BODY)

    @app.post("/x")
    async def declared(request: Request):
        return await endpoint("ctx", await request.body(), request.headers, request.url.path)

    @app.get("/y")
    async def other():
        return {"other": True}

    return HotLane(app, [("POST", "/x", endpoint)], "ctx", max_body_bytes=MAX_BODY,
                   metrics=metrics), registry


def request_counts(registry) -> dict:
    """(name, labels) -> value of the request counter and the latency histogram's count."""
    counts = {}
    for family in text_string_to_metric_families(generate_latest(registry).decode()):
        for sample in family.samples:
            if sample.name in ("seqnet_http_requests_total",
                               "seqnet_http_request_duration_seconds_count"):
                counts[sample.name, tuple(sorted(sample.labels.items()))] = sample.value
    return counts


def answer_of(response: httpx.Response) -> tuple:
    headers = {name: response.headers.get(name)
               for name in ("content-type", "content-length", "retry-after", "allow")}
    return response.status_code, response.content, headers


def streamed(*chunks: bytes):
    """A body sent in chunks without a Content-Length (a callable: one stream per send)."""
    async def stream():
        for chunk in chunks:
            yield chunk
    return stream


def fresh(kwargs: dict) -> dict:
    content = kwargs.get("content")
    return {**kwargs, "content": content()} if callable(content) else kwargs


async def send_both(requests) -> tuple[list, list, dict]:
    """Each request sent through a fresh HotLane and through a second service's FastAPI app
    directly: both answers, and the request metrics (the same in both)."""
    hot, hot_registry = make_lane()
    slow, slow_registry = make_lane()
    answers = {}
    for name, app in (("hot", hot), ("slow", slow.app)):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://test") as client:
            answers[name] = [answer_of(await client.request(method, url, **fresh(kwargs)))
                             for method, url, kwargs in requests]
    counts = request_counts(hot_registry)
    assert counts == request_counts(slow_registry)
    return answers["hot"], answers["slow"], counts


def test_every_answer_is_the_fastapi_routes_answer():
    def body(kind):
        return {"content": orjson.dumps({"kind": kind}), "headers": {"x-echo": "e"}}

    kinds = ["fine", *RAISES]
    requests = [("POST", "/x", body(kind)) for kind in kinds]
    exactly_max = orjson.dumps({"kind": "k" * (MAX_BODY - 11)})
    assert len(exactly_max) == MAX_BODY
    requests += [("POST", "/x", {"content": b"{not json"}),                 # orjson error: 500
                 ("POST", "/x", {"content": b"x" * (MAX_BODY + 1)}),       # declared: 413
                 ("POST", "/x", {"content": streamed(b"x" * 200, b"x" * 200)}),  # streamed: 413
                 ("POST", "/x", {"content": exactly_max}),                  # 200
                 ("GET", "/x", {}), ("PUT", "/x", {}), ("HEAD", "/x", {}),  # 405, FastAPI's
                 ("POST", "/x/", body("fine")), ("GET", "/y", {}), ("POST", "/nowhere", {})]
    hot, slow, _ = asyncio.run(send_both(requests))
    for request, hot_answer, slow_answer in zip(requests, hot, slow):
        assert hot_answer == slow_answer, request
    by_kind = dict(zip(kinds, hot))
    assert by_kind["fine"][0] == 200
    assert orjson.loads(by_kind["fine"][1]) == {"kind": "fine", "context": "ctx", "path": "/x",
                                                "echo": "e", "size": 15}
    expected = {
        "protocol": (400, {"error": "InvalidEncoding", "detail": "raw must be 0x hex"}),
        "missing": (404, {"error": "Missing", "detail": "no such thing"}),
        "temporary": (503, {"error": "TemporaryError", "detail": "L1 did not answer"}),
        "rejected": (502, {"error": "NonceTooLow",
                           "detail": "upstream refused: nonce 3, expected 4"}),
        "unauthorized": (401, {"error": "Unauthorized", "detail": "missing peer signature"}),
        "forbidden": (403, {"error": "Forbidden", "detail": "not a registered key"}),
        "validation": (422, {"error": "InvalidRequest", "detail": "body.raw: raw must be hex"}),
        "bug": (500, {"error": "InternalError", "detail": "RuntimeError: boom"}),
        "service-bug": (500, {"error": "InternalError", "detail": "ResetError: diverged"}),
    }
    for kind, (status, error) in expected.items():
        assert by_kind[kind][:2] == (status, orjson.dumps(error)), kind
        assert by_kind[kind][2]["content-type"] == "application/json"
        assert by_kind[kind][2]["content-length"] == str(len(by_kind[kind][1]))
    assert by_kind["temporary"][2]["retry-after"] == "1"
    too_large = orjson.dumps({"error": "PayloadTooLarge",
                              "detail": f"request body exceeds {MAX_BODY} bytes"})
    assert hot[len(kinds) + 1][:2] == (413, too_large)
    assert hot[len(kinds) + 2][:2] == (413, too_large)
    assert hot[len(kinds) + 3][0] == 200


def test_requests_are_counted_as_the_middleware_counts_them():
    requests = [("POST", "/x", {"content": orjson.dumps({"kind": kind})})
                for kind in ("fine", "fine", "protocol", "bug")]
    requests += [("POST", "/x", {"content": b"x" * (MAX_BODY + 1)}),       # refused: uncounted
                 ("POST", "/x", {"content": streamed(b"x" * 200, b"x" * 200)}),
                 ("GET", "/y", {})]
    _, _, counts = asyncio.run(send_both(requests))
    requests_total = {labels: value for (name, labels), value in counts.items()
                      if name == "seqnet_http_requests_total"}
    x = (("method", "POST"), ("route", "/x"))
    assert requests_total == {(*x, ("status", "200")): 2.0, (*x, ("status", "400")): 1.0,
                              (*x, ("status", "500")): 1.0, (*x, ("status", "413")): 1.0,
                              (("method", "GET"), ("route", "/y"), ("status", "200")): 1.0}
    assert counts["seqnet_http_request_duration_seconds_count", x] == 5.0


async def call_asgi(app, method: str, headers: list, messages: list) -> tuple[list, str]:
    """One request straight into `app`: what it sent, and the exception it raised (if any)."""
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": method, "scheme": "http", "path": "/x", "raw_path": b"/x",
             "root_path": "", "query_string": b"", "headers": headers,
             "server": ("test", 80), "client": ("127.0.0.1", 5000)}
    pending = list(messages)
    sent = []

    async def receive():
        return pending.pop(0) if pending else {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    try:
        await app(scope, receive, send)
    except Exception as exc:  # noqa: BLE001 - compared, not handled
        return sent, repr(exc)
    return sent, ""


@pytest.mark.parametrize("case", ["disconnect", "bad-length", "chunks"])
def test_raw_asgi_edge_cases_match(case):
    headers, messages = {
        "disconnect": ([], [{"type": "http.request", "body": b'{"kind"', "more_body": True},
                            {"type": "http.disconnect"}]),
        "bad-length": ([(b"content-length", b"ten")],
                       [{"type": "http.request", "body": b"{}", "more_body": False}]),
        "chunks": ([], [{"type": "http.request", "body": b'{"kind"', "more_body": True},
                        {"type": "http.request", "body": b"", "more_body": True},
                        {"type": "http.request", "body": b':"fine"}', "more_body": False}]),
    }[case]

    async def scenario():
        (hot, hot_registry), (slow, slow_registry) = make_lane(), make_lane()
        hot_answer = await call_asgi(hot, "POST", headers, messages)
        slow_answer = await call_asgi(slow.app, "POST", headers, messages)
        assert hot_answer == slow_answer
        assert request_counts(hot_registry) == request_counts(slow_registry)
        return hot_answer, request_counts(hot_registry)

    (sent, raised), counts = asyncio.run(scenario())
    assert raised == ""
    if case == "disconnect":  # nobody to answer; counted as a 500 (nothing was sent)
        assert sent == []
        assert counts[("seqnet_http_requests_total",
                       (("method", "POST"), ("route", "/x"), ("status", "500")))] == 1.0
    elif case == "bad-length":
        assert sent[0]["status"] == 400 and b"invalid Content-Length" in sent[1]["body"]
        assert not any(name == "seqnet_http_requests_total" for name, _ in counts)
    else:
        assert sent[0]["status"] == 200 and orjson.loads(sent[1]["body"])["size"] == 15


def test_an_unhandled_error_is_logged_as_the_catch_all_logs_it(caplog):
    async def scenario(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://test") as client:
            return await client.post("/x", content=orjson.dumps({"kind": "bug"}))

    records = []
    for app in (make_lane()[0], make_lane()[0].app):
        caplog.clear()
        with caplog.at_level(logging.ERROR, logger="seqnet.http.errors"):
            assert asyncio.run(scenario(app)).status_code == 500
        records.append([(r.name, r.levelno, r.getMessage(), r.exc_info[0]) for r in caplog.records])
    assert records[0] == records[1] == [("seqnet.http.errors", logging.ERROR,
                                         "unhandled error in POST /x", RuntimeError)]


def test_the_lane_stands_in_for_the_app():
    lane, _ = make_lane()
    lane.app.state.marker = "m"
    assert lane.state.marker == "m"
    assert "/x" in lane.openapi()["paths"] and "/y" in lane.openapi()["paths"]
    assert lane.routes == {("POST", "/x"): endpoint}
    from fastapi.testclient import TestClient
    with TestClient(lane) as client:  # lifespan passes through
        assert client.get("/y").json() == {"other": True}
        assert client.post("/x", content=orjson.dumps({"kind": "fine"})).status_code == 200
