"""run_loop's error sorting and FakeClock, without real sleeping."""

from __future__ import annotations

import asyncio
import logging

import pytest

from nodekit.errors import ResetError, TemporaryError
from nodekit.loop import FakeClock, SystemClock, run_loop, sleep_until_ms


def run(coroutine):
    return asyncio.run(coroutine)


def test_fake_clock_wakes_sleepers_in_order_at_their_deadlines():
    async def main():
        clock = FakeClock(1000)
        woke: list[tuple[str, int]] = []

        async def sleeper(name: str, ms: int):
            await clock.sleep_ms(ms)
            woke.append((name, clock.now_ms()))

        tasks = [asyncio.create_task(sleeper("late", 300)),
                 asyncio.create_task(sleeper("early", 100))]
        await clock.advance(50)
        assert woke == [] and clock.sleepers == 2
        await clock.advance(500)
        assert woke == [("early", 1100), ("late", 1300)]
        assert clock.now_ms() == 1550
        await asyncio.gather(*tasks)
        with pytest.raises(ValueError):
            await clock.advance(-1)
    run(main())


def test_loop_logs_temporary_error_and_continues(caplog):
    async def main():
        clock = FakeClock(0)
        seen: list[int] = []

        async def tick(now_ms: int) -> None:
            seen.append(now_ms)
            if len(seen) == 2:
                raise TemporaryError("L1 timed out")

        task = asyncio.create_task(run_loop("producer", tick, 100, clock))
        await clock.advance(450)
        assert seen == [0, 100, 200, 300, 400]
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    with caplog.at_level(logging.WARNING):
        run(main())
    assert any("L1 timed out" in record.getMessage() and record.levelno == logging.WARNING
               for record in caplog.records)


def test_loop_reraises_bugs_with_traceback(caplog):
    async def main():
        clock = FakeClock(0)
        calls = 0

        async def tick(now_ms: int) -> None:
            nonlocal calls
            calls += 1
            if calls == 3:
                raise ZeroDivisionError("bug")

        task = asyncio.create_task(run_loop("batcher", tick, 100, clock))
        await clock.advance(1000)
        assert task.done()
        with pytest.raises(ZeroDivisionError):
            task.result()
        assert calls == 3
    with caplog.at_level(logging.ERROR):
        run(main())
    assert any(record.exc_info and "batcher" in record.getMessage() for record in caplog.records)


def test_loop_hands_reset_to_on_reset_or_crashes_without_one():
    async def main():
        clock = FakeClock(0)
        resets: list[str] = []

        async def tick(now_ms: int) -> None:
            if now_ms == 100:
                raise ResetError("L1 rolled back to block 7")

        async def on_reset(error: ResetError) -> None:
            resets.append(str(error))

        task = asyncio.create_task(run_loop("syncer", tick, 100, clock, on_reset=on_reset))
        await clock.advance(300)
        assert resets == ["L1 rolled back to block 7"] and not task.done()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

        bare = asyncio.create_task(run_loop("syncer", tick, 100, FakeClock(100)))
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        with pytest.raises(ResetError):
            await bare
    run(main())


def test_loop_overrun_does_not_burst():
    async def main():
        clock = FakeClock(0)
        seen: list[int] = []

        async def tick(now_ms: int) -> None:
            seen.append(now_ms)
            if len(seen) == 1:
                await clock.sleep_ms(350)    # a slow tick: three intervals long

        task = asyncio.create_task(run_loop("slow", tick, 100, clock))
        await clock.advance(600)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        assert seen == [0, 350, 450, 550]
    run(main())


def test_loop_refuses_bad_interval():
    async def main():
        async def tick(now_ms: int) -> None:
            return None
        with pytest.raises(ValueError):
            await run_loop("x", tick, 0, FakeClock())
    run(main())


def test_system_clock_and_sleep_until():
    async def main():
        clock = SystemClock()
        before = clock.now_ms()
        assert before > 1_600_000_000_000
        await sleep_until_ms(clock, before + 5)
        assert clock.now_ms() >= before + 5
        await sleep_until_ms(clock, before - 1000)   # past: returns at once
    run(main())


def test_run_sliced_returns_the_result_and_lets_other_tasks_run_between_slices():
    """Block work (protocol.transition's *_steps generators) runs in slices: a request task
    gets the loop between two slices instead of waiting for the whole block."""
    import time

    from nodekit.loop import run_sliced

    def work(slices: int, slice_s: float):
        for _ in range(slices):
            end = time.perf_counter() + slice_s
            while time.perf_counter() < end:
                pass
            yield
        return "done"

    async def scenario():
        answered: list[int] = []

        async def requests():
            for i in range(1000):
                answered.append(i)
                await asyncio.sleep(0)

        other = asyncio.create_task(requests())
        await asyncio.sleep(0)
        result = await run_sliced(work(10, 0.002), budget_s=0.001)
        served_meanwhile = len(answered)
        other.cancel()
        return result, served_meanwhile

    result, served = asyncio.run(scenario())
    assert result == "done"
    assert served >= 10   # one turn of the loop after each slice, at least


def test_run_sliced_takes_its_share_of_a_busy_loop():
    """Once it has run `share_after_s`, sliced work gets about `share` of a loop whose turns are
    long (a leader under full load): its slices stretch to the length of the last turn
    instead of staying at the 1 ms budget (the next leader validated its parent in 700-900 ms
    instead of ~250 ms and orphaned it: docs/performance.md, 2026-11-25)."""
    import time

    from nodekit.loop import run_sliced

    def busy(seconds: float) -> None:
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            pass

    def work(steps: int):
        for _ in range(steps):
            busy(0.001)
            yield
        return steps

    async def turns_taken(**kwargs) -> int:
        turns = 0
        stop = False

        async def requests():     # each turn of the loop serves 4 ms of requests
            nonlocal turns
            while not stop:
                busy(0.004)
                turns += 1
                await asyncio.sleep(0)

        other = asyncio.create_task(requests())
        await asyncio.sleep(0)
        assert await run_sliced(work(48), budget_s=0.001, **kwargs) == 48
        stop = True
        await other
        return turns

    fair = asyncio.run(turns_taken(share_after_s=0.0))
    late = asyncio.run(turns_taken(share_after_s=10.0))
    thin = asyncio.run(turns_taken(share=0.0))
    assert thin >= 40                # one turn per 1 ms step
    assert fair <= thin // 2         # slices of ~4 ms: about a quarter of the turns
    assert late >= 40                # not before `share_after_s`
