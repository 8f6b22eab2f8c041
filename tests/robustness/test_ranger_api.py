"""A ranger's REST API under generated input (issue #7), in process against the real L1 mock
app (tests/ranger/conftest.py's Net):

- every OpenAPI operation with schemathesis' schema-valid and schema-violating requests:
  never a 5xx, documented statuses, errors as {"error", "detail"}, 2xx bodies matching their
  models, and a read or a refused request changes nothing (the ranger's records, L1's state);
- what sequencers and users post (observations, equivocation evidence, receipts, admin fraud
  proofs) as real signed objects with bytes flipped, cut or appended: whatever is refused or
  ignored leaves no record and costs no bond on L1.
"""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st
from schemathesis import GenerationMode

from protocol.chainbuilder import attest
from protocol.encoding import encode_attestation, encode_block, encode_signed_header
from protocol.constants import TOKEN
from protocol.fraud import FRAUD_KINDS
from protocol.hashing import keccak256
from protocol.receipts import receipt_to_json, sign_receipt
from protocol.signing import NodeKey
from protocol.transactions import decode_transaction, sign_transaction
from ranger import repo

from ..ranger.conftest import ACCOUNTS, RANGER_OPERATOR, Net, hx
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
)

EXAMPLES = 8
"""Per operation and generation mode; the slow variant multiplies it."""

SIGNED: list[str] = []
"""0x-hex of real signed objects (blocks, headers, attestations), set by the fixture."""
RECEIPTS: list[dict] = []
"""Receipts signed by the chain's leaders (JSON), set by the fixture."""


def txs(params, count: int = 3) -> list:
    return [decode_transaction(sign_transaction(
        ACCOUNTS[i].private_key, chain_id=params.chain_id, nonce=0, to=ACCOUNTS[4].address,
        value=TOKEN, max_fee_per_gas=2 * params.base_fee_wei)) for i in range(count)]


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    net = Net(tmp_path_factory.mktemp("ranger"))
    try:
        chain = net.start_chain()
        blocks = [chain.build(txs(net.params)), chain.build()]
        net.submit(*blocks)
        net.tick(rounds=2)
        spare = chain.build(append=False)
        HEADERS[:] = [spare.header, net.params]
        SIGNED[:] = [hx(encode_block(block)) for block in (*blocks, spare)]
        SIGNED.extend(hx(encode_signed_header(b.header, b.signature)) for b in (*blocks, spare))
        SIGNED.extend(hx(encode_attestation(attest(key, blocks[0].header, net.params)))
                      for key in chain.keys[:2])
        tx_hash = keccak256(blocks[0].transactions[0])
        RECEIPTS[:] = [receipt_to_json(sign_receipt(
            chain.key_of(blocks[0].header.producer), net.params.chain_id, tx_hash,
            blocks[0].header.slot, 0, b"\x11" * 32))]
        yield net
    finally:
        net.close()


def ranger_state(net: Net) -> dict:
    """The ranger's records and what it owns on L1."""
    stats = repo.compute_stats(net.node.sessions)
    return {
        "stats": stats,
        "observations": repo.count_observations(net.node.sessions),
        "receipts": [(r.id, r.status) for r in repo.list_receipts(net.node.sessions, 10_000)],
        "findings": [(f.id, f.status) for f in repo.list_findings(net.node.sessions, 10_000)],
        "executed": net.node.chain.executed,
        "l1_fraud_proofs": len(net.contract.fraud_proofs),
        "l1_operator_nonce": net.contract.get_nonce(RANGER_OPERATOR.address),
        "l1_operator_balance": net.contract.balances.get(RANGER_OPERATOR.address, 0),
    }


@pytest.mark.parametrize("scale", [1, pytest.param(10, marks=pytest.mark.slow)])
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
                         ids=lambda mode: mode.value)
def test_ranger_openapi_operations_never_fail_on_generated_requests(net, mode, scale):
    before = ranger_state(net)
    send = guarded(net.ranger.request, lambda: ranger_state(net))
    fuzz_operations(openapi_schema(net.ranger.app), send, mode, EXAMPLES * scale)
    assert ranger_state(net) == before, "generated requests changed the ranger's state"


def test_ranger_refuses_bodies_of_the_wrong_kind(net):
    before = ranger_state(net)
    check_wrong_bodies(net.ranger.request, openapi_schema(net.ranger.app))
    assert ranger_state(net) == before


@st.composite
def mutated_receipt(draw) -> object:
    receipt = dict(RECEIPTS[0])
    for name in draw(st.lists(st.sampled_from(sorted(receipt)), max_size=2)):
        receipt[name] = draw(st.one_of(HEXISH, JSON_VALUES, st.integers(-1, 2**64)))
    return receipt


HEADERS: list = []
"""A real header to forge from (set by the fixture)."""
HEIGHTS = st.one_of(st.integers(0, 100), st.integers(2**63 - 2, 2**64 + 2),
                    st.integers(0, 2**80))
"""Slots and block numbers, beyond the 64-bit range too (RLP integers are unbounded)."""


@st.composite
def self_signed_pair(draw) -> tuple[str, str]:
    """Two objects of one kind, for one slot, signed by a key nobody registered (a signature
    verifies; nothing else about them is true)."""
    key = NodeKey.from_seed(draw(st.binary(min_size=32, max_size=32)))
    slot = draw(HEIGHTS)
    objects = []
    for timestamp in (1, 2):
        header = dataclasses.replace(HEADERS[0], number=draw(HEIGHTS), slot=slot,
                                     timestamp_ms=timestamp, producer=key.public)
        if draw(st.booleans()):
            objects.append(hx(encode_attestation(attest(key, header, HEADERS[1]))))
        else:
            signature = key.sign(b"block", HEADERS[1].chain_id, header.hash)
            objects.append(hx(encode_signed_header(header, signature)))
    return objects[0], objects[1]


SIGNED_ITEMS = st.one_of(st.deferred(lambda: mutated(SIGNED, ("keep", "flip", "flip", "truncate", "append"))), HEXISH,
                         st.deferred(self_signed_pair).map(lambda pair: pair[0]))
POSTS = st.one_of(
    st.tuples(st.just("/observations"), st.fixed_dictionaries({}, optional={
        "blocks": st.lists(SIGNED_ITEMS, max_size=3), "headers": st.lists(SIGNED_ITEMS, max_size=3),
        "attestations": st.lists(SIGNED_ITEMS, max_size=3), "source": st.text(max_size=300)})),
    st.tuples(st.just("/evidence/equivocation"), st.fixed_dictionaries(
        {"first": SIGNED_ITEMS, "second": SIGNED_ITEMS}, optional={"source": st.text(max_size=8)})),
    st.tuples(st.just("/evidence/equivocation"), st.deferred(self_signed_pair).map(
        lambda pair: {"first": pair[0], "second": pair[1]})),
    st.tuples(st.just("/receipts"), st.one_of(
        mutated_receipt(), st.lists(mutated_receipt(), max_size=3),
        st.fixed_dictionaries({"receipts": st.lists(mutated_receipt(), max_size=3)}), JSON_VALUES)),
    st.tuples(st.just("/admin/fraud-proofs"), st.fixed_dictionaries({
        "kind": st.one_of(st.sampled_from(sorted(FRAUD_KINDS)), st.text(max_size=8)),
        "evidence": st.one_of(SIGNED_ITEMS, HEXISH)})),
)


@pytest.mark.parametrize("scale", [1, pytest.param(10, marks=pytest.mark.slow)])
def test_mutated_signed_objects_leave_no_record_when_refused(net, scale):
    @fuzz_settings(100 * scale)
    @given(post=POSTS)
    def run(post):
        path, body = post
        before = ranger_state(net)
        response = net.ranger.post(path, json=body)
        assert response.status_code < 500 or (path == "/admin/fraud-proofs"
                                               and response.status_code in (502, 503)), \
            describe(response)
        if response.status_code >= 400:
            check_error_body(response)
        refused = response.status_code >= 400 or (
            path == "/observations" and response.json()["accepted"] == 0
            and not response.json()["findings"])
        if refused:
            after = ranger_state(net)
            changed = sorted(name for name in before if before[name] != after[name])
            assert not changed, f"{describe(response)}\nchanged: {changed}"

    run()
