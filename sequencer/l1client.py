"""All of the sequencer's L1 access in one module: reads of the L1 mock's REST API, and the
signed calls (register_sequencer, submit_batch) made with the operator key. A change of the
L1 mock's routes is an edit here only.

Calls are serialized by one lock and take the operator's next nonce from L1 each time. A nonce
clash or a transport failure becomes TemporaryError: the job retries on its next tick
(submit_batch is idempotent on L1: already accepted blocks are skipped).

Spec: docs/spec/sequencer.md#l1
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from nodekit.errors import RemoteRejected
from nodekit.l1client import L1ClientBase
from nodekit.l1client import parse_hex as _hex
from protocol.params import ChainParams
from protocol.schedule import Member, SequencerSet, compute_sequencer_set


@dataclass(frozen=True)
class L1Status:
    head: int
    """L1 head block number."""
    accepted_number: int
    accepted_hash: bytes
    finalized_number: int
    finalized_hash: bytes
    queue_length: int


@dataclass(frozen=True)
class RegisteredSequencer:
    node_key: bytes
    operator: bytes
    endpoint: str
    jailed_from_slot: int | None
    status: str


@dataclass(frozen=True)
class L1Block:
    number: int
    hash: bytes
    raw: bytes | None
    status: str


class L1Client(L1ClientBase):
    """The L1 mock seen from one sequencer (its operator key signs the calls; a follower
    has none)."""

    def __init__(self, base_url: str, params: ChainParams, operator_key: bytes | None = None, *,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        super().__init__(base_url, params.l1_chain_id, operator_key, retries=1, transport=transport)
        self.params = params

    # --- reads ------------------------------------------------------------------------------

    async def get_status(self) -> L1Status:
        s = await self.http.get("/status")
        return L1Status(head=int(s["l1_head"]), accepted_number=int(s["accepted"]["number"]),
                        accepted_hash=_hex(s["accepted"]["hash"]),
                        finalized_number=int(s["finalized"]["number"]),
                        finalized_hash=_hex(s["finalized"]["hash"]),
                        queue_length=int(s["queue_length"]))

    async def get_sequencers(self) -> list[RegisteredSequencer]:
        rows = await self.http.get("/sequencers")
        return [RegisteredSequencer(_hex(r["node_key"]), _hex(r["operator"]), r["endpoint"],
                                    r.get("jailed_from_slot"), r.get("status", "active"))
                for r in rows]

    async def get_ranger_endpoints(self) -> list[str]:
        """Endpoints of the rangers registered on L1 (where evidence is pushed)."""
        rows = await self.http.get("/rangers")
        return [r["endpoint"] for r in rows if r.get("endpoint")]

    async def get_sequencer_set(self, epoch: int) -> SequencerSet | None:
        """The epoch's active set as L1 snapshotted it; None when not snapshotted yet."""
        try:
            data = await self.http.get(f"/epochs/{epoch}")
        except RemoteRejected as error:
            if error.status == 404:
                return None
            raise
        members = [Member(_hex(m["node_key"]), _hex(m["operator"]), int(m["stake"]))
                   for m in data["members"]]
        return compute_sequencer_set(epoch, members, self.params)

    async def get_blocks(self, start: int, limit: int = 64) -> list[L1Block]:
        """Accepted blocks from number `start`, with their raw RLP."""
        rows = await self.http.get("/blocks", params={"from": start, "limit": limit, "raw": "true"})
        return sorted((L1Block(int(r["number"]), _hex(r["hash"]), _hex(r.get("raw")) or None,
                               r.get("status", "")) for r in rows), key=lambda b: b.number)

    # --- signed calls -----------------------------------------------------------------------

    async def register_sequencer(self, node_key: bytes, endpoint: str, stake_wei: int,
                                 commission_bps: int) -> dict[str, Any]:
        return await self.call("register_sequencer", {
            "node_key": "0x" + node_key.hex(), "endpoint": endpoint, "stake": str(stake_wei),
            "commission_bps": commission_bps})

    async def submit_batch(self, raws: list[bytes]) -> dict[str, Any]:
        return await self.call("submit_batch", {"blocks": ["0x" + raw.hex() for raw in raws]})
