"""Offers a worker can hear, and taking a slot: first come, first served, never overfilled."""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ivr_flows.catalogue import Catalogue
from ivr_flows.inputs import OfferView
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
    held = select(Offer.id).where(
        Offer.job_line_id == JobLine.id, Offer.worker_id == worker.id, Offer.status.in_(HELD)
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
        .where(~held.exists())
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
    """Takes one slot of the line for the worker; False if it is full or no longer open."""
    eligible = await session.execute(
        _open_lines(today, timezone).where(JobLine.id == job_line_id)
    )
    row = eligible.first()
    if row is None:
        return False
    status = await session.scalar(
        select(Offer.status).where(Offer.job_line_id == job_line_id, Offer.worker_id == worker.id)
    )
    if status in HELD:
        return True
    took = await session.execute(
        update(JobLine)
        .where(JobLine.id == job_line_id, JobLine.filled < JobLine.headcount)
        .values(filled=JobLine.filled + 1)
    )
    if took.rowcount != 1:
        return False
    values = {
        "job_line_id": job_line_id, "worker_id": worker.id, "status": "accepted",
        "channel": channel, "created_at": now, "accepted_at": now,
    }
    if not await insert_ignoring_duplicates(
        session, Offer.__table__, values, ["job_line_id", "worker_id"]
    ):
        claimed = await session.execute(
            update(Offer)
            .where(
                Offer.job_line_id == job_line_id,
                Offer.worker_id == worker.id,
                Offer.status.not_in(HELD),
            )
            .values(status="accepted", channel=channel, accepted_at=now)
        )
        if claimed.rowcount != 1:  # a simultaneous accept by this worker got there first
            await session.execute(
                update(JobLine)
                .where(JobLine.id == job_line_id)
                .values(filled=JobLine.filled - 1)
            )
            return True
    line, job, trade_name, town = row
    await enqueue_sms(
        session,
        dedupe_key=f"reserved:{job_line_id}:{worker.id}",
        phone=worker.phone,
        body=catalogue.text(
            "sms_offer_reserved",
            trade=trade_name,
            place=town.name,
            start=job.start_at.astimezone(ZoneInfo(timezone)).strftime("%m-%d %H:%M"),
            wage=catalogue.yuan(line.day_wage_fen),
        ),
        kind="offer_reserved",
        priority=PRIORITY_REPLY,
        now=now,
    )
    return True
