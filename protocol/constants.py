"""Constants every service must agree on byte for byte.

Spec: docs/spec/encoding.md
"""

from __future__ import annotations

DOMAIN_PREFIX = b"seqnet/v1/"
"""Prefix of every signed payload (DESIGN.md section 2)."""

SIGNATURE_KINDS = (b"block", b"attestation", b"receipt", b"peer")
"""The kinds of Ed25519 signatures; a signature of one kind never verifies as another."""

BRIDGE_ADDRESS = bytes.fromhex("4200000000000000000000000000000000000016")
"""A transfer to this address burns its value and becomes a withdrawal."""

ZERO_HASH = b"\x00" * 32
"""`h_-1` of the receipt prefix chain, and the parent hash of the genesis block."""

EMPTY_TRIE_ROOT = bytes.fromhex("56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421")
"""keccak(rlp(b"")): the root of an empty Merkle-Patricia trie."""

EMPTY_CODE_HASH = bytes.fromhex("c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470")
"""keccak(b""): the code hash of an account without code."""

TX_GAS = 21_000
"""Gas charged for a plain value transfer."""

MAX_TX_SIZE = 128 * 1024
"""Largest accepted encoded transaction, in bytes."""

TOKEN = 10**18
"""One whole token (L1 staking token and L2 ether alike) in wei."""

GWEI = 10**9

ADDRESS_SIZE = 20
HASH_SIZE = 32
NODE_KEY_SIZE = 32
"""Ed25519 verify key."""
NODE_SIGNATURE_SIZE = 64
"""Ed25519 signature."""

SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
SECP256K1_HALF_N = SECP256K1_N // 2

DEV_MNEMONIC = "test test test test test test test test test test test junk"
"""The mnemonic anvil and hardhat use; its first accounts are funded at genesis."""
