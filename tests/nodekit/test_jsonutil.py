"""Hex and amount conventions of the REST APIs."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ValidationError

from nodekit.jsonutil import (Address, Amount, Hash32, HexBytes, amount_str, from_hex,
                              parse_amount, to_hex)
from protocol.exceptions import InvalidEncoding


def test_hex_round_trip():
    assert to_hex(b"\x12\xab") == "0x12ab"
    assert to_hex(b"") == "0x"
    assert from_hex("0x12AB") == b"\x12\xab"
    assert from_hex("0X12ab", length=2) == b"\x12\xab"
    assert from_hex("0x") == b""


@pytest.mark.parametrize("value, length, message", [
    ("12ab", None, "start with 0x"),
    ("0x123", None, "odd number"),
    ("0xzz", None, "not valid hex"),
    ("0x12", 2, "must be 2 bytes, got 1"),
    (b"\x12", None, "must be a 0x-hex string"),
    (None, None, "must be a 0x-hex string"),
])
def test_from_hex_refuses(value, length, message):
    with pytest.raises(InvalidEncoding, match=message):
        from_hex(value, length)


def test_amounts():
    assert amount_str(10**18) == "1000000000000000000"
    assert parse_amount("1000000000000000000") == 10**18
    assert parse_amount("0") == 0
    assert parse_amount(5) == 5
    assert parse_amount(str(2**256 - 1)) == 2**256 - 1
    with pytest.raises(ValueError):
        amount_str(-1)
    with pytest.raises(ValueError):
        amount_str(True)


@pytest.mark.parametrize("value", ["-1", "1.5", "1e18", "+1", " 1", "", "0x10", "١٢", 1.0,
                                   True, None, -3, str(2**256), "9" * 100, [1]])
def test_parse_amount_refuses(value):
    with pytest.raises(InvalidEncoding):
        parse_amount(value)


class Transfer(BaseModel):
    to: Address
    amount: Amount
    data: HexBytes = b""
    hash: Hash32 | None = None


def test_pydantic_types_parse_and_serialize():
    model = Transfer.model_validate({"to": "0x" + "AB" * 20, "amount": "7", "data": "0x01"})
    assert model.to == b"\xab" * 20 and model.amount == 7 and model.data == b"\x01"
    assert model.model_dump(mode="json") == {"to": "0x" + "ab" * 20, "amount": "7",
                                             "data": "0x01", "hash": None}
    assert model.model_dump()["to"] == b"\xab" * 20   # python mode keeps bytes
    schema = Transfer.model_json_schema()["properties"]
    assert schema["to"]["type"] == "string" and schema["amount"]["type"] == "string"


def test_pydantic_types_refuse_with_readable_messages():
    with pytest.raises(ValidationError) as caught:
        Transfer.model_validate({"to": "0x12", "amount": "-5"})
    text = str(caught.value)
    assert "address must be 20 bytes, got 1" in text
    assert "amount must be a decimal string" in text
