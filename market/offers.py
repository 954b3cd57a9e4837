"""Offers a worker can hear, and taking a slot: first come, first served, never overfilled."""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ivr_flows.catalogue import Catalogue
from ivr_flows.inputs import OfferView
from market.hires import ask_employer
from market.notices import line_facts
from market.outbox import PRIORITY_REPLY, enqueue_sms
from store.models import Area, Employer, Job, JobLine, Offer, Trade, Worker, WorkerTrade
from store.repo import insert_ignoring_duplicates

HELD = ("accepted", "confirmed")
MAX_OFFERS_READ = 10


def _open_lines(today: date, timezone: str):
    start_of_today = datetime.combine(today, time(0), ZoneInfo(timezone))
    return (
        select(JobLine, Job, Trade.name, Area)
        .join(Job, Job.id == JobLine.job_id)
        .join(Employer, Employer.id == Job.employer_id)
        .join(Trade, Trade.id == JobLine.trade_id)
        .join(Area, Area.id == Job.town_id)
        .where(
            Job.status == "open",
            Employer.verification == "verified",
            JobLine.filled < JobLine.headcount,
            Job.start_at >= start_of_today,
        )
    )


async def find_offers(
    session: AsyncSession, worker: Worker, *, today: date, timezone: str
) -> tuple[OfferView, ...]:
    """Open lines of verified employers in the worker's trades, nearest first."""
    # Jobs the worker already holds, or was turned down or released from, are not read.
    settled = select(Offer.id).where(
        Offer.job_id == Job.id, Offer.worker_id == worker.id, Offer.status != "offered"
    )
    nearness = case(
        (Job.town_id == worker.town_id, 0),
        (Area.parent_id == worker.district_id, 1),
        else_=2,
    )
    query = (
        _open_lines(today, timezone)
        .join(
            WorkerTrade,
            and_(WorkerTrade.trade_id == JobLine.trade_id, WorkerTrade.worker_id == worker.id),
        )
        .where(~settled.exists())
        .order_by(nearness, Job.start_at, JobLine.day_wage_fen.desc(), JobLine.id)
        .limit(MAX_OFFERS_READ)
    )
    zone = ZoneInfo(timezone)
    return tuple(
        OfferView(
            job_line_id=line.id,
            job_code=job.code,
            trade=trade_name,
            day_wage_fen=line.day_wage_fen,
            days=job.days,
            place=town.name,
            start_date=job.start_at.astimezone(zone).date(),
        )
        for line, job, trade_name, town in await session.execute(query)
    )


async def reserve_slot(
    session: AsyncSession,
    worker: Worker,
    job_line_id: int,
    *,
    channel: str,
    now: datetime,
    today: date,
    timezone: str,
    catalogue: Catalogue,
) -> bool:
    """Takes one slot of the line for the worker; False if it is full or no longer open.

    Atomic on any database: the slot is counted by a conditional UPDATE, so with 10 slots
    and a crowd of accepts exactly 10 succeed. The employer is then asked to confirm."""
    row = (await session.execute(
        _open_lines(today, timezone).where(JobLine.id == job_line_id)
    )).first()
    if row is None:
        return False
    line, job, _, _ = row
    # One accept at a time per worker, so two overlapping jobs cannot both be taken.
    await session.execute(select(Worker.id).where(Worker.id == worker.id).with_for_update())
    status = await session.scalar(
        select(Offer.status).where(Offer.job_id == job.id, Offer.worker_id == worker.id)
    )
    if status in HELD:
        return True
    if status is None and await _holds_overlapping(session, worker.id, job):
        return False
    took = await session.execute(
        update(JobLine)
        .where(JobLine.id == job_line_id, JobLine.filled < JobLine.headcount)
        .values(filled=JobLine.filled + 1)
    )
    if took.rowcount != 1:
        return False
    values = {
        "job_id": job.id, "job_line_id": job_line_id, "worker_id": worker.id,
        "status": "accepted", "channel": channel, "wave": 0, "score": {},
        "created_at": now, "accepted_at": now,
    }
    if not await insert_ignoring_duplicates(session, Offer.__table__, values):
        claimed = await session.execute(
            update(Offer)
            .where(Offer.job_id == job.id, Offer.worker_id == worker.id,
                   Offer.status.not_in(HELD))
            .values(status="accepted", job_line_id=job_line_id, channel=channel,
                    accepted_at=now)
        )
        if claimed.rowcount != 1:  # a simultaneous accept by this worker got there first
            await session.execute(
                update(JobLine).where(JobLine.id == job_line_id)
                .values(filled=JobLine.filled - 1)
            )
            return True
    offer = await session.scalar(
        select(Offer).where(Offer.job_id == job.id, Offer.worker_id == worker.id)
    )
    await ask_employer(session, offer, worker, catalogue=catalogue, timezone=timezone,
                       now=now)
    facts = await line_facts(session, job_line_id, timezone=timezone, catalogue=catalogue)
    await enqueue_sms(
        session,
        dedupe_key=f"reserved:{offer.id}:{now.timestamp()}",
        phone=worker.phone,
        body=catalogue.text("sms_offer_reserved", trade=facts.trade, place=facts.place,
                            start=facts.start, wage=catalogue.yuan(facts.wage_fen)),
        kind="offer_reserved",
        priority=PRIORITY_REPLY,
        now=now,
    )
    return True


async def _holds_overlapping(session: AsyncSession, worker_id: int, job: Job) -> bool:
    """No worker is hired twice for the same days."""
    return bool(await session.scalar(
        select(Offer.id).join(Job, Job.id == Offer.job_id)
        .where(Offer.worker_id == worker_id, Offer.status.in_(HELD), Job.id != job.id,
               Job.start_at < job.end_at, Job.end_at > job.start_at)
        .limit(1)
    ))


async def offer_view(session: AsyncSession, offer_id: int, phone: str, *,
                     timezone: str) -> OfferView | None:
    row = (await session.execute(
        select(JobLine, Job, Trade.name, Area.name)
        .join(Offer, Offer.job_line_id == JobLine.id)
        .join(Worker, Worker.id == Offer.worker_id)
        .join(Job, Job.id == JobLine.job_id)
        .join(Trade, Trade.id == JobLine.trade_id)
        .join(Area, Area.id == Job.town_id)
        .where(Offer.id == offer_id, Worker.phone == phone)
    )).first()
    if row is None:
        return None
    line, job, trade, town = row
    return OfferView(job_line_id=line.id, job_code=job.code, trade=trade,
                     day_wage_fen=line.day_wage_fen, days=job.days, place=town,
                     start_date=job.start_at.astimezone(ZoneInfo(timezone)).date())
