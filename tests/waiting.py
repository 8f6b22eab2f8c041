"""Waiting on real processes, for the tests and harnesses that drive them over HTTP: poll a
condition with a deadline (never a fixed sleep), and GET JSON across a server's restart of
a kept-alive connection."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

import httpx

T = TypeVar("T")


class Abort(AssertionError):
    """Raised by a check that knows the wait is hopeless (the process exited): not retried."""


def wait_for(what: str, check: Callable[[], T], timeout_s: float, interval_s: float = 0.2,
             *, error: type[AssertionError] = AssertionError) -> T:
    """Poll `check` until it returns something truthy, and return that. An exception from
    `check` (a service restarting, a field not there yet, an assertion not true yet) counts as
    "not yet", but `Abort`; the last one is named when the deadline passes, as `error`."""
    deadline = time.monotonic() + timeout_s
    last: Exception | None = None
    while True:
        try:
            value = check()
            if value:
                return value
        except Abort:
            raise
        except Exception as exception:  # noqa: BLE001 - "not yet", reported at the deadline
            last = exception
        if time.monotonic() >= deadline:
            raise error(f"timed out after {timeout_s:g} s waiting for {what} "
                        f"(last error: {last!r})")
        time.sleep(interval_s)


def get_json(http: httpx.Client, url: str, **params: Any) -> Any:
    """GET `url` and return its JSON (HTTP errors raised), sent again up to twice when the
    server closed the kept-alive connection as it was reused (a GET is idempotent)."""
    for attempt in range(3):
        try:
            response = http.get(url, params=params)
            break
        except (httpx.ReadError, httpx.RemoteProtocolError):
            if attempt == 2:
                raise
    response.raise_for_status()
    return response.json()
