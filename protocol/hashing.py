"""keccak-256 and the hash chains built on it.

pysha3's keccak costs 0.7 us for 32 bytes against pycryptodome's 5 us (DESIGN.md section 10),
so the hot paths use it directly rather than through eth_hash's backend selection.

Spec: docs/spec/encoding.md#hashes
"""

from __future__ import annotations

from collections.abc import Iterable

import sha3

from .constants import ZERO_HASH

_keccak = sha3.keccak_256


def keccak256(data: bytes) -> bytes:
    """keccak-256 (Ethereum's, not NIST SHA3-256) of `data`."""
    return _keccak(data).digest()


def compute_prefix_hash(previous: bytes, tx_hash: bytes) -> bytes:
    """One link of the receipt prefix chain: `h_i = keccak(h_{i-1} + tx_hash_i)`.

    Spec: docs/spec/receipts.md#prefix-chain
    """
    return _keccak(previous + tx_hash).digest()


def compute_prefix_chain(tx_hashes: Iterable[bytes]) -> list[bytes]:
    """Every link `h_0 .. h_{n-1}` of the prefix chain over `tx_hashes`.

    Spec: docs/spec/receipts.md#prefix-chain
    """
    links = []
    current = ZERO_HASH
    for tx_hash in tx_hashes:
        current = _keccak(current + tx_hash).digest()
        links.append(current)
    return links


def compute_tx_root(tx_hashes: Iterable[bytes]) -> bytes:
    """The header's tx_root: the last link of the prefix chain (ZERO_HASH for no transaction).

    Spec: docs/spec/blocks.md#header
    """
    current = ZERO_HASH
    for tx_hash in tx_hashes:
        current = _keccak(current + tx_hash).digest()
    return current
