"""Peer messages between sequencers, each signed by the sender's node key and accepted only
from sequencers registered on L1 (401 bad signature, 403 unknown key).

POST /peer/blocks        {"block": "0x<rlp>"}            a sealed block
POST /peer/attestations  {"attestations": ["0x<rlp>"]}   attestations
POST /peer/txs           {"txs": [{"raw", "receipt"}]}   gossip, in batches
POST /peer/forward       {"raw": "0x.."}                 a transaction for the leader; answers
                                                          {"receipt": {...}} or NotLeader
POST /peer/forward_batch {"raws": ["0x.."]}              many, in order; answers {"results":
                                                          [{"receipt"} | {"status","error","detail"}]}

Spec: docs/spec/sequencer.md#peer-messages
"""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, HTTPException, Request, Response

from nodekit.errors import TemporaryError
from protocol.encoding import decode_block
from protocol.exceptions import InvalidEncoding, ProtocolError
from protocol.receipts import receipt_to_json

from ..core import intake, validator
from ..node import Node
from ..peers import PeerAuthError, verify_peer_headers
from .deps import get_node, json_response
from .views import parse_hex

router = APIRouter(prefix="/peer", tags=["peer"])
MAX_FORWARD_BATCH = 4096


class PeerMessage:
    def __init__(self, sender: bytes, body: dict) -> None:
        self.sender = sender
        self.body = body


async def read_peer_message(node: Node, body: bytes, headers: Any, path: str) -> PeerMessage:
    """The signed message `body` sent to `path`: its sender checked (HTTPException 401 bad
    signature, 403 unknown key) and its body a JSON object (InvalidEncoding)."""
    try:
        sender = verify_peer_headers(headers, path, body, node.params.chain_id,
                                     node.clock.now_ms(), node.settings.peer_clock_skew_ms)
    except PeerAuthError as error:
        raise HTTPException(error.status, error.detail) from None
    if sender not in node.registered:
        try:
            await node.refresh_peers()
        except TemporaryError:
            pass
        if sender not in node.registered:
            raise HTTPException(403, f"node key 0x{sender.hex()[:16]}.. is not a sequencer "
                                     f"registered on L1")
    try:
        message = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise InvalidEncoding("peer message body is not JSON") from None
    if not isinstance(message, dict):
        raise InvalidEncoding("peer message body must be a JSON object")
    return PeerMessage(sender, message)


async def peer_message(request: Request) -> PeerMessage:
    """The FastAPI dependency of the routes below."""
    return await read_peer_message(request.app.state.node, await request.body(), request.headers,
                                   request.url.path)


PeerDep = Annotated[PeerMessage, Depends(peer_message)]
NodeDep = Annotated[Node, Depends(get_node)]
AUTH = {401: {"description": "Bad or missing peer signature"},
        403: {"description": "Node key not registered on L1"}}


@router.post("/blocks", responses=AUTH)
async def post_block(message: PeerDep, node: NodeDep):
    block = decode_block(parse_hex(message.body.get("block", ""), None, "block"))
    source = node.peers.get(message.sender, "")
    result = await validator.on_block(node, block, source=source)
    if result == "orphan" and source:
        from ..core import syncer
        node.spawn(syncer.sync_from(node, source))
    return {"result": result}


@router.post("/attestations", responses=AUTH)
async def post_attestations(message: PeerDep, node: NodeDep):
    items = message.body.get("attestations", [])
    if not isinstance(items, list):
        raise InvalidEncoding("attestations must be a list of 0x strings")
    raws = [parse_hex(a, None, "attestation") for a in items]
    return {"accepted": validator.on_attestations(node, raws)}


@router.post("/txs", responses=AUTH)
async def post_txs(message: PeerDep, node: NodeDep):
    items = message.body.get("txs", [])
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise InvalidEncoding('txs must be a list of {"raw": "0x..", "receipt": ...} objects')
    return {"added": await intake.on_gossip(node, message.sender, items)}


@router.post("/forward", responses=AUTH)
async def post_forward(message: PeerDep, node: NodeDep):
    raw = parse_hex(message.body.get("raw", ""), None, "raw")
    receipt = await intake.submit(node, raw, forwarded=True)
    return json_response({"receipt": receipt_to_json(receipt)})


@router.post("/forward_batch", responses=AUTH)
async def post_forward_batch(message: PeerDep, node: NodeDep):
    items = message.body.get("raws")
    if not isinstance(items, list) or len(items) > MAX_FORWARD_BATCH:
        raise InvalidEncoding(f"raws must be a list of at most {MAX_FORWARD_BATCH} 0x strings")
    raws: list[bytes | ProtocolError] = []
    for item in items:
        try:
            raws.append(parse_hex(item, None, "raw"))
        except ProtocolError as error:
            raws.append(error)  # answered in this entry's place; the others still count
    return json_response({"results": await intake.submit_forwarded(node, raws)})


def hot_peer_route(handler):
    """`handler` as a hot-lane endpoint (nodekit.fastlane): the message read as the
    dependency above reads it, the answer a dict as FastAPI would serialize it."""
    async def endpoint(node: Node, body: bytes, headers: Any, path: str) -> Response:
        result = await handler(await read_peer_message(node, body, headers, path), node)
        return result if isinstance(result, Response) else json_response(result)
    return endpoint


HOT_ROUTES = [("POST", "/peer/forward_batch", hot_peer_route(post_forward_batch)),
              ("POST", "/peer/txs", hot_peer_route(post_txs)),
              ("POST", "/peer/forward", hot_peer_route(post_forward)),
              ("POST", "/peer/blocks", hot_peer_route(post_block)),
              ("POST", "/peer/attestations", hot_peer_route(post_attestations))]
"""The peer routes on the hot lane: every one of them."""
