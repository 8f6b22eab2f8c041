"""GET /queue, /queue/{index}: deposits and forced transactions."""

from __future__ import annotations

from fastapi import APIRouter, Query

from ..errors import NotFound
from ..schemas import ErrorResponse, QueueItemResponse
from .common import page
from .deps import NodeDep
from .views import queue_item_view

router = APIRouter(tags=["queue"])


@router.get("/queue", response_model=list[QueueItemResponse])
def list_queue(node: NodeDep, start: int | None = Query(None, alias="from", ge=0),
               limit: int = Query(100, ge=1, le=1000),
               pending: bool = Query(False, description="Only items not consumed yet")
               ) -> list[QueueItemResponse]:
    """Queue items from index `from` (default: the first pending item when pending=true,
    else the newest `limit`)."""
    c = node.contract
    if pending and start is None:
        start = c.queue_head
    return [queue_item_view(c, c.queue[i]) for i in page(len(c.queue), start, limit, True)
            if not pending or i >= c.queue_head]


@router.get("/queue/{index}", response_model=QueueItemResponse,
            responses={404: {"model": ErrorResponse}})
def get_queue_item(index: int, node: NodeDep) -> QueueItemResponse:
    c = node.contract
    if not 0 <= index < len(c.queue):
        raise NotFound(f"no queue item {index} (length {len(c.queue)})")
    return queue_item_view(c, c.queue[index])
