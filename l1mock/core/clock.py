"""The L1 block loop: one L1 block every `l1_block_ms`.

`tick(node, now_ms)` produces the next block when its time has come (tests call it with a
fake clock); `run(node, clock)` calls it forever on `nodekit.loop.run_loop`. Blocks are not
back-filled after a pause: the next block takes the current time, so L1 block numbers count
produced blocks, and timestamps never go backwards.

Spec: docs/spec/l1.md#clock
"""

from __future__ import annotations

import logging

from nodekit.loop import Clock, run_loop

log = logging.getLogger("l1mock.clock")


async def tick(node, now_ms: int) -> None:
    node.tick(now_ms)


async def run(node, clock: Clock) -> None:
    interval = max(1, min(node.params.l1_block_ms, 250) // 5)
    # Poll a few times per block so a block is at most `interval` late.
    await run_loop("l1-clock", lambda now: tick(node, now), interval, clock, log)
