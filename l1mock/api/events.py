"""GET /events: the event feed, long-polled with a cursor.

Spec: docs/spec/l1.md#events
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Query

from .. import repo
from ..schemas import EventsResponse
from .deps import NodeDep

router = APIRouter(tags=["events"])


@router.get("/events", response_model=EventsResponse)
async def get_events(node: NodeDep, after: int = Query(0, ge=0),
                     wait_ms: int = Query(0, ge=0, description="Long-poll up to this long "
                                          "(capped by the server's max_wait_ms)"),
                     limit: int = Query(100, ge=1, le=1000),
                     kind: list[str] = Query(default=[], description="Only these kinds")
                     ) -> EventsResponse:
    """Events with id > `after`, oldest first. With `wait_ms`, waits until one exists.
    Follow the feed with `after=<next>` from each answer."""
    loop_time = asyncio.get_running_loop().time
    deadline = loop_time() + min(wait_ms, node.settings.max_wait_ms) / 1000
    while True:
        scanned = node.last_event_id
        events = repo.get_events(node.engine, after, limit, kind) if scanned > after else []
        remaining_ms = int((deadline - loop_time()) * 1000)
        if events or remaining_ms <= 0:
            break
        await node.wait_for_events(scanned, remaining_ms)
        if node.last_event_id == scanned:
            break
    # Without a match, every event up to `scanned` was looked at: the cursor moves past them.
    next_cursor = events[-1]["id"] if events else max(after, min(scanned, node.last_event_id))
    return EventsResponse(events=events, next=next_cursor, last_event_id=node.last_event_id)
