"""The L1 mock under generated input (issue #7), in process over its own OpenAPI:

- every operation with schema-valid (positive) and schema-violating (negative) requests from
  schemathesis: never a 5xx, documented statuses, errors as {"error", "detail"}, 2xx bodies
  that match their response models;
- signed calls from funded accounts with the right nonce and junk arguments (wrong types,
  huge and negative numbers, bad hex, unknown sequencers): 200 or a 4xx naming the rule, and
  a refused call changes nothing (balances, nonces, stakes, queue, chain, call log);
- the whole run leaves the contract as it found it, except for calls it accepted.
"""

from __future__ import annotations

import pickle

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from schemathesis import GenerationMode

from l1mock import repo
from l1mock.app import create_app
from l1mock.core.contract import METHODS
from l1mock.settings import L1Settings
from nodekit.loop import FakeClock
from nodekit.settings import write_params_file
from protocol.constants import TOKEN
from protocol.encoding import encode_block
from protocol.exceptions import InvalidEncoding
from protocol.l1calls import L1Call, encode_l1_call, sign_l1_call
from protocol.transactions import sign_transaction

from ..l1mock.helpers import ACCOUNTS, L1_START_MS, NODE_KEYS, L1Client, hx, make_params
from .harness import (
    HEXISH,
    check_error_body,
    check_wrong_bodies,
    describe,
    fuzz_operations,
    fuzz_settings,
    guarded,
    mutated,
    openapi_schema,
)

EXAMPLES = 8
"""Per operation and generation mode; the slow variant multiplies it."""


@pytest.fixture(scope="module")
def l1(tmp_path_factory):
    """An L1 with the devnet's sequencers registered, a delegation, three accepted blocks,
    a deposit and a forced transaction queued, and events to read."""
    tmp_path = tmp_path_factory.mktemp("l1")
    params = make_params()
    params_file = tmp_path / "params.json"
    write_params_file(params_file, params)
    settings = L1Settings(data_dir=tmp_path / "l1", params_file=params_file, clock_enabled=False,
                          max_wait_ms=20, max_body_bytes=64 * 1024)
    app = create_app(settings, clock=FakeClock(L1_START_MS))
    with TestClient(app) as client:
        l1 = L1Client(client, params)
        chain = l1.start_chain()
        l1.call(8, "delegate", sequencer=hx(NODE_KEYS[0].public), amount=str(1000 * TOKEN))
        accepted = [chain.build() for _ in range(3)]
        l1.submit(9, *accepted)
        # Blocks to mutate: the accepted ones (resubmission is idempotent) and two that would
        # extend the chain (a mutation of these may still be valid and get accepted).
        BLOCK_RAWS[:] = [encode_block(block) for block in (*accepted, chain.build(), chain.build())]
        l1.call(7, "deposit", to=hx(ACCOUNTS[1].address), amount=str(5 * TOKEN))
        forced = sign_transaction(ACCOUNTS[2].private_key, chain_id=params.chain_id, nonce=0,
                                  to=ACCOUNTS[3].address, value=TOKEN,
                                  max_fee_per_gas=2 * params.base_fee_wei)
        l1.call(7, "force_tx", raw_tx=hx(forced))
        l1.mine(2)
        yield l1


class Frozen:
    """A value as it was when taken, pickled (much cheaper than a deep copy); equal to another
    when the bytes are, or else when the values are (a set may pickle in another order)."""

    __slots__ = ("data",)

    def __init__(self, value: object) -> None:
        self.data = pickle.dumps(value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Frozen) and (
            self.data == other.data or pickle.loads(self.data) == pickle.loads(other.data))

    def __repr__(self) -> str:
        return repr(pickle.loads(self.data))[:300]


def contract_state(l1: L1Client) -> dict:
    """Everything the contract holds (minus its pending outbox), and the stored call log."""
    state = {name: Frozen(value) for name, value in vars(l1.contract).items()
             if name not in ("outbox", "params", "genesis_header")}
    state["stored_inputs"] = sum(1 for _ in repo.iter_inputs(l1.node.engine))
    state["last_event_id"] = l1.node.last_event_id
    return state


def assert_unchanged(before: dict, after: dict, what: str) -> None:
    changed = sorted(name for name in before if before[name] != after.get(name))
    assert not changed, f"{what} changed the L1's state: {changed}"


def same_as_post_calls(path: str, method: str) -> bool:
    """POST /calls/<method> take POST /calls' body: /calls/transfer stands for them all but
    in the slow variant (the signed-call test below drives every method)."""
    return path.startswith("/calls/") and path != "/calls/transfer"


@pytest.mark.parametrize("scale", [1, pytest.param(10, marks=pytest.mark.slow)])
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
                         ids=lambda mode: mode.value)
def test_l1_openapi_operations_never_fail_on_generated_requests(l1, mode, scale):
    """Unsigned or garbage-signed calls and every read: no 5xx, documented answers, and the
    contract unchanged (no generated call is signed by a known key)."""
    before = contract_state(l1)
    send = guarded(l1.client.request, lambda: contract_state(l1))
    fuzz_operations(openapi_schema(l1.client.app), send, mode, EXAMPLES * scale,
                    skip=same_as_post_calls if scale == 1 else lambda path, method: False)
    assert_unchanged(before, contract_state(l1), "unsigned generated requests")


# --- signed calls with junk arguments ------------------------------------------------------

SIGNABLE = st.recursive(
    st.one_of(st.booleans(), st.integers(min_value=-(2**63), max_value=2**64 - 1), HEXISH,
              st.text(max_size=12)),
    lambda children: st.one_of(st.lists(children, max_size=3),
                               st.dictionaries(st.text(max_size=8), children, max_size=3)),
    max_leaves=8)
"""JSON that a call's signature can cover (no floats, nulls or integers beyond 64 bits);
the OpenAPI fuzz sends the rest."""

BLOCK_RAWS: list[bytes] = []
"""Filled by the `l1` fixture (strategies draw from it lazily)."""


SEQUENCER_REFS = st.sampled_from([hx(NODE_KEYS[0].public), hx(NODE_KEYS[1].public),
                                  hx(NODE_KEYS[7].public), hx(ACCOUNTS[0].address),
                                  hx(ACCOUNTS[5].address)])
AMOUNTS = st.one_of(
    st.integers(min_value=0, max_value=2**70).map(str),
    st.integers(min_value=1, max_value=100).map(lambda tokens: str(tokens * TOKEN)),
    st.sampled_from(["0", "1", str(2**256 - 1), str(2**256), "-1", "1e18", " 1", "01", "",
                     "0x10", str(10**30 * TOKEN), 0, -1, 2**63 - 1, 2**64 - 1, True]))
ARG_VALUES = {
    "to": st.one_of(st.sampled_from([hx(a.address) for a in ACCOUNTS[:3]]), HEXISH),
    "amount": AMOUNTS, "stake": AMOUNTS, "bond": AMOUNTS,
    "sequencer": st.one_of(SEQUENCER_REFS, HEXISH),
    "node_key": st.one_of(st.sampled_from([hx(k.public) for k in NODE_KEYS]), HEXISH),
    "endpoint": st.one_of(st.sampled_from(["http://127.0.0.1:1", "ftp://x", "http://" + "a" * 300,
                                           ""]), st.text(max_size=20)),
    "commission_bps": st.one_of(st.integers(min_value=-5, max_value=20_000), HEXISH,
                                st.sampled_from([-(2**63), 2**64 - 1, "500", False])),
    "block_hashes": st.lists(HEXISH, max_size=3),
    "blocks": st.lists(st.one_of(mutated(BLOCK_RAWS), HEXISH), max_size=3),
    "raw_tx": HEXISH,
    "block_number": st.one_of(st.integers(min_value=-2, max_value=5), HEXISH,
                              st.sampled_from([2**63, 2**64 - 1, "1", True])),
    "sender": st.one_of(st.sampled_from([hx(a.address) for a in ACCOUNTS[:3]]), HEXISH),
    "index": st.one_of(st.integers(min_value=-2, max_value=3),
                       st.sampled_from([2**63, 2**64 - 1, "0", False])),
    "proof": st.lists(HEXISH, max_size=3),
    "kind": st.sampled_from(["invalid_state", "receipt_violation", "equivocation",
                             "censorship", "other", ""]),
    "evidence": HEXISH,
}


@st.composite
def junk_args(draw, method: str) -> dict:
    """The method's argument names (some dropped, some extra) with near-miss values."""
    names = list(METHODS[method].args)
    args = {}
    for name in names:
        if draw(st.integers(0, 9)) == 0:
            continue  # missing
        near = ARG_VALUES.get(name, SIGNABLE)
        args[name] = draw(SIGNABLE if draw(st.integers(0, 4)) == 0 else near)
    if draw(st.integers(0, 9)) == 0:
        args[draw(st.text(min_size=1, max_size=8))] = draw(SIGNABLE)
    return args


SIGNED_CALLS = st.sampled_from(sorted(METHODS)).flatmap(
    lambda method: st.tuples(st.just(method), junk_args(method),
                             st.sampled_from([0, 1, 2, 3, 6, 7, 8, 9])))


@pytest.mark.parametrize("scale", [1, pytest.param(10, marks=pytest.mark.slow)])
def test_l1_signed_calls_with_junk_arguments_are_refused_without_a_trace(l1, scale):
    @fuzz_settings(200 * scale)
    @given(call=SIGNED_CALLS)
    def run(call):
        method, args, who = call
        account = ACCOUNTS[who]
        nonce = l1.contract.get_nonce(account.address)
        try:
            body = encode_l1_call(sign_l1_call(account.private_key, l1.params.l1_chain_id, method,
                                               nonce, args))
        except InvalidEncoding:  # args JSON cannot sign (floats...): send them unsigned
            body = encode_l1_call(L1Call(method, account.address, nonce, {}, b"\x01" * 65))
            body["args"] = args
        before = contract_state(l1)
        response = l1.client.post(f"/calls/{method}", json=body)
        assert response.status_code in (200, 400, 422), describe(response)
        if response.status_code != 200:
            check_error_body(response)
            assert_unchanged(before, contract_state(l1), f"refused {method} {args!r}")
        else:
            assert l1.contract.get_nonce(account.address) == nonce + 1, describe(response)

    run()


def test_l1_refuses_bodies_of_the_wrong_kind(l1):
    before = contract_state(l1)
    check_wrong_bodies(l1.client.request, openapi_schema(l1.client.app),
                       statuses=frozenset(range(400, 500)))
    assert_unchanged(before, contract_state(l1), "bodies of the wrong kind")
