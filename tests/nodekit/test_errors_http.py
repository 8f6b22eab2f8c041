"""Every error a service can answer is JSON {"error", "detail"}, never HTML or a crash."""

from __future__ import annotations

import logging

import pytest
from fastapi import FastAPI, HTTPException, Request
from fastapi.testclient import TestClient
from pydantic import BaseModel

from nodekit.errors_http import (install_body_size_limit, install_error_handlers,
                                 status_error_name)
from nodekit.jsonutil import Address, Amount
from protocol.exceptions import NonceMismatch


class TransferRequest(BaseModel):
    to: Address
    amount: Amount


def make_app(max_body_bytes: int = 1024) -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)
    install_body_size_limit(app, max_body_bytes)

    @app.post("/transfer")
    def transfer(request: TransferRequest) -> dict:
        if request.amount == 13:
            raise NonceMismatch("nonce 3 != expected 2", expected=2, got=3)
        return {"ok": True, "amount": str(request.amount)}

    @app.get("/boom")
    def boom() -> dict:
        raise RuntimeError("database on fire")

    @app.get("/async-boom")
    async def async_boom() -> dict:
        raise KeyError("missing")

    @app.get("/teapot")
    def teapot() -> dict:
        raise HTTPException(418, "short and stout")

    @app.post("/raw")
    async def raw(request: Request) -> dict:
        return {"size": len(await request.body())}

    return app


@pytest.fixture
def client():
    with TestClient(make_app(), raise_server_exceptions=False) as test_client:
        yield test_client


def test_protocol_error_is_400_with_class_name(client):
    response = client.post("/transfer", json={"to": "0x" + "11" * 20, "amount": "13"})
    assert response.status_code == 400
    assert response.json() == {"error": "NonceMismatch", "detail": "nonce 3 != expected 2"}


def test_valid_request_passes(client):
    response = client.post("/transfer", json={"to": "0x" + "11" * 20, "amount": "5"})
    assert response.status_code == 200 and response.json() == {"ok": True, "amount": "5"}


def test_validation_error_is_422_readable(client):
    response = client.post("/transfer", json={"to": "0x11", "amount": "-1"})
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "InvalidRequest"
    assert "body.to: address must be 20 bytes, got 1" in body["detail"]
    assert "body.amount: amount must be a decimal string" in body["detail"]


def test_malformed_json_is_422(client):
    response = client.post("/transfer", content=b"{not json",
                           headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert response.json()["error"] == "InvalidRequest"


def test_unexpected_exception_is_500_json_and_logged(client, caplog):
    with caplog.at_level(logging.ERROR, logger="seqnet.http.errors"):
        for path, name in (("/boom", "RuntimeError"), ("/async-boom", "KeyError")):
            response = client.get(path)
            assert response.status_code == 500
            assert response.headers["content-type"] == "application/json"
            body = response.json()
            assert body["error"] == "InternalError" and name in body["detail"]
    assert any(record.exc_info for record in caplog.records)


def test_http_exceptions_and_404_are_json(client):
    response = client.get("/nowhere")
    assert response.status_code == 404
    assert response.json() == {"error": "NotFound", "detail": "Not Found"}
    response = client.get("/teapot")
    assert response.status_code == 418 and response.json()["detail"] == "short and stout"
    response = client.delete("/boom")
    assert response.status_code == 405 and response.json()["error"] == "MethodNotAllowed"


def test_body_over_limit_by_content_length_is_413(client):
    response = client.post("/raw", content=b"x" * 2000)
    assert response.status_code == 413
    assert response.json()["error"] == "PayloadTooLarge"


def test_streamed_body_over_limit_is_413(client):
    def chunks():
        for _ in range(10):
            yield b"y" * 300
    response = client.post("/raw", content=chunks())   # chunked: no Content-Length
    assert response.status_code == 413
    assert response.json()["error"] == "PayloadTooLarge"
    response = client.post("/transfer", content=chunks(),
                           headers={"content-type": "application/json"})
    assert response.status_code == 413


def test_body_under_limit_passes(client):
    assert client.post("/raw", content=b"z" * 1000).json() == {"size": 1000}


def test_status_error_names():
    assert status_error_name(404) == "NotFound"
    assert status_error_name(405) == "MethodNotAllowed"
    assert status_error_name(599) == "HTTP599"
