"""Lookups and JSON views shared by the REST routers and JSON-RPC."""

from __future__ import annotations

from typing import Any

from protocol.blocks import QUEUE_FORCED_TX
from protocol.encoding import encode_block, encode_qc
from protocol.exceptions import InvalidEncoding, ProtocolError
from protocol.receipts import receipt_to_json
from protocol.state import Account

from ..core.chain import Entry, forced_outcomes
from ..errors import UnknownBlock
from ..node import Node

LABELS = ("unsafe", "attested", "safe", "finalized")


def hx(data: bytes | None) -> str | None:
    return None if data is None else "0x" + data.hex()


def parse_hex(value: str, size: int | None, what: str) -> bytes:
    if not isinstance(value, str) or not value.startswith(("0x", "0X")):
        raise InvalidEncoding(f"{what} must be a 0x-hex string")
    try:
        data = bytes.fromhex(value[2:])
    except ValueError:
        raise InvalidEncoding(f"{what} is not hex") from None
    if size is not None and len(data) != size:
        raise InvalidEncoding(f"{what} must be {size} bytes, got {len(data)}")
    return data


def find_block(node: Node, ref: str) -> Entry:
    """A block by number, 0x-hash, or head label (latest = unsafe, earliest = 0)."""
    store = node.store
    if ref in ("latest", "pending"):
        return store.head
    if ref == "earliest":
        return store.at(0)
    if ref in LABELS:
        return store.head_for_label(ref)
    if ref.startswith("0x") and len(ref) == 66:
        entry = store.get(parse_hex(ref, 32, "block hash"))
        if entry is None:
            raise UnknownBlock(f"no block {ref}")
        return entry
    try:
        number = int(ref, 0)
    except ValueError:
        raise InvalidEncoding(f"block reference {ref!r}: a number, a hash or a label") from None
    entry = store.at(number)
    if entry is None:
        raise UnknownBlock(f"no block {number} (head {store.head.number})")
    return entry


def block_view(node: Node, entry: Entry, raw: bool = False) -> dict[str, Any]:
    h = entry.block.header
    return {
        "number": h.number, "hash": hx(entry.hash), "parent_hash": hx(h.parent_hash),
        "slot": h.slot, "timestamp_ms": h.timestamp_ms, "producer": hx(h.producer),
        "fee_recipient": hx(entry.fee_recipient), "tx_root": hx(h.tx_root),
        "state_root": hx(h.state_root), "withdrawals_root": hx(h.withdrawals_root),
        "l1_origin": h.l1_origin, "l1_queue_index": h.l1_queue_index,
        "label": node.store.label(entry), "canonical": node.store.is_canonical(entry.hash),
        "transactions": len(entry.block.transactions), "queue_items": len(entry.block.queue_items),
        "attesters": [hx(k) for k in node.attestations.get(entry.hash, {})]
        or ([hx(k) for k, _ in entry.qc.signers] if entry.qc else []),
        "raw": hx(encode_block(entry.block)) if raw else None,
        "qc": hx(encode_qc(entry.qc)) if raw and entry.qc else None,
    }


def tx_view(node: Node, tx_hash: bytes) -> dict[str, Any] | None:
    located = node.store.tx_index.get(tx_hash)
    receipt = node.get_receipt(tx_hash)
    if located is not None:
        entry = node.store.get(located[0])
        tx = entry.txs[located[1]]
        status, number, block_hash, index = "included", entry.number, hx(entry.hash), located[1]
        label = node.store.label(entry)
    elif tx_hash in node.store.forced_index:
        return forced_tx_view(node, tx_hash)
    else:
        pooled = node.mempool.get(tx_hash)
        if pooled is None:
            return None
        tx = pooled.tx
        receipt = receipt or pooled.receipt
        status, number, block_hash, index, label = "pending", None, None, None, None
    return {"hash": hx(tx.hash), "sender": hx(tx.sender), "to": hx(tx.to), "value": str(tx.value),
            "nonce": tx.nonce, "raw": hx(tx.raw), "status": status, "block_number": number,
            "block_hash": block_hash, "index": index, "label": label,
            "receipt": receipt_to_json(receipt) if receipt else None}


def forced_tx_view(node: Node, tx_hash: bytes) -> dict[str, Any] | None:
    """A transaction forced through the L1 queue (no leader receipt: L1 ordered it)."""
    block_hash, position = node.store.forced_index[tx_hash]
    entry = node.store.get(block_hash)
    item = [i for i in entry.block.queue_items if i.kind == QUEUE_FORCED_TX][position]
    outcome = forced_outcomes(entry)[position]
    try:
        nonce = node.decode(item.raw_tx).nonce
    except ProtocolError:
        nonce = None
    return {"hash": hx(tx_hash), "sender": hx(outcome.sender or item.sender),
            "to": hx(outcome.to) if outcome.to else None, "value": str(outcome.value),
            "nonce": nonce, "raw": hx(item.raw_tx),
            "status": "included" if outcome.applied else "skipped", "block_number": entry.number,
            "block_hash": hx(entry.hash), "index": position, "label": node.store.label(entry),
            "receipt": None, "forced": True, "queue_index": item.index,
            "reason": outcome.reason or None}


def pending_nonce(node: Node, address: bytes) -> int:
    """The sender's next nonce counting the transactions this node knows are pending."""
    nonce = node.store.head.state.get_account(address).nonce
    session = node.session
    if session is not None and not session.done:
        nonce = max(nonce, session.pending_account(address).nonce)
    pending = sorted(e.tx.nonce for e in node.mempool.entries.values() if e.tx.sender == address)
    for value in pending:
        if value == nonce:
            nonce += 1
    return nonce


def account_view(node: Node, address: bytes, entry: Entry) -> dict[str, Any]:
    account: Account = entry.state.get_account(address)
    return {"address": hx(address), "balance": str(account.balance), "nonce": account.nonce,
            "pending_nonce": pending_nonce(node, address), "block": entry.number}
