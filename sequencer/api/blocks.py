"""GET /blocks, /blocks/{ref}, /blocks/{ref}/transactions."""

from __future__ import annotations

from fastapi import APIRouter, Query

from ..schemas import BlockResponse, TransactionResponse
from .deps import NodeDep
from .views import block_view, find_block, tx_view

router = APIRouter(tags=["blocks"])


@router.get("/blocks", response_model=list[BlockResponse])
def list_blocks(node: NodeDep, start: int | None = Query(None, alias="from", ge=0),
                limit: int = Query(50, ge=1, le=512),
                raw: bool = Query(False, description="Include the RLP of each full block")):
    """Canonical blocks from number `from` (default: the newest `limit`)."""
    store = node.store
    head = store.head.number
    first = max(0, head - limit + 1) if start is None else start
    return [block_view(node, store.at(n), raw) for n in range(first, min(head, first + limit - 1) + 1)]


@router.get("/blocks/{ref}", response_model=BlockResponse)
def get_block(ref: str, node: NodeDep, raw: bool = Query(True)):
    """A block by number, hash, or label (latest, unsafe, attested, safe, finalized)."""
    return block_view(node, find_block(node, ref), raw)


@router.get("/blocks/{ref}/transactions", response_model=list[TransactionResponse])
def get_block_transactions(ref: str, node: NodeDep):
    entry = find_block(node, ref)
    views = []
    for position, tx in enumerate(entry.txs):
        view = tx_view(node, tx.hash) or {}
        if not node.store.is_canonical(entry.hash):
            view.update(status="orphaned", block_number=entry.number,
                        block_hash="0x" + entry.hash.hex(), index=position,
                        label=node.store.label(entry))
        views.append(view)
    return views
