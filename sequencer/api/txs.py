"""POST /txs (intake), GET /txs/{hash}, GET /mempool."""

from __future__ import annotations

import orjson
from fastapi import APIRouter, Query, Request, Response
from starlette.datastructures import Headers

from protocol.exceptions import InvalidEncoding
from protocol.receipts import receipt_to_json

from ..core import intake
from ..errors import UnknownTransaction
from ..node import Node
from ..schemas import SubmitTxRequest, SubmitTxResponse, TransactionResponse
from .deps import NodeDep, json_response
from .views import parse_hex, tx_view

router = APIRouter(tags=["transactions"])


@router.post("/txs", response_model=SubmitTxResponse,
             openapi_extra={"requestBody": {"required": True, "content": {"application/json": {
                 "schema": SubmitTxRequest.model_json_schema()}}}})
async def submit_tx(request: Request):
    """Submit a signed transaction; answers with the slot leader's signed receipt (the leader
    committed it to its database first). A non-leader forwards it and relays the receipt.
    Refusals: 400 with the rule (NonceTooLow, InsufficientBalance, WrongChainId, ...)."""
    return await submit_tx_body(request.app.state.node, await request.body(), request.headers,
                                request.url.path)


async def submit_tx_body(node: Node, body: bytes, _headers: Headers, _path: str) -> Response:
    """POST /txs on the hot lane (nodekit.fastlane), and behind its FastAPI declaration."""
    try:
        raw_hex = orjson.loads(body)["raw"]
    except (orjson.JSONDecodeError, KeyError, TypeError):
        raise InvalidEncoding('body must be {"raw": "0x..."}') from None
    raw = parse_hex(raw_hex, None, "raw")
    receipt = await intake.submit(node, raw)
    return json_response({"tx_hash": "0x" + receipt.tx_hash.hex(),
                          "receipt": receipt_to_json(receipt)})


@router.get("/txs/{tx_hash}", response_model=TransactionResponse)
def get_tx(tx_hash: str, node: NodeDep):
    """A transaction with its receipt (when this node holds one), block and head label."""
    view = tx_view(node, parse_hex(tx_hash, 32, "tx hash"))
    if view is None:
        raise UnknownTransaction(f"no transaction {tx_hash}")
    return view


@router.get("/mempool")
def get_mempool(node: NodeDep, limit: int = Query(100, ge=1, le=10_000)):
    """Transactions known and not on the canonical chain, in sequencing order."""
    entries = node.mempool.ordered()
    return {"size": len(entries),
            "transactions": [tx_view(node, e.tx.hash) for e in entries[:limit]]}
