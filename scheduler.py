"""The market's clock: APScheduler decides *when*; what is due lives in the database,
so a restart loses nothing and several instances can sweep the same tables."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler

OUTBOX_JOB = "outbox"
MARKET_JOB = "market"  # waves, held alerts, employers to chase, wage reminders
STATISTICS_JOB = "statistics"  # the database's query-planner statistics
STATUS_JOB = "statuses"  # what callbacks that never came would have said
JOB_DEFAULTS = {"coalesce": True, "max_instances": 1, "misfire_grace_time": 30}


class Sweep:
    """A periodic job that can also be asked to run now. Asked while running, it runs
    once more when done instead of being skipped (so nothing waits a whole interval)."""

    def __init__(self, job_id: str, work: Callable[[], Awaitable[object]]):
        self.job_id, self.work = job_id, work
        self.again = False
        self.requested = False  # a run was asked of the scheduler and has not begun
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def running(self) -> bool:
        return not self._idle.is_set()

    async def run(self) -> None:
        self.requested = False
        self._idle.clear()
        try:
            self.again = True
            while self.again:
                self.again = False
                await self.work()
        finally:
            self._idle.set()

    async def finish(self) -> None:
        """Wait for a run in progress, so shutdown never cuts a send in half."""
        self.again = False
        await self._idle.wait()

    def run_soon(self, scheduler: AsyncIOScheduler) -> None:
        if self.running:
            self.again = True
        elif scheduler.running and not self.requested:
            self.requested = True
            scheduler.modify_job(self.job_id, next_run_time=datetime.now(UTC))


async def stop(scheduler: AsyncIOScheduler, sweeps: list[Sweep]) -> None:
    """Stops new runs, lets the ones in flight finish (a send is never cut in half), then
    shuts the scheduler down: shutting down first would cancel them."""
    if scheduler.running:
        scheduler.pause()
        # A run handed to the executor just before the pause starts on the loop's next
        # turn: let it start, so that finish() waits for it instead of shutdown()
        # cancelling it halfway.
        await asyncio.sleep(0)
    for sweep in sweeps:
        await sweep.finish()
    if scheduler.running:
        scheduler.shutdown(wait=False)


def build_scheduler(sweeps: dict[Sweep, float]) -> AsyncIOScheduler:
    """One interval job per sweep (seconds between runs); each runs once at start-up too,
    so whatever fell due while Gigline was down goes out now."""
    scheduler = AsyncIOScheduler(job_defaults=JOB_DEFAULTS, timezone=UTC)
    for sweep, seconds in sweeps.items():
        scheduler.add_job(sweep.run, "interval", seconds=seconds, id=sweep.job_id,
                          next_run_time=datetime.now(UTC))
    return scheduler
