"""Employers, their verification, jobs and who was matched. Each handler takes the
request (and its body, validated) and answers with a model of console.schemas; the route
table (console.table) says which, and makes both the route and its OpenAPI operation."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from console.http import agent_of, deps_of, desk_of, record_id
from console.schemas import (
    DistrictOut,
    EmployerDetailOut,
    EmployerIn,
    EmployerOut,
    JobChangeIn,
    JobIn,
    JobOut,
    LineOut,
    MatchOut,
    TradeOut,
    VerificationIn,
)
from hotline.desk import CallDesk
from market import jobs
from store.models import Employer, Job, Offer, RightsCase, Trade, Worker
from store.statuses import CASE_OPEN


def _local(desk: CallDesk, moment: datetime) -> datetime:
    """A time without an offset is the market's time."""
    return moment if moment.tzinfo else moment.replace(tzinfo=ZoneInfo(desk.timezone))


async def list_trades(request: web.Request) -> list[TradeOut]:
    desk = desk_of(request)
    async with desk.sessions() as session:
        trades = await session.scalars(
            select(Trade).where(Trade.market_id == desk.market_id).order_by(Trade.position))
        return [TradeOut.model_validate(trade) for trade in trades]


async def list_areas(request: web.Request) -> list[DistrictOut]:
    return [DistrictOut.model_validate(district)
            for district in desk_of(request).market.districts]


async def create_employer(request: web.Request, body: EmployerIn) -> EmployerOut:
    desk = desk_of(request)
    async with desk.sessions() as session, session.begin():
        employer = await jobs.register_employer(
            session, market_id=desk.market_id, name=body.name, phone=body.phone,
            address=body.address, credit_code=body.credit_code, agent=agent_of(request),
            now=deps_of(request).clock())
        return EmployerOut.model_validate(employer)


async def get_employer(request: web.Request) -> EmployerDetailOut:
    """The employer with its open rights cases and whether they hold its job alerts."""
    async with desk_of(request).sessions() as session:
        employer = await session.get(Employer, record_id(request))
        if employer is None:
            raise jobs.NotFound("employer", record_id(request))
        open_cases = await session.scalars(
            select(RightsCase.id).where(RightsCase.employer_id == employer.id,
                                        RightsCase.status.in_(CASE_OPEN)))
        return EmployerDetailOut(
            **dict(EmployerOut.model_validate(employer)), open_cases=list(open_cases),
            alerts_held=employer.alerts_held, rating_avg=employer.rating_avg)


async def verify_employer(request: web.Request, body: VerificationIn) -> EmployerOut:
    deps = deps_of(request)
    async with deps.desk.sessions() as session, session.begin():
        employer = await jobs.set_verification(
            session, record_id(request), state=body.state, checked=body.checked,
            agent=agent_of(request), now=deps.clock())
        answer = EmployerOut.model_validate(employer)
    deps.nudge_market()
    return answer


async def _job_out(session: AsyncSession, job_id: int) -> JobOut:
    job = await session.scalar(select(Job).where(Job.id == job_id)
                               .options(selectinload(Job.lines)))
    trades = {t.id: t.code for t in await session.scalars(select(Trade))}
    return JobOut(
        id=job.id, code=job.code, status=job.status, employer_id=job.employer_id,
        start_at=job.start_at, end_at=job.end_at, days=job.days, daily_pay=job.daily_pay,
        town_id=job.town_id, address=job.address, notes=job.notes, waves_sent=job.waves_sent,
        next_wave_at=job.next_wave_at,
        lines=[LineOut(id=line.id, trade=trades[line.trade_id], headcount=line.headcount,
                       filled=line.filled, day_wage_fen=line.day_wage_fen)
               for line in sorted(job.lines, key=lambda x: x.id)])


async def create_job(request: web.Request, body: JobIn) -> JobOut:
    deps = deps_of(request)
    spec = jobs.JobSpec(
        employer_id=body.employer_id,
        lines=tuple(jobs.LineSpec(line.trade, line.headcount, line.day_wage_fen)
                    for line in body.lines),
        start_at=_local(deps.desk, body.start_at), days=body.days, daily_pay=body.daily_pay,
        town_id=body.town_id, address=body.address, notes=body.notes)
    async with deps.desk.sessions() as session, session.begin():
        job = await jobs.post_job(session, spec, market_id=deps.desk.market_id,
                                  agent=agent_of(request), now=deps.clock())
        answer = await _job_out(session, job.id)
    deps.nudge_market()  # the first wave goes out now, not at the next tick
    return answer


async def get_job(request: web.Request) -> JobOut:
    async with desk_of(request).sessions() as session:
        await jobs.load_job(session, record_id(request))
        return await _job_out(session, record_id(request))


async def change_job(request: web.Request, body: JobChangeIn) -> JobOut:
    deps = deps_of(request)
    desk = deps.desk
    async with desk.sessions() as session, session.begin():
        await jobs.change_job(
            session, record_id(request), agent=agent_of(request), now=deps.clock(),
            catalogue=desk.catalogue, timezone=desk.timezone,
            start_at=_local(desk, body.start_at) if body.start_at else None,
            address=body.address, notes=body.notes)
        answer = await _job_out(session, record_id(request))
    deps.nudge_market()
    return answer


async def cancel_job(request: web.Request) -> JobOut:
    deps = deps_of(request)
    desk = deps.desk
    async with desk.sessions() as session, session.begin():
        await jobs.cancel_job(session, record_id(request), agent=agent_of(request),
                              now=deps.clock(), catalogue=desk.catalogue,
                              timezone=desk.timezone)
        answer = await _job_out(session, record_id(request))
    deps.nudge_market()
    return answer


async def job_matches(request: web.Request) -> list[MatchOut]:
    """Who was offered the job, in which wave, and why: the score's parts."""
    async with desk_of(request).sessions() as session:
        await jobs.load_job(session, record_id(request))
        offers = await session.execute(
            select(Offer, Worker.demo).join(Worker, Worker.id == Offer.worker_id)
            .where(Offer.job_id == record_id(request)).order_by(Offer.wave, Offer.id))
        return [MatchOut(offer_id=o.id, worker_id=o.worker_id, demo_worker=demo,
                         job_line_id=o.job_line_id, wave=o.wave, status=o.status,
                         channel=o.channel, score=o.score, alerted_at=o.alerted_at,
                         held_until=o.alert_hold_until)
                for o, demo in offers]
