"""Small synchronous HTTP helpers for the CLI: JSON in and out, one-line errors.

Every failure becomes a `ClientError` whose message names the URL and the reason
("cannot reach http://127.0.0.1:8545/rpc: connection refused"), which the CLI prints as is
and exits non-zero.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

import httpx

DEFAULT_TIMEOUT_S = 10.0


class ClientError(Exception):
    """A one-line reason a command cannot go on."""


class RemoteError(ClientError):
    """The service answered with an error: `error` is its machine-readable reason."""

    def __init__(self, message: str, status: int, error: str = "", detail: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.detail = detail


def _reason(error: Exception) -> str:
    if isinstance(error, httpx.ConnectError):
        return "connection refused (is the devnet up? `seqnet devnet up`)"
    if isinstance(error, httpx.TimeoutException):
        return "timed out"
    return str(error) or type(error).__name__


def _decode(response: httpx.Response, what: str) -> Any:
    if response.status_code >= 400:
        error, detail = "", None
        try:
            body = response.json()
            if isinstance(body, dict):
                error = str(body.get("error", ""))
                detail = body.get("detail")
        except ValueError:
            detail = response.text[:200]
        if isinstance(detail, list | dict):
            detail_text = json.dumps(detail)[:300]
        else:
            detail_text = str(detail or "").strip()
        reason = ": ".join(part for part in (error, detail_text) if part) or response.reason_phrase
        raise RemoteError(f"{what} failed ({response.status_code}): {reason}",
                          response.status_code, error, detail)
    if not response.content:
        return None
    try:
        return json.loads(response.content)
    except ValueError:
        raise ClientError(f"{what}: the answer is not JSON") from None


def request(method: str, url: str, *, json_body: Any = None, params: dict | None = None,
            timeout_s: float = DEFAULT_TIMEOUT_S, headers: dict | None = None) -> Any:
    what = f"{method} {url}"
    try:
        response = httpx.request(method, url, json=json_body, params=params, timeout=timeout_s,
                                 headers=headers)
    except httpx.HTTPError as error:
        raise ClientError(f"cannot reach {url}: {_reason(error)}") from None
    return _decode(response, what)


def get(url: str, **kwargs: Any) -> Any:
    return request("GET", url, **kwargs)


def post(url: str, json_body: Any = None, **kwargs: Any) -> Any:
    return request("POST", url, json_body=json_body, **kwargs)


def post_bytes(url: str, content: bytes, content_type: str = "application/octet-stream",
               timeout_s: float = DEFAULT_TIMEOUT_S) -> Any:
    try:
        response = httpx.post(url, content=content, headers={"content-type": content_type},
                              timeout=timeout_s)
    except httpx.HTTPError as error:
        raise ClientError(f"cannot reach {url}: {_reason(error)}") from None
    return _decode(response, f"POST {url}")


def is_healthy(url: str, timeout_s: float = 1.0) -> bool:
    """GET url answers 2xx."""
    try:
        return httpx.get(url, timeout=timeout_s).status_code < 300
    except httpx.HTTPError:
        return False


_ids = itertools.count(1)


def rpc(url: str, method: str, params: list | None = None, timeout_s: float = DEFAULT_TIMEOUT_S) -> Any:
    """One Ethereum JSON-RPC call; a JSON-RPC error becomes a RemoteError."""
    body = {"jsonrpc": "2.0", "id": next(_ids), "method": method, "params": params or []}
    answer = request("POST", url, json_body=body, timeout_s=timeout_s)
    if not isinstance(answer, dict):
        raise ClientError(f"{method} at {url}: not a JSON-RPC answer")
    if answer.get("error"):
        error = answer["error"]
        message = error.get("message", "") if isinstance(error, dict) else str(error)
        raise RemoteError(f"{method} failed: {message}", 200, "rpc", error)
    return answer.get("result")
