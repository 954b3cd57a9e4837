"""What the hall's big screen shows: the jobs a worker can still take and the market's
counts for today and this month. Read-only, plain values, nothing personal: no phone,
no name, no address (the hotline gives a job's address only to the worker hired)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from market.matching import has_free_slot, open_to_workers
from store.models import Area, Employer, Hire, Job, JobLine, Trade, Worker

# More rows than a 1080-pixel screen holds: the page shows what fits, the totals say the rest.
MAX_LINES = 60


@dataclass(frozen=True)
class OpenLine:
    job_code: str  # what a worker texts or says to take it
    trade: str
    remaining: int  # slots not yet taken
    day_wage_fen: int
    town: str
    start_date: date  # in the market's time zone
    days: int


@dataclass(frozen=True)
class Counts:
    registrations: int  # workers who finished registering
    jobs: int  # jobs posted
    hires: int  # hires the employer confirmed


@dataclass(frozen=True)
class Board:
    day: date  # today in the market's time zone
    lines: tuple[OpenLine, ...]  # soonest start first, at most MAX_LINES
    open_lines: int  # all of them, beyond what `lines` holds
    open_slots: int
    today: Counts
    month: Counts


async def read_board(session: AsyncSession, *, market_id: int, timezone: str,
                     now: datetime, limit: int = MAX_LINES) -> Board:
    zone = ZoneInfo(timezone)
    today = now.astimezone(zone).date()
    remaining = JobLine.headcount - JobLine.filled
    open_lines = (
        select(JobLine.id)
        .join(Job, Job.id == JobLine.job_id)
        .join(Employer, Employer.id == Job.employer_id)
        .where(Job.market_id == market_id, open_to_workers(now), has_free_slot())
    )
    rows = await session.execute(
        open_lines.with_only_columns(Job.code, Trade.name, remaining, JobLine.day_wage_fen,
                                     Area.name, Job.start_at, Job.days)
        .join(Trade, Trade.id == JobLine.trade_id)
        .join(Area, Area.id == Job.town_id)
        .order_by(Job.start_at, JobLine.day_wage_fen.desc(), JobLine.id)
        .limit(limit))
    lines = tuple(
        OpenLine(job_code=code, trade=trade, remaining=left, day_wage_fen=wage, town=town,
                 start_date=start.astimezone(zone).date(), days=days)
        for code, trade, left, wage, town, start, days in rows)
    totals = (await session.execute(
        select(func.count(), func.coalesce(func.sum(remaining), 0))
        .select_from(JobLine).where(JobLine.id.in_(open_lines)))).one()
    month = today.replace(day=1)
    next_month = (month + timedelta(days=31)).replace(day=1)
    return Board(
        day=today, lines=lines, open_lines=totals[0], open_slots=int(totals[1]),
        today=await period_counts(session, market_id=market_id, start=_midnight(today, zone),
                                  end=_midnight(today + timedelta(days=1), zone)),
        month=await period_counts(session, market_id=market_id, start=_midnight(month, zone),
                                  end=_midnight(next_month, zone)),
    )


async def period_counts(session: AsyncSession, *, market_id: int, start: datetime,
                        end: datetime) -> Counts:
    """What happened in [start, end): a job later cancelled was still posted, a hire
    later cancelled still made, as the markets' reported figures count them."""
    registrations = await session.scalar(
        select(func.count()).select_from(Worker)
        .where(Worker.market_id == market_id, Worker.registered_at >= start,
               Worker.registered_at < end))
    jobs = await session.scalar(
        select(func.count()).select_from(Job)
        .where(Job.market_id == market_id, Job.created_at >= start, Job.created_at < end))
    hires = await session.scalar(
        select(func.count()).select_from(Hire)
        .join(JobLine, JobLine.id == Hire.job_line_id).join(Job, Job.id == JobLine.job_id)
        .where(Job.market_id == market_id, Hire.created_at >= start, Hire.created_at < end))
    return Counts(registrations=registrations, jobs=jobs, hires=hires)


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), zone).astimezone(UTC)
