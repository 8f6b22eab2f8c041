"""ServiceClient: JSON, typed errors, bounded retries only where they are safe."""

from __future__ import annotations

import asyncio
import socket

import httpx
import pytest
import uvicorn
from fastapi import FastAPI, HTTPException, Response

from nodekit.errors import RemoteRejected, TemporaryError
from nodekit.errors_http import install_error_handlers
from nodekit.http import ServiceClient, SyncServiceClient
from protocol.exceptions import NonceMismatch

FAST = {"retries": 2, "backoff_ms": 1, "max_backoff_ms": 2}


def make_app() -> tuple[FastAPI, dict[str, int]]:
    app = FastAPI()
    install_error_handlers(app)
    calls: dict[str, int] = {}

    def count(name: str) -> int:
        calls[name] = calls.get(name, 0) + 1
        return calls[name]

    @app.get("/status")
    def status() -> dict:
        count("status")
        return {"height": 5, "amount": str(2**200)}

    @app.post("/echo")
    def echo(body: dict) -> dict:
        return {"got": body}

    @app.post("/call")
    def call(body: dict) -> dict:
        raise NonceMismatch("nonce 4 != expected 3", expected=3, got=4)

    @app.get("/flaky")
    def flaky() -> dict:
        if count("flaky") < 3:
            raise HTTPException(503, "warming up")
        return {"ok": True}

    @app.get("/down")
    def down() -> dict:
        count("down")
        raise HTTPException(502, "bad gateway")

    @app.post("/down")
    def down_post() -> dict:
        count("down_post")
        raise HTTPException(500, "oops")

    @app.get("/slow")
    async def slow() -> dict:
        count("slow")
        await asyncio.sleep(0.3)
        return {}

    @app.post("/slow")
    async def slow_post() -> dict:
        count("slow_post")
        await asyncio.sleep(0.3)
        return {}

    @app.get("/empty")
    def empty() -> Response:
        return Response(status_code=204)

    @app.get("/missing")
    def missing() -> dict:
        raise HTTPException(404, "no such block")

    return app, calls


def run(coroutine):
    return asyncio.run(coroutine)


def asgi_client(app: FastAPI, **options) -> ServiceClient:
    return ServiceClient("http://service", transport=httpx.ASGITransport(app=app),
                         **{**FAST, **options})


def test_json_round_trip_and_empty_body():
    app, _ = make_app()

    async def main():
        async with asgi_client(app) as client:
            assert await client.get("/status") == {"height": 5, "amount": str(2**200)}
            assert await client.post("/echo", {"a": [1, "0x01"]}) == {"got": {"a": [1, "0x01"]}}
            assert await client.get("/empty") is None
    run(main())


def test_4xx_raises_remote_rejected_with_service_error_and_no_retry():
    app, calls = make_app()

    async def main():
        async with asgi_client(app) as client:
            with pytest.raises(RemoteRejected) as caught:
                await client.post("/call", {"x": 1}, idempotent=True)
            assert (caught.value.status, caught.value.error, caught.value.detail) == \
                (400, "NonceMismatch", "nonce 4 != expected 3")
            with pytest.raises(RemoteRejected) as caught:
                await client.get("/missing")
            assert (caught.value.status, caught.value.error) == (404, "NotFound")
            with pytest.raises(RemoteRejected) as caught:
                await client.post("/echo", [1, 2])
            assert caught.value.status == 422 and caught.value.error == "InvalidRequest"
    run(main())


def test_5xx_retried_for_idempotent_calls_until_success():
    app, calls = make_app()

    async def main():
        async with asgi_client(app) as client:
            assert await client.get("/flaky") == {"ok": True}
    run(main())
    assert calls["flaky"] == 3


def test_5xx_exhausts_retries_into_temporary_error():
    app, calls = make_app()

    async def main():
        async with asgi_client(app) as client:
            with pytest.raises(TemporaryError, match="after 3 attempt"):
                await client.get("/down")
            with pytest.raises(TemporaryError, match="500"):
                await client.post("/down")          # not idempotent: sent once
    run(main())
    assert calls["down"] == 3 and calls["down_post"] == 1


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_real_uvicorn_server_timeouts_and_connection_refused():
    app, calls = make_app()

    async def main():
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
        serving = asyncio.create_task(server.serve(sockets=[sock]))
        try:
            while not server.started:
                await asyncio.sleep(0.01)
            async with ServiceClient(f"http://127.0.0.1:{port}", **FAST) as client:
                assert (await client.get("/status"))["height"] == 5
                with pytest.raises(RemoteRejected):
                    await client.post("/call", {})
            # Timeouts: a GET is retried, a POST is not (it may have been applied).
            async with ServiceClient(f"http://127.0.0.1:{port}", timeout_s=0.05, **FAST) as client:
                with pytest.raises(TemporaryError, match="Timeout"):
                    await client.get("/slow")
                with pytest.raises(TemporaryError, match="after 1 attempt"):
                    await client.post("/slow")
        finally:
            server.should_exit = True
            await serving
            sock.close()
        # Nothing listens there any more: refused connections are retried, then temporary,
        # even for a POST (nothing was sent).
        async with ServiceClient(f"http://127.0.0.1:{_free_port()}", **FAST) as client:
            with pytest.raises(TemporaryError, match="after 3 attempt"):
                await client.post("/call", {})
    run(main())
    assert calls["slow"] == 3 and calls["slow_post"] == 1


def test_sync_client_same_policy():
    attempts = {"n": 0}

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/flaky":
            attempts["n"] += 1
            if attempts["n"] < 2:
                return httpx.Response(503, json={"error": "Busy", "detail": "later"})
            return httpx.Response(200, json={"ok": True})
        if request.url.path == "/reject":
            return httpx.Response(400, json={"error": "InvalidSignature", "detail": "bad"})
        if request.url.path == "/html":
            return httpx.Response(500, text="<html>oops</html>")
        raise httpx.ConnectError("refused", request=request)

    with SyncServiceClient("http://cli", transport=httpx.MockTransport(handler), **FAST) as client:
        assert client.get("/flaky") == {"ok": True} and attempts["n"] == 2
        with pytest.raises(RemoteRejected) as caught:
            client.post("/reject", {"a": 1})
        assert caught.value.error == "InvalidSignature"
        with pytest.raises(TemporaryError, match="oops"):
            client.get("/html")
        with pytest.raises(TemporaryError, match="refused"):
            client.post("/elsewhere", {})
