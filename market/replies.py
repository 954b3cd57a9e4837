"""A worker takes a job by SMS: "1" or "接" for the one job open to them, or its code
("J101", "J101 1"). Slots go first come, first served; too late hears "already filled"
and the next job open to them, if any."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncSession

from ivr_flows.catalogue import Catalogue
from market.clock import market_today
from market.notices import line_facts
from market.offers import reserve_slot
from market.workers import load_worker
from store.models import Job, JobLine, Offer, WorkerTrade

MAX_LISTED = 4


async def open_offers(session: AsyncSession, worker_id: int,
                      now: datetime) -> list[tuple[Offer, str]]:
    """Jobs alerted to the worker that still have a slot and have not started, with
    their codes (what the worker types)."""
    return list(await session.execute(
        select(Offer, Job.code).join(Job, Job.id == Offer.job_id)
        .join(JobLine, JobLine.id == Offer.job_line_id)
        .where(Offer.worker_id == worker_id, Offer.status == "offered",
               Offer.alerted_at.is_not(None), Job.status == "open", Job.start_at > now,
               JobLine.filled < JobLine.headcount)
        .order_by(Offer.alerted_at.desc(), Offer.id.desc())
    ))


async def take_job_by_sms(session: AsyncSession, *, phone: str, job_code: str | None,
                          catalogue: Catalogue, timezone: str, hotline: str,
                          now: datetime) -> str | None:
    """Returns the SMS answer, or None when the reservation SMS itself is the answer."""
    worker = await load_worker(session, phone)
    if worker is None or worker.status != "active":
        return catalogue.text("sms_unknown", hotline=hotline)
    if job_code is None:
        offers = await open_offers(session, worker.id, now)
        if not offers:
            return catalogue.text("sms_no_open_offer")
        if len(offers) > 1:
            listed = [code for _, code in offers[:MAX_LISTED]]
            return catalogue.text("sms_which_offer", offers=catalogue.join(listed),
                                  example=listed[0])
        line_id = offers[0][0].job_line_id
    else:
        line_id = await _line_for_code(session, worker.id, job_code)
        if line_id is None:
            return catalogue.text("sms_no_open_offer")
    reserved = await reserve_slot(
        session, worker, line_id, channel="sms", now=now,
        today=market_today(now, timezone), timezone=timezone, catalogue=catalogue)
    if reserved:
        return None
    facts = await line_facts(session, line_id, timezone=timezone, catalogue=catalogue)
    answer = catalogue.text("sms_already_full", code=facts.code)
    others = [o for o, _ in await open_offers(session, worker.id, now)
              if o.job_line_id != line_id]
    if others:
        nxt = await line_facts(session, others[0].job_line_id, timezone=timezone,
                               catalogue=catalogue)
        answer += catalogue.text("sms_alert", trade=nxt.trade, wage=catalogue.yuan(nxt.wage_fen),
                                 days=nxt.days, place=nxt.place, start=nxt.start,
                                 code=nxt.code)
    return answer


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
