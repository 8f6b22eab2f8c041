"""GET /health, /status, /schedule, /peers, /accounts/{address}, /observations, /evidence."""

from __future__ import annotations

from fastapi import APIRouter, Query

from protocol.schedule import compute_epoch, compute_epoch_start_slot, compute_schedule

from ..schemas import AccountResponse
from .deps import NodeDep
from .views import account_view, find_block, hx, parse_hex

router = APIRouter(tags=["status"])


@router.get("/health")
def health():
    """200 once the node serves."""
    return {"status": "ok"}


@router.get("/status")
def status(node: NodeDep):
    """Slot, leader, head labels, peers, epoch, L1 head, mempool size, faults."""
    return node.status()


@router.get("/schedule")
async def schedule(node: NodeDep, epoch: int | None = Query(None, ge=0)):
    """The leader of every slot of an epoch (default: the current one), from L1's set."""
    if epoch is None:
        epoch = max(0, compute_epoch(max(0, node.current_slot(node.clock.now_ms())), node.params))
    sequencer_set = await node.get_set(epoch)
    if sequencer_set is None or not sequencer_set.members:
        return {"epoch": epoch, "members": [], "schedule": []}
    leaders = compute_schedule(sequencer_set, node.params)
    start = compute_epoch_start_slot(epoch, node.params)
    return {"epoch": epoch, "start_slot": start, "total_power": sequencer_set.total_power,
            "members": [{"node_key": hx(m.node_key), "operator": hx(m.operator),
                         "stake": str(m.stake_wei), "power": m.power,
                         "slots": sum(1 for k in leaders if k == m.node_key)}
                        for m in sequencer_set.members],
            "schedule": [{"slot": start + i, "leader": hx(k)} for i, k in enumerate(leaders)]}


@router.get("/peers")
def peers(node: NodeDep):
    """The other sequencers registered on L1 (the peers this node talks to)."""
    return [{"node_key": hx(k), "endpoint": e, "jailed_from_slot": node.jailed.get(k)}
            for k, e in node.peers.items()]


@router.get("/accounts/{address}", response_model=AccountResponse)
def account(address: str, node: NodeDep, block: str = Query("latest")):
    """Balance (wei, decimal string) and nonce at a block; pending_nonce counts the pool."""
    return account_view(node, parse_hex(address, 20, "address"), find_block(node, block))


@router.get("/observations")
def observations(node: NodeDep, after: int = Query(0, ge=0), limit: int = Query(256, ge=1, le=4096)):
    """Every signed block (also invalid ones) and attestation this node saw, oldest first, for
    rangers. Follow with `after=<next>`."""
    items = [o for o in node.observations if o["id"] > after][:limit]
    return {"observations": items, "next": items[-1]["id"] if items else after}


@router.get("/evidence")
def evidence(node: NodeDep):
    """Misconduct this node detected itself (equivocation: two signed headers of one slot)."""
    return node.evidence
