"""Shared machinery of the API robustness tests (issue #7): schemathesis cases from a service's
own OpenAPI sent in process, the checks every answer must pass, JSON strategies for hand-made
bodies, and the hypothesis settings that keep CI reproducible.

Every service answers bad input with a JSON `{"error", "detail"}` body and a 4xx status
(nodekit/errors_http.py); a 5xx, a dropped connection or an HTML page is a bug.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from typing import Any

import httpx
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
)

BASE_URL = "http://testserver"

COMMON_ERROR_STATUSES = frozenset({400, 404, 413, 422})
"""Answers every route may give without documenting them: a broken protocol rule
(ProtocolError -> 400), an unknown object (404), a body above the size limit (413) and a
request of the wrong shape (422), all from nodekit.errors_http."""


def fuzz_settings(max_examples: int) -> settings:
    """Reproducible (derandomize, no example database), no deadline: CI on a loaded machine."""
    return settings(max_examples=max_examples, deadline=None, derandomize=True, database=None,
                    suppress_health_check=list(HealthCheck),
                    phases=(Phase.explicit, Phase.generate, Phase.shrink))


# --- sending -----------------------------------------------------------------------------------

Send = Callable[..., httpx.Response]
"""send(method, url, headers=..., content=...) -> httpx.Response (a TestClient's `request`, or
`PortalClient.request`)."""


def prepare(case: Any) -> requests.PreparedRequest:
    """The bytes schemathesis would put on the wire for `case` (body serialized per media type,
    path and query encoded), so any HTTP client can send them."""
    kwargs = case.as_transport_kwargs(base_url=BASE_URL)
    request = requests.Request(
        method=kwargs["method"], url=kwargs["url"], headers=kwargs.get("headers") or {},
        params=kwargs.get("params"), cookies=kwargs.get("cookies"), json=kwargs.get("json"),
        data=kwargs.get("data"), files=kwargs.get("files"))
    return request.prepare()


def send_case(send: Send, case: Any) -> httpx.Response:
    prepared = prepare(case)
    body = prepared.body.encode() if isinstance(prepared.body, str) else prepared.body
    return send(prepared.method, prepared.url, headers=dict(prepared.headers), content=body)


def guarded(send: Send, get_state: Callable[[], dict], what: str = "") -> Send:
    """`send`, checking that a refused write (a non-GET answered non-2xx) leaves `get_state()`
    as it was. Reads are left to a check around the whole run (cheaper)."""
    def guarded_send(method: str, url: str, **kwargs: Any) -> httpx.Response:
        if method.upper() == "GET":
            return send(method, url, **kwargs)
        before = get_state()
        response = send(method, url, **kwargs)
        if response.status_code >= 300:
            after = get_state()
            changed = sorted(name for name in before if before[name] != after.get(name))
            assert not changed, f"{what}{describe(response)}\nchanged: {changed}"
        return response
    return guarded_send


def describe(response: httpx.Response) -> str:
    request = response.request
    body = request.content[:300] if request is not None else b""
    return (f"{request.method} {request.url} body={body!r} -> {response.status_code} "
            f"{response.text[:500]}")


# --- checks ------------------------------------------------------------------------------------

def check_error_body(response: httpx.Response) -> None:
    """A 4xx is JSON {"error": <reason>, "detail": <message>} (errors_http's one shape)."""
    assert response.headers.get("content-type", "").startswith("application/json"), \
        describe(response)
    body = response.json()
    assert isinstance(body, dict) and isinstance(body.get("error"), str) and body["error"] \
        and "detail" in body, describe(response)


def documented_statuses(case: Any) -> set[int]:
    codes = set()
    for code in case.operation.responses.status_codes:
        if code.isdigit():
            codes.add(int(code))
    return codes


def check_response(case: Any, response: httpx.Response, mode: GenerationMode,
                   extra_statuses: frozenset[int] = frozenset(),
                   refuses_with_200: bool = False) -> None:
    """No 5xx (but those in `extra_statuses`); a documented status (or one of
    COMMON_ERROR_STATUSES); errors in the shared JSON shape; a 2xx conforms to its response
    model; negative data is refused (unless the route answers errors with 200, as JSON-RPC
    does)."""
    status = response.status_code
    assert status < 500 or status in extra_statuses, describe(response)
    allowed = documented_statuses(case) | COMMON_ERROR_STATUSES | extra_statuses
    assert status in allowed, f"undocumented status {status} (documented {sorted(allowed)}): " \
                              f"{describe(response)}"
    if status >= 400:
        check_error_body(response)
    checks = [content_type_conformance]
    if 200 <= status < 300:
        checks.append(response_schema_conformance)
    if mode is GenerationMode.NEGATIVE and not refuses_with_200:
        checks.append(negative_data_rejection)
    case.validate_response(response, checks=checks)


def operations(schema: Any, skip: Callable[[str, str], bool] = lambda path, method: False):
    """The schema's operations as (label, operation), minus those `skip(path, method)` names."""
    out = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if skip(operation.path, operation.method.upper()):
            continue
        out.append((f"{operation.method.upper()} {operation.path}", operation))
    return out


def fuzz_operations(schema: Any, send: Send, mode: GenerationMode, max_examples: int, *,
                    skip: Callable[[str, str], bool] = lambda path, method: False,
                    extra_statuses: dict[str, frozenset[int]] | None = None,
                    refuses_with_200: frozenset[str] = frozenset(),
                    after_each: Callable[[Any, httpx.Response], None] | None = None) -> int:
    """Run `max_examples` generated cases against every operation; collect every failing
    operation (each with hypothesis's shrunk example) and fail once at the end. Returns the
    number of requests sent."""
    failures: list[str] = []
    sent = 0
    for label, operation in operations(schema, skip):
        statuses = (extra_statuses or {}).get(label, frozenset())

        @fuzz_settings(max_examples)
        @given(case=operation.as_strategy(generation_mode=mode))
        def run(case):
            nonlocal sent
            response = send_case(send, case)
            sent += 1
            check_response(case, response, mode, statuses, label in refuses_with_200)
            if after_each is not None:
                after_each(case, response)

        try:
            run()
        except Unsatisfiable:
            # Nothing to negate (no parameters, or only unconstrained strings, which the
            # positive mode already fills with arbitrary text).
            assert mode is GenerationMode.NEGATIVE, label
        except Exception as error:  # noqa: BLE001 - reported together below
            failures.append(f"{label} ({mode.value}): {type(error).__name__}: {error}")
    assert not failures, "\n\n".join(failures)
    return sent


def openapi_schema(app: Any) -> Any:
    """schemathesis' view of the app's own OpenAPI document (FastAPI's app.openapi())."""
    return schemathesis.openapi.from_dict(copy.deepcopy(app.openapi()))


# --- JSON strategies -----------------------------------------------------------------------------

MUTATIONS = ("keep", "flip", "truncate", "append")


@st.composite
def mutated(draw, pool: list, actions: tuple[str, ...] = MUTATIONS) -> str:
    """A real signed object from `pool` (bytes or 0x hex, filled in place by a fixture and
    read at draw time), kept, with 1-3 bytes flipped, cut short or extended; as 0x hex."""
    item = pool[draw(st.integers(0, len(pool) - 1))]
    raw = bytearray(item if isinstance(item, bytes) else bytes.fromhex(item[2:]))
    action = draw(st.sampled_from(actions))
    if action == "flip":
        for _ in range(draw(st.integers(1, 3))):
            raw[draw(st.integers(0, len(raw) - 1))] ^= draw(st.integers(1, 255))
    elif action == "truncate":
        del raw[draw(st.integers(0, len(raw) - 1)):]
    elif action == "append":
        raw += draw(st.binary(min_size=1, max_size=8))
    return "0x" + bytes(raw).hex()


HEXISH = st.one_of(
    st.binary(max_size=40).map(lambda b: "0x" + b.hex()),
    st.text("0123456789abcdefABCDEFxXg -", max_size=70),
    st.sampled_from(["0x", "0X00", "0x0", "0xzz", "0x" + "00" * 20, "0x" + "ff" * 32,
                     "0x" + "00" * 33, "00" * 20, "", "latest", "pending", "earliest", "safe",
                     "finalized", "attested", "-1", "0x-1", "1e3", "0x" + "f" * 1000]))
"""Strings near what the services parse: hex of every length, bad digits, block tags."""

NUMBERS = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.sampled_from([0, -1, 2**63 - 1, -(2**63), 2**53 + 1]),
    st.floats(allow_nan=False, allow_infinity=False))
"""What orjson can parse: 64-bit integers and finite floats."""

SCALARS = st.one_of(st.none(), st.booleans(), NUMBERS, HEXISH, st.text(max_size=20))

JSON_VALUES = st.recursive(
    SCALARS,
    lambda children: st.one_of(st.lists(children, max_size=4),
                               st.dictionaries(st.text(max_size=10), children, max_size=4)),
    max_leaves=12)
"""Any JSON value, biased to hex strings and extreme numbers."""


# --- bodies of the wrong kind -------------------------------------------------------------------

WRONG_BODIES = [
    (b"", "application/json"), (b"{", "application/json"), (b"\xff\xfe\x00", "application/json"),
    (b"null", "application/json"), (b"[]", "application/json"), (b"1e999", "application/json"),
    (b'{"a": 18446744073709551616}', "application/json"), (b"[" * 5000, "application/json"),
    (b"raw=0x00&faults=offline", "application/x-www-form-urlencoded"),
    (b"--x\r\nContent-Disposition: form-data; name=\"raw\"\r\n\r\n0x00\r\n--x--\r\n",
     "multipart/form-data; boundary=x"),
    (b"<raw>0x00</raw>", "application/xml"), (b'{"raw": "0x00"}', "text/plain"),
    (b'{"raw": "0x00"}', ""), (b"a" * 300_000, "application/json"),
]
"""Truncated, binary, nested-too-deep, huge, non-JSON and mislabelled bodies."""


def check_wrong_bodies(send: Send, schema: Any,
                       statuses: frozenset[int] = frozenset(range(400, 500)) | {200}) -> int:
    """POST/PUT every operation of `schema` with each of WRONG_BODIES: never a 5xx, errors in
    the shared shape. Returns the number of requests."""
    sent = 0
    for label, operation in operations(schema):
        if operation.method.upper() not in ("POST", "PUT", "PATCH"):
            continue
        path = re.sub(r"\{[^}]*\}", "1", operation.path)
        for content, content_type in WRONG_BODIES:
            headers = {"content-type": content_type} if content_type else {}
            response = send(operation.method.upper(), path, content=content, headers=headers)
            sent += 1
            assert response.status_code in statuses, f"{label}: {describe(response)}"
            if response.status_code >= 400:
                check_error_body(response)
    return sent
