"""JSON conventions of every REST API (DESIGN.md section 9): bytes as 0x-hex strings, token
amounts as decimal strings.

The plain functions raise `InvalidEncoding` (so a route that parses by hand answers 400); the
`Annotated` types below give the same rules to Pydantic request and response models:

    class TransferRequest(BaseModel):
        to: Address
        amount: Amount

accepts `{"to": "0x70997970...", "amount": "1000000000000000000"}`, gives `bytes` and `int`,
and serializes back to the same strings.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any

import orjson
from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

from protocol.constants import ADDRESS_SIZE, HASH_SIZE, NODE_KEY_SIZE
from protocol.exceptions import InvalidEncoding

MAX_AMOUNT = 2**256 - 1
"""Largest amount accepted (uint256)."""
_MAX_AMOUNT_DIGITS = 78


def to_hex(data: bytes) -> str:
    """`b"\\x12\\xab"` -> `"0x12ab"` (lower case)."""
    return "0x" + data.hex()


def from_hex(value: object, length: int | None = None, what: str = "value") -> bytes:
    """Parse a 0x-prefixed hex string, of exactly `length` bytes when given.

    Raises InvalidEncoding naming `what` for anything else (no prefix, odd or bad digits,
    wrong length, not a string).
    """
    if not isinstance(value, str):
        raise InvalidEncoding(f"{what} must be a 0x-hex string, got {type(value).__name__}")
    if not value.startswith(("0x", "0X")):
        raise InvalidEncoding(f"{what} must start with 0x")
    digits = value[2:]
    if len(digits) % 2:
        raise InvalidEncoding(f"{what} has an odd number of hex digits")
    if length is not None and len(digits) != 2 * length:
        raise InvalidEncoding(f"{what} must be {length} bytes, got {len(digits) // 2}")
    try:
        return bytes.fromhex(digits)
    except ValueError:
        raise InvalidEncoding(f"{what} is not valid hex") from None


def amount_str(amount: int) -> str:
    """A token amount in wei as the API writes it: a decimal string."""
    if not isinstance(amount, int) or isinstance(amount, bool) or amount < 0:
        raise ValueError(f"an amount is a non-negative int, got {amount!r}")
    return str(amount)


def parse_amount(value: object, what: str = "amount") -> int:
    """A token amount in wei from a decimal string (or a JSON integer).

    Refuses negatives, floats, exponents, signs, spaces, hex, booleans, empty strings and
    anything above 2**256 - 1, with InvalidEncoding.
    """
    if isinstance(value, bool):
        raise InvalidEncoding(f"{what} must be a decimal string, got a boolean")
    if isinstance(value, int):
        amount = value
    elif isinstance(value, str):
        if not value or len(value) > _MAX_AMOUNT_DIGITS or not value.isascii() \
                or not value.isdigit():
            raise InvalidEncoding(
                f"{what} must be a decimal string of digits (wei), got {value[:80]!r}")
        amount = int(value)
    else:
        raise InvalidEncoding(f"{what} must be a decimal string, got {type(value).__name__}")
    if amount < 0:
        raise InvalidEncoding(f"{what} must not be negative, got {amount}")
    if amount > MAX_AMOUNT:
        raise InvalidEncoding(f"{what} exceeds 2**256 - 1")
    return amount


def dumps(value: Any) -> bytes:
    """orjson with the services' options (used by the HTTP client and JSON responses); the
    standard library's encoder for what orjson refuses: integers beyond 64 bits (a JSON-RPC
    id may be any number)."""
    try:
        return orjson.dumps(value)
    except TypeError:
        return json.dumps(value, separators=(",", ":")).encode()


def loads(body: bytes | str) -> Any:
    """orjson, or the standard library where the body holds a run of 20 digits or more: orjson
    turns an integer beyond 64 bits into a float, silently rounded (a JSON-RPC id may be any
    number; an amount in wei easily passes 2**64). Raises `orjson.JSONDecodeError` (a
    ValueError) for anything that is not JSON, NaN and Infinity included."""
    if _LONG_DIGITS.search(body if isinstance(body, bytes) else body.encode()) is None:
        return orjson.loads(body)
    try:
        return json.loads(body, parse_constant=_not_json)
    except ValueError as error:
        raise orjson.JSONDecodeError(str(error), "", 0) from None


_LONG_DIGITS = re.compile(rb"[0-9]{20}")
"""Enough digits for an integer orjson would round (2**64 has 20)."""


def _not_json(constant: str) -> None:
    raise ValueError(f"{constant} is not JSON")


# --- Pydantic types -------------------------------------------------------------------------


def _hex_validator(length: int | None, what: str):
    def validate(value: object) -> bytes:
        if isinstance(value, bytes) and (length is None or len(value) == length):
            return value
        try:
            return from_hex(value, length, what)
        except InvalidEncoding as error:
            raise ValueError(str(error)) from None
    return validate


def _amount_validator(value: object) -> int:
    try:
        return parse_amount(value)
    except InvalidEncoding as error:
        raise ValueError(str(error)) from None


def _hex_schema(length: int | None, example: str) -> WithJsonSchema:
    pattern = "^0x([0-9a-fA-F]{2})*$" if length is None else f"^0x[0-9a-fA-F]{{{2 * length}}}$"
    return WithJsonSchema({"type": "string", "pattern": pattern, "examples": [example]})


_TO_HEX = PlainSerializer(to_hex, return_type=str, when_used="json")

HexBytes = Annotated[bytes, BeforeValidator(_hex_validator(None, "hex value")), _TO_HEX,
                     _hex_schema(None, "0x02f8")]
"""Any bytes, as 0x-hex."""
Address = Annotated[bytes, BeforeValidator(_hex_validator(ADDRESS_SIZE, "address")), _TO_HEX,
                    _hex_schema(ADDRESS_SIZE, "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266")]
"""A 20-byte Ethereum address, as 0x-hex (any case in, lower case out)."""
Hash32 = Annotated[bytes, BeforeValidator(_hex_validator(HASH_SIZE, "hash")), _TO_HEX,
                   _hex_schema(HASH_SIZE, "0x" + "ab" * 32)]
"""A 32-byte hash, as 0x-hex."""
NodeKeyHex = Annotated[bytes, BeforeValidator(_hex_validator(NODE_KEY_SIZE, "node key")),
                       _TO_HEX, _hex_schema(NODE_KEY_SIZE, "0x" + "cd" * 32)]
"""A 32-byte Ed25519 public key, as 0x-hex."""
Amount = Annotated[
    int,
    BeforeValidator(_amount_validator),
    PlainSerializer(amount_str, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "pattern": "^[0-9]{1,78}$",
                    "examples": ["1000000000000000000"]}),
]
"""A token amount in wei, as a decimal string."""
