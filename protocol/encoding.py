"""Canonical RLP encodings of every wire object, and strict decoders.

Decoders accept only canonical encodings (no leading zeros in integers, exact field
counts and byte lengths), so every object has exactly one encoding and one hash.

Spec: docs/spec/encoding.md
"""

from __future__ import annotations

from typing import Any

from . import rlpcodec

from .blocks import Attestation, Block, Header, QueueItem, QuorumCertificate
from .constants import ADDRESS_SIZE, HASH_SIZE, NODE_KEY_SIZE, NODE_SIGNATURE_SIZE
from .exceptions import InvalidEncoding
from .hashing import keccak256

# --- primitives ---------------------------------------------------------------------------


def _int(item: Any, what: str) -> int:
    if not isinstance(item, bytes):
        raise InvalidEncoding(f"{what}: expected an integer, got a list")
    if item[:1] == b"\x00":
        raise InvalidEncoding(f"{what}: integer with leading zero bytes is not canonical")
    return int.from_bytes(item, "big")


def _bytes(item: Any, what: str, size: int | None = None, allow_empty: bool = False) -> bytes:
    if not isinstance(item, bytes):
        raise InvalidEncoding(f"{what}: expected bytes, got a list")
    if size is not None and len(item) != size and not (allow_empty and not item):
        raise InvalidEncoding(f"{what}: expected {size} bytes, got {len(item)}")
    return item


def _list(item: Any, what: str, length: int | None = None) -> list:
    if not isinstance(item, list):
        raise InvalidEncoding(f"{what}: expected a list, got bytes")
    if length is not None and len(item) != length:
        raise InvalidEncoding(f"{what}: expected {length} fields, got {len(item)}")
    return item


def decode_rlp(raw: bytes, what: str) -> Any:
    """Strict RLP decode; any malformation becomes InvalidEncoding naming `what`."""
    if not isinstance(raw, (bytes, bytearray)):
        raise InvalidEncoding(f"{what}: expected bytes")
    try:
        return rlpcodec.decode(bytes(raw))
    except rlpcodec.RLPDecodingError as error:
        raise InvalidEncoding(f"{what}: malformed RLP ({error})") from None


# --- queue items --------------------------------------------------------------------------


def queue_item_fields(item: QueueItem) -> list:
    return [item.index, item.kind, item.l1_block, item.sender, item.to, item.amount, item.raw_tx]


def encode_queue_item(item: QueueItem) -> bytes:
    return rlpcodec.encode(queue_item_fields(item))


def _queue_item_from(fields: Any) -> QueueItem:
    f = _list(fields, "queue item", 7)
    kind = _int(f[1], "queue item kind")
    if kind not in (0, 1):
        raise InvalidEncoding(f"queue item kind must be 0 (deposit) or 1 (forced tx), got {kind}")
    return QueueItem(
        index=_int(f[0], "queue item index"),
        kind=kind,
        l1_block=_int(f[2], "queue item l1_block"),
        sender=_bytes(f[3], "queue item sender", ADDRESS_SIZE),
        to=_bytes(f[4], "queue item to", ADDRESS_SIZE, allow_empty=True),
        amount=_int(f[5], "queue item amount"),
        raw_tx=_bytes(f[6], "queue item raw_tx"),
    )


def decode_queue_item(raw: bytes) -> QueueItem:
    return _queue_item_from(decode_rlp(raw, "queue item"))


# --- attestations and QCs -----------------------------------------------------------------


def compute_attestation_hash(block_hash: bytes, number: int, slot: int) -> bytes:
    """What an attester signs (kind `attestation`): keccak(rlp([block_hash, number, slot])).

    Spec: docs/spec/blocks.md#attestations
    """
    return keccak256(rlpcodec.encode([block_hash, number, slot]))


def encode_attestation(attestation: Attestation) -> bytes:
    a = attestation
    return rlpcodec.encode([a.block_hash, a.number, a.slot, a.attester, a.signature])


def decode_attestation(raw: bytes) -> Attestation:
    f = _list(decode_rlp(raw, "attestation"), "attestation", 5)
    return Attestation(
        block_hash=_bytes(f[0], "attestation block_hash", HASH_SIZE),
        number=_int(f[1], "attestation number"),
        slot=_int(f[2], "attestation slot"),
        attester=_bytes(f[3], "attestation attester", NODE_KEY_SIZE),
        signature=_bytes(f[4], "attestation signature", NODE_SIGNATURE_SIZE),
    )


def _qc_fields(qc: QuorumCertificate | None) -> list:
    if qc is None:
        return []
    return [qc.block_hash, qc.number, qc.slot, [[key, sig] for key, sig in qc.signers]]


def _qc_from(fields: Any) -> QuorumCertificate | None:
    f = _list(fields, "parent_qc")
    if not f:
        return None
    _list(f, "parent_qc", 4)
    signers = []
    for pair in _list(f[3], "parent_qc signers"):
        p = _list(pair, "parent_qc signer", 2)
        signers.append((_bytes(p[0], "parent_qc signer key", NODE_KEY_SIZE),
                        _bytes(p[1], "parent_qc signature", NODE_SIGNATURE_SIZE)))
    return QuorumCertificate(
        block_hash=_bytes(f[0], "parent_qc block_hash", HASH_SIZE),
        number=_int(f[1], "parent_qc number"),
        slot=_int(f[2], "parent_qc slot"),
        signers=tuple(signers),
    )


def encode_qc(qc: QuorumCertificate) -> bytes:
    return rlpcodec.encode(_qc_fields(qc))


def decode_qc(raw: bytes) -> QuorumCertificate:
    qc = _qc_from(decode_rlp(raw, "quorum certificate"))
    if qc is None:
        raise InvalidEncoding("quorum certificate: empty")
    return qc


# --- headers and blocks -------------------------------------------------------------------


def header_fields(header: Header) -> list:
    h = header
    return [h.number, h.parent_hash, h.slot, h.timestamp_ms, h.producer, h.tx_root, h.state_root,
            h.withdrawals_root, h.l1_origin, h.l1_queue_index, _qc_fields(h.parent_qc)]


def encode_header(header: Header) -> bytes:
    return rlpcodec.encode(header_fields(header))


def _header_from(fields: Any) -> Header:
    f = _list(fields, "header", 11)
    return Header(
        number=_int(f[0], "header number"),
        parent_hash=_bytes(f[1], "header parent_hash", HASH_SIZE),
        slot=_int(f[2], "header slot"),
        timestamp_ms=_int(f[3], "header timestamp_ms"),
        producer=_bytes(f[4], "header producer", NODE_KEY_SIZE),
        tx_root=_bytes(f[5], "header tx_root", HASH_SIZE),
        state_root=_bytes(f[6], "header state_root", HASH_SIZE),
        withdrawals_root=_bytes(f[7], "header withdrawals_root", HASH_SIZE),
        l1_origin=_int(f[8], "header l1_origin"),
        l1_queue_index=_int(f[9], "header l1_queue_index"),
        parent_qc=_qc_from(f[10]),
    )


def decode_header(raw: bytes) -> Header:
    return _header_from(decode_rlp(raw, "header"))


def encode_block(block: Block) -> bytes:
    return rlpcodec.encode([
        header_fields(block.header),
        block.signature,
        [queue_item_fields(item) for item in block.queue_items],
        list(block.transactions),
    ])


def decode_block(raw: bytes) -> Block:
    f = _list(decode_rlp(raw, "block"), "block", 4)
    header = _header_from(f[0])
    signature = _bytes(f[1], "block signature")
    if len(signature) not in (0, NODE_SIGNATURE_SIZE):
        raise InvalidEncoding(f"block signature: expected 64 bytes, got {len(signature)}")
    items = tuple(_queue_item_from(item) for item in _list(f[2], "block queue items"))
    txs = tuple(_bytes(tx, "block transaction") for tx in _list(f[3], "block transactions"))
    return Block(header=header, signature=signature, queue_items=items, transactions=txs)


def encode_signed_header(header: Header, signature: bytes) -> bytes:
    """A header with its producer signature but no body (equivocation and receipt evidence)."""
    return rlpcodec.encode([header_fields(header), signature])


def decode_signed_header(raw: bytes) -> tuple[Header, bytes]:
    f = _list(decode_rlp(raw, "signed header"), "signed header", 2)
    return _header_from(f[0]), _bytes(f[1], "header signature", NODE_SIGNATURE_SIZE)
