"""The market's clock stops without cutting a sweep in half."""

from __future__ import annotations

import asyncio

import scheduler as market_clock


async def test_a_sweep_handed_over_just_before_stopping_runs_to_its_end():
    finished = []
    ran = asyncio.Event()

    async def work() -> None:
        await asyncio.sleep(0.05)  # a send in flight
        finished.append(True)
        ran.set()

    sweep = market_clock.Sweep("outbox", work)
    scheduler = market_clock.build_scheduler({sweep: 3600})
    scheduler.start()  # its first run, at start-up
    await asyncio.wait_for(ran.wait(), 5)
    await sweep.finish()

    sweep.run_soon(scheduler)
    await asyncio.sleep(0)  # the scheduler hands the run to its executor: not begun yet
    await market_clock.stop(scheduler, [sweep])

    assert finished == [True, True], "the run handed over before the stop finished"
    await asyncio.sleep(0)  # AsyncIOScheduler shuts down on the loop's next turn
    assert not scheduler.running
