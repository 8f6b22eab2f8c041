"""GET /health, GET /status and GET /params."""

from __future__ import annotations

import dataclasses

from fastapi import APIRouter

from protocol.schedule import compute_epoch

from ..core.contract import hx
from ..schemas import HeadInfo, StatusResponse
from .deps import NodeDep

router = APIRouter(tags=["status"])


@router.get("/health")
def get_health(node: NodeDep) -> dict:
    """Liveness for launchers and compose healthchecks: 200 once the L1 serves."""
    return {"status": "ok", "l1_head": node.contract.head_number}


@router.get("/status", response_model=StatusResponse)
def get_status(node: NodeDep) -> StatusResponse:
    """The L1 head, the accepted and finalized L2 heads, and counters."""
    c = node.contract
    params = node.params
    slot = c.current_slot()
    head, final = c.head_block, c.chain[c.finalized_number]
    return StatusResponse(
        l1_chain_id=params.l1_chain_id, chain_id=params.chain_id,
        genesis_hash=hx(node.genesis_header.hash), genesis_time_ms=params.genesis_time_ms,
        l1_block_ms=params.l1_block_ms, l1_head=c.head_number,
        l1_head_timestamp_ms=c.head_timestamp_ms, current_slot=slot,
        current_epoch=None if slot is None else compute_epoch(slot, params),
        next_snapshot_epoch=c.next_snapshot_epoch,
        accepted=HeadInfo(number=head.number, hash=hx(head.hash), slot=head.header.slot,
                          l1_block=head.l1_block),
        finalized=HeadInfo(number=final.number, hash=hx(final.hash), slot=final.header.slot,
                           l1_block=final.l1_block),
        queue_length=len(c.queue), queue_head=c.queue_head, sequencers=len(c.sequencers),
        active_sequencers=sum(1 for s in c.sequencers.values()
                              if not s.jailed and s.total_stake_wei >= params.min_sequencer_stake_wei),
        rangers=len(c.rangers), batches=len(c.batches), fraud_proofs=len(c.fraud_proofs),
        slashes=len(c.slashes), last_event_id=node.last_event_id, minted=str(c.minted_wei),
        burned=str(c.burned_wei))


@router.get("/params")
def get_params(node: NodeDep) -> dict:
    """The chain parameters this L1 runs with (amounts in wei as decimal strings)."""
    return {name: (str(value) if isinstance(value, int) and not isinstance(value, bool)
                   and name.endswith("_wei") else value)
            for name, value in dataclasses.asdict(node.params).items()}
