"""The part of an L1 mock client every service shares: signed calls at the operator's next
nonce, serialized so one node's jobs never race for a nonce, and the reads whose JSON shape
the protocol types depend on. Each service subclasses it with the calls and reads it needs.

Spec: docs/spec/l1-calls.md, docs/spec/l1.md
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from protocol.accounts import address_of
from protocol.blocks import QUEUE_DEPOSIT, QUEUE_FORCED_TX, QueueItem
from protocol.l1calls import encode_l1_call, sign_l1_call

from .errors import RemoteRejected, TemporaryError
from .http import ServiceClient

NONCE_ERRORS = frozenset({"WrongNonce", "NonceReplay", "NonceGap"})
"""L1 rejections that mean another call of the same account took the nonce first."""


def parse_hex(value: str | None) -> bytes:
    """Bytes of a 0x-hex string from an L1 response ("" and None give b"")."""
    if not value:
        return b""
    return bytes.fromhex(value[2:] if value.startswith("0x") else value)


def queue_item_from_json(data: dict[str, Any]) -> QueueItem:
    """An entry of the L1's GET /queue as the protocol's QueueItem."""
    deposit = data["kind"] == "deposit"
    return QueueItem(index=int(data["index"]), kind=QUEUE_DEPOSIT if deposit else QUEUE_FORCED_TX,
                     l1_block=int(data["l1_block"]), sender=parse_hex(data["sender"]),
                     to=parse_hex(data.get("to")) if deposit else b"",
                     amount=int(data.get("amount") or 0),
                     raw_tx=b"" if deposit else parse_hex(data.get("raw_tx")))


class L1ClientBase:
    """The L1 mock seen from one node; `operator_key` (None for a read-only follower) signs."""

    def __init__(self, base_url: str, l1_chain_id: int, operator_key: bytes | None = None, *,
                 retries: int = 2, timeout_s: float = 10.0,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.http = ServiceClient(base_url, retries=retries, timeout_s=timeout_s, transport=transport)
        self.l1_chain_id = l1_chain_id
        self.operator_key = operator_key
        self.operator_address = address_of(operator_key) if operator_key else None
        self._lock = asyncio.Lock()

    async def aclose(self) -> None:
        await self.http.aclose()

    async def get_account(self, address: bytes) -> dict[str, Any]:
        return await self.http.get(f"/accounts/0x{address.hex()}")

    async def get_queue(self, start: int, limit: int = 1000) -> list[QueueItem]:
        """Queue items from index `start` on, in order."""
        items = await self.http.get("/queue", params={"from": start, "limit": limit})
        return sorted((queue_item_from_json(i) for i in items if int(i["index"]) >= start),
                      key=lambda item: item.index)

    async def call(self, method: str, args: dict[str, Any]) -> dict[str, Any]:
        """Sign `method(args)` with the operator key at its next L1 nonce and apply it.

        Returns the call's result. Raises RemoteRejected when L1 refuses it (nothing changed),
        TemporaryError when L1 cannot be reached or the nonce moved under us (the caller's
        loop retries on its next tick)."""
        if self.operator_key is None or self.operator_address is None:
            raise RuntimeError(f"{method}: a node without an operator key cannot call L1")
        async with self._lock:
            account = await self.get_account(self.operator_address)
            call = sign_l1_call(self.operator_key, self.l1_chain_id, method, int(account["nonce"]),
                                args)
            try:
                response = await self.http.post("/calls", encode_l1_call(call))
            except RemoteRejected as error:
                if error.error in NONCE_ERRORS:
                    raise TemporaryError(f"{method}: {error}") from None
                raise
            return response.get("result", {}) if isinstance(response, dict) else {}
