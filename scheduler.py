"""The market's clock: APScheduler decides *when*; what is due lives in the database,
so a restart loses nothing and several instances can sweep the same tables."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler

OUTBOX_JOB = "outbox"
JOB_DEFAULTS = {"coalesce": True, "max_instances": 1, "misfire_grace_time": 30}


def build_scheduler(send_outbox: Callable[[], Awaitable[object]],
                    outbox_interval_seconds: float) -> AsyncIOScheduler:
    scheduler = AsyncIOScheduler(job_defaults=JOB_DEFAULTS, timezone=UTC)
    scheduler.add_job(
        send_outbox, "interval", seconds=outbox_interval_seconds, id=OUTBOX_JOB,
        next_run_time=datetime.now(UTC),
    )
    return scheduler


def run_soon(scheduler: AsyncIOScheduler, job_id: str = OUTBOX_JOB) -> None:
    """Something became due now (an SMS was queued): don't wait for the next tick."""
    if scheduler.running:
        scheduler.modify_job(job_id, next_run_time=datetime.now(UTC))
