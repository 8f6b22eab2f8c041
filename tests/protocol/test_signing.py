"""Domain separation: a signature of one kind or chain never verifies as another."""

from __future__ import annotations

import itertools

import pytest

from protocol.constants import SIGNATURE_KINDS
from protocol.exceptions import InvalidSignature
from protocol.signing import NodeKey, signing_payload, verify_node_signature

OBJ = b"\xab" * 32


def test_signature_verifies_for_its_own_kind_and_chain():
    key = NodeKey.from_seed(b"\x01" * 32)
    for kind in SIGNATURE_KINDS:
        assert verify_node_signature(key.public, kind, 7357, OBJ, key.sign(kind, 7357, OBJ))


@pytest.mark.parametrize("signed_kind, checked_kind", list(itertools.permutations(SIGNATURE_KINDS, 2)))
def test_signature_of_one_kind_never_verifies_as_another(signed_kind, checked_kind):
    key = NodeKey.from_seed(b"\x02" * 32)
    signature = key.sign(signed_kind, 7357, OBJ)
    assert not verify_node_signature(key.public, checked_kind, 7357, OBJ, signature)


def test_signature_does_not_verify_on_another_chain_id():
    key = NodeKey.from_seed(b"\x03" * 32)
    signature = key.sign(b"block", 7357, OBJ)
    assert not verify_node_signature(key.public, b"block", 7358, OBJ, signature)
    assert not verify_node_signature(key.public, b"block", 7357 + 2**32, OBJ, signature)


def test_signature_does_not_verify_for_another_key_or_object():
    key, other = NodeKey.from_seed(b"\x04" * 32), NodeKey.from_seed(b"\x05" * 32)
    signature = key.sign(b"receipt", 1, OBJ)
    assert not verify_node_signature(other.public, b"receipt", 1, OBJ, signature)
    assert not verify_node_signature(key.public, b"receipt", 1, b"\xac" * 32, signature)


def test_malformed_keys_and_signatures_are_false_not_errors():
    key = NodeKey.from_seed(b"\x06" * 32)
    signature = key.sign(b"peer", 1, OBJ)
    assert not verify_node_signature(b"\x00" * 31, b"peer", 1, OBJ, signature)
    assert not verify_node_signature(key.public, b"peer", 1, OBJ, signature[:63])
    assert not verify_node_signature(key.public, b"nope", 1, OBJ, signature)


def test_payload_layout():
    payload = signing_payload(b"block", 7357, OBJ)
    assert payload == b"seqnet/v1/block" + (7357).to_bytes(8, "big") + OBJ
    with pytest.raises(InvalidSignature):
        signing_payload(b"other", 1, OBJ)
