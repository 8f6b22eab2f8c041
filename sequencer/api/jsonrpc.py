"""Ethereum JSON-RPC at `/` and `/rpc` (single and batch requests), enough for web3.py,
ethers.js and cast: send a transfer, wait for its receipt, read balances, nonces, blocks.
Block tags map to head labels: latest/pending = unsafe, safe = on L1, finalized = final.

Errors follow geth: -32700 parse error, -32600 invalid request, -32601 method not found,
-32602 invalid params, -32000 transaction rejections with geth's messages (and L1 or the
leader not answering: "TemporaryError: ..."); HTTP 200 always.

Spec: docs/spec/sequencer.md#json-rpc
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Request, Response
from starlette.datastructures import Headers

from nodekit import jsonutil
from nodekit.errors import ServiceError
from protocol.blocks import QUEUE_FORCED_TX
from protocol.constants import EMPTY_CODE_HASH, EMPTY_TRIE_ROOT, TX_GAS
from protocol.exceptions import (
    AccessListNotAllowed, ContractCreationNotAllowed, DataNotAllowed, FeeTooLow, HighS,
    InsufficientBalance, IntrinsicGasTooLow, InvalidEncoding, InvalidSignature, NonceTooHigh,
    NonceTooLow, OversizedTransaction, ProtocolError, TipAboveFeeCap, UnsupportedTransactionType,
    WrongChainId)
from protocol.receipts import receipt_to_json
from protocol.transactions import compute_effective_gas_price, tx_to_json

from ..core import intake
from ..core.chain import Entry, forced_outcomes
from ..errors import UnknownBlock
from ..node import Node
from .deps import json_response
from .views import find_block, hx, parse_hex, pending_nonce

router = APIRouter(tags=["json-rpc"])

GAS_LIMIT = 30_000_000
EMPTY_UNCLES = "0x1dcc4de8dec75d7aab85b567b6ccd41ad312451b948a7413f0a142fd40d49347"
ZERO_BLOOM = "0x" + "00" * 256
TIP_WEI = 10**9


class RpcError(Exception):
    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data


GETH_MESSAGES = {
    InsufficientBalance: lambda e: "insufficient funds for gas * price + value",
    WrongChainId: lambda e: "invalid chain id",
    InvalidSignature: lambda e: "invalid sender",
    HighS: lambda e: "invalid sender",
    OversizedTransaction: lambda e: "oversized data",
    UnsupportedTransactionType: lambda e: "transaction type not supported",
    IntrinsicGasTooLow: lambda e: "intrinsic gas too low",
    FeeTooLow: lambda e: "max fee per gas less than block base fee",
    TipAboveFeeCap: lambda e: "max priority fee per gas higher than max fee per gas",
    AccessListNotAllowed: lambda e: f"transaction type not supported: {e}",
    DataNotAllowed: lambda e: f"invalid transaction: {e}",
    ContractCreationNotAllowed: lambda e: f"invalid transaction: {e}",
}


def rpc_error_of(error: ProtocolError) -> RpcError:
    if isinstance(error, NonceTooLow):
        return RpcError(-32000, f"nonce too low: next nonce {error.expected}, tx nonce {error.got}")
    if isinstance(error, NonceTooHigh):
        return RpcError(-32000, f"nonce too high: next nonce {error.expected}, tx nonce {error.got}")
    for cls, message in GETH_MESSAGES.items():
        if isinstance(error, cls):
            return RpcError(-32000, message(error))
    name = error.name
    relayed = {"NonceTooLow": "nonce too low", "NonceTooHigh": "nonce too high",
               "InsufficientBalance": "insufficient funds for gas * price + value",
               "WrongChainId": "invalid chain id", "InvalidSignature": "invalid sender",
               "HighS": "invalid sender", "OversizedTransaction": "oversized data",
               "UnsupportedTransactionType": "transaction type not supported"}
    if name in relayed:
        detail = str(error)
        if name in ("NonceTooLow", "NonceTooHigh") and "next nonce" in detail:
            try:
                got = int(detail.split("nonce ")[1].split()[0])
                expected = int(detail.rsplit("next nonce ", 1)[1].split()[0])
                return RpcError(-32000, f"{relayed[name]}: next nonce {expected}, tx nonce {got}")
            except (IndexError, ValueError):
                pass
        return RpcError(-32000, relayed[name])
    if isinstance(error, InvalidEncoding):
        return RpcError(-32000, f"rlp: {error}")
    return RpcError(-32000, f"{name}: {error}")


# --- params -----------------------------------------------------------------------------------

def _param(params: list, index: int, default: Any = ...) -> Any:
    if index < len(params):
        return params[index]
    if default is ...:
        raise RpcError(-32602, f"missing value for required argument {index}")
    return default


def _address(value: Any) -> bytes:
    try:
        return parse_hex(value, 20, "address")
    except ProtocolError as error:
        raise RpcError(-32602, f"invalid argument: {error}") from None


def _hash(value: Any) -> bytes:
    try:
        return parse_hex(value, 32, "hash")
    except ProtocolError as error:
        raise RpcError(-32602, f"invalid argument: {error}") from None


def _block(node: Node, tag: Any) -> Entry | None:
    if isinstance(tag, dict):
        tag = tag.get("blockHash") or tag.get("blockNumber") or "latest"
    if not isinstance(tag, str):
        raise RpcError(-32602, "invalid argument: block tag must be a string")
    try:
        return find_block(node, tag)
    except UnknownBlock:
        return None
    except ProtocolError as error:
        raise RpcError(-32602, f"invalid argument: {error}") from None


# --- views --------------------------------------------------------------------------------------

def block_json(node: Node, entry: Entry, full: bool) -> dict[str, Any]:
    h = entry.block.header
    base_fee = node.params.base_fee_wei
    txs = [tx_json(node, entry, i) if full else hx(tx.hash) for i, tx in enumerate(entry.txs)]
    return {
        "number": hex(h.number), "hash": hx(entry.hash), "parentHash": hx(h.parent_hash),
        "nonce": "0x0000000000000000", "sha3Uncles": EMPTY_UNCLES, "logsBloom": ZERO_BLOOM,
        "transactionsRoot": hx(h.tx_root), "stateRoot": hx(h.state_root),
        "receiptsRoot": hx(EMPTY_TRIE_ROOT), "withdrawalsRoot": hx(h.withdrawals_root),
        "miner": hx(entry.fee_recipient), "difficulty": "0x0", "totalDifficulty": "0x0",
        "extraData": "0x", "size": hex(200 + sum(len(tx.raw) for tx in entry.txs)),
        "gasLimit": hex(GAS_LIMIT), "gasUsed": hex(TX_GAS * len(entry.txs)),
        "timestamp": hex(h.timestamp_ms // 1000), "transactions": txs, "uncles": [],
        "baseFeePerGas": hex(base_fee), "mixHash": "0x" + "00" * 32,
        "slot": hex(h.slot), "producer": hx(h.producer), "label": node.store.label(entry),
    }


def tx_json(node: Node, entry: Entry | None, index: int | None, tx=None) -> dict[str, Any]:
    if tx is None:
        tx = entry.txs[index]
    data = tx_to_json(tx, node.params.base_fee_wei if entry is not None else None)
    data.update(blockHash=hx(entry.hash) if entry else None,
                blockNumber=hex(entry.number) if entry else None,
                transactionIndex=hex(index) if entry is not None else None)
    return data


def receipt_json(node: Node, entry: Entry, index: int) -> dict[str, Any]:
    tx = entry.txs[index]
    price = compute_effective_gas_price(tx, node.params.base_fee_wei)
    return {
        "transactionHash": hx(tx.hash), "transactionIndex": hex(index),
        "blockHash": hx(entry.hash), "blockNumber": hex(entry.number), "from": hx(tx.sender),
        "to": hx(tx.to), "cumulativeGasUsed": hex(TX_GAS * (index + 1)), "gasUsed": hex(TX_GAS),
        "effectiveGasPrice": hex(price), "contractAddress": None, "logs": [],
        "logsBloom": ZERO_BLOOM, "status": "0x1", "type": hex(tx.tx_type),
    }


def forced_receipt_json(node: Node, entry: Entry, position: int) -> dict[str, Any]:
    """The receipt of a transaction forced through the L1 queue: executed before the block's
    sequenced transactions, `status` 0x0 (with `reason`) when it was invalid and skipped.
    `transactionIndex` counts the block's forced transactions (the sequenced ones keep the
    index their leader's receipt promised); `forced` and `queueIndex` mark it."""
    outcome = forced_outcomes(entry)[position]
    item = [i for i in entry.block.queue_items if i.kind == QUEUE_FORCED_TX][position]
    gas = TX_GAS if outcome.applied else 0
    data = {
        "transactionHash": hx(outcome.tx_hash), "transactionIndex": hex(position),
        "blockHash": hx(entry.hash), "blockNumber": hex(entry.number),
        "from": hx(outcome.sender or item.sender), "to": hx(outcome.to) if outcome.to else None,
        "cumulativeGasUsed": hex(gas), "gasUsed": hex(gas),
        "effectiveGasPrice": hex(outcome.gas_price_wei), "contractAddress": None, "logs": [],
        "logsBloom": ZERO_BLOOM, "status": "0x1" if outcome.applied else "0x0",
        "type": hex(item.raw_tx[0]) if item.raw_tx and item.raw_tx[0] < 0x7f else "0x0",
        "forced": True, "queueIndex": hex(item.index),
    }
    if not outcome.applied:
        data["reason"] = outcome.reason
    return data


def forced_tx_json(node: Node, entry: Entry, position: int) -> dict[str, Any] | None:
    item = [i for i in entry.block.queue_items if i.kind == QUEUE_FORCED_TX][position]
    try:
        tx = node.decode(item.raw_tx)
    except ProtocolError:
        return None
    data = tx_to_json(tx, node.params.base_fee_wei)
    data.update(blockHash=hx(entry.hash), blockNumber=hex(entry.number),
                transactionIndex=hex(position), forced=True, queueIndex=hex(item.index))
    return data


# --- methods ------------------------------------------------------------------------------------

async def eth_sendRawTransaction(node: Node, params: list) -> str:
    value = _param(params, 0)
    try:
        raw = parse_hex(value, None, "raw transaction")
    except ProtocolError as error:
        raise RpcError(-32602, f"invalid argument 0: {error}") from None
    receipt = await intake.submit(node, raw)
    return hx(receipt.tx_hash)


def eth_getBalance(node: Node, params: list) -> str | None:
    address = _address(_param(params, 0))
    entry = _block(node, _param(params, 1, "latest"))
    if entry is None:
        raise RpcError(-32000, "header not found")
    return hex(entry.state.get_account(address).balance)


def eth_getTransactionCount(node: Node, params: list) -> str:
    address = _address(_param(params, 0))
    tag = _param(params, 1, "latest")
    if tag == "pending":
        return hex(pending_nonce(node, address))
    entry = _block(node, tag)
    if entry is None:
        raise RpcError(-32000, "header not found")
    return hex(entry.state.get_account(address).nonce)


def eth_getBlockByNumber(node: Node, params: list) -> dict | None:
    entry = _block(node, _param(params, 0))
    return None if entry is None else block_json(node, entry, bool(_param(params, 1, False)))


def eth_getBlockByHash(node: Node, params: list) -> dict | None:
    entry = node.store.get(_hash(_param(params, 0)))
    return None if entry is None else block_json(node, entry, bool(_param(params, 1, False)))


def eth_getTransactionByHash(node: Node, params: list) -> dict | None:
    tx_hash = _hash(_param(params, 0))
    located = node.store.tx_index.get(tx_hash)
    if located is not None:
        return tx_json(node, node.store.get(located[0]), located[1])
    forced = node.store.forced_index.get(tx_hash)
    if forced is not None:
        return forced_tx_json(node, node.store.get(forced[0]), forced[1])
    pooled = node.mempool.get(tx_hash)
    return None if pooled is None else tx_json(node, None, None, pooled.tx)


def eth_getTransactionReceipt(node: Node, params: list) -> dict | None:
    tx_hash = _hash(_param(params, 0))
    located = node.store.tx_index.get(tx_hash)
    if located is not None:
        return receipt_json(node, node.store.get(located[0]), located[1])
    forced = node.store.forced_index.get(tx_hash)
    if forced is not None:
        return forced_receipt_json(node, node.store.get(forced[0]), forced[1])
    return None


def eth_feeHistory(node: Node, params: list) -> dict:
    count = _param(params, 0)
    count = int(count, 0) if isinstance(count, str) else int(count)
    count = max(1, min(count, 1024))
    newest = _block(node, _param(params, 1, "latest")) or node.store.head
    percentiles = _param(params, 2, []) or []
    oldest = max(0, newest.number - count + 1)
    entries = [node.store.at(n) for n in range(oldest, newest.number + 1)]
    base = hex(node.params.base_fee_wei)
    result = {"oldestBlock": hex(oldest), "baseFeePerGas": [base] * (len(entries) + 1),
              "gasUsedRatio": [TX_GAS * len(e.txs) / GAS_LIMIT for e in entries]}
    if percentiles:
        result["reward"] = [[hex(TIP_WEI)] * len(percentiles) for _ in entries]
    return result


def eth_getProof(node: Node, params: list) -> dict:
    address = _address(_param(params, 0))
    entry = _block(node, _param(params, 2, "latest"))
    if entry is None:
        raise RpcError(-32000, "header not found")
    account = entry.state.get_account(address)
    return {"address": hx(address), "accountProof": [hx(n) for n in entry.state.get_proof(address)],
            "balance": hex(account.balance), "codeHash": hx(EMPTY_CODE_HASH),
            "nonce": hex(account.nonce), "storageHash": hx(EMPTY_TRIE_ROOT),
            "storageProof": [{"key": k, "value": "0x0", "proof": []}
                             for k in (_param(params, 1, []) or [])]}


def seq_getReceipt(node: Node, params: list) -> dict | None:
    receipt = node.get_receipt(_hash(_param(params, 0)))
    return receipt_to_json(receipt) if receipt else None


METHODS = {
    "eth_chainId": lambda n, p: hex(n.params.chain_id),
    "net_version": lambda n, p: str(n.params.chain_id),
    "net_listening": lambda n, p: True,
    "net_peerCount": lambda n, p: hex(len(n.peers)),
    "web3_clientVersion": lambda n, p: f"seqnet/0.1.0/{n.settings.name}",
    "eth_syncing": lambda n, p: False,
    "eth_accounts": lambda n, p: [],
    "eth_blockNumber": lambda n, p: hex(n.store.head.number),
    "eth_getBalance": eth_getBalance,
    "eth_getTransactionCount": eth_getTransactionCount,
    "eth_getBlockByNumber": eth_getBlockByNumber,
    "eth_getBlockByHash": eth_getBlockByHash,
    "eth_getTransactionByHash": eth_getTransactionByHash,
    "eth_getTransactionReceipt": eth_getTransactionReceipt,
    "eth_gasPrice": lambda n, p: hex(n.params.base_fee_wei + TIP_WEI),
    "eth_maxPriorityFeePerGas": lambda n, p: hex(TIP_WEI),
    "eth_feeHistory": eth_feeHistory,
    "eth_estimateGas": lambda n, p: hex(TX_GAS),
    "eth_call": lambda n, p: "0x",
    "eth_getCode": lambda n, p: "0x",
    "eth_getStorageAt": lambda n, p: "0x" + "00" * 32,
    "eth_getProof": eth_getProof,
    "seq_getReceipt": seq_getReceipt,
    "seq_status": lambda n, p: n.status(),
}
ASYNC_METHODS = {"eth_sendRawTransaction": eth_sendRawTransaction}


async def handle_one(node: Node, request: Any) -> dict | None:
    if not isinstance(request, dict) or request.get("jsonrpc") != "2.0" or \
            not isinstance(request.get("method"), str):
        return {"jsonrpc": "2.0", "id": request.get("id") if isinstance(request, dict) else None,
                "error": {"code": -32600, "message": "invalid request"}}
    request_id = request.get("id")
    method = request["method"]
    params = request.get("params", [])
    if params is None:
        params = []
    try:
        if not isinstance(params, list):
            raise RpcError(-32602, "invalid params: expected an array")
        if method in ASYNC_METHODS:
            result = await ASYNC_METHODS[method](node, params)
        elif method in METHODS:
            result = METHODS[method](node, params)
        else:
            raise RpcError(-32601, f"the method {method} does not exist/is not available")
    except RpcError as error:
        body = {"code": error.code, "message": error.message}
        if error.data is not None:
            body["data"] = error.data
        return {"jsonrpc": "2.0", "id": request_id, "error": body}
    except ProtocolError as error:
        rpc = rpc_error_of(error)
        return {"jsonrpc": "2.0", "id": request_id,
                "error": {"code": rpc.code, "message": rpc.message}}
    except (TypeError, ValueError) as error:
        return {"jsonrpc": "2.0", "id": request_id,
                "error": {"code": -32602, "message": f"invalid params: {error}"}}
    except ServiceError as error:  # L1 or the leader unreachable: this entry fails, not the batch
        return {"jsonrpc": "2.0", "id": request_id,
                "error": {"code": -32000, "message": f"{type(error).__name__}: {error}"}}
    if "id" not in request:
        return None
    return {"jsonrpc": "2.0", "id": request_id, "result": result}


async def rpc(request: Request):
    """Ethereum JSON-RPC 2.0 (single or batch)."""
    return await rpc_body(request.app.state.node, await request.body(), request.headers,
                          request.url.path)


async def rpc_body(node: Node, body: bytes, _headers: Headers, _path: str) -> Response:
    """POST / and /rpc on the hot lane (nodekit.fastlane), and behind their FastAPI
    declarations."""
    try:
        payload = jsonutil.loads(body)
    except orjson.JSONDecodeError:
        return json_response({"jsonrpc": "2.0", "id": None,
                              "error": {"code": -32700, "message": "parse error"}})
    if isinstance(payload, list):
        if not payload:
            return json_response({"jsonrpc": "2.0", "id": None,
                                  "error": {"code": -32600, "message": "empty batch"}})
        responses = [await handle_one(node, item) for item in payload]
        return json_response([r for r in responses if r is not None])
    response = await handle_one(node, payload)
    return json_response(response if response is not None else {})


RPC_DOC = {"requestBody": {"required": True, "content": {"application/json": {"schema": {
    "type": "object", "example": {"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber",
                                  "params": []}}}}}}
router.add_api_route("/", rpc, methods=["POST"], summary="Ethereum JSON-RPC",
                     openapi_extra=RPC_DOC)
router.add_api_route("/rpc", rpc, methods=["POST"], summary="Ethereum JSON-RPC (alias)",
                     openapi_extra=RPC_DOC)
