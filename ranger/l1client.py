"""All of the ranger's L1 access in one module: reads of the L1 mock's REST API, and the
signed calls (register_ranger, report_verified, submit_fraud_proof) made with the operator key.

Calls are serialized by one lock and take the operator's next nonce from L1 each time, so the
jobs of one ranger never race for a nonce. A nonce clash (another client of the same account)
or a transport failure becomes TemporaryError: the job retries on its next tick, after first
checking on L1 whether the call took effect (fraud proofs are deduplicated by evidence hash).

Spec: docs/spec/ranger.md#l1
"""

from __future__ import annotations

from typing import Any

import httpx

from nodekit.errors import RemoteRejected
from nodekit.l1client import L1ClientBase


class L1Client(L1ClientBase):
    """The L1 mock seen from one ranger (its operator key signs the calls)."""

    def __init__(self, base_url: str, operator_key: bytes, l1_chain_id: int, *,
                 transport: httpx.AsyncBaseTransport | None = None, retries: int = 2) -> None:
        super().__init__(base_url, l1_chain_id, operator_key, retries=retries, transport=transport)

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

    async def get_epoch(self, epoch: int) -> dict[str, Any] | None:
        try:
            return await self.http.get(f"/epochs/{epoch}")
        except RemoteRejected as error:
            if error.status == 404:
                return None
            raise

    # --- signed calls ---------------------------------------------------------------------

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
