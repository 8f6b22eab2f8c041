"""Signed L1 calls (docs/spec/l1-calls.md): round trip, replay and forgery protection, and
strict decoding. eth-account is the oracle for the message hash and recovery."""

from __future__ import annotations

import copy

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_utils import to_checksum_address
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol.constants import SECP256K1_N
from protocol.exceptions import InvalidEncoding, InvalidSignature
from protocol.l1calls import (L1_METHODS, L1Call, canonical_args, compute_call_message,
                              compute_checksum_address, decode_l1_call, encode_l1_call,
                              recover_l1_call_sender, sign_l1_call)

# anvil / hardhat development accounts 0 and 1 (DEV_MNEMONIC)
KEY_0 = bytes.fromhex("ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80")
ADDRESS_0 = bytes.fromhex("f39fd6e51aad88f6f4ce6ab8827279cfffb92266")
KEY_1 = bytes.fromhex("59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d")
L1_CHAIN_ID = 31337
TRANSFER_ARGS = {"to": "0x70997970c51812dc3a010c7d01b50e0d17dc79c8",
                 "amount": "1000000000000000000"}


def transfer(nonce: int = 0, key: bytes = KEY_0) -> L1Call:
    return sign_l1_call(key, L1_CHAIN_ID, "transfer", nonce, TRANSFER_ARGS)


# --- the spec's example ---------------------------------------------------------------------


def test_message_matches_spec_example():
    assert canonical_args(TRANSFER_ARGS) == (
        b'{"amount":"1000000000000000000","to":"0x70997970c51812dc3a010c7d01b50e0d17dc79c8"}')
    assert compute_call_message(L1_CHAIN_ID, "transfer", ADDRESS_0, 0, TRANSFER_ARGS) == (
        "seqnet L1 call\n"
        "chain: 31337\n"
        "sender: 0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266\n"
        "nonce: 0\n"
        "method: transfer\n"
        "args: 0x97bb0290760c39a6cbcffcb4a6a70a0f002ddc73a8c0a8aac019c05751f8c96a")


def test_signature_matches_spec_example():
    call = transfer()
    assert call.sender == ADDRESS_0
    assert call.signature.hex() == (
        "6bf43e0b89db52292779f8d57a49f8654e9f8a014fdc838b638490dbd1ecb32b"
        "132c045f42287d9ee9ad43be5f7cae0e2b1f009ba6db554be6adf23251d2abb61c")


# --- round trip -----------------------------------------------------------------------------


def test_round_trip_sign_encode_decode_recover():
    call = transfer(nonce=7)
    body = encode_l1_call(call)
    assert body == {"method": "transfer", "sender": "0x" + ADDRESS_0.hex(), "nonce": 7,
                    "args": TRANSFER_ARGS, "signature": "0x" + call.signature.hex()}
    decoded = decode_l1_call(body)
    assert decoded == call
    assert recover_l1_call_sender(decoded, L1_CHAIN_ID) == ADDRESS_0


def test_round_trip_through_json_text():
    import json
    call = sign_l1_call(KEY_1, L1_CHAIN_ID, "submit_batch", 3,
                        {"blocks": [{"number": 1, "raw": "0xc0", "ok": True}], "first": 1})
    decoded = decode_l1_call(json.loads(json.dumps(encode_l1_call(call))))
    assert recover_l1_call_sender(decoded, L1_CHAIN_ID) == call.sender


def test_recovery_agrees_with_eth_account():
    call = transfer(nonce=12)
    text = compute_call_message(L1_CHAIN_ID, call.method, call.sender, call.nonce, call.args)
    oracle = Account.recover_message(encode_defunct(text=text), signature=call.signature)
    assert oracle == to_checksum_address(recover_l1_call_sender(call, L1_CHAIN_ID))


@settings(max_examples=25, deadline=None)
@given(st.binary(min_size=20, max_size=20))
def test_checksum_address_matches_eth_utils(address):
    assert compute_checksum_address(address) == to_checksum_address(address)


def test_args_key_order_does_not_matter():
    call = transfer()
    reordered = L1Call(call.method, call.sender, call.nonce,
                       {"amount": TRANSFER_ARGS["amount"], "to": TRANSFER_ARGS["to"]},
                       call.signature)
    assert recover_l1_call_sender(reordered, L1_CHAIN_ID) == ADDRESS_0


def test_v_zero_or_one_is_accepted():
    call = transfer()
    legacy_v = call.signature[:64] + bytes([call.signature[64] - 27])
    assert recover_l1_call_sender(L1Call(call.method, call.sender, call.nonce, call.args,
                                         legacy_v), L1_CHAIN_ID) == ADDRESS_0


# --- neither forged nor replayed ------------------------------------------------------------


def _altered(call: L1Call, **changes) -> L1Call:
    fields = {"method": call.method, "sender": call.sender, "nonce": call.nonce,
              "args": call.args, "signature": call.signature}
    fields.update(changes)
    return L1Call(**fields)


def test_signature_does_not_verify_on_another_chain():
    with pytest.raises(InvalidSignature, match="not by its sender"):
        recover_l1_call_sender(transfer(), L1_CHAIN_ID + 1)


def test_signature_does_not_verify_for_another_nonce():
    with pytest.raises(InvalidSignature):
        recover_l1_call_sender(_altered(transfer(nonce=4), nonce=5), L1_CHAIN_ID)


def test_signature_does_not_verify_for_another_method():
    with pytest.raises(InvalidSignature):
        recover_l1_call_sender(_altered(transfer(), method="delegate"), L1_CHAIN_ID)


def test_signature_does_not_verify_for_altered_args():
    call = transfer()
    for args in ({**TRANSFER_ARGS, "amount": "1000000000000000001"},
                 {**TRANSFER_ARGS, "memo": "x"},
                 {"to": TRANSFER_ARGS["to"]}):
        with pytest.raises(InvalidSignature):
            recover_l1_call_sender(_altered(call, args=args), L1_CHAIN_ID)


def test_forged_sender_is_rejected():
    # Account 1 signs a call that claims to come from account 0.
    forged = _altered(transfer(key=KEY_1), sender=ADDRESS_0)
    with pytest.raises(InvalidSignature, match="not by its sender"):
        recover_l1_call_sender(forged, L1_CHAIN_ID)


def test_malformed_signatures_are_rejected():
    call = transfer()
    r, s, v = call.signature[:32], call.signature[32:64], call.signature[64:]
    high_s = (SECP256K1_N - int.from_bytes(s, "big")).to_bytes(32, "big")
    cases = {
        "64 bytes": call.signature[:64],
        "bad v": r + s + b"\x1d",
        "zero r": b"\x00" * 32 + s + v,
        "r >= n": SECP256K1_N.to_bytes(32, "big") + s + v,
        "zero s": r + b"\x00" * 32 + v,
        "high s": r + high_s + bytes([55 - v[0]]),
    }
    for what, signature in cases.items():
        with pytest.raises(InvalidSignature):
            recover_l1_call_sender(_altered(call, signature=signature), L1_CHAIN_ID)
        assert what


def test_high_s_twin_is_refused_although_it_recovers_the_same_key():
    # The malleable twin (n - s, flipped v) is a valid ECDSA signature of the same message;
    # refusing it keeps one signature per call.
    call = transfer()
    s = int.from_bytes(call.signature[32:64], "big")
    twin = call.signature[:32] + (SECP256K1_N - s).to_bytes(32, "big") + \
        bytes([55 - call.signature[64]])
    with pytest.raises(InvalidSignature, match="n/2"):
        recover_l1_call_sender(_altered(call, signature=twin), L1_CHAIN_ID)


# --- strict decoding ------------------------------------------------------------------------


def _body(**changes) -> dict:
    body = copy.deepcopy(encode_l1_call(transfer()))
    for key, value in changes.items():
        if value is _DELETE:
            del body[key]
        else:
            body[key] = value
    return body


_DELETE = object()

MALFORMED = {
    "not an object": ([1, 2], "JSON object"),
    "missing method": (_body(method=_DELETE), "missing method"),
    "missing signature": (_body(signature=_DELETE), "missing signature"),
    "unknown key": (_body(extra=1), "unknown keys extra"),
    "method not a string": (_body(method=5), "method must be a string"),
    "unknown method": (_body(method="mint"), "unknown L1 method mint"),
    "sender not hex": (_body(sender="0x" + "zz" * 20), "not valid hex"),
    "sender without 0x": (_body(sender=ADDRESS_0.hex()), "start with 0x"),
    "sender too short": (_body(sender="0x" + "11" * 19), "20 bytes"),
    "sender not a string": (_body(sender=123), "sender must be a 0x-hex string"),
    "nonce as string": (_body(nonce="1"), "nonce must be an integer"),
    "nonce as bool": (_body(nonce=True), "nonce must be an integer"),
    "nonce as float": (_body(nonce=1.0), "nonce must be an integer"),
    "negative nonce": (_body(nonce=-1), "nonce must lie in"),
    "huge nonce": (_body(nonce=2**64), "nonce must lie in"),
    "args not an object": (_body(args=[1]), "args must be an object"),
    "float in args": (_body(args={"amount": 1.5}), "float"),
    "big int in args": (_body(args={"amount": 10**20}), "beyond 64 bits"),
    "null in args": (_body(args={"x": None}), "NoneType"),
    "nested float": (_body(args={"a": [{"b": 0.5}]}), r"args.a\[0\].b is a float"),
    "signature short": (_body(signature="0x" + "11" * 64), "65 bytes"),
    "signature odd hex": (_body(signature="0x" + "1" * 129), "65 bytes"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_body_is_invalid_encoding(case):
    body, message = MALFORMED[case]
    with pytest.raises(InvalidEncoding, match=message):
        decode_l1_call(body)


def test_deeply_nested_args_are_refused():
    args: dict = {}
    inner = args
    for _ in range(40):
        inner["x"] = {}
        inner = inner["x"]
    with pytest.raises(InvalidEncoding, match="nested deeper"):
        decode_l1_call(_body(args=args))


def test_sign_refuses_unknown_method_and_bad_nonce():
    with pytest.raises(InvalidEncoding):
        sign_l1_call(KEY_0, L1_CHAIN_ID, "mint", 0, {})
    with pytest.raises(InvalidEncoding):
        sign_l1_call(KEY_0, L1_CHAIN_ID, "transfer", -1, {})
    with pytest.raises(InvalidEncoding):
        sign_l1_call(KEY_0, L1_CHAIN_ID, "transfer", 0, {"amount": 0.1})


def test_known_methods_cover_design_section_6():
    for method in ("transfer", "register_sequencer", "delegate", "undelegate", "withdraw",
                   "claim_rewards", "register_ranger", "submit_batch", "deposit", "force_tx",
                   "submit_fraud_proof"):
        assert method in L1_METHODS
