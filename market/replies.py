"""A worker takes a job by SMS: "1" or "接" for the one job open to them, or its code
("J101", "J101 1"). Slots go first come, first served; too late hears "already filled"
and the next job open to them, if any. Every refusal says which: full, days taken, or
not open to this worker."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncSession

from basics.clock import market_today
from market.notices import line_facts
from market.offers import NOT_OPEN, OVERLAP, RESERVED, reserve_slot
from market.workers import load_worker
from prompts.catalogue import Catalogue
from store.models import Job, JobLine, Offer, WorkerTrade
from store.statuses import JobStatus, OfferChannel, OfferStatus, WorkerStatus

MAX_LISTED = 4


async def open_offers(session: AsyncSession, worker_id: int,
                      now: datetime) -> list[tuple[Offer, str]]:
    """Jobs alerted to the worker that still have a slot and have not started, with
    their codes (what the worker types)."""
    return list(await session.execute(
        select(Offer, Job.code).join(Job, Job.id == Offer.job_id)
        .join(JobLine, JobLine.id == Offer.job_line_id)
        .where(Offer.worker_id == worker_id, Offer.status == OfferStatus.OFFERED,
               Offer.alerted_at.is_not(None), Job.status == JobStatus.OPEN, Job.start_at > now,
               JobLine.filled < JobLine.headcount)
        .order_by(Offer.alerted_at.desc(), Offer.id.desc())
    ))


async def take_job_by_sms(session: AsyncSession, *, phone: str, job_code: str | None,
                          catalogue: Catalogue, timezone: str, hotline: str,
                          now: datetime) -> str | None:
    """Returns the SMS answer, or None when the reservation SMS itself is the answer."""
    worker = await load_worker(session, phone)
    if worker is None or worker.status != WorkerStatus.ACTIVE:
        return catalogue.text("sms_unknown", hotline=hotline)
    if job_code is None:
        offers = await open_offers(session, worker.id, now)
        if not offers:
            missed = await _alerted_and_filled(session, worker.id, now)
            if missed is not None:  # the "1" came after the line it answers filled
                return catalogue.text("sms_already_full", code=missed)
            return catalogue.text("sms_no_open_offer")
        if len(offers) > 1:
            listed = [code for _, code in offers[:MAX_LISTED]]
            return catalogue.text("sms_which_offer", offers=catalogue.join(listed),
                                  example=listed[0])
        line_id = offers[0][0].job_line_id
    else:
        line_id = await _line_for_code(session, worker.id, job_code)
        if line_id is None:
            return catalogue.text("sms_not_open", code=job_code, hotline=hotline)
    outcome = await reserve_slot(
        session, worker, line_id, channel=OfferChannel.SMS, now=now,
        today=market_today(now, timezone), timezone=timezone, catalogue=catalogue)
    if outcome == RESERVED:
        return None
    facts = await line_facts(session, line_id, timezone=timezone, catalogue=catalogue)
    if outcome == NOT_OPEN:
        return catalogue.text("sms_not_open", code=facts.code, hotline=hotline)
    if outcome == OVERLAP:
        return catalogue.text("sms_overlap", code=facts.code)
    others = [code for o, code in await open_offers(session, worker.id, now)
              if o.job_line_id != line_id]
    if others:  # alerted already: its code is enough, and the answer stays one SMS
        return catalogue.text("sms_already_full_next", code=facts.code, next=others[0])
    return catalogue.text("sms_already_full", code=facts.code)


async def _alerted_and_filled(session: AsyncSession, worker_id: int,
                              now: datetime) -> str | None:
    """The code of the job the worker was last alerted to, if it is still to start and
    its line has filled since."""
    row = (await session.execute(
        select(Job.code, JobLine.filled >= JobLine.headcount)
        .join(Offer, Offer.job_id == Job.id).join(JobLine, JobLine.id == Offer.job_line_id)
        .where(Offer.worker_id == worker_id, Offer.status == OfferStatus.OFFERED,
               Offer.alerted_at.is_not(None), Job.status == JobStatus.OPEN, Job.start_at > now)
        .order_by(Offer.alerted_at.desc(), Offer.id.desc()).limit(1)
    )).first()
    return row[0] if row is not None and row[1] else None


async def _line_for_code(session: AsyncSession, worker_id: int, code: str) -> int | None:
    """The line offered to the worker on that job, else the job's first line."""
    job = await session.scalar(select(Job).where(Job.code == code))
    if job is None:
        return None
    offered = await session.scalar(
        select(Offer.job_line_id).where(Offer.job_id == job.id, Offer.worker_id == worker_id))
    return offered or await session.scalar(
        select(JobLine.id)
        .join(WorkerTrade, and_(WorkerTrade.trade_id == JobLine.trade_id,
                                WorkerTrade.worker_id == worker_id))
        .where(JobLine.job_id == job.id).order_by(JobLine.id).limit(1))
