"""Ed25519 node-key signatures with domain separation.

Every signature covers `b"seqnet/v1/" + kind + chain_id (8 bytes, big-endian) + object hash`,
so a signature of one kind never verifies as another, nor on another chain.

Spec: docs/spec/encoding.md#signatures
"""

from __future__ import annotations

from dataclasses import dataclass

from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

from .constants import DOMAIN_PREFIX, NODE_KEY_SIZE, NODE_SIGNATURE_SIZE, SIGNATURE_KINDS
from .exceptions import InvalidSignature


def signing_payload(kind: bytes, chain_id: int, obj_hash: bytes) -> bytes:
    """The exact bytes a node key signs for an object of `kind` on `chain_id`.

    Spec: docs/spec/encoding.md#signatures
    """
    if kind not in SIGNATURE_KINDS:
        raise InvalidSignature(f"unknown signature kind {kind!r}")
    if len(obj_hash) != 32:
        raise InvalidSignature(f"object hash must be 32 bytes, got {len(obj_hash)}")
    return DOMAIN_PREFIX + kind + chain_id.to_bytes(8, "big") + obj_hash


@dataclass(frozen=True, slots=True)
class NodeKey:
    """A node's Ed25519 key pair. `public` is what L1 registers and headers name."""

    signing_key: SigningKey

    @classmethod
    def generate(cls) -> "NodeKey":
        return cls(SigningKey.generate())

    @classmethod
    def from_seed(cls, seed: bytes) -> "NodeKey":
        if len(seed) != 32:
            raise ValueError("an Ed25519 seed is 32 bytes")
        return cls(SigningKey(seed))

    @property
    def seed(self) -> bytes:
        return bytes(self.signing_key)

    @property
    def public(self) -> bytes:
        return bytes(self.signing_key.verify_key)

    def sign(self, kind: bytes, chain_id: int, obj_hash: bytes) -> bytes:
        """The 64-byte signature of `obj_hash` as an object of `kind` on `chain_id`."""
        return self.signing_key.sign(signing_payload(kind, chain_id, obj_hash)).signature


_verify_keys: dict[bytes, VerifyKey] = {}


def verify_node_signature(node_key: bytes, kind: bytes, chain_id: int, obj_hash: bytes,
                          signature: bytes) -> bool:
    """True when `signature` is `node_key`'s signature of `obj_hash` as `kind` on `chain_id`."""
    if len(node_key) != NODE_KEY_SIZE or len(signature) != NODE_SIGNATURE_SIZE:
        return False
    verify_key = _verify_keys.get(node_key)
    if verify_key is None:
        try:
            verify_key = VerifyKey(node_key)
        except Exception:  # noqa: BLE001 - nacl raises several types for a bad point
            return False
        if len(_verify_keys) < 4096:
            _verify_keys[node_key] = verify_key
    try:
        verify_key.verify(signing_payload(kind, chain_id, obj_hash), signature)
    except (BadSignatureError, ValueError, TypeError, InvalidSignature):
        return False
    return True


def validate_node_signature(node_key: bytes, kind: bytes, chain_id: int, obj_hash: bytes,
                            signature: bytes, what: str) -> None:
    """Raise InvalidSignature naming `what` when the signature does not verify."""
    if not verify_node_signature(node_key, kind, chain_id, obj_hash, signature):
        raise InvalidSignature(
            f"{what}: {kind.decode()} signature by {node_key.hex()[:16]}.. does not verify "
            f"on chain {chain_id}"
        )
