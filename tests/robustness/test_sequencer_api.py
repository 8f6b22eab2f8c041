"""A sequencer's REST API under generated input (issue #7), in process:

- every OpenAPI operation, at the slot's leader (open session) and at a node that forwards
  to it, with schemathesis' schema-valid and schema-violating requests: never a 5xx,
  documented statuses, errors as {"error", "detail"}, 2xx bodies matching their models;
- peer routes with junk bodies signed by a registered peer (what an honest signature over
  garbage gets through to): 4xx, never a 5xx;
- signed transactions that break one rule each (nonce, balance, chain id, gas, fee, data,
  contract creation), sent to the leader and to a forwarding node: refused with the rule;
- admin routes: no request without the token changes the fault flags;
- after all of it, nothing a rejected request sent changed a node's state.
"""

from __future__ import annotations

from urllib.parse import quote

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from schemathesis import GenerationMode

from protocol.constants import GWEI
from protocol.transactions import sign_transaction
from sequencer.peers import sign_peer_headers

from .harness import (
    HEXISH,
    JSON_VALUES,
    check_error_body,
    check_wrong_bodies,
    describe,
    fuzz_operations,
    fuzz_settings,
    guarded,
    mutated,
    openapi_schema,
    operations,
)
from .sequencer_net import (
    ACCOUNTS,
    ADMIN_TOKEN,
    assert_unchanged,
    open_sequencer_net,
    sequencer_state,
)

EXAMPLES = 8
"""Per operation and generation mode; the slow variant multiplies it."""

JSON_RPC = frozenset({"POST /", "POST /rpc"})
"""JSON-RPC answers errors with HTTP 200 (test_sequencer_jsonrpc.py checks the error codes)."""


@pytest.fixture(scope="module")
def seq(tmp_path_factory):
    with open_sequencer_net(tmp_path_factory.mktemp("seqnet")) as seq:
        yield seq


@pytest.mark.parametrize("scale", [1, pytest.param(10, marks=pytest.mark.slow)])
@pytest.mark.parametrize("where, mode", [("leader", GenerationMode.POSITIVE),
                                         ("leader", GenerationMode.NEGATIVE),
                                         ("follower", GenerationMode.POSITIVE)],
                         ids=["leader-positive", "leader-negative", "follower-positive"])
def test_sequencer_openapi_operations_never_fail_on_generated_requests(seq, unchanged, where,
                                                                        mode, scale):
    """The follower forwards /txs and JSON-RPC submissions; its schema-violating requests
    take the same paths as the leader's, so the negative mode runs at the leader only."""
    client = seq.leader_client if where == "leader" else seq.follower_client
    send = guarded(client.request, lambda: {f"{i}.{name}": value
                                            for i, node in enumerate(seq.net.nodes)
                                            for name, value in sequencer_state(node).items()})
    fuzz_operations(openapi_schema(client.app), send, mode, EXAMPLES * scale,
                    refuses_with_200=JSON_RPC)


def test_sequencer_openapi_operations_with_l1_unreachable_answer_503_not_500(seq, unchanged):
    """What needs L1 (an uncached epoch's set, the leader of a new slot) answers 503."""
    schema = openapi_schema(seq.follower_client.app)
    unavailable = {label: frozenset({503}) for label, _ in operations(schema)}
    seq.net.l1.reachable = False
    try:
        fuzz_operations(schema, seq.follower_client.request, GenerationMode.POSITIVE, EXAMPLES,
                        extra_statuses=unavailable, refuses_with_200=JSON_RPC)
    finally:
        seq.net.l1.reachable = True


def test_sequencer_refuses_bodies_of_the_wrong_kind(seq, unchanged):
    """Every POST/PUT (also JSON-RPC, which answers its errors with 200)."""
    for client in (seq.leader_client, seq.follower_client):
        check_wrong_bodies(client.request, openapi_schema(client.app))


# --- lookups by the chain's real references ----------------------------------------------------

REFS: list[str] = []
"""Block and transaction hashes, block numbers and addresses of the chain (set by the test)."""


def _ref(index: int) -> str:
    return REFS[index % len(REFS)]


LOOKUP_REFS = st.one_of(
    st.integers(min_value=0, max_value=1000).map(_ref), HEXISH,
    st.integers(min_value=-3, max_value=12).map(str),
    st.sampled_from(["latest", "pending", "earliest", "unsafe", "attested", "safe", "finalized",
                     "0x0", "0x3", "0b11", "1_0", " 2", "9" * 5000, "0x" + "0" * 5000, "-0x1",
                     "0x" + "zz" * 32, "%00", "../status", "a/b", "?x=1", "#"]))


@pytest.mark.parametrize("scale", [1, pytest.param(10, marks=pytest.mark.slow)])
def test_lookups_by_any_reference_answer_200_400_or_404(seq, unchanged, scale):
    store = seq.leader.store
    REFS[:] = ["0x" + h.hex() for h in (*store.canonical, *seq.tx_hashes)]
    REFS.extend(str(n) for n in range(store.head.number + 2))
    REFS.extend("0x" + account.address.hex() for account in ACCOUNTS[:4])

    @fuzz_settings(150 * scale)
    @given(route=st.sampled_from(["/blocks/{}", "/blocks/{}/transactions", "/txs/{}",
                                  "/withdrawals/{}", "/accounts/{}", "/accounts/{}?block"]),
           ref=LOOKUP_REFS, block=LOOKUP_REFS, where=st.sampled_from(["leader", "follower"]))
    def run(route, ref, block, where):
        client = seq.leader_client if where == "leader" else seq.follower_client
        path = route.removesuffix("?block").format(quote(ref, safe=""))
        params = {"block": block} if route.endswith("?block") else None
        response = client.get(path, params=params)
        redirect = (307,) if ref == "" else ()  # /blocks/ -> /blocks (trailing slash)
        assert response.status_code in (200, 400, 404, 422, *redirect), describe(response)
        if response.status_code >= 400:
            check_error_body(response)
        elif response.status_code == 200:
            assert response.headers["content-type"].startswith("application/json")
            response.json()

    run()


# --- peer routes: junk signed by a registered peer ---------------------------------------------

PEER_KEYS = {"/peer/blocks": "block", "/peer/attestations": "attestations", "/peer/txs": "txs",
             "/peer/forward": "raw", "/peer/forward_batch": "raws"}
SIGNED_RAWS: list[bytes] = []
"""The chain's blocks and attestations (set by the test; drawn from lazily)."""


JUNK_ITEMS = st.lists(st.one_of(
    mutated(SIGNED_RAWS), HEXISH, JSON_VALUES,
    st.fixed_dictionaries({}, optional={"raw": st.one_of(HEXISH, JSON_VALUES),
                                        "receipt": JSON_VALUES})), max_size=3)


@st.composite
def peer_messages(draw) -> tuple[str, object]:
    """A peer route and a body: the route's key with junk of every JSON type, or no object."""
    path = draw(st.sampled_from(sorted(PEER_KEYS)))
    shape = draw(st.integers(0, 3))
    if shape == 0:
        return path, draw(JSON_VALUES)
    value = draw(st.one_of(JUNK_ITEMS, mutated(SIGNED_RAWS), HEXISH, JSON_VALUES) if shape == 1
                 else JUNK_ITEMS)
    body = {PEER_KEYS[path]: value}
    if shape == 3:
        body.update(draw(st.dictionaries(st.text(max_size=6), JSON_VALUES, max_size=2)))
    return path, body


@pytest.mark.parametrize("scale", [1, pytest.param(10, marks=pytest.mark.slow)])
def test_peer_routes_refuse_signed_junk(seq, scale):
    """By design a block that decodes is recorded for rangers (GET /observations, with its
    verdict) and its invalid verdict is cached (invalid_blocks), whoever signed it; nothing
    else may change."""
    SIGNED_RAWS[:] = seq.signed_raws
    peer = seq.follower
    recorded = ("observations", "invalid_blocks")
    before = [without(sequencer_state(node), recorded) for node in seq.net.nodes]

    @fuzz_settings(150 * scale)
    @given(message=peer_messages())
    def run(message):
        path, body = message
        content = orjson.dumps(body)
        headers = sign_peer_headers(peer.key, seq.params.chain_id, path, content,
                                    seq.net.clock.now_ms())
        headers["content-type"] = "application/json"
        response = seq.leader_client.post(path, content=content, headers=headers)
        assert response.status_code < 500, describe(response)
        if response.status_code >= 400:
            check_error_body(response)
        elif path == "/peer/forward_batch":
            assert all("receipt" not in result for result in response.json()["results"]), \
                describe(response)

    run()
    seq.call(seq.net.drain)
    for node, state in zip(seq.net.nodes, before):
        assert_unchanged(state, without(sequencer_state(node), recorded),
                         f"signed junk from a peer (at {node.settings.name})")


def without(state: dict, names: tuple[str, ...]) -> dict:
    return {name: value for name, value in state.items() if name not in names}


# --- signed transactions that break one rule each ------------------------------------------------

@st.composite
def bad_transactions(draw) -> bytes:
    """A correctly signed transfer that breaks one rule (DESIGN.md section 3)."""
    chain_id = CHAIN_ID[0]
    sender = draw(st.sampled_from([0, 1, 4, 5]))
    fields = dict(chain_id=chain_id, nonce=1 if sender in (0, 1) else 0,
                  to=ACCOUNTS[(sender + 1) % 10].address, value=10**15, max_fee_per_gas=2 * GWEI)
    rule = draw(st.sampled_from(["nonce_low", "nonce_high", "balance", "chain_id", "gas",
                                 "fee", "data", "create", "tip", "legacy_chain", "huge_gas"]))
    if rule == "nonce_low":
        sender, fields["nonce"] = draw(st.sampled_from([0, 1, 3])), 0  # used by the chain
    elif rule == "nonce_high":
        fields["nonce"] += draw(st.integers(min_value=1, max_value=2**64 - 2))
    elif rule == "balance":
        fields["value"] = draw(st.integers(min_value=10**30, max_value=2**256 - 1))
    elif rule == "chain_id":
        fields["chain_id"] = draw(st.integers(min_value=0, max_value=2**64 - 1)
                                  .filter(lambda c: c != chain_id))
    elif rule == "gas":
        fields["gas"] = draw(st.integers(min_value=0, max_value=20_999))
    elif rule == "huge_gas":
        fields["gas"] = draw(st.integers(min_value=2**63, max_value=2**64 - 1))
    elif rule == "fee":
        fields["max_fee_per_gas"] = draw(st.integers(min_value=0, max_value=GWEI // 2))
        fields["max_priority_fee_per_gas"] = 0
    elif rule == "data":
        fields["data"] = draw(st.binary(min_size=1, max_size=64))
    elif rule == "create":
        fields["to"] = None
    elif rule == "tip":
        fields["max_priority_fee_per_gas"] = fields["max_fee_per_gas"] + draw(
            st.integers(min_value=1, max_value=10**20))
    elif rule == "legacy_chain":
        fields["chain_id"] = chain_id + draw(st.integers(min_value=1, max_value=1000))
        fields["tx_type"] = 0
    return sign_transaction(ACCOUNTS[sender].private_key, **fields)


CHAIN_ID: list[int] = []
"""Filled by the test before drawing (strategies are built at import)."""


@pytest.mark.parametrize("scale", [1, pytest.param(10, marks=pytest.mark.slow)])
@pytest.mark.parametrize("where", ["leader", "follower"])
def test_transactions_breaking_a_rule_are_refused_without_a_trace(seq, unchanged, where, scale):
    CHAIN_ID[:] = [seq.params.chain_id]
    client = seq.leader_client if where == "leader" else seq.follower_client

    @fuzz_settings(40 * scale)
    @given(raw=bad_transactions(), route=st.sampled_from(["rest", "rpc"]))
    def run(raw, route):
        before = [sequencer_state(node) for node in seq.net.nodes]
        if route == "rest":
            response = client.post("/txs", json={"raw": "0x" + raw.hex()})
            assert response.status_code == 400, describe(response)
            check_error_body(response)
        else:
            response = client.post("/rpc", json={"jsonrpc": "2.0", "id": 7,
                                                 "method": "eth_sendRawTransaction",
                                                 "params": ["0x" + raw.hex()]})
            assert response.status_code == 200, describe(response)
            error = response.json().get("error")
            assert error is not None and error["code"] in (-32000, -32602), describe(response)
        seq.call(seq.net.drain)
        for node, state in zip(seq.net.nodes, before):
            assert_unchanged(state, sequencer_state(node),
                             f"a refused transaction (via {where}, at {node.settings.name})")

    run()


# --- admin ---------------------------------------------------------------------------------------

ADMIN_HEADERS = st.one_of(
    st.just({}),
    st.fixed_dictionaries({"authorization": st.one_of(
        st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=40),
        st.just("Bearer "), st.just(f"Bearer {ADMIN_TOKEN}x"), st.just(ADMIN_TOKEN[:-1]),
        st.just(f"Basic {ADMIN_TOKEN}"), st.just(f"bearer  {ADMIN_TOKEN[1:]}"))}))


@pytest.mark.parametrize("scale", [1, pytest.param(10, marks=pytest.mark.slow)])
def test_admin_routes_change_nothing_without_the_token(seq, unchanged, scale):
    node = seq.leader

    @fuzz_settings(60 * scale)
    @given(headers=ADMIN_HEADERS, body=st.one_of(
        st.just({"faults": ["offline"]}), st.just({"faults": ["censor", "reorder"]}),
        st.fixed_dictionaries({"faults": st.lists(st.text(max_size=12), max_size=3)}),
        JSON_VALUES))
    def run(headers, body):
        if headers.get("authorization", "").removeprefix("Bearer ").strip() == ADMIN_TOKEN:
            return
        before = frozenset(node.faults)
        response = seq.leader_client.put("/admin/faults", json=body, headers=headers)
        assert response.status_code in (401, 422), describe(response)
        check_error_body(response)
        assert frozenset(node.faults) == before
        read = seq.leader_client.get("/admin/faults", headers=headers)
        assert read.status_code == 401, describe(read)

    run()
    # the token itself works (so the 401s above are about the token, not a broken route)
    bearer = {"authorization": f"Bearer {ADMIN_TOKEN}"}
    assert seq.leader_client.get("/admin/faults", headers=bearer).json() == {"faults": []}
    refused = seq.leader_client.put("/admin/faults", json={"faults": ["no_such_fault"]},
                                    headers=bearer)
    assert refused.status_code == 400, describe(refused)
    assert node.faults == set()
