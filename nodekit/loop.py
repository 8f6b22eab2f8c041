"""Clocks and the loop runner every job of every service uses (one loop per job).

A job is a `tick(now_ms)` coroutine that does one round of work and returns; `run_loop` calls
it forever, one tick per `interval_ms`, and sorts failures (nodekit/errors.py):
`TemporaryError` is logged and the next tick retries; `ResetError` is handed to `on_reset`
when one is given (else treated as a bug); cancellation ends the loop; anything else is a bug:
logged with its traceback and re-raised, so the task dies loudly.

Tests drive jobs with `FakeClock`: call `tick()` directly, or run the loop and
`await clock.advance(ms)`.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import time
from collections.abc import Awaitable, Callable, Generator
from typing import NoReturn, Protocol, TypeVar

from .errors import ResetError, TemporaryError

T = TypeVar("T")


class Clock(Protocol):
    """Wall-clock time in milliseconds, and sleeping on it."""

    def now_ms(self) -> int:
        """Unix time in milliseconds."""
        ...

    async def sleep_ms(self, ms: int) -> None:
        """Sleep `ms` milliseconds (0 or less: just yield to the event loop)."""
        ...


class SystemClock:
    """The real clock."""

    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000

    async def sleep_ms(self, ms: int) -> None:
        await asyncio.sleep(max(ms, 0) / 1000)


class FakeClock:
    """A clock that only moves when a test advances it.

    `sleep_ms` parks the caller until `advance`/`set_ms` moves time past its deadline; the
    sleepers wake in deadline order, each at its own deadline (a loop with a 100 ms interval
    ticks ten times in `advance(1000)`, seeing 100, 200, ... as `now_ms()`).
    """

    def __init__(self, start_ms: int = 0) -> None:
        self._now_ms = start_ms
        self._sleepers: list[tuple[int, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def now_ms(self) -> int:
        return self._now_ms

    async def sleep_ms(self, ms: int) -> None:
        if ms <= 0:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self._now_ms + ms, next(self._order), future))
        await future

    @property
    def sleepers(self) -> int:
        """How many coroutines are parked in sleep_ms."""
        return sum(1 for _, _, future in self._sleepers if not future.done())

    async def advance(self, ms: int, *, settle: int = 20) -> None:
        """Move time forward by `ms`, waking every sleeper whose deadline passes, in order.

        After each wake-up the event loop runs `settle` rounds, so the woken code (which may
        await other fake I/O) reaches its next sleep before time moves on.
        """
        if ms < 0:
            raise ValueError("time only moves forward")
        await self.set_ms(self._now_ms + ms, settle=settle)

    async def set_ms(self, target_ms: int, *, settle: int = 20) -> None:
        """Move time forward to `target_ms` (see advance)."""
        if target_ms < self._now_ms:
            raise ValueError("time only moves forward")
        await _settle(settle)
        while self._sleepers and self._sleepers[0][0] <= target_ms:
            deadline, _, future = heapq.heappop(self._sleepers)
            self._now_ms = max(self._now_ms, deadline)
            if not future.done():
                future.set_result(None)
            # Wake everyone due at the same instant before letting them run.
            while self._sleepers and self._sleepers[0][0] <= self._now_ms:
                _, _, other = heapq.heappop(self._sleepers)
                if not other.done():
                    other.set_result(None)
            await _settle(settle)
        self._now_ms = target_ms
        await _settle(settle)


async def _settle(rounds: int) -> None:
    for _ in range(rounds):
        await asyncio.sleep(0)


async def sleep_until_ms(clock: Clock, deadline_ms: int) -> None:
    """Sleep on `clock` until `deadline_ms` (returns at once when it has passed)."""
    await clock.sleep_ms(deadline_ms - clock.now_ms())


SLICE_BUDGET_S = 0.004
"""How long sliced work (run_sliced) keeps the event loop before letting it serve requests."""

SLICE_SHARE = 0.5
"""The share of a busy event loop that sliced work gets once its pauses are over."""

SHARE_AFTER_S = 0.25
"""Sliced work that has run this long gets its share of the loop (see run_sliced)."""

MAX_SLICE_S = 0.005
"""The longest slice the share stretches to: the most a request waits for block work."""


async def run_sliced(steps: Generator[None, None, T], budget_s: float = SLICE_BUDGET_S,
                     pause_s: float = 0.0, pause_for_s: float = float("inf"), *,
                     share: float = SLICE_SHARE, share_after_s: float = SHARE_AFTER_S,
                     max_slice_s: float = MAX_SLICE_S) -> T:
    """Run a `*_steps` generator of protocol.transition (block validation, building) on the
    event loop, giving the loop a turn after every slice of work (a sleep of `pause_s` during
    the first `pause_for_s`), and return its result.

    A 1,000-transaction block takes 30-40 ms of one core to re-execute; done in one go it
    holds every request that arrives meanwhile, which was most of the receipt latency tail
    (docs/performance.md). In slices the same work costs the same CPU and a request waits at
    most one slice. Callers that must not interleave (two blocks of one chain) order
    themselves; the generators work on their own state copies.

    A slice lasts `budget_s`; once the work has run `share_after_s` (and its pauses are over)
    it gets at least `share` of the loop: a slice then lasts as long as the loop's last turn
    took x share / (1 - share), at most `max_slice_s` (5 ms). Under full load a turn serves
    dozens of requests (5-10 ms); 1 ms slices then gave the block an eighth of the loop, and
    the next leader validated its parent in 700-900 ms instead of ~250, too late for its own
    seal: the parent was orphaned and its transactions carried into an ever bigger block. A
    block that takes longer than `share_after_s` is a sign of such load; before, thin slices
    keep the receipt latency of a lighter load low (with the share from the start, the paced
    p99 rose from 14 to 24 ms: docs/performance.md, 2026-11-25)."""
    started = time.perf_counter()
    deadline = started + budget_s
    ratio = share / (1.0 - share) if 0.0 < share < 1.0 else 0.0
    while True:
        try:
            next(steps)
        except StopIteration as done:
            return done.value
        now = time.perf_counter()
        if now >= deadline:
            # pauses for the first `pause_for_s` only: a big block under full load must not
            # stretch without bound (its peers and the next leader wait for it)
            pausing = pause_s > 0 and now - started < pause_for_s
            await asyncio.sleep(pause_s if pausing else 0)
            resumed = time.perf_counter()
            slice_s = budget_s
            if not pausing and now - started >= share_after_s:
                slice_s = max(budget_s, min(max_slice_s, (resumed - now) * ratio))
            deadline = resumed + slice_s


Tick = Callable[[int], Awaitable[None]]


async def run_loop(name: str, tick: Tick, interval_ms: int, clock: Clock,
                   log: logging.Logger | None = None, *,
                   on_reset: Callable[[ResetError], Awaitable[None]] | None = None) -> NoReturn:
    """Call `await tick(clock.now_ms())` every `interval_ms`, forever.

    Ticks start at a fixed rate (start, start + interval, ...); a tick that overruns its
    interval is followed by the next one at once, without a burst to catch up.
    """
    if interval_ms <= 0:
        raise ValueError(f"{name}: interval_ms must be positive, got {interval_ms}")
    log = log or logging.getLogger(f"seqnet.loop.{name}")
    next_ms = clock.now_ms()
    while True:
        try:
            await tick(clock.now_ms())
        except asyncio.CancelledError:
            raise
        except TemporaryError as error:
            log.warning("%s: tick failed, retrying next tick: %s", name, error)
        except ResetError as error:
            if on_reset is None:
                log.exception("%s: reset requested but the loop has no on_reset", name)
                raise
            log.warning("%s: resetting: %s", name, error)
            try:
                await on_reset(error)
            except TemporaryError as reset_error:
                log.warning("%s: reset failed, retrying next tick: %s", name, reset_error)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("%s: reset crashed", name)
                raise
        except Exception:
            log.exception("%s: tick crashed", name)
            raise
        now_ms = clock.now_ms()
        next_ms += interval_ms
        if next_ms <= now_ms:
            next_ms = now_ms
        await clock.sleep_ms(next_ms - now_ms)
