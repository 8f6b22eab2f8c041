"""Bugs the robustness suite found, each pinned by the smallest example (issue #7)."""

from __future__ import annotations

import orjson
import pytest

from protocol.blocks import Header
from protocol.chainbuilder import devnet_node_key
from protocol.constants import GWEI
from protocol.encoding import encode_signed_header
from protocol.receipts import receipt_to_json, sign_receipt
from protocol.signing import NodeKey
from protocol.transactions import sign_transaction
from ranger import repo
from sequencer.peers import sign_peer_headers

from .sequencer_net import ACCOUNTS, assert_unchanged, open_sequencer_net, sequencer_state


@pytest.fixture(scope="module")
def seq(tmp_path_factory):
    with open_sequencer_net(tmp_path_factory.mktemp("seqnet")) as seq:
        yield seq


@pytest.mark.parametrize("sender, fields, error", [
    (4, {"nonce": 5}, "NonceTooHigh"),
    (0, {"nonce": 0}, "NonceTooLow"),
    (4, {"nonce": 0, "value": 10**30}, "InsufficientBalance"),
])
def test_a_transaction_the_leader_refuses_leaves_no_trace_at_the_forwarding_node(
        seq, sender, fields, error):
    """A node that forwards a transaction pools it first; when the leader refuses it, the
    node used to keep it pending (GET /mempool, eth_getTransactionByHash) and gossip it to
    every peer, although the sender was answered 400."""
    raw = sign_transaction(ACCOUNTS[sender].private_key, chain_id=seq.params.chain_id,
                           to=ACCOUNTS[1].address, max_fee_per_gas=2 * GWEI,
                           **{"value": 10**15, **fields})
    before = [sequencer_state(node) for node in seq.net.nodes]
    response = seq.follower_client.post("/txs", json={"raw": "0x" + raw.hex()})
    assert response.status_code == 400 and response.json()["error"] == error, response.text
    seq.call(seq.net.drain)
    for node, state in zip(seq.net.nodes, before):
        assert_unchanged(state, sequencer_state(node),
                         f"a refused transaction ({node.settings.name})")


@pytest.mark.parametrize("path, body", [
    ("/peer/attestations", {"attestations": None}),
    ("/peer/attestations", {"attestations": 5}),
    ("/peer/txs", {"txs": ["0x"]}),
    ("/peer/txs", {"txs": [{"raw": "0x"}, 7]}),
])
def test_peer_messages_of_the_wrong_shape_are_refused_not_a_500(seq, path, body):
    """A registered peer's signed message whose list is null or holds non-objects used to
    crash the route (TypeError / AttributeError -> 500)."""
    content = orjson.dumps(body)
    headers = sign_peer_headers(seq.follower.key, seq.params.chain_id, path, content,
                                seq.net.clock.now_ms())
    response = seq.leader_client.post(path, content=content, headers=headers)
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "InvalidEncoding"


def test_attestations_to_unknown_blocks_are_kept_only_when_verified_and_bounded(seq):
    """An attestation to a block not here yet is kept for when it comes. Mutated attestations
    (a changed block hash: the signature no longer verifies) and ones signed by a key outside
    the sequencer set used to be kept too, without bound (the slow fuzz run found it)."""
    from protocol.blocks import Attestation
    from protocol.encoding import compute_attestation_hash, encode_attestation
    from sequencer.core import validator

    node, peer = seq.leader, seq.follower
    chain_id = seq.params.chain_id
    head = node.store.head

    def attestation(key: NodeKey, block_hash: bytes, sign_hash: bytes | None = None):
        signed = compute_attestation_hash(sign_hash or block_hash, head.number, head.slot)
        return Attestation(block_hash, head.number, head.slot, key.public,
                           key.sign(b"attestation", chain_id, signed))

    unknown = b"\x5a" * 32
    junk = [attestation(peer.key, unknown, sign_hash=head.hash),        # mutated hash
            attestation(NodeKey.from_seed(b"\x42" * 32), unknown)]      # not in the set
    before = sequencer_state(node)
    body = {"attestations": ["0x" + encode_attestation(a).hex() for a in junk]}
    content = orjson.dumps(body)
    headers = sign_peer_headers(peer.key, chain_id, "/peer/attestations", content,
                                seq.net.clock.now_ms())
    response = seq.leader_client.post("/peer/attestations", content=content, headers=headers)
    assert response.status_code == 200 and response.json() == {"accepted": 0}, response.text
    assert_unchanged(before, sequencer_state(node), "junk attestations")

    try:
        valid = attestation(peer.key, unknown)
        assert validator.add_attestation(node, valid)
        assert validator.add_attestation(node, valid)                   # kept once
        assert node.pending_attestations[unknown] == [valid]
        for i in range(validator.MAX_PENDING_BLOCKS + 5):
            assert validator.add_attestation(node, attestation(peer.key, i.to_bytes(32, "big")))
        assert len(node.pending_attestations) == validator.MAX_PENDING_BLOCKS
        assert unknown not in node.pending_attestations                 # the oldest went first
    finally:
        node.pending_attestations.clear()


# --- ranger: integers beyond the database's 64 bits ------------------------------------------

@pytest.fixture(scope="module")
def ranger(tmp_path_factory):
    from ..ranger.conftest import Net
    net = Net(tmp_path_factory.mktemp("ranger"))
    yield net
    net.close()


@pytest.mark.parametrize("path, rule", [
    ("/receipts/9223372036854775808", "less than or equal to 9223372036854775807"),
    ("/reports/18446744073709551616", "less than or equal to 9223372036854775807"),
    ("/receipts/-9223372036854775809", "greater than or equal to 0"),
    ("/reports/-1", "greater than or equal to 0")])
def test_ranger_ids_beyond_64_bits_are_refused_not_a_500(ranger, path, rule):
    response = ranger.ranger.get(path)
    assert response.status_code == 422, response.text
    assert rule in response.json()["detail"]


@pytest.mark.parametrize("slot, index, field", [(2**63, 0, "slot"), (0, 2**64, "index")])
def test_ranger_refuses_a_signed_receipt_with_a_slot_or_index_beyond_64_bits(ranger, slot, index,
                                                                             field):
    """The leader's signature verified, then the database refused the row (500)."""
    receipt = sign_receipt(devnet_node_key(0), ranger.params.chain_id, b"\x22" * 32, slot, index,
                           b"\x11" * 32)
    response = ranger.ranger.post("/receipts", json=receipt_to_json(receipt))
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "InvalidReceipt"
    assert response.json()["detail"].startswith(f"malformed receipt: {field}: ")


def _self_signed(key, params, slot: int, number: int, timestamp_ms: int) -> str:
    header = Header(number=number, parent_hash=b"\x00" * 32, slot=slot, timestamp_ms=timestamp_ms,
                    producer=key.public, tx_root=b"\x00" * 32, state_root=b"\x00" * 32,
                    withdrawals_root=b"\x00" * 32, l1_origin=0, l1_queue_index=0, parent_qc=None)
    signature = key.sign(b"block", params.chain_id, header.hash)
    return "0x" + encode_signed_header(header, signature).hex()


def test_ranger_ignores_signed_objects_with_a_slot_beyond_64_bits(ranger):
    """A header signed by its producer with slot 2**63 decodes and verifies; storing it made
    POST /observations (and the follower, which pulls sequencers' observations) fail with a
    500, and POST /evidence/equivocation with two of them too."""
    key = NodeKey.from_seed(b"\x07" * 32)
    first, second = (_self_signed(key, ranger.params, 2**63, 1, t) for t in (1, 2))
    before = repo.count_observations(ranger.node.sessions)
    response = ranger.ranger.post("/observations", json={"headers": [first, second]})
    assert response.status_code == 200, response.text
    assert response.json() == {"accepted": 0, "ignored": 2, "findings": []}
    assert repo.count_observations(ranger.node.sessions) == before
    response = ranger.ranger.post("/evidence/equivocation", json={"first": first, "second": second})
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "InvalidProof" and "beyond any real slot" in \
        response.json()["detail"]


# --- L1 unreachable while a request needs it ----------------------------------------------------

def test_a_request_that_needs_an_unreachable_l1_answers_503_not_500(tmp_path):
    """nodekit.errors_http maps TemporaryError to 503 (it was an InternalError 500): here the
    follower needs L1 for an epoch's sequencer set it has not cached."""
    with open_sequencer_net(tmp_path) as seq:
        seq.net.l1.reachable = False
        response = seq.follower_client.get("/schedule?epoch=77")
        assert response.status_code == 503, response.text
        assert response.json() == {"error": "TemporaryError", "detail": "L1 unreachable"}
        assert response.headers["retry-after"] == "1"
        later = seq.params.genesis_time_ms + 5 * seq.params.epoch_ms + 100
        seq.call(seq.net.clock.set_ms, later)
        raw = "0x" + sign_transaction(ACCOUNTS[4].private_key, chain_id=seq.params.chain_id,
                                      nonce=0, to=ACCOUNTS[1].address, value=1,
                                      max_fee_per_gas=2 * GWEI).hex()
        response = seq.follower_client.post("/txs", json={"raw": raw})
        assert response.status_code == 503, response.text
        answer = seq.follower_client.post("/rpc", json={
            "jsonrpc": "2.0", "id": 3, "method": "eth_sendRawTransaction", "params": [raw]})
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"jsonrpc": "2.0", "id": 3, "error": {
            "code": -32000, "message": "TemporaryError: L1 unreachable"}}
