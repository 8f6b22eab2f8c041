"""GET /accounts/{address}."""

from __future__ import annotations

from fastapi import APIRouter

from ..core.contract import hx
from ..schemas import AccountResponse, ErrorResponse, StakeResponse
from .common import parse_hex
from .deps import NodeDep
from .views import unbonding_view

router = APIRouter(tags=["accounts"])


@router.get("/accounts/{address}", response_model=AccountResponse,
            responses={400: {"model": ErrorResponse}})
def get_account(address: str, node: NodeDep) -> AccountResponse:
    """Balance, next nonce, pending rewards, stakes and unbonding entries of an address
    (every address exists, with zeros)."""
    owner = parse_hex(address, (20,), "address")
    c = node.contract
    stakes, unbonding = [], []
    for seq in c.sequencers.values():
        if owner in seq.stakes:
            stakes.append(StakeResponse(sequencer=hx(seq.node_key), amount=str(seq.stakes[owner])))
        unbonding += [unbonding_view(e, seq.node_key) for e in seq.unbonding if e.owner == owner]
    unbonding += [unbonding_view(e) for e in c.ranger_unbonding if e.owner == owner]
    return AccountResponse(
        address=hx(owner), balance=str(c.balances.get(owner, 0)), nonce=c.get_nonce(owner),
        pending_rewards=str(c.rewards.get(owner, 0)), stakes=stakes, unbonding=unbonding,
        sequencer=hx(c.operators.get(owner)), ranger=hx(c.ranger_operators.get(owner)))
