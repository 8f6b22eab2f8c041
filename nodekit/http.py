"""HTTP clients for calls between services (and from the CLI): JSON in and out, typed errors.

- 2xx: the decoded JSON body (None when empty).
- 4xx: `RemoteRejected(status, error, detail)` from the service's `{"error", "detail"}`
  body; never retried (the same request gets the same answer). 408 and 429 are the
  exceptions: they mean "later" and are treated like 5xx.
- connection refused, timeouts, 5xx: retried with exponential backoff when the call is
  idempotent (every GET; a POST only when the caller says so), then `TemporaryError`.
  A connection that could not be opened is retried for any method: nothing was sent.

Bodies are encoded and decoded with orjson. Note that orjson reads integers beyond 64 bits
as floats: the APIs carry amounts as decimal strings (DESIGN.md section 9), never as numbers.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from typing import Any

import httpx
import orjson

from .errors import RemoteRejected, TemporaryError

log = logging.getLogger("seqnet.http")

_RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
_JSON_HEADERS = {"content-type": "application/json", "accept": "application/json"}


class _Policy:
    """What the async and sync clients share: timeouts, retries, decoding."""

    def __init__(self, base_url: str, *, timeout_s: float, connect_timeout_s: float,
                 retries: int, backoff_ms: int, max_backoff_ms: int) -> None:
        if retries < 0:
            raise ValueError("retries must not be negative")
        self.base_url = base_url.rstrip("/")
        self.timeout = httpx.Timeout(timeout_s, connect=connect_timeout_s)
        self.retries = retries
        self.backoff_ms = backoff_ms
        self.max_backoff_ms = max_backoff_ms

    def backoff_s(self, attempt: int) -> float:
        """Full-jitter exponential backoff before retry `attempt` (1-based)."""
        ceiling = min(self.max_backoff_ms, self.backoff_ms * 2 ** (attempt - 1))
        return random.uniform(ceiling / 2, ceiling) / 1000

    def describe(self, method: str, path: str) -> str:
        return f"{method} {self.base_url}{path}"

    def should_retry(self, error: Exception, idempotent: bool) -> bool:
        """A connection never opened: always (nothing was sent). Else only idempotent calls."""
        if isinstance(error, httpx.ConnectError | httpx.ConnectTimeout):
            return True
        return idempotent

    def handle(self, method: str, path: str, response: httpx.Response) -> Any:
        status = response.status_code
        if status < 300:
            return decode_json(response.content)
        if status in _RETRY_STATUSES or status >= 500:
            error, detail = _error_body(response)
            raise TemporaryError(f"{self.describe(method, path)}: {status} {error}: {detail}")
        error, detail = _error_body(response)
        raise RemoteRejected(status, error, detail)


def decode_json(content: bytes) -> Any:
    """A response body as JSON; None for an empty body."""
    if not content:
        return None
    try:
        return orjson.loads(content)
    except orjson.JSONDecodeError:
        raise TemporaryError(f"response is not JSON: {content[:200]!r}") from None


def _error_body(response: httpx.Response) -> tuple[str, str]:
    """(error, detail) of a service's error response, whatever shape it has."""
    try:
        body = orjson.loads(response.content) if response.content else None
    except orjson.JSONDecodeError:
        body = None
    if isinstance(body, dict):
        error = body.get("error")
        detail = body.get("detail")
        if not isinstance(error, str):
            error = response.reason_phrase.replace(" ", "") or f"HTTP{response.status_code}"
        if not isinstance(detail, str):
            detail = orjson.dumps(detail).decode() if detail is not None else ""
        return error, detail
    reason = response.reason_phrase.replace(" ", "") or f"HTTP{response.status_code}"
    return reason, response.text[:500]


def _encode(body: Any) -> bytes | None:
    return None if body is None else orjson.dumps(body)


class ServiceClient:
    """An async JSON client of one service (its base URL), with bounded retries.

        client = ServiceClient("http://127.0.0.1:8600")
        status = await client.get("/status")
        await client.post("/calls", encode_l1_call(call))   # not retried after sending
        await client.aclose()

    `transport` lets tests plug in `httpx.ASGITransport(app)` or a mock transport.
    """

    def __init__(self, base_url: str, *, timeout_s: float = 5.0, connect_timeout_s: float = 2.0,
                 retries: int = 3, backoff_ms: int = 100, max_backoff_ms: int = 2000,
                 headers: dict[str, str] | None = None,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._policy = _Policy(base_url, timeout_s=timeout_s, connect_timeout_s=connect_timeout_s,
                               retries=retries, backoff_ms=backoff_ms,
                               max_backoff_ms=max_backoff_ms)
        self._client = httpx.AsyncClient(base_url=self._policy.base_url,
                                         timeout=self._policy.timeout,
                                         headers={**_JSON_HEADERS, **(headers or {})},
                                         transport=transport)

    @property
    def base_url(self) -> str:
        return self._policy.base_url

    async def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        """GET `path`; always idempotent, so retried."""
        return await self.request("GET", path, params=params, idempotent=True)

    async def post(self, path: str, body: Any = None, *, idempotent: bool = False) -> Any:
        """POST `body` as JSON; retried after sending only when `idempotent`."""
        return await self.request("POST", path, body=body, idempotent=idempotent)

    async def request(self, method: str, path: str, *, body: Any = None,
                      params: dict[str, Any] | None = None, idempotent: bool | None = None) -> Any:
        """Send one request with the policy of the module docstring; returns decoded JSON."""
        policy = self._policy
        if idempotent is None:
            idempotent = method in ("GET", "HEAD", "PUT", "DELETE", "OPTIONS")
        content = _encode(body)
        attempt = 0
        while True:
            attempt += 1
            try:
                response = await self._client.request(method, path, content=content,
                                                       params=params)
                return policy.handle(method, path, response)
            except RemoteRejected:
                raise
            except (httpx.TransportError, TemporaryError) as error:
                if not policy.should_retry(error, idempotent) or attempt > policy.retries:
                    raise _temporary(policy.describe(method, path), error, attempt) from error
                delay = policy.backoff_s(attempt)
                log.debug("%s failed (%s); retry %d in %.2fs", policy.describe(method, path),
                          error, attempt, delay)
                await asyncio.sleep(delay)

    async def aclose(self) -> None:
        await self._client.aclose()

    async def __aenter__(self) -> "ServiceClient":
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


class SyncServiceClient:
    """The same client, blocking (for the CLI). Same arguments and errors as ServiceClient."""

    def __init__(self, base_url: str, *, timeout_s: float = 5.0, connect_timeout_s: float = 2.0,
                 retries: int = 3, backoff_ms: int = 100, max_backoff_ms: int = 2000,
                 headers: dict[str, str] | None = None,
                 transport: httpx.BaseTransport | None = None) -> None:
        self._policy = _Policy(base_url, timeout_s=timeout_s, connect_timeout_s=connect_timeout_s,
                               retries=retries, backoff_ms=backoff_ms,
                               max_backoff_ms=max_backoff_ms)
        self._client = httpx.Client(base_url=self._policy.base_url, timeout=self._policy.timeout,
                                    headers={**_JSON_HEADERS, **(headers or {})},
                                    transport=transport)

    @property
    def base_url(self) -> str:
        return self._policy.base_url

    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return self.request("GET", path, params=params, idempotent=True)

    def post(self, path: str, body: Any = None, *, idempotent: bool = False) -> Any:
        return self.request("POST", path, body=body, idempotent=idempotent)

    def request(self, method: str, path: str, *, body: Any = None,
                params: dict[str, Any] | None = None, idempotent: bool | None = None) -> Any:
        policy = self._policy
        if idempotent is None:
            idempotent = method in ("GET", "HEAD", "PUT", "DELETE", "OPTIONS")
        content = _encode(body)
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self._client.request(method, path, content=content, params=params)
                return policy.handle(method, path, response)
            except RemoteRejected:
                raise
            except (httpx.TransportError, TemporaryError) as error:
                if not policy.should_retry(error, idempotent) or attempt > policy.retries:
                    raise _temporary(policy.describe(method, path), error, attempt) from error
                time.sleep(policy.backoff_s(attempt))

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> "SyncServiceClient":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _temporary(what: str, error: Exception, attempts: int) -> TemporaryError:
    if isinstance(error, TemporaryError) and attempts == 1:
        return error
    reason = str(error) or type(error).__name__
    return TemporaryError(f"{what} failed after {attempts} attempt(s): {reason}")
