"""Signed peer messages between sequencers.

A peer request carries three headers: `X-Seqnet-Node-Key` (the sender's Ed25519 key, hex),
`X-Seqnet-Time` (its clock, ms) and `X-Seqnet-Signature`, the node-key signature of kind
`peer` (so it also covers the chain id) over `keccak(time + "\\n" + path + "\\n" + body)`.
The receiver refuses a bad or missing signature (401), a key that is not a sequencer
registered on L1 (403), and a time outside its replay window (401).

Spec: docs/spec/sequencer.md#peer-messages
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aiohttp
import httpx
import orjson

from nodekit.errors import RemoteRejected, TemporaryError
from protocol.hashing import keccak256
from protocol.signing import NodeKey, verify_node_signature

log = logging.getLogger("seqnet.sequencer.peers")

KEY_HEADER = "x-seqnet-node-key"
TIME_HEADER = "x-seqnet-time"
SIGNATURE_HEADER = "x-seqnet-signature"


class PeerAuthError(Exception):
    def __init__(self, status: int, error: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.error = error
        self.detail = detail


def compute_peer_message_hash(time_ms: int, path: str, body: bytes) -> bytes:
    return keccak256(b"%d\n" % time_ms + path.encode() + b"\n" + body)


def sign_peer_headers(key: NodeKey, chain_id: int, path: str, body: bytes,
                      time_ms: int) -> dict[str, str]:
    signature = key.sign(b"peer", chain_id, compute_peer_message_hash(time_ms, path, body))
    return {KEY_HEADER: key.public.hex(), TIME_HEADER: str(time_ms),
            SIGNATURE_HEADER: signature.hex(), "content-type": "application/json"}


def verify_peer_headers(headers: Any, path: str, body: bytes, chain_id: int, now_ms: int,
                        skew_ms: int) -> bytes:
    """The sender's node key when the signature verifies; raises PeerAuthError(401) otherwise.
    Whether the key is registered on L1 is the caller's check (403)."""
    try:
        node_key = bytes.fromhex(headers.get(KEY_HEADER, ""))
        signature = bytes.fromhex(headers.get(SIGNATURE_HEADER, ""))
        time_ms = int(headers.get(TIME_HEADER, ""))
    except ValueError:
        raise PeerAuthError(401, "Unauthenticated", "missing or malformed peer signature "
                            "headers (X-Seqnet-Node-Key, X-Seqnet-Time, X-Seqnet-Signature)") from None
    if abs(now_ms - time_ms) > skew_ms:
        raise PeerAuthError(401, "Unauthenticated", f"peer message time {time_ms} is outside the "
                            f"replay window of {skew_ms} ms around {now_ms}")
    if not verify_node_signature(node_key, b"peer", chain_id,
                                 compute_peer_message_hash(time_ms, path, body), signature):
        raise PeerAuthError(401, "InvalidSignature", "peer signature does not verify")
    return node_key


class PeerClient:
    """Sends signed JSON requests to other sequencers.

    Over the network it uses aiohttp: measured here, an httpx request costs 0.8-1.7 ms of CPU
    and an aiohttp one 0.13-0.18 ms (docs/adr/0003-peer-http-client.md), and peer traffic
    (forwarded batches, gossip, blocks, attestations) is most of what a busy sequencer does
    besides intake. In-process test networks pass an httpx `transport` (ASGI apps routed by
    host name) and get httpx; signing and answer handling are the same code either way.
    """

    def __init__(self, key: NodeKey, chain_id: int, clock, *,
                 transport: httpx.AsyncBaseTransport | None = None, timeout_s: float = 5.0) -> None:
        self.key = key
        self.chain_id = chain_id
        self.clock = clock
        self.timeout_s = timeout_s
        self.client = None
        if transport is not None:
            self.client = httpx.AsyncClient(transport=transport, timeout=timeout_s,
                                            limits=httpx.Limits(max_connections=64,
                                                                max_keepalive_connections=32))
        self._session: aiohttp.ClientSession | None = None

    def _aiohttp(self) -> aiohttp.ClientSession:
        # Created on first use: a ClientSession belongs to the running event loop.
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout_s),
                connector=aiohttp.TCPConnector(limit=64, limit_per_host=16),
                skip_auto_headers=("User-Agent",))
        return self._session

    async def aclose(self) -> None:
        if self.client is not None:
            await self.client.aclose()
        if self._session is not None:
            await self._session.close()

    async def post(self, base_url: str, path: str, body: Any) -> Any:
        content = orjson.dumps(body)
        headers = sign_peer_headers(self.key, self.chain_id, path, content, self.clock.now_ms())
        return await self._request("POST", base_url.rstrip("/") + path, content=content,
                                   headers=headers)

    async def get(self, base_url: str, path: str, params: dict | None = None) -> Any:
        return await self._request("GET", base_url.rstrip("/") + path, params=params)

    async def _request(self, method: str, url: str, *, content: bytes | None = None,
                       headers: dict | None = None, params: dict | None = None) -> Any:
        if self.client is not None:
            try:
                response = await self.client.request(method, url, content=content,
                                                     headers=headers, params=params)
            except httpx.HTTPError as error:
                raise TemporaryError(f"{method} {url}: {type(error).__name__}: {error}") from None
            return _handle(response.status_code, response.content, url)
        try:
            async with self._aiohttp().request(method, url, data=content, headers=headers,
                                               params=params) as response:
                return _handle(response.status, await response.read(), url)
        except (aiohttp.ClientError, asyncio.TimeoutError) as error:
            raise TemporaryError(f"{method} {url}: {type(error).__name__}: {error}") from None


def _handle(status: int, content: bytes, where: str) -> Any:
    if status < 300:
        return orjson.loads(content) if content else None
    try:
        body = orjson.loads(content)
        error, detail = str(body.get("error", "")), str(body.get("detail", ""))
    except (orjson.JSONDecodeError, AttributeError):
        error, detail = f"HTTP{status}", content[:200].decode(errors="replace")
    if status >= 500 or status in (408, 429):
        raise TemporaryError(f"{where}: {status} {error}: {detail}")
    raise RemoteRejected(status, error, detail)


async def gather_quietly(coros) -> list:
    results = await asyncio.gather(*coros, return_exceptions=True)
    for result in results:
        if isinstance(result, Exception) and not isinstance(result, (TemporaryError, RemoteRejected)):
            log.warning("peer request failed: %r", result)
    return results
