"""From a held slot to a hire: the employer confirms (Y123) or declines (N123) by SMS;
no answer brings one reminder, then the slot is released and the worker told."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from basics.clock import market_today
from basics.market_views import HireView
from basics.phones import spoken_number
from market.matching import day_number
from market.notices import LineFacts, line_facts, worker_label
from market.outbox import PRIORITY_REPLY, Sms, enqueue_sms
from market.wages import WageRules, correct_owed, plan_hire
from prompts.catalogue import Catalogue
from store.models import Area, Employer, Hire, Job, JobLine, Offer, Trade, Worker
from store.statuses import UNDER_WAY, Channel, HireStatus, JobStatus, OfferStatus, StartedBy

INSURANCE_OVER_DAYS = 3  # Yuncheng's rule: longer jobs need short-term accident insurance


def employer_request(offer_id: int, worker: Worker, facts: LineFacts, *,
                     catalogue: Catalogue, now: datetime) -> list[Sms]:
    """The SMS asking the employer to confirm the worker who took a slot of the line of
    `facts` (offer `offer_id`): who they are, and for a long job the insurance it needs."""
    record = (catalogue.text("worker_record", jobs=worker.jobs_completed)
              if worker.jobs_completed else catalogue.text("worker_record_new"))
    if worker.rating_avg is not None:
        record += catalogue.text("worker_rating", stars=f"{worker.rating_avg:.1f}")
    bodies = [catalogue.text("sms_employer_confirm", worker=worker_label(worker),
                             code=facts.code, trade=facts.trade, record=record, offer=offer_id)]
    if facts.days > INSURANCE_OVER_DAYS:  # its own SMS: each message fits one segment
        bodies.append(catalogue.text("sms_employer_insurance", code=facts.code, offer=offer_id))
    return [Sms(f"{kind}:{offer_id}:{now.timestamp()}", facts.employer_phone, body, kind,
                PRIORITY_REPLY)
            for kind, body in zip(("employer_confirm", "employer_insurance"), bodies,
                                  strict=False)]


async def waiting_requests(session: AsyncSession, phone: str) -> list[int]:
    """The applications waiting for this employer's Y or N, oldest first."""
    return list(await session.scalars(
        select(Offer.id).join(Job, Job.id == Offer.job_id)
        .join(Employer, Employer.id == Job.employer_id)
        .where(Employer.phone == phone, Offer.status == OfferStatus.ACCEPTED)
        .order_by(Offer.id)))


async def employer_answer(session: AsyncSession, *, phone: str, offer_id: int, hire: bool,
                          catalogue: Catalogue, timezone: str, now: datetime,
                          rules: WageRules) -> str:
    """Applies Y/N from the employer's phone; returns the SMS answer for the employer."""
    row = (await session.execute(
        select(Offer, Worker, Job, Employer)
        .join(Worker, Worker.id == Offer.worker_id)
        .join(Job, Job.id == Offer.job_id)
        .join(Employer, Employer.id == Job.employer_id)
        .where(Offer.id == offer_id)
        .with_for_update(of=Offer)
    )).first()
    if row is None or row[3].phone != phone or row[0].status != OfferStatus.ACCEPTED:
        return catalogue.text("sms_employer_unknown_offer", offer=offer_id)
    offer, worker, job, employer = row
    facts = await line_facts(session, offer.job_line_id, timezone=timezone, catalogue=catalogue)
    wage, pay = catalogue.yuan(facts.wage_fen), catalogue.text(
        "pay_daily" if job.daily_pay else "pay_at_end")
    offer.decided_at = now
    if hire:
        offer.status = OfferStatus.CONFIRMED
        summary = catalogue.text("contract_summary", employer=employer.name,
                                 worker=worker_label(worker), trade=facts.trade,
                                 address=facts.address, start=facts.start, days=job.days,
                                 wage=wage, pay=pay)
        record = Hire(offer_id=offer.id, worker_id=worker.id, job_line_id=offer.job_line_id,
                      status=HireStatus.CONFIRMED, contract_summary=summary, created_at=now,
                      insurance_confirmed=True if job.days > INSURANCE_OVER_DAYS else None)
        session.add(record)
        await session.flush()
        line = await session.get(JobLine, offer.job_line_id)
        await plan_hire(session, record, job, line, rules=rules, timezone=timezone)
        worker.last_hired_day = day_number(market_today(now, timezone))
        await _tell_worker_hired(session, worker, record, facts, catalogue=catalogue,
                                 now=now)
        return catalogue.text("sms_employer_confirmed", worker=worker_label(worker),
                              offer=offer.id)
    await _free_slot(session, offer, job, now, status=OfferStatus.DECLINED)
    await _tell_worker(session, worker, offer, "sms_worker_declined", now,
                       catalogue.text("sms_worker_declined", code=facts.code))
    return catalogue.text("sms_employer_declined", worker=worker_label(worker))


async def chase_employers(session: AsyncSession, *, wait: timedelta, catalogue: Catalogue,
                          timezone: str, now: datetime, limit: int = 100) -> tuple[int, int]:
    """One reminder after `wait`, release after another `wait`. Returns (reminded, released)."""
    due = list(await session.execute(
        select(Offer, Worker, Job).join(Worker, Worker.id == Offer.worker_id)
        .join(Job, Job.id == Offer.job_id)
        .where(Offer.status == OfferStatus.ACCEPTED, Offer.employer_asked_at <= now - wait,
               or_(Offer.employer_reminded_at.is_(None),
                   Offer.employer_reminded_at <= now - wait))
        .order_by(Offer.employer_asked_at).limit(limit)
        .with_for_update(of=Offer, skip_locked=True)
    ))
    reminded = released = 0
    for offer, worker, job in due:
        facts = await line_facts(session, offer.job_line_id, timezone=timezone,
                                 catalogue=catalogue)
        if offer.employer_reminded_at is None:
            await enqueue_sms(
                session, dedupe_key=f"employer_reminder:{offer.id}", phone=facts.employer_phone,
                body=catalogue.text("sms_employer_reminder", worker=worker_label(worker),
                                    code=facts.code, offer=offer.id),
                kind="employer_reminder", priority=PRIORITY_REPLY, now=now)
            offer.employer_reminded_at = now
            reminded += 1
        elif offer.employer_reminded_at <= now - wait:
            offer.decided_at = now
            await _free_slot(session, offer, job, now, status=OfferStatus.RELEASED)
            await _tell_worker(session, worker, offer, "sms_worker_released", now,
                               catalogue.text("sms_worker_released", code=facts.code))
            released += 1
    return reminded, released


async def _free_slot(session: AsyncSession, offer: Offer, job: Job, now: datetime, *,
                     status: OfferStatus) -> None:
    offer.status = status
    await session.execute(update(JobLine).where(JobLine.id == offer.job_line_id)
                          .values(filled=JobLine.filled - 1))
    if job.status == JobStatus.OPEN and job.start_at > now:
        job.next_wave_at = now  # the next best workers hear of the free slot


async def _tell_worker_hired(session: AsyncSession, worker: Worker, hire: Hire,
                             facts: LineFacts, *, catalogue: Catalogue,
                             now: datetime) -> None:
    """The contract summary as SMS that each fit one segment: the address and the
    employer's name, typed in by agents, get messages of their own (split when long).
    A worker who asked for calls is also called and hears it read."""
    pay = catalogue.text("pay_daily" if facts.daily_pay else "pay_at_end")
    bodies = [catalogue.text("sms_worker_hired", code=facts.code, trade=facts.trade,
                             start=facts.start, days=facts.days, pay=pay,
                             wage=catalogue.yuan(facts.wage_fen))]
    bodies += catalogue.fit("sms_worker_hired_place", "address", facts.address,
                            code=facts.code)
    bodies += catalogue.fit("sms_worker_hired_employer", "employer", facts.employer,
                            code=facts.code, phone=spoken_number(facts.employer_phone))
    if hire.insurance_confirmed:
        bodies.append(catalogue.text("sms_worker_insured", code=facts.code))
    for n, body in enumerate(bodies):
        await enqueue_sms(session, dedupe_key=f"sms_worker_hired:{hire.offer_id}:{n}",
                          phone=worker.phone, body=body, kind="sms_worker_hired",
                          priority=PRIORITY_REPLY, now=now)
    if worker.alert_channel == Channel.CALL:
        await enqueue_sms(session, dedupe_key=f"hired_call:{hire.id}", phone=worker.phone,
                          body=f"hired?hire={hire.id}",
                          kind="hired_call", priority=PRIORITY_REPLY, now=now,
                          channel=Channel.CALL)


async def hire_views(session: AsyncSession, *, worker_id: int, now: datetime, timezone: str,
                     hire_id: int | None = None, limit: int = 3) -> tuple[HireView, ...]:
    """The worker's confirmed hires not yet over, soonest first (or the one asked for)."""
    query = (
        select(Hire, Job, JobLine.day_wage_fen, Trade.name, Employer, Area.name)
        .join(Job, Job.id == Hire.job_id).join(JobLine, JobLine.id == Hire.job_line_id)
        .join(Trade, Trade.id == JobLine.trade_id)
        .join(Employer, Employer.id == Job.employer_id).join(Area, Area.id == Job.town_id)
        .where(Hire.worker_id == worker_id, Hire.status.in_(UNDER_WAY),
               Job.end_at > now)
        .order_by(Job.start_at, Hire.id).limit(limit)
    )
    if hire_id is not None:
        query = query.where(Hire.id == hire_id)
    zone = ZoneInfo(timezone)
    return tuple(
        HireView(hire_id=hire.id, job_code=job.code, trade=trade, employer=employer.name,
                 employer_phone=spoken_number(employer.phone).replace(" ", ""),
                 address=job.address or town, start_date=job.start_at.astimezone(zone).date(),
                 start_time=f"{job.start_at.astimezone(zone):%H:%M}", days=job.days,
                 day_wage_fen=wage, daily_pay=job.daily_pay, insured=hire.insurance_confirmed)
        for hire, job, wage, trade, employer, town in await session.execute(query)
    )


async def _tell_worker(session: AsyncSession, worker: Worker, offer: Offer, kind: str,
                       now: datetime, body: str) -> None:
    await enqueue_sms(session, dedupe_key=f"{kind}:{offer.id}", phone=worker.phone, body=body,
                      kind=kind, priority=PRIORITY_REPLY, now=now)


async def employer_note(session: AsyncSession, *, phone: str, offer_id: int,
                        days_worked: int | None, catalogue: Catalogue, timezone: str,
                        now: datetime) -> str:
    """The employer checks a worker in (到12) or corrects the days worked (改12 4)."""
    row = (await session.execute(
        select(Hire, Worker, Job).join(Offer, Offer.id == Hire.offer_id)
        .join(Worker, Worker.id == Hire.worker_id).join(Job, Job.id == Hire.job_id)
        .join(Employer, Employer.id == Job.employer_id)
        .where(Offer.id == offer_id, Employer.phone == phone,
               Hire.status != HireStatus.CANCELLED)
        .with_for_update(of=Hire))).first()
    if row is None:
        return catalogue.text("sms_employer_unknown_offer", offer=offer_id)
    hire, worker, job = row
    if days_worked is None:
        if hire.status == HireStatus.CONFIRMED or hire.started_by == StartedBy.ASSUMED:
            hire.status, hire.started_at = HireStatus.STARTED, now
            hire.started_by = StartedBy.EMPLOYER
        return catalogue.text("sms_employer_checked_in", worker=worker_label(worker))
    if not 0 <= days_worked <= job.days:
        return catalogue.text("sms_employer_unknown_offer", offer=offer_id)
    await correct_owed(session, hire, days_worked=days_worked, owed_fen=None)
    amount = catalogue.yuan(hire.owed_fen)
    await enqueue_sms(session, dedupe_key=f"corrected:{hire.id}:{days_worked}",
                      phone=worker.phone, kind="hire_corrected", priority=PRIORITY_REPLY,
                      now=now, body=catalogue.text("sms_worker_corrected", code=job.code,
                                                   days=days_worked, amount=amount))
    return catalogue.text("sms_employer_corrected", worker=worker_label(worker),
                          days=days_worked, amount=amount)
