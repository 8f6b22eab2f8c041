"""RLP encode and strict decode for the hot paths (transactions, blocks, receipts).

Same results as `rlp.encode(item)` / `rlp.decode(raw, strict=True)` of pyrlp for the shapes
the protocol uses: bytes, non-negative ints (encoded big-endian, minimal, 0 as the empty
string) and lists of them; decoding yields bytes and lists. pyrlp stays the test oracle
(tests/protocol/test_rlpcodec.py). It is ours because pyrlp's generic sedes machinery costs
3-6x more per call and RLP sat on every node's path of every transaction several times
(decode at intake, the receipt hash, the block encode and decode): docs/performance.md,
2026-11-25.

Canonical form is enforced on decode, as pyrlp's strict mode does: a single byte below 0x80
must stand for itself, lengths take the short form when they can and have no leading zero,
and nothing may follow the item; lists nest at most MAX_DEPTH deep. RLPDecodingError is the
only error `decode` raises.

Spec: docs/spec/encoding.md#rlp
"""

from __future__ import annotations

from .exceptions import InvalidEncoding


MAX_DEPTH = 128
"""Lists nest at most this deep. Protocol objects nest 4 deep at most; without a bound a few
KB of nested list headers (a transaction may be 128 KB) hit Python's recursion limit, and
the RecursionError (pyrlp's too) escaped `decode_transaction` as a crash, not bad input."""


class RLPDecodingError(InvalidEncoding, ValueError):
    """`raw` is not one canonical RLP item."""


def encode(item) -> bytes:
    """The RLP encoding of `item` (bytes, bytearray, non-negative int, or a list/tuple of
    those)."""
    kind = type(item)
    if kind is bytes:
        size = len(item)
        if size == 1 and item[0] < 0x80:
            return item
        if size < 56:
            return bytes((0x80 + size,)) + item
        return _long_prefix(0xB7, size) + item
    if kind is int:
        if item < 0:
            raise ValueError(f"RLP cannot encode the negative integer {item}")
        if item < 0x80:
            return bytes((item,)) if item else b"\x80"
        data = item.to_bytes((item.bit_length() + 7) >> 3, "big")
        size = len(data)
        if size < 56:
            return bytes((0x80 + size,)) + data
        return _long_prefix(0xB7, size) + data
    if kind is list or kind is tuple:
        payload = b"".join([encode(element) for element in item])
        size = len(payload)
        if size < 56:
            return bytes((0xC0 + size,)) + payload
        return _long_prefix(0xF7, size) + payload
    if kind is bytearray or kind is memoryview:
        return encode(bytes(item))
    if kind is bool:
        return encode(int(item))
    raise TypeError(f"RLP cannot encode a {kind.__name__}")


def _long_prefix(base: int, size: int) -> bytes:
    size_bytes = size.to_bytes((size.bit_length() + 7) >> 3, "big")
    return bytes((base + len(size_bytes),)) + size_bytes


def decode(raw: bytes):
    """The item `raw` encodes, strictly (see the module docstring); RLPDecodingError if it
    is not exactly one canonical item."""
    if type(raw) is not bytes:
        raw = bytes(raw)
    if not raw:
        raise RLPDecodingError("RLP: empty input")
    item, end = _decode_at(raw, 0, len(raw), 0)
    if end != len(raw):
        raise RLPDecodingError(f"RLP: {len(raw) - end} trailing bytes after the item")
    return item


def _decode_at(raw: bytes, start: int, limit: int, depth: int):
    """(item, end) of the item that begins at `start` and must end by `limit`, `depth` lists
    deep."""
    first = raw[start]
    if first < 0x80:
        return raw[start:start + 1], start + 1
    if first < 0xB8:
        end = start + 1 + first - 0x80
        if end > limit:
            raise RLPDecodingError("RLP: string runs past its container")
        if first == 0x81 and raw[start + 1] < 0x80:
            raise RLPDecodingError("RLP: a single byte below 0x80 must encode itself")
        return raw[start + 1:end], end
    if first < 0xC0:
        body, size = _long_size(raw, start, first - 0xB7, limit)
        return raw[body:body + size], body + size
    if first < 0xF8:
        body, end = start + 1, start + 1 + first - 0xC0
    else:
        body, size = _long_size(raw, start, first - 0xF7, limit)
        end = body + size
    if end > limit:
        raise RLPDecodingError("RLP: list runs past its container")
    if depth >= MAX_DEPTH:
        raise RLPDecodingError(f"RLP: lists nested deeper than {MAX_DEPTH}")
    items = []
    append = items.append
    position = body
    while position < end:
        item, position = _decode_at(raw, position, end, depth + 1)
        append(item)
    return items, end


def _long_size(raw: bytes, start: int, length_of_size: int, limit: int) -> tuple[int, int]:
    body = start + 1 + length_of_size
    if body > limit:
        raise RLPDecodingError("RLP: length runs past its container")
    if raw[start + 1] == 0:
        raise RLPDecodingError("RLP: length has a leading zero")
    size = int.from_bytes(raw[start + 1:body], "big")
    if size < 56:
        raise RLPDecodingError("RLP: long form used for a length below 56")
    if body + size > limit:
        raise RLPDecodingError("RLP: item runs past its container")
    return body, size
