"""The sequencer's Ethereum JSON-RPC (`POST /` and `/rpc`) under generated input (issue #7):

- unknown method names -> -32601; every known method with params of any shape -> a result or
  an error object with a standard code (-32602 invalid params, -32000 refused), never a 5xx
  and never a -32603;
- requests that are not JSON-RPC (wrong jsonrpc, no method, scalars) -> -32600; bodies that
  are not JSON -> -32700; batches with junk entries -> one well-formed answer per entry;
- the ids of the answers echo the requests'; HTTP 200 always (geth's behaviour);
- all of it, sendRawTransaction with junk included, leaves every node's state unchanged.

Methods: sequencer/api/jsonrpc.py (METHODS, ASYNC_METHODS), docs/spec/sequencer.md.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sequencer.api.jsonrpc import ASYNC_METHODS, METHODS

from .harness import HEXISH, JSON_VALUES, describe, fuzz_settings
from .sequencer_net import ACCOUNTS, open_sequencer_net

KNOWN_METHODS = sorted({*METHODS, *ASYNC_METHODS})
STANDARD_CODES = {-32700, -32600, -32601, -32602, -32000}
PATHS = ("/", "/rpc")
REFS: list[str] = []
"""Real block hashes, transaction hashes, addresses and numbers of the chain (set by the
fixture; the strategies below draw from it while the tests run)."""


@pytest.fixture(scope="module")
def seq(tmp_path_factory):
    with open_sequencer_net(tmp_path_factory.mktemp("seqnet")) as seq:
        store = seq.leader.store
        REFS[:] = ["0x" + h.hex() for h in (*store.canonical, *seq.tx_hashes)]
        REFS.extend("0x" + account.address.hex() for account in ACCOUNTS[:4])
        REFS.extend(hex(n) for n in range(store.head.number + 2))
        yield seq


def _ref(index: int) -> str:
    return REFS[index % len(REFS)] if REFS else "0x0"


REAL = st.integers(min_value=0, max_value=10_000).map(_ref)
TAGS = st.one_of(REAL, st.sampled_from(["latest", "pending", "earliest", "safe", "finalized",
                                        "attested", "unsafe", "0x0", "0x1", "0x3", "0x63",
                                        "0x" + "f" * 16, "-1", "0x-1", "1_0", " 1"]))
ARGS = st.one_of(
    REAL, TAGS, HEXISH,
    st.sampled_from([True, False, None, 0, -1, 2**63 - 1, -(2**63), "0x" + "f" * 64,
                     "0x" + "0" * 5000, "9" * 5000]),
    st.fixed_dictionaries({}, optional={"blockHash": st.one_of(REAL, HEXISH, JSON_VALUES),
                                        "blockNumber": st.one_of(TAGS, JSON_VALUES),
                                        "requireCanonical": st.booleans()}),
    JSON_VALUES)
PLAUSIBLE = {
    "eth_getBalance": [REAL, TAGS], "eth_getTransactionCount": [REAL, TAGS],
    "eth_getProof": [REAL, st.lists(HEXISH, max_size=2), TAGS],
    "eth_getBlockByNumber": [TAGS, st.booleans()], "eth_getBlockByHash": [REAL, st.booleans()],
    "eth_getTransactionByHash": [REAL], "eth_getTransactionReceipt": [REAL],
    "seq_getReceipt": [REAL], "eth_sendRawTransaction": [HEXISH],
    "eth_feeHistory": [st.one_of(st.integers(min_value=-5, max_value=2**63 - 1),
                                 st.sampled_from(["0x4", "0x0", "0x400", "4"])), TAGS,
                       st.lists(st.floats(min_value=-10, max_value=200), max_size=3)],
}
"""Parameter shapes close to what each method takes, filled with the chain's real values."""


@st.composite
def params_for(draw, method: str):
    shape = PLAUSIBLE.get(method)
    if shape is None or draw(st.booleans()):
        return draw(st.one_of(st.lists(ARGS, max_size=4), JSON_VALUES))
    length = draw(st.integers(0, len(shape) + 1))
    return [draw(shape[i] if i < len(shape) and draw(st.integers(0, 3)) else ARGS)
            for i in range(length)]


IDS = st.one_of(st.integers(min_value=-(2**63), max_value=2**63 - 1), st.text(max_size=10),
                st.none(), st.floats(allow_nan=False, allow_infinity=False),
                st.lists(st.integers(min_value=-(2**63), max_value=2**63 - 1), max_size=2))


@st.composite
def requests_for(draw, methods) -> dict:
    request = {"jsonrpc": "2.0", "method": draw(methods)}
    if draw(st.integers(0, 9)):
        request["params"] = draw(params_for(request["method"]))
    if draw(st.integers(0, 9)):
        request["id"] = draw(IDS)
    return request


UNKNOWN_METHODS = st.one_of(st.text(max_size=30), st.sampled_from(
    ["eth_sendTransaction", "eth_sign", "debug_traceTransaction", "admin_peers", "ETH_CHAINID",
     "eth_chainId ", "__class__", "rpc", "eth_getLogs", "personal_unlockAccount"])
).filter(lambda name: name not in KNOWN_METHODS)
NOT_JSON_RPC = st.one_of(
    JSON_VALUES.filter(lambda v: not isinstance(v, (dict, list))),
    st.fixed_dictionaries({"jsonrpc": st.one_of(st.sampled_from(["1.0", "2", 2, None]),
                                                JSON_VALUES),
                           "method": st.sampled_from(KNOWN_METHODS)}),
    st.fixed_dictionaries({"jsonrpc": st.just("2.0")},
                          optional={"method": JSON_VALUES.filter(lambda v: not isinstance(v, str)),
                                    "id": IDS, "params": params_for("")}))


def check_answer(answer, request, response) -> None:
    """One JSON-RPC answer: jsonrpc 2.0, the request's id, a result xor an error object with
    a standard code and a message."""
    assert isinstance(answer, dict) and answer.get("jsonrpc") == "2.0", describe(response)
    assert ("result" in answer) != ("error" in answer), describe(response)
    if isinstance(request, dict) and "id" in request and "error" not in answer:
        assert answer["id"] == request["id"], describe(response)
    if "error" in answer:
        error = answer["error"]
        assert error["code"] in STANDARD_CODES, describe(response)
        assert isinstance(error["message"], str) and error["message"], describe(response)


def post(seq, path: str, body) -> object:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    response = seq.leader_client.post(path, content=content,
                                      headers={"content-type": "application/json"})
    assert response.status_code == 200, describe(response)
    assert response.headers["content-type"].startswith("application/json"), describe(response)
    return response


@pytest.mark.parametrize("scale", [1, pytest.param(10, marks=pytest.mark.slow)])
def test_known_methods_answer_any_params_with_a_result_or_a_standard_error(seq, unchanged, scale):
    @fuzz_settings(250 * scale)
    @given(request=requests_for(st.sampled_from(KNOWN_METHODS)), path=st.sampled_from(PATHS))
    def run(request, path):
        response = post(seq, path, request)
        answer = response.json()
        if "id" not in request and answer == {}:
            return  # a notification that succeeded
        check_answer(answer, request, response)
        if "error" in answer:
            assert answer["error"]["code"] in (-32602, -32000), describe(response)
            if not isinstance(request.get("params", []), (list, type(None))):
                assert answer["error"]["code"] == -32602, describe(response)

    run()


@pytest.mark.parametrize("scale", [1, pytest.param(10, marks=pytest.mark.slow)])
def test_unknown_methods_answer_method_not_found(seq, unchanged, scale):
    @fuzz_settings(60 * scale)
    @given(request=requests_for(UNKNOWN_METHODS))
    def run(request):
        response = post(seq, "/", request)
        answer = response.json()
        check_answer(answer, request, response)
        if isinstance(request.get("params", []), (list, type(None))):
            assert answer["error"]["code"] == -32601, describe(response)
        else:
            assert answer["error"]["code"] in (-32601, -32602), describe(response)

    run()


@pytest.mark.parametrize("scale", [1, pytest.param(10, marks=pytest.mark.slow)])
def test_requests_that_are_not_json_rpc_answer_invalid_request(seq, unchanged, scale):
    @fuzz_settings(80 * scale)
    @given(request=NOT_JSON_RPC)
    def run(request):
        response = post(seq, "/rpc", request)
        answer = response.json()
        check_answer(answer, request, response)
        assert answer["error"]["code"] == -32600, describe(response)

    run()


@pytest.mark.parametrize("scale", [1, pytest.param(10, marks=pytest.mark.slow)])
def test_batches_with_junk_entries_answer_each_entry(seq, unchanged, scale):
    entry = st.one_of(requests_for(st.sampled_from(KNOWN_METHODS)), requests_for(UNKNOWN_METHODS),
                      NOT_JSON_RPC, st.lists(JSON_VALUES, max_size=2))

    @fuzz_settings(80 * scale)
    @given(batch=st.lists(entry, min_size=1, max_size=6))
    def run(batch):
        response = post(seq, "/", batch)
        answers = response.json()
        assert isinstance(answers, list) and len(answers) <= len(batch), describe(response)
        expected = sum(1 for item in batch if not (
            isinstance(item, dict) and item.get("jsonrpc") == "2.0"
            and isinstance(item.get("method"), str) and "id" not in item))
        assert len(answers) >= expected, describe(response)
        for answer in answers:
            check_answer(answer, None, response)

    run()


@pytest.mark.parametrize("scale", [1, pytest.param(10, marks=pytest.mark.slow)])
def test_bodies_that_are_not_json_answer_parse_error(seq, unchanged, scale):
    @fuzz_settings(60 * scale)
    @given(body=st.one_of(
        st.binary(max_size=64),
        st.sampled_from([b"", b"{", b"[", b"{\"jsonrpc\": \"2.0\",}", b"\xff\xfe\x00",
                         b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"eth_chainId\"",
                         b"NaN", b"[1,]", b"'single'"])),
        path=st.sampled_from(PATHS))
    def run(body, path):
        try:
            json.loads(body)
            return  # valid JSON after all: the other tests cover it
        except ValueError:
            pass
        response = post(seq, path, body)
        answer = response.json()
        assert answer["error"]["code"] == -32700 and answer["id"] is None, describe(response)

    run()


def test_empty_batch_and_wrong_content_types(seq, unchanged):
    assert post(seq, "/", []).json()["error"]["code"] == -32600
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data"):
        response = seq.leader_client.post("/rpc", content=b'{"jsonrpc":"2.0","id":1,'
                                                           b'"method":"eth_chainId"}',
                                          headers={"content-type": content_type})
        assert response.status_code == 200, describe(response)
        assert response.json()["result"] == hex(seq.params.chain_id)
    for method in ("GET", "PUT", "DELETE"):
        response = seq.leader_client.request(method, "/rpc")
        assert response.status_code == 405, describe(response)


def test_integers_beyond_64_bits_are_json_too(seq, unchanged):
    """orjson reads them as floats, rounded; they are valid JSON (a JSON-RPC id may be any
    number), so they come back exact, and a number where a quantity belongs gets a standard
    error; NaN stays a parse error."""
    big = 2**64 + 7
    body = b'{"jsonrpc":"2.0","id":%d,"method":"eth_chainId","params":[]}' % big
    answer = post(seq, "/", body).json()
    assert answer == {"jsonrpc": "2.0", "id": big, "result": hex(seq.params.chain_id)}
    body = b'{"jsonrpc":"2.0","id":1,"method":"eth_getBalance","params":[%d,"latest"]}' % big
    answer = post(seq, "/", body).json()
    assert answer["id"] == 1 and answer["error"]["code"] in STANDARD_CODES - {-32700}, answer
    assert post(seq, "/", b'{"jsonrpc":"2.0","id":NaN,"method":"eth_chainId"}').json()[
        "error"]["code"] == -32700
