"""Who a job would alert, and why, before it is published: the job is posted and its
first wave chosen by the very rules that will send it (market.jobs, market.waves), inside
a savepoint that is then rolled back, so the preview cannot drift from what happens."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from market.context import MarketContext
from market.jobs import JobSpec, post_job
from market.waves import choose_wave
from store.models import Area, Employer, JobLine, Trade, Worker
from store.statuses import Verification


@dataclass(frozen=True)
class PreviewMatch:
    worker_number: str  # 000042: the page names no one and shows no phone
    town: str
    score: float
    parts: dict[str, float]  # nearness, reliability, priority, fairness


@dataclass(frozen=True)
class LinePreview:
    trade: str
    headcount: int
    matches: tuple[PreviewMatch, ...]


@dataclass(frozen=True)
class Preview:
    lines: tuple[LinePreview, ...]
    held_because: str = ""  # why no alert would go out yet: "unverified", "held"


async def preview(session: AsyncSession, ctx: MarketContext, spec: JobSpec, *,
                  now: datetime) -> Preview:
    """Raises what posting would raise (an unknown town or trade, a start in the past)."""
    savepoint = await session.begin_nested()
    try:
        job = await post_job(session, spec, market_id=ctx.market_id, agent="preview", now=now)
        employer = await session.get(Employer, job.employer_id)
        lines = list(await session.scalars(select(JobLine).where(JobLine.job_id == job.id)
                                           .order_by(JobLine.id)))
        held = ("unverified" if employer.verification != Verification.VERIFIED
                else "held" if employer.alerts_held else "")
        chosen = [] if held else await choose_wave(session, ctx, job, lines, now)
        towns = dict((await session.execute(select(Worker.id, Area.name).join(
            Area, Area.id == Worker.town_id).where(
                Worker.id.in_([m.worker_id for m in chosen])))).all())
        trades = dict((await session.execute(select(Trade.id, Trade.name))).all())
        return Preview(tuple(
            LinePreview(trades[line.trade_id], line.headcount, tuple(
                PreviewMatch(f"{m.worker_id:06d}", towns.get(m.worker_id, ""), m.score,
                             m.parts)
                for m in chosen if m.job_line_id == line.id))
            for line in lines), held)
    finally:
        await savepoint.rollback()
