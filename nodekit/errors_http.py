"""Error responses of every service: always JSON `{"error": <reason>, "detail": <message>}`.

`install_error_handlers(app)` maps

- `ProtocolError` (a rule a request broke) -> 400, error = the exception class name
  (`NonceMismatch`, `InvalidSignature` ...), so routes never catch it themselves;
- request validation errors -> 422 `InvalidRequest` with a one-line readable detail;
- `HTTPException` (404s, 405s, explicit aborts) -> its status, error = the status phrase
  without spaces (`NotFound`);
- `TemporaryError` (L1 or a peer did not answer while serving the request) -> 503
  `TemporaryError` with `Retry-After: 1`; `RemoteRejected` (another service's 4xx) -> 502
  with that service's reason;
- any other exception -> 500 `InternalError`, logged with its traceback. Bad input never
  produces an HTML page or a dropped connection.

`install_body_size_limit(app, max_bytes)` refuses bodies above `max_bytes` with 413
`PayloadTooLarge`, before reading them when Content-Length says so, else while streaming.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect
from starlette.responses import Response

from protocol.exceptions import ProtocolError

from .errors import RemoteRejected, TemporaryError

log = logging.getLogger("seqnet.http.errors")

DEFAULT_MAX_BODY_BYTES = 8 * 1024 * 1024
"""8 MiB: a batch of many full blocks fits; a runaway body does not."""


def error_response(status: int, error: str, detail: str,
                   headers: dict[str, str] | None = None) -> Response:
    """The JSON error body every service answers with."""
    return Response(orjson.dumps({"error": error, "detail": detail}), status_code=status,
                    media_type="application/json", headers=headers)


_STATUS_NAMES = {413: "PayloadTooLarge", 422: "InvalidRequest"}


def status_error_name(status: int) -> str:
    """404 -> "NotFound", 413 -> "PayloadTooLarge" (the phrase without spaces)."""
    if status in _STATUS_NAMES:
        return _STATUS_NAMES[status]
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        return f"HTTP{status}"
    return "".join(word[:1].upper() + word[1:] for word in phrase.replace("-", " ").split())


def format_validation_errors(errors: Any) -> str:
    """FastAPI's list of validation errors as one line: `body.to: address must be 20 bytes`."""
    parts = []
    for error in errors:
        location = ".".join(str(part) for part in error.get("loc", ()))
        message = str(error.get("msg", "invalid"))
        if message.startswith("Value error, "):
            message = message[len("Value error, "):]
        parts.append(f"{location}: {message}" if location else message)
    return "; ".join(parts) or "invalid request"


def protocol_error_status(exc: ProtocolError) -> int:
    """400, unless the error class names another status (`http_status = 404` on a NotFound)."""
    return int(getattr(exc, "http_status", 400))


async def _protocol_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ProtocolError)
    return error_response(protocol_error_status(exc), exc.name, str(exc))


async def _validation_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    return error_response(422, "InvalidRequest", format_validation_errors(exc.errors()))


async def _http_exception(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return _http_exception_response(exc)


def _http_exception_response(exc: HTTPException) -> Response:
    detail = exc.detail if isinstance(exc.detail, str) else orjson.dumps(exc.detail).decode()
    if exc.status_code in (204, 304):
        return Response(status_code=exc.status_code, headers=exc.headers)
    return error_response(exc.status_code, status_error_name(exc.status_code), detail,
                          headers=exc.headers)


def service_error_response(exc: TemporaryError | RemoteRejected) -> Response:
    """503 for a service this request needed that did not answer, 502 for one that refused."""
    if isinstance(exc, RemoteRejected):
        return error_response(502, exc.error or "RemoteRejected", f"upstream refused: {exc.detail}")
    return error_response(503, type(exc).__name__, str(exc), headers={"Retry-After": "1"})


async def _service_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, (TemporaryError, RemoteRejected))
    return service_error_response(exc)


def unhandled_error_response(scope: dict[str, Any], exc: Exception) -> Response | None:
    """The answer to an exception no handler took: logged with its traceback, 500
    `InternalError`; None (logged at debug) when the client went away before sending its
    whole body, as nobody is left to answer and it is not our error (wrk stopping, a killed
    script). CatchAllMiddleware's, and nodekit.fastlane's."""
    if isinstance(exc, ClientDisconnect):
        log.debug("client disconnected during %s %s", scope.get("method"), scope.get("path"))
        return None
    log.exception("unhandled error in %s %s", scope.get("method"), scope.get("path"),
                  exc_info=exc)
    return error_response(500, "InternalError", f"{type(exc).__name__}: {exc}"[:1000])


class CatchAllMiddleware:
    """Turns an exception no handler took into a logged 500 JSON response.

    Sits inside Starlette's ServerErrorMiddleware, which would otherwise answer with plain
    text and re-raise. A response that already started cannot be replaced: then the
    exception is logged and re-raised.
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: dict[str, Any]) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except HTTPException as exc:
            if started:
                raise
            await _http_exception_response(exc)(scope, receive, send)
        except ProtocolError as exc:
            if started:
                raise
            await error_response(protocol_error_status(exc), exc.name, str(exc))(
                scope, receive, send)
        except (TemporaryError, RemoteRejected) as exc:
            if started:
                raise
            await service_error_response(exc)(scope, receive, send)
        except Exception as exc:
            response = unhandled_error_response(scope, exc)
            if response is None:
                return
            if started:
                raise
            await response(scope, receive, send)


def install_error_handlers(app: FastAPI) -> None:
    """Register the mappings of the module docstring on `app`."""
    app.add_exception_handler(ProtocolError, _protocol_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_exception)
    app.add_exception_handler(TemporaryError, _service_error)
    app.add_exception_handler(RemoteRejected, _service_error)
    app.add_middleware(CatchAllMiddleware)


def body_too_large(max_bytes: int) -> str:
    """The detail of the 413 answer to a body above `max_bytes`."""
    return f"request body exceeds {max_bytes} bytes"


def content_length_refusal(headers: Any, max_bytes: int) -> Response | None:
    """The answer to a request whose Content-Length is not a number (400 `BadRequest`) or
    declares more than `max_bytes` (413 `PayloadTooLarge`), before any byte of the body is
    read; None when no Content-Length header refuses it. `headers`: ASGI (name, value) pairs.
    """
    for name, value in headers:
        if name == b"content-length":
            try:
                declared = int(value)
            except ValueError:
                return error_response(400, "BadRequest", "invalid Content-Length")
            if declared > max_bytes:
                return error_response(413, "PayloadTooLarge", body_too_large(max_bytes))
    return None


class BodySizeLimitMiddleware:
    """Refuses request bodies above `max_bytes` with 413 JSON."""

    def __init__(self, app: Any, max_bytes: int = DEFAULT_MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal = content_length_refusal(scope.get("headers", ()), self.max_bytes)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        too_large = body_too_large(self.max_bytes)
        received = 0
        max_bytes = self.max_bytes

        async def limited_receive() -> dict[str, Any]:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_bytes:
                    raise HTTPException(413, too_large)
            return message

        try:
            await self.app(scope, limited_receive, send)
        except HTTPException as exc:
            if exc.status_code != 413:
                raise
            await error_response(413, "PayloadTooLarge", too_large)(scope, receive, send)


def install_body_size_limit(app: FastAPI, max_bytes: int = DEFAULT_MAX_BODY_BYTES) -> None:
    """Refuse request bodies larger than `max_bytes` (413 JSON)."""
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=max_bytes)
