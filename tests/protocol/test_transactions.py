"""decode_transaction / recover_sender / validate_transaction, with eth-account as the oracle.

Spec: docs/spec/transactions.md
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import rlp
from eth_account import Account
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protocol.constants import GWEI, MAX_TX_SIZE, SECP256K1_N, TX_GAS
from protocol.exceptions import (
    AccessListNotAllowed,
    ContractCreationNotAllowed,
    DataNotAllowed,
    FeeTooLow,
    HighS,
    InsufficientBalance,
    IntrinsicGasTooLow,
    InvalidEncoding,
    InvalidSignature,
    InvalidTransaction,
    NonceTooHigh,
    NonceTooLow,
    OversizedTransaction,
    TipAboveFeeCap,
    UnsupportedTransactionType,
    WrongChainId,
)
from protocol.params import ChainParams
from protocol.transactions import (
    Transaction,
    compute_effective_gas_price,
    compute_fee,
    compute_max_cost,
    compute_signing_hash,
    decode_transaction,
    recover_sender,
    sign_transaction,
    tx_to_json,
    validate_transaction,
    validate_transaction_static,
)

PARAMS = ChainParams()
CHAIN_ID = PARAMS.chain_id
KEY = bytes.fromhex("ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80")
SENDER = bytes.fromhex("f39fd6e51aad88f6f4ce6ab8827279cfffb92266")
RECIPIENT = bytes.fromhex("70997970c51812dc3a010c7d01b50e0d17dc79c8")

FAST = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@dataclass(frozen=True, slots=True)
class FakeAccount:
    nonce: int = 0
    balance: int = 0


def raises_exactly(error: type[Exception], call, *args):
    """Like pytest.raises, but a subclass of `error` does not count."""
    with pytest.raises(error) as info:
        call(*args)
    assert type(info.value) is error, f"expected {error.__name__}, got {type(info.value).__name__}"
    return info.value


def make(tx_type: int = 2, **fields) -> Transaction:
    """A transfer signed with KEY, decoded: nonce 0, 1 wei to RECIPIENT, 2 gwei cap, 1 gwei tip."""
    arguments = dict(chain_id=CHAIN_ID, nonce=0, to=RECIPIENT, value=1, max_fee_per_gas=2 * GWEI,
                     max_priority_fee_per_gas=GWEI, tx_type=tx_type)
    arguments.update(fields)
    return decode_transaction(sign_transaction(KEY, **arguments))


def signed_fields(raw: bytes) -> list:
    """The RLP fields of a raw transaction (typed: without the type byte)."""
    return rlp.decode(raw[1:] if raw[0] < 0x80 else raw)


def reencode(raw: bytes, fields: list) -> bytes:
    encoded = rlp.encode(fields)
    return raw[:1] + encoded if raw[0] < 0x80 else encoded


def uint(value: int) -> bytes:
    return value.to_bytes((value.bit_length() + 7) // 8, "big")


# --- agreement with eth-account -----------------------------------------------------------

private_keys = st.integers(min_value=1, max_value=SECP256K1_N - 1).map(lambda k: k.to_bytes(32, "big"))
addresses = st.binary(min_size=20, max_size=20)
uint64 = st.integers(min_value=0, max_value=2**64 - 2)
uint256 = st.integers(min_value=0, max_value=2**256 - 1)
fees = st.integers(min_value=0, max_value=2**128)
chain_ids = st.one_of(st.just(CHAIN_ID), st.integers(min_value=1, max_value=2**32))


@st.composite
def eth_account_transactions(draw) -> tuple[dict, bytes]:
    """A random legacy EIP-155 or EIP-1559 transaction dict and its key."""
    fields = {
        "chainId": draw(chain_ids),
        "nonce": draw(uint64),
        "gas": draw(st.integers(min_value=0, max_value=2**63)),
        "to": draw(addresses),
        "value": draw(uint256),
        "data": draw(st.binary(max_size=40)),
    }
    if draw(st.booleans()):
        fields |= {"type": 2, "maxFeePerGas": draw(fees), "maxPriorityFeePerGas": draw(fees)}
    else:
        fields |= {"gasPrice": draw(fees)}
    return fields, draw(private_keys)


@FAST
@given(eth_account_transactions())
def test_decode_agrees_with_eth_account(case):
    fields, key = case
    signed = Account.sign_transaction(fields, key)
    raw = bytes(signed.raw_transaction)
    tx = decode_transaction(raw)
    assert "0x" + tx.sender.hex() == Account.recover_transaction(raw).lower()
    assert tx.sender == bytes.fromhex(Account.from_key(key).address[2:])
    assert tx.hash == bytes(signed.hash)
    assert tx.raw == raw
    assert tx.chain_id == fields["chainId"]
    assert tx.nonce == fields["nonce"]
    assert tx.gas == fields["gas"]
    assert tx.to == fields["to"]
    assert tx.value == fields["value"]
    assert tx.data == fields["data"]
    assert (tx.r, tx.s) == (signed.r, signed.s)
    if fields.get("type") == 2:
        assert tx.tx_type == 2
        assert tx.max_fee_per_gas == fields["maxFeePerGas"]
        assert tx.max_priority_fee_per_gas == fields["maxPriorityFeePerGas"]
        assert tx.v == signed.v
    else:
        assert tx.tx_type == 0
        assert tx.max_fee_per_gas == tx.max_priority_fee_per_gas == tx.gas_price == fields["gasPrice"]
        assert tx.v == signed.v == fields["chainId"] * 2 + 35 + tx.y_parity
    # The slow path (re-encoding the fields) gives the signing hash the fast path sliced out.
    assert recover_sender(compute_signing_hash(tx), tx.y_parity, tx.r, tx.s) == tx.sender


@FAST
@given(eth_account_transactions())
def test_sign_transaction_matches_eth_account_bytes(case):
    fields, key = case
    raw = sign_transaction(
        key, chain_id=fields["chainId"], nonce=fields["nonce"], to=fields["to"], value=fields["value"],
        gas=fields["gas"], data=fields["data"],
        max_fee_per_gas=fields.get("maxFeePerGas", fields.get("gasPrice")),
        max_priority_fee_per_gas=fields.get("maxPriorityFeePerGas"), tx_type=fields.get("type", 0))
    assert raw == bytes(Account.sign_transaction(fields, key).raw_transaction)


def test_decode_pre_eip155_legacy_has_no_chain_id():
    raw = bytes(Account.sign_transaction(
        {"nonce": 0, "gasPrice": GWEI, "gas": TX_GAS, "to": RECIPIENT, "value": 5}, KEY).raw_transaction)
    tx = decode_transaction(raw)
    assert tx.chain_id is None and tx.v in (27, 28)
    assert tx.sender == SENDER == bytes.fromhex(Account.recover_transaction(raw)[2:].lower())
    assert tx_to_json(tx).get("chainId") is None


def test_decode_accepts_bytearray_and_memoryview():
    raw = sign_transaction(KEY, chain_id=CHAIN_ID, nonce=0, to=RECIPIENT, value=1, max_fee_per_gas=GWEI)
    assert decode_transaction(bytearray(raw)).raw == raw
    assert decode_transaction(memoryview(raw)).sender == SENDER


def test_tampered_field_recovers_another_sender():
    raw = make().raw
    fields = signed_fields(raw)
    fields[6] = uint(2)  # value
    assert decode_transaction(reencode(raw, fields)).sender != SENDER


# --- encoding errors ----------------------------------------------------------------------


@pytest.mark.parametrize("tx_type", [0, 2])
def test_invalid_truncated_rlp(tx_type):
    raises_exactly(InvalidEncoding, decode_transaction, make(tx_type).raw[:-1])


@pytest.mark.parametrize("tx_type", [0, 2])
def test_invalid_trailing_bytes(tx_type):
    raises_exactly(InvalidEncoding, decode_transaction, make(tx_type).raw + b"\x00")


@pytest.mark.parametrize("tx_type", [0, 2])
def test_invalid_wrong_field_count(tx_type):
    raw = make(tx_type).raw
    fields = signed_fields(raw)
    raises_exactly(InvalidEncoding, decode_transaction, reencode(raw, fields[:-1]))
    raises_exactly(InvalidEncoding, decode_transaction, reencode(raw, fields + [b""]))


@pytest.mark.parametrize("tx_type,index", [(0, 0), (0, 4), (2, 0), (2, 1), (2, 6), (2, 10)])
def test_invalid_non_canonical_int(tx_type, index):
    raw = make(tx_type, nonce=1).raw
    fields = signed_fields(raw)
    fields[index] = b"\x00" + fields[index]
    raises_exactly(InvalidEncoding, decode_transaction, reencode(raw, fields))


def test_invalid_zero_encoded_as_zero_byte():
    raw = make(nonce=0).raw
    fields = signed_fields(raw)
    fields[1] = b"\x00"  # zero must be the empty string
    raises_exactly(InvalidEncoding, decode_transaction, reencode(raw, fields))


def test_invalid_non_canonical_rlp_length():
    # 0x81 0x05 encodes the single byte 0x05 in two bytes: rlp refuses it in strict mode.
    raw = make(0, nonce=5).raw
    payload = b"\x81\x05" + b"".join(rlp.encode(field) for field in signed_fields(raw)[1:])
    raises_exactly(InvalidEncoding, decode_transaction, rlp.codec.length_prefix(len(payload), 0xC0) + payload)
    # The same list with the canonical nonce encoding decodes.
    canonical = b"\x05" + payload[2:]
    assert decode_transaction(rlp.codec.length_prefix(len(canonical), 0xC0) + canonical).nonce == 5


def test_invalid_oversized_integer():
    raw = make().raw
    fields = signed_fields(raw)
    fields[1] = b"\x01" * 9  # nonce above uint64
    raises_exactly(InvalidEncoding, decode_transaction, reencode(raw, fields))
    fields = signed_fields(raw)
    fields[6] = b"\x01" * 33  # value above uint256
    raises_exactly(InvalidEncoding, decode_transaction, reencode(raw, fields))


def test_invalid_list_where_int_expected():
    raw = make().raw
    fields = signed_fields(raw)
    fields[2] = [b"\x01"]
    raises_exactly(InvalidEncoding, decode_transaction, reencode(raw, fields))


@pytest.mark.parametrize("tx_type", [0, 2])
@pytest.mark.parametrize("size", [19, 21, 32])
def test_invalid_address_length(tx_type, size):
    raw = make(tx_type).raw
    fields = signed_fields(raw)
    fields[3 if tx_type == 0 else 5] = b"\x11" * size
    raises_exactly(InvalidEncoding, decode_transaction, reencode(raw, fields))


def test_invalid_access_list_not_a_list():
    raw = make().raw
    fields = signed_fields(raw)
    fields[8] = b"\x01"
    raises_exactly(InvalidEncoding, decode_transaction, reencode(raw, fields))


@pytest.mark.parametrize("raw", [b"", b"\x83abc", b"\xb8\x38" + b"a" * 56, b"\x80", b"\x02", b"\x02\x80"])
def test_invalid_not_a_transaction(raw):
    raises_exactly(InvalidEncoding, decode_transaction, raw)


def test_invalid_not_bytes():
    raises_exactly(InvalidEncoding, decode_transaction, "0x02f8")


@pytest.mark.parametrize("type_byte", [0x00, 0x01, 0x03, 0x04, 0x7E, 0x7F])
def test_invalid_unsupported_type(type_byte):
    body = make().raw[1:]
    raises_exactly(UnsupportedTransactionType, decode_transaction, bytes((type_byte,)) + body)


def test_invalid_unsupported_type_eth_account_access_list_tx():
    fields = {"type": 1, "chainId": CHAIN_ID, "nonce": 0, "gasPrice": GWEI, "gas": TX_GAS,
              "to": RECIPIENT, "value": 1, "accessList": []}
    raw = bytes(Account.sign_transaction(fields, KEY).raw_transaction)
    raises_exactly(UnsupportedTransactionType, decode_transaction, raw)


def test_invalid_oversized_checked_before_decoding():
    raises_exactly(OversizedTransaction, decode_transaction, b"\x02" + b"\xff" * MAX_TX_SIZE)
    raises_exactly(OversizedTransaction, decode_transaction, b"\x7f" * (MAX_TX_SIZE + 1))


def test_size_limit_is_inclusive():
    data = b"\x01" * (MAX_TX_SIZE - 200)
    raw = sign_transaction(KEY, chain_id=CHAIN_ID, nonce=0, to=RECIPIENT, value=0,
                           max_fee_per_gas=GWEI, data=data)
    padded = sign_transaction(KEY, chain_id=CHAIN_ID, nonce=0, to=RECIPIENT, value=0, max_fee_per_gas=GWEI,
                              data=data + b"\x01" * (MAX_TX_SIZE - len(raw)))
    assert len(padded) == MAX_TX_SIZE
    assert decode_transaction(padded).sender == SENDER
    too_big = sign_transaction(KEY, chain_id=CHAIN_ID, nonce=0, to=RECIPIENT, value=0, max_fee_per_gas=GWEI,
                               data=data + b"\x01" * (MAX_TX_SIZE - len(raw) + 1))
    raises_exactly(OversizedTransaction, decode_transaction, too_big)


def test_invalid_non_empty_access_list():
    fields = {"type": 2, "chainId": CHAIN_ID, "nonce": 0, "maxFeePerGas": 2 * GWEI,
              "maxPriorityFeePerGas": GWEI, "gas": TX_GAS, "to": RECIPIENT, "value": 1,
              "accessList": [{"address": "0x" + "11" * 20, "storageKeys": ["0x" + "00" * 32]}]}
    raw = bytes(Account.sign_transaction(fields, KEY).raw_transaction)
    error = raises_exactly(AccessListNotAllowed, decode_transaction, raw)
    assert isinstance(error, InvalidTransaction)


# --- signature errors ---------------------------------------------------------------------


@pytest.mark.parametrize("tx_type", [0, 2])
def test_invalid_high_s(tx_type):
    raw = make(tx_type).raw
    fields = signed_fields(raw)
    s = int.from_bytes(fields[-1], "big")
    v = int.from_bytes(fields[-3], "big")
    fields[-1] = uint(SECP256K1_N - s)
    fields[-3] = uint(v ^ 1)  # y parity flips with s: the same key signed it
    raises_exactly(HighS, decode_transaction, reencode(raw, fields))


@pytest.mark.parametrize("tx_type", [0, 2])
@pytest.mark.parametrize("which,value", [(-2, 0), (-1, 0), (-2, SECP256K1_N), (-1, SECP256K1_N)])
def test_invalid_signature_value_out_of_range(tx_type, which, value):
    raw = make(tx_type).raw
    fields = signed_fields(raw)
    fields[which] = uint(value)
    raises_exactly(InvalidSignature, decode_transaction, reencode(raw, fields))


@pytest.mark.parametrize("v", [0, 1, 26, 29, 34])
def test_invalid_legacy_v(v):
    raw = make(0).raw
    fields = signed_fields(raw)
    fields[6] = uint(v)
    raises_exactly(InvalidSignature, decode_transaction, reencode(raw, fields))


def test_invalid_y_parity():
    raw = make(2).raw
    fields = signed_fields(raw)
    fields[9] = uint(2)
    raises_exactly(InvalidSignature, decode_transaction, reencode(raw, fields))


def test_invalid_signature_not_recoverable():
    raw = make(2).raw
    fields = signed_fields(raw)
    # Find an r that is not the x coordinate of any curve point: recovery must fail.
    for r in range(1, 100):
        fields[10] = uint(r)
        try:
            decode_transaction(reencode(raw, fields))
        except InvalidSignature:
            return
    pytest.fail("every small r was a valid x coordinate")


def test_recover_sender_rejects_bad_hash():
    raises_exactly(InvalidSignature, recover_sender, b"\x00" * 31, 0, 1, 1)


# --- validity rules -----------------------------------------------------------------------


@pytest.mark.parametrize("tx_type", [0, 2])
def test_valid_transfer(tx_type):
    tx = make(tx_type, nonce=3, value=10)
    validate_transaction(tx, FakeAccount(nonce=3, balance=compute_max_cost(tx)), PARAMS)


def test_invalid_wrong_chain_id():
    error = raises_exactly(WrongChainId, validate_transaction_static, make(chain_id=1), PARAMS)
    assert "1 != 7357" in str(error)
    raises_exactly(WrongChainId, validate_transaction_static, make(0, chain_id=CHAIN_ID + 1), PARAMS)


def test_invalid_pre_eip155_legacy():
    raw = bytes(Account.sign_transaction(
        {"nonce": 0, "gasPrice": GWEI, "gas": TX_GAS, "to": RECIPIENT, "value": 1}, KEY).raw_transaction)
    raises_exactly(WrongChainId, validate_transaction, decode_transaction(raw), FakeAccount(balance=10**18), PARAMS)


@pytest.mark.parametrize("tx_type", [0, 2])
def test_invalid_contract_creation(tx_type):
    tx = make(tx_type, to=None)
    assert tx.to is None
    raises_exactly(ContractCreationNotAllowed, validate_transaction_static, tx, PARAMS)


def test_invalid_data_not_empty():
    raises_exactly(DataNotAllowed, validate_transaction_static, make(data=b"\x00"), PARAMS)


def test_invalid_gas_below_intrinsic():
    raises_exactly(IntrinsicGasTooLow, validate_transaction_static, make(gas=TX_GAS - 1), PARAMS)
    validate_transaction_static(make(gas=TX_GAS), PARAMS)
    validate_transaction_static(make(gas=10**7), PARAMS)


def test_invalid_tip_above_fee_cap():
    tx = make(max_fee_per_gas=2 * GWEI, max_priority_fee_per_gas=2 * GWEI + 1)
    raises_exactly(TipAboveFeeCap, validate_transaction_static, tx, PARAMS)
    validate_transaction_static(make(max_fee_per_gas=2 * GWEI, max_priority_fee_per_gas=2 * GWEI), PARAMS)


@pytest.mark.parametrize("tx_type", [0, 2])
def test_invalid_fee_below_base_fee(tx_type):
    base = PARAMS.base_fee_wei
    tx = make(tx_type, max_fee_per_gas=base - 1, max_priority_fee_per_gas=0)
    raises_exactly(FeeTooLow, validate_transaction_static, tx, PARAMS)
    validate_transaction_static(make(tx_type, max_fee_per_gas=base, max_priority_fee_per_gas=0), PARAMS)


def test_invalid_oversized_in_validation():
    tx = make()
    big = Transaction(**{name: getattr(tx, name) for name in Transaction.__slots__
                         if not name.startswith("__")} | {"raw": b"\x00" * (MAX_TX_SIZE + 1)})
    raises_exactly(OversizedTransaction, validate_transaction_static, big, PARAMS)


def test_invalid_nonce_too_low():
    error = raises_exactly(NonceTooLow, validate_transaction, make(nonce=4), FakeAccount(5, 10**18), PARAMS)
    assert (error.expected, error.got) == (5, 4)


def test_invalid_nonce_too_high():
    error = raises_exactly(NonceTooHigh, validate_transaction, make(nonce=6), FakeAccount(5, 10**18), PARAMS)
    assert (error.expected, error.got) == (5, 6)


def test_missing_account_is_empty():
    error = raises_exactly(NonceTooHigh, validate_transaction, make(nonce=1), None, PARAMS)
    assert (error.expected, error.got) == (0, 1)
    raises_exactly(InsufficientBalance, validate_transaction, make(nonce=0), None, PARAMS)


@pytest.mark.parametrize("tx_type", [0, 2])
def test_insufficient_balance_boundary(tx_type):
    tx = make(tx_type, value=12345, gas=30_000)
    max_cost = 12345 + 30_000 * 2 * GWEI
    assert compute_max_cost(tx) == max_cost
    raises_exactly(InsufficientBalance, validate_transaction, tx, FakeAccount(0, max_cost - 1), PARAMS)
    validate_transaction(tx, FakeAccount(0, max_cost), PARAMS)


def test_validation_order():
    # Wrong chain id beats every later rule; nonce beats balance.
    tx = make(chain_id=1, to=None, data=b"\x01", gas=1, max_fee_per_gas=0)
    raises_exactly(WrongChainId, validate_transaction, tx, FakeAccount(9, 0), PARAMS)
    tx = make(to=None, data=b"\x01", gas=1)
    raises_exactly(ContractCreationNotAllowed, validate_transaction, tx, FakeAccount(9, 0), PARAMS)
    tx = make(data=b"\x01", gas=1)
    raises_exactly(DataNotAllowed, validate_transaction, tx, FakeAccount(9, 0), PARAMS)
    tx = make(gas=1, max_fee_per_gas=0, max_priority_fee_per_gas=1)
    raises_exactly(IntrinsicGasTooLow, validate_transaction, tx, FakeAccount(9, 0), PARAMS)
    tx = make(max_fee_per_gas=0, max_priority_fee_per_gas=1)
    raises_exactly(TipAboveFeeCap, validate_transaction, tx, FakeAccount(9, 0), PARAMS)
    tx = make(nonce=1)
    raises_exactly(NonceTooHigh, validate_transaction, tx, FakeAccount(0, 0), PARAMS)


def test_every_rejection_is_an_invalid_transaction_or_encoding():
    for error in (AccessListNotAllowed, ContractCreationNotAllowed, DataNotAllowed, FeeTooLow, HighS,
                  InsufficientBalance, IntrinsicGasTooLow, NonceTooHigh, NonceTooLow,
                  OversizedTransaction, TipAboveFeeCap, UnsupportedTransactionType, WrongChainId):
        assert issubclass(error, InvalidTransaction)


# --- fees ---------------------------------------------------------------------------------


def test_effective_gas_price_fee_market():
    base = GWEI
    assert compute_effective_gas_price(make(max_fee_per_gas=3 * GWEI, max_priority_fee_per_gas=GWEI), base) == 2 * GWEI
    capped = make(max_fee_per_gas=GWEI + GWEI // 2, max_priority_fee_per_gas=GWEI)
    assert compute_effective_gas_price(capped, base) == GWEI + GWEI // 2
    assert compute_fee(capped, base) == TX_GAS * (GWEI + GWEI // 2)


def test_effective_gas_price_legacy_is_gas_price():
    tx = make(0, max_fee_per_gas=5 * GWEI)
    assert compute_effective_gas_price(tx, GWEI) == 5 * GWEI
    assert compute_fee(tx, GWEI) == TX_GAS * 5 * GWEI


def test_fee_charges_only_intrinsic_gas():
    tx = make(gas=100_000, max_fee_per_gas=2 * GWEI, max_priority_fee_per_gas=GWEI)
    assert compute_fee(tx, GWEI) == 21_000 * 2 * GWEI
    assert compute_max_cost(tx) == 1 + 100_000 * 2 * GWEI


# --- JSON-RPC -----------------------------------------------------------------------------


def test_tx_to_json_fee_market():
    tx = make(nonce=16, value=10**18, gas=25_000)
    obj = tx_to_json(tx)
    assert obj["hash"] == "0x" + tx.hash.hex()
    assert obj["type"] == "0x2"
    assert obj["nonce"] == "0x10"
    assert obj["from"] == "0x" + SENDER.hex()
    assert obj["to"] == "0x" + RECIPIENT.hex()
    assert obj["value"] == "0xde0b6b3a7640000"
    assert obj["gas"] == "0x61a8"
    assert obj["gasPrice"] == obj["maxFeePerGas"] == hex(2 * GWEI)
    assert obj["maxPriorityFeePerGas"] == hex(GWEI)
    assert obj["chainId"] == "0x1cbd"
    assert obj["input"] == "0x"
    assert obj["accessList"] == []
    assert obj["v"] == obj["yParity"] == hex(tx.v)
    assert obj["r"] == hex(tx.r) and obj["s"] == hex(tx.s)
    assert tx_to_json(tx, base_fee_wei=GWEI)["gasPrice"] == hex(2 * GWEI)
    assert tx_to_json(make(max_fee_per_gas=5 * GWEI), base_fee_wei=GWEI)["gasPrice"] == hex(2 * GWEI)


def test_tx_to_json_legacy():
    tx = make(0, nonce=0, value=0)
    obj = tx_to_json(tx)
    assert obj["type"] == "0x0"
    assert obj["nonce"] == "0x0" and obj["value"] == "0x0"
    assert obj["gasPrice"] == hex(2 * GWEI)
    assert obj["v"] == hex(CHAIN_ID * 2 + 35 + tx.y_parity)
    assert "maxFeePerGas" not in obj and "maxPriorityFeePerGas" not in obj
