"""Employers and jobs as the staff follow them: an employer's file (verification, jobs,
hires, ratings, cases) and a job's live state line by line (waves sent, offers alerted,
accepted, confirmed, slots left), read in a few queries so a page can poll it."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from store.models import (
    Area,
    Employer,
    Hire,
    Job,
    JobLine,
    Offer,
    Rating,
    RightsCase,
    Trade,
)
from store.statuses import Rater

MAX_FOUND = 50
RECENT_JOBS = 50


@dataclass(frozen=True)
class LineState:
    line_id: int
    trade: str
    headcount: int
    filled: int  # slots held by an accepted or confirmed offer
    day_wage_fen: int
    offers: dict[str, int]  # offer status -> how many
    by_wave: dict[int, int]  # wave -> offers made (0: heard by calling in)

    @property
    def remaining(self) -> int:
        return max(self.headcount - self.filled, 0)


@dataclass(frozen=True)
class JobState:
    job_id: int
    code: str
    status: str
    employer_id: int
    employer: str
    town: str
    address: str
    start_at: datetime
    days: int
    daily_pay: bool
    waves_sent: int
    next_wave_at: datetime | None
    lines: tuple[LineState, ...]


async def job_state(session: AsyncSession, job_id: int, *, market_id: int) -> JobState | None:
    row = (await session.execute(
        select(Job, Employer.name, Area.name).join(Employer, Employer.id == Job.employer_id)
        .join(Area, Area.id == Job.town_id)
        .where(Job.id == job_id, Job.market_id == market_id))).first()
    if row is None:
        return None
    job, employer, town = row
    lines = (await session.execute(
        select(JobLine, Trade.name).join(Trade, Trade.id == JobLine.trade_id)
        .where(JobLine.job_id == job.id).order_by(JobLine.id))).all()
    statuses: dict[int, Counter] = {}
    waves: dict[int, Counter] = {}
    for line_id, status, wave, count in await session.execute(
            select(Offer.job_line_id, Offer.status, Offer.wave, func.count())
            .where(Offer.job_id == job.id)
            .group_by(Offer.job_line_id, Offer.status, Offer.wave)):
        statuses.setdefault(line_id, Counter())[status] += count
        waves.setdefault(line_id, Counter())[wave] += count
    return JobState(
        job.id, job.code, job.status, job.employer_id, employer, town, job.address,
        job.start_at, job.days, job.daily_pay, job.waves_sent, job.next_wave_at,
        tuple(LineState(line.id, trade, line.headcount, line.filled, line.day_wage_fen,
                        dict(statuses.get(line.id, {})), dict(sorted(
                            waves.get(line.id, {}).items())))
              for line, trade in lines))


@dataclass(frozen=True)
class EmployerFound:
    employer_id: int
    name: str
    verification: str
    alerts_held: bool


async def search_employers(session: AsyncSession, text: str, *,
                           market_id: int) -> list[EmployerFound]:
    """By part of the name, the phone as written, or the credit code."""
    text = text.strip()
    if len(text) < 2:
        return []
    rows = await session.scalars(
        select(Employer).where(Employer.market_id == market_id, or_(
            Employer.name.contains(text, autoescape=True),
            Employer.phone.contains(text, autoescape=True),
            Employer.credit_code == text.upper()))
        .order_by(Employer.name).limit(MAX_FOUND))
    return [EmployerFound(e.id, e.name, e.verification, e.alerts_held) for e in rows]


@dataclass(frozen=True)
class JobSummary:
    job_id: int
    code: str
    status: str
    start_at: datetime
    headcount: int
    filled: int


@dataclass(frozen=True)
class CaseSummary:
    case_id: int
    status: str
    owed_fen: int
    recovered_fen: int


@dataclass(frozen=True)
class EmployerFile:
    employer_id: int
    name: str
    phone: str
    address: str
    credit_code: str
    verification: str
    verified_by: str | None
    verified_at: datetime | None
    verification_note: str | None  # what was checked, or why blacklisted
    alerts_held: bool
    rating_avg: float | None
    ratings: int  # by workers, after a hire
    hires: int
    jobs: tuple[JobSummary, ...]  # newest first
    cases: tuple[CaseSummary, ...]


async def employer_file(session: AsyncSession, employer_id: int, *,
                        market_id: int) -> EmployerFile | None:
    employer = await session.get(Employer, employer_id)
    if employer is None or employer.market_id != market_id:
        return None
    jobs = (await session.execute(
        select(Job, func.coalesce(func.sum(JobLine.headcount), 0),
               func.coalesce(func.sum(JobLine.filled), 0))
        .outerjoin(JobLine, JobLine.job_id == Job.id).where(Job.employer_id == employer.id)
        .group_by(Job.id).order_by(Job.id.desc()).limit(RECENT_JOBS))).all()
    ratings = await session.scalar(
        select(func.count()).select_from(Rating).join(Hire, Hire.id == Rating.hire_id)
        .join(Job, Job.id == Hire.job_id)
        .where(Job.employer_id == employer.id, Rating.rater == Rater.WORKER,
               Rating.stars.is_not(None)))
    hires = await session.scalar(select(func.count()).select_from(Hire).join(
        Job, Job.id == Hire.job_id).where(Job.employer_id == employer.id))
    cases = await session.scalars(select(RightsCase).where(
        RightsCase.employer_id == employer.id).order_by(RightsCase.id.desc()))
    return EmployerFile(
        employer.id, employer.name, employer.phone, employer.address, employer.credit_code,
        employer.verification, employer.verified_by, employer.verified_at,
        employer.verification_note, employer.alerts_held, employer.rating_avg, ratings,
        hires,
        tuple(JobSummary(job.id, job.code, job.status, job.start_at, int(headcount),
                         int(filled)) for job, headcount, filled in jobs),
        tuple(CaseSummary(c.id, c.status, c.owed_fen, c.recovered_fen) for c in cases))
