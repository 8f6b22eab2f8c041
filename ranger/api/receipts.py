"""POST /receipts (users' soft-confirmation receipts, watched until their slot's block is
checked), GET /receipts, /receipts/{id}."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Path, Query
from pydantic import ValidationError

from nodekit.db import MAX_DB_INT
from nodekit.errors_http import format_validation_errors
from protocol.exceptions import InvalidReceipt
from protocol.receipts import Receipt, encode_receipt, verify_receipt

from .. import repo
from ..models import ReceiptRecord
from ..schemas import ReceiptIn, ReceiptResponse
from .deps import NodeDep
from .errors import NotFound

router = APIRouter(tags=["receipts"])


def receipt_view(record: ReceiptRecord, created: bool = True) -> ReceiptResponse:
    return ReceiptResponse(id=record.id, tx_hash=record.tx_hash, slot=record.slot,
                           index=record.index, leader=record.leader, status=record.status,
                           block_hash=record.block_hash, finding_id=record.finding_id,
                           received_at_ms=record.received_at_ms, created=created)


@router.post("/receipts", response_model=list[ReceiptResponse],
             responses={400: {"description": "InvalidReceipt: the leader's signature does not verify"}})
def post_receipts(node: NodeDep, body: Any = Body(..., examples=[{
        "tx_hash": "0x" + "ab" * 32, "slot": 12, "index": 0, "prefix_hash": "0x" + "cd" * 32,
        "leader": "0x" + "ef" * 32, "signature": "0x" + "00" * 64}])) -> list[ReceiptResponse]:
    """Hand over one receipt (the JSON a sequencer returned), a list of them, or
    {"receipts": [...]}. Each is checked against the leader's block of its slot once it is
    seen; a broken promise becomes a receipt_violation proof."""
    items = body.get("receipts") if isinstance(body, dict) and "receipts" in body else body
    items = items if isinstance(items, list) else [items]
    if not 1 <= len(items) <= 1000:
        raise InvalidReceipt("send 1 to 1000 receipts")
    out = []
    for item in items:
        try:
            parsed = ReceiptIn.model_validate(item)
        except ValidationError as error:
            raise InvalidReceipt(f"malformed receipt: "
                                 f"{format_validation_errors(error.errors())}") from None
        receipt = Receipt(parsed.tx_hash, parsed.slot, parsed.index, parsed.prefix_hash,
                          parsed.leader, parsed.signature)
        if not verify_receipt(receipt, node.params.chain_id):
            raise InvalidReceipt(f"receipt for 0x{receipt.tx_hash.hex()}: the leader's signature "
                                 f"does not verify on chain {node.params.chain_id}")
        record, created = repo.add_receipt(node.sessions, ReceiptRecord(
            receipt_hash=receipt.hash, tx_hash=receipt.tx_hash, slot=receipt.slot,
            index=receipt.index, leader=receipt.leader, raw=encode_receipt(receipt),
            status="pending", received_at_ms=node.now_ms()))
        if created:
            node.metrics.receipts.inc()
        out.append(receipt_view(record, created))
    return out


@router.get("/receipts", response_model=list[ReceiptResponse])
def list_receipts(node: NodeDep, limit: int = Query(100, ge=1, le=1000)) -> list[ReceiptResponse]:
    return [receipt_view(r) for r in repo.list_receipts(node.sessions, limit)]


@router.get("/receipts/{receipt_id}", response_model=ReceiptResponse)
def get_receipt(node: NodeDep, receipt_id: int = Path(ge=0, le=MAX_DB_INT)) -> ReceiptResponse:
    record = repo.get_receipt(node.sessions, receipt_id)
    if record is None:
        raise NotFound(f"no receipt {receipt_id}")
    return receipt_view(record)
