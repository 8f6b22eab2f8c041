"""Strict parsing of call arguments: 0x-hex for bytes, decimal strings for amounts.

Each method of the contract declares its arguments as a mapping name -> parser; a missing,
extra or malformed argument raises InvalidCall naming it, before anything changes.

Spec: docs/spec/l1.md#call-encoding
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from ..errors import InvalidCall

Parser = Callable[[Any, str], Any]

_HEX = re.compile(r"^0x([0-9a-fA-F]{2})*$")
_DECIMAL = re.compile(r"^(0|[1-9][0-9]{0,77})$")
MAX_UINT256 = 2**256 - 1


def parse_args(method: str, args: Any, spec: Mapping[str, Parser],
               optional: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Parse `args` against `spec`; names in `optional` may be absent and take its default."""
    if not isinstance(args, dict):
        raise InvalidCall(f"{method}: args must be an object")
    optional = optional or {}
    extra = sorted(set(args) - set(spec))
    if extra:
        raise InvalidCall(f"{method}: unexpected argument(s) {', '.join(map(str, extra))}")
    parsed = {}
    for name, parser in spec.items():
        if name not in args:
            if name in optional:
                parsed[name] = optional[name]
                continue
            raise InvalidCall(f"{method}: missing argument {name!r}")
        parsed[name] = parser(args[name], f"{method}.{name}")
    return parsed


def hex_bytes(size: int | None = None, max_size: int | None = None,
              allow_empty: bool = False) -> Parser:
    def parse(value: Any, what: str) -> bytes:
        if not isinstance(value, str) or not _HEX.match(value):
            raise InvalidCall(f"{what}: expected a 0x-prefixed hex string of whole bytes")
        data = bytes.fromhex(value[2:])
        if size is not None and len(data) != size:
            raise InvalidCall(f"{what}: expected {size} bytes, got {len(data)}")
        if max_size is not None and len(data) > max_size:
            raise InvalidCall(f"{what}: at most {max_size} bytes, got {len(data)}")
        if not data and not allow_empty:
            raise InvalidCall(f"{what}: must not be empty")
        return data
    return parse


address = hex_bytes(20)
node_key = hex_bytes(32)
hash32 = hex_bytes(32)


def amount(value: Any, what: str) -> int:
    """A token amount in wei: a decimal string (an integer is tolerated), 0 <= x < 2**256."""
    if isinstance(value, bool):
        raise InvalidCall(f"{what}: expected a decimal string")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and _DECIMAL.match(value):
        number = int(value)
    else:
        raise InvalidCall(f"{what}: expected a decimal string of wei")
    if not 0 <= number <= MAX_UINT256:
        raise InvalidCall(f"{what}: out of range")
    return number


def positive_amount(value: Any, what: str) -> int:
    number = amount(value, what)
    if number == 0:
        raise InvalidCall(f"{what}: must be positive")
    return number


def uint(max_value: int = 2**63 - 1) -> Parser:
    def parse(value: Any, what: str) -> int:
        if isinstance(value, bool):
            raise InvalidCall(f"{what}: expected an integer")
        if isinstance(value, str) and _DECIMAL.match(value):
            value = int(value)
        if not isinstance(value, int) or not 0 <= value <= max_value:
            raise InvalidCall(f"{what}: expected an integer in [0, {max_value}]")
        return value
    return parse


def text(max_length: int, pattern: str | None = None) -> Parser:
    regex = re.compile(pattern) if pattern else None

    def parse(value: Any, what: str) -> str:
        if not isinstance(value, str):
            raise InvalidCall(f"{what}: expected a string")
        if len(value) > max_length:
            raise InvalidCall(f"{what}: at most {max_length} characters")
        if regex is not None and not regex.match(value):
            raise InvalidCall(f"{what}: does not match {pattern}")
        return value
    return parse


def one_of(choices: tuple[str, ...]) -> Parser:
    def parse(value: Any, what: str) -> str:
        if value not in choices:
            raise InvalidCall(f"{what}: expected one of {', '.join(choices)}")
        return value
    return parse


def list_of(item: Parser, min_items: int = 1, max_items: int = 1024) -> Parser:
    def parse(value: Any, what: str) -> list:
        if not isinstance(value, list):
            raise InvalidCall(f"{what}: expected a list")
        if not min_items <= len(value) <= max_items:
            raise InvalidCall(f"{what}: expected {min_items}..{max_items} items, got {len(value)}")
        return [item(entry, f"{what}[{position}]") for position, entry in enumerate(value)]
    return parse
