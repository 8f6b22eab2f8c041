"""All of the ranger's L1 access in one module: reads of the L1 mock's REST API, and the
signed calls (register_ranger, report_verified, submit_fraud_proof) made with the operator key.

Calls are serialized by one lock and take the operator's next nonce from L1 each time, so the
jobs of one ranger never race for a nonce. A nonce clash (another client of the same account)
or a transport failure becomes TemporaryError: the job retries on its next tick, after first
checking on L1 whether the call took effect (fraud proofs are deduplicated by evidence hash).

Spec: docs/spec/ranger.md#l1
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from nodekit.errors import RemoteRejected, TemporaryError
from nodekit.http import ServiceClient
from protocol.blocks import QUEUE_DEPOSIT, QUEUE_FORCED_TX, QueueItem
from protocol.l1calls import encode_l1_call, sign_l1_call

NONCE_ERRORS = frozenset({"WrongNonce", "NonceReplay", "NonceGap"})


def parse_hex(value: str | None) -> bytes:
    if not value:
        return b""
    return bytes.fromhex(value[2:] if value.startswith("0x") else value)


def queue_item_from_json(data: dict[str, Any]) -> QueueItem:
    """An L1 /queue entry as the protocol's QueueItem (what censorship evidence carries)."""
    deposit = data["kind"] == "deposit"
    return QueueItem(index=int(data["index"]), kind=QUEUE_DEPOSIT if deposit else QUEUE_FORCED_TX,
                     l1_block=int(data["l1_block"]), sender=parse_hex(data["sender"]),
                     to=parse_hex(data.get("to")) if deposit else b"",
                     amount=int(data.get("amount") or 0),
                     raw_tx=b"" if deposit else parse_hex(data.get("raw_tx")))


class L1Client:
    """The L1 mock seen from one ranger (its operator key signs the calls)."""

    def __init__(self, base_url: str, operator_key: bytes, operator_address: bytes,
                 l1_chain_id: int, *, transport: httpx.AsyncBaseTransport | None = None,
                 retries: int = 2) -> None:
        self.http = ServiceClient(base_url, retries=retries, timeout_s=10.0, transport=transport)
        self.operator_key = operator_key
        self.operator_address = operator_address
        self.l1_chain_id = l1_chain_id
        self._lock = asyncio.Lock()

    async def aclose(self) -> None:
        await self.http.aclose()

    # --- reads ----------------------------------------------------------------------------

    async def get_status(self) -> dict[str, Any]:
        return await self.http.get("/status")

    async def get_blocks(self, start: int, limit: int = 64) -> list[dict[str, Any]]:
        """Accepted blocks from number `start`, with their raw RLP."""
        return await self.http.get("/blocks", params={"from": start, "limit": limit, "raw": "true"})

    async def get_block(self, number: int) -> dict[str, Any] | None:
        try:
            return await self.http.get(f"/blocks/{number}")
        except RemoteRejected as error:
            if error.status == 404:
                return None
            raise

    async def get_queue(self, start: int, limit: int = 100) -> list[QueueItem]:
        items = await self.http.get("/queue", params={"from": start, "limit": limit})
        return sorted((queue_item_from_json(item) for item in items), key=lambda i: i.index)

    async def get_fraud_proofs(self) -> list[dict[str, Any]]:
        """L1's fraud proofs, oldest first (the newest 1000)."""
        proofs = await self.http.get("/fraud-proofs", params={"limit": 1000})
        return sorted(proofs, key=lambda p: p["id"])

    async def get_fraud_proof_by_evidence(self, evidence_hash: bytes) -> dict[str, Any] | None:
        wanted = "0x" + evidence_hash.hex()
        for proof in await self.get_fraud_proofs():
            if proof["evidence_hash"] == wanted:
                return proof
        return None

    async def get_slash(self, slash_id: int) -> dict[str, Any]:
        return await self.http.get(f"/slashes/{slash_id}")

    async def get_rangers(self) -> list[dict[str, Any]]:
        return await self.http.get("/rangers")

    async def get_sequencers(self) -> list[dict[str, Any]]:
        return await self.http.get("/sequencers")

    async def get_account(self, address: bytes) -> dict[str, Any]:
        return await self.http.get(f"/accounts/0x{address.hex()}")

    async def get_epoch(self, epoch: int) -> dict[str, Any] | None:
        try:
            return await self.http.get(f"/epochs/{epoch}")
        except RemoteRejected as error:
            if error.status == 404:
                return None
            raise

    # --- signed calls ---------------------------------------------------------------------

    async def call(self, method: str, args: dict[str, Any]) -> dict[str, Any]:
        """Sign `method(args)` with the operator key at its next L1 nonce and apply it.

        Returns the call's result. Raises RemoteRejected when L1 refuses it (nothing changed),
        TemporaryError when L1 cannot be reached or the nonce moved under us."""
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

    async def register_ranger(self, node_key: bytes, bond_wei: int, endpoint: str) -> dict:
        args: dict[str, Any] = {"node_key": "0x" + node_key.hex(), "bond": str(bond_wei)}
        if endpoint:
            args["endpoint"] = endpoint
        return await self.call("register_ranger", args)

    async def report_verified(self, block_hashes: list[bytes]) -> dict:
        return await self.call("report_verified",
                               {"block_hashes": ["0x" + h.hex() for h in block_hashes]})

    async def submit_fraud_proof(self, kind: str, evidence: bytes) -> dict:
        return await self.call("submit_fraud_proof", {"kind": kind, "evidence": "0x" + evidence.hex()})
