"""GET /sequencers, /sequencers/{ref}, /rangers."""

from __future__ import annotations

from fastapi import APIRouter

from ..core.contract import hx
from ..errors import NotFound, UnknownSequencer
from ..schemas import ErrorResponse, RangerResponse, SequencerResponse
from .common import parse_hex
from .deps import NodeDep
from .views import sequencer_view

router = APIRouter(tags=["staking"])


@router.get("/sequencers", response_model=list[SequencerResponse])
def list_sequencers(node: NodeDep) -> list[SequencerResponse]:
    """Every registered sequencer: stake, delegations, status, produced/missed, rewards, slashes."""
    c = node.contract
    return [sequencer_view(c, seq) for seq in c.sequencers.values()]


@router.get("/sequencers/{ref}", response_model=SequencerResponse,
            responses={404: {"model": ErrorResponse}})
def get_sequencer(ref: str, node: NodeDep) -> SequencerResponse:
    """One sequencer by node key (32 bytes) or operator address (20 bytes)."""
    key = parse_hex(ref, (20, 32), "sequencer")
    try:
        seq = node.contract.get_sequencer(key)
    except UnknownSequencer as error:
        raise NotFound(str(error)) from None
    return sequencer_view(node.contract, seq)


@router.get("/rangers", response_model=list[RangerResponse])
def list_rangers(node: NodeDep) -> list[RangerResponse]:
    return [RangerResponse(node_key=hx(r.node_key), operator=hx(r.operator), endpoint=r.endpoint,
                           bond=str(r.bond_wei), registered_l1_block=r.registered_l1_block,
                           verified=r.verified, rewards=str(r.rewards_wei))
            for r in node.contract.rangers.values()]
