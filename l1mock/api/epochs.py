"""GET /epochs, /epochs/{epoch}, /slots/{slot}: snapshots and the leader schedule."""

from __future__ import annotations

from fastapi import APIRouter, Query

from protocol.schedule import compute_epoch, compute_leader, compute_slot_start_ms

from ..core.contract import hx
from ..errors import NotFound
from ..schemas import EpochResponse, ErrorResponse, SlotResponse
from .deps import NodeDep
from .views import epoch_view

router = APIRouter(tags=["epochs"])


@router.get("/epochs", response_model=list[EpochResponse])
def list_epochs(node: NodeDep, limit: int = Query(20, ge=1, le=1000)) -> list[EpochResponse]:
    """The newest `limit` snapshotted epochs (members, without the schedule)."""
    c = node.contract
    epochs = sorted(c.snapshots)[-limit:]
    return [epoch_view(c, c.snapshots[e], with_schedule=False) for e in epochs]


@router.get("/epochs/{epoch}", response_model=EpochResponse,
            responses={404: {"model": ErrorResponse}})
def get_epoch(epoch: int, node: NodeDep) -> EpochResponse:
    """A snapshotted epoch with its members and the leader of every slot
    (`protocol.schedule.compute_schedule`)."""
    c = node.contract
    if epoch not in c.snapshots:
        raise NotFound(f"epoch {epoch} is not snapshotted (next: {c.next_snapshot_epoch})")
    return epoch_view(c, c.snapshots[epoch], with_schedule=True)


@router.get("/slots/{slot}", response_model=SlotResponse,
            responses={404: {"model": ErrorResponse}})
def get_slot(slot: int, node: NodeDep) -> SlotResponse:
    """The leader of one slot of a snapshotted epoch (null when the set is empty)."""
    c = node.contract
    if slot < 0:
        raise NotFound("slots start at 0")
    epoch = compute_epoch(slot, node.params)
    if epoch not in c.snapshots:
        raise NotFound(f"epoch {epoch} is not snapshotted (next: {c.next_snapshot_epoch})")
    sequencer_set = c.snapshots[epoch]
    leader = compute_leader(sequencer_set, slot, node.params) if sequencer_set.members else None
    return SlotResponse(slot=slot, epoch=epoch, start_ms=compute_slot_start_ms(slot, node.params),
                        leader=hx(leader))
