"""GET /batches, /blocks: the accepted L2 chain with full blocks (L1 is the DA layer).

Spec: docs/spec/l1.md#reads
"""

from __future__ import annotations

from fastapi import APIRouter, Query

from protocol.encoding import decode_block

from .. import repo
from ..core.contract import hx
from ..errors import NotFound
from ..schemas import BatchResponse, BlockResponse, ErrorResponse
from .common import page, parse_hex
from .deps import NodeDep
from .views import accepted_block_view, batch_view, header_view

router = APIRouter(tags=["chain"])
NOT_FOUND = {404: {"model": ErrorResponse}}


@router.get("/batches", response_model=list[BatchResponse])
def list_batches(node: NodeDep, start: int | None = Query(None, alias="from", ge=0),
                 limit: int = Query(50, ge=1, le=1000)) -> list[BatchResponse]:
    """Accepted batches from id `from` (default: the newest `limit`)."""
    c = node.contract
    return [batch_view(c, c.batches[i]) for i in page(len(c.batches), start, limit, True)]


@router.get("/batches/{batch_id}", response_model=BatchResponse, responses=NOT_FOUND)
def get_batch(batch_id: int, node: NodeDep) -> BatchResponse:
    c = node.contract
    if not 0 <= batch_id < len(c.batches):
        raise NotFound(f"no batch {batch_id}")
    return batch_view(c, c.batches[batch_id])


def _blocks(node, numbers: range, with_raw: bool) -> list[BlockResponse]:
    c = node.contract
    blocks = [c.chain[n] for n in numbers]
    raws = repo.get_l2_block_raws(node.engine, [b.hash for b in blocks if b.number > 0])
    out = []
    for block in blocks:
        raw = raws.get(block.hash)
        count = len(decode_block(raw).transactions) if raw is not None and with_raw else None
        out.append(accepted_block_view(block, raw if with_raw else None, count))
    return out


@router.get("/blocks", response_model=list[BlockResponse])
def list_blocks(node: NodeDep, start: int | None = Query(None, alias="from", ge=0),
                limit: int = Query(50, ge=1, le=1000),
                raw: bool = Query(True, description="Include the RLP of each full block")
                ) -> list[BlockResponse]:
    """Blocks of the accepted chain from number `from` (default: the newest `limit`), each
    with its status (accepted / finalized) and, with raw=true, its full RLP."""
    return _blocks(node, page(len(node.contract.chain), start, limit, True), raw)


@router.get("/blocks/by-hash/{block_hash}", response_model=BlockResponse, responses=NOT_FOUND)
def get_block_by_hash(block_hash: str, node: NodeDep) -> BlockResponse:
    """A block by hash, also one rolled back by a fraud proof (status rolled_back)."""
    key = parse_hex(block_hash, (32,), "block hash")
    c = node.contract
    number = c.block_numbers.get(key)
    if number is not None:
        return _blocks(node, range(number, number + 1), True)[0]
    if key in c.discarded:
        raw = repo.get_l2_block_raws(node.engine, [key]).get(key)
        if raw is not None:
            block = decode_block(raw)
            return header_view(block.header, status="rolled_back", batch_id=None,
                               finalized_l1_block=None, verified_by=[],
                               transactions=len(block.transactions), raw=hx(raw))
    raise NotFound(f"no block 0x{key.hex()}")


@router.get("/blocks/{number}", response_model=BlockResponse, responses=NOT_FOUND)
def get_block(number: int, node: NodeDep) -> BlockResponse:
    """The accepted block at `number` with its full RLP."""
    c = node.contract
    if not 0 <= number < len(c.chain):
        raise NotFound(f"no accepted block {number} (head {c.head_block.number})")
    return _blocks(node, range(number, number + 1), True)[0]

