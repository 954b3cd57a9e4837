"""SMS answers to the questions Gigline asked: pay checks (P12 1), ratings (R7 5), job
alerts (J5), or a bare number when only one question is open; with several open the
sender is asked which. Also "到" (check in) and "欠薪" (report unpaid wages)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from basics.clock import market_today
from basics.market_views import PayAnswer
from ivr_flows.sms_flow import SmsDecision, SmsIntent
from market import cases, ratings
from market.context import MarketContext
from market.replies import open_offers, take_job_by_sms
from market.wages import answer_pay_check
from market.workers import load_worker
from store.models import Hire, Job, PayCheck, Worker
from store.statuses import UNDER_WAY, HireStatus, PayCheckStatus, StartedBy

PAY_ANSWERS = {1: PayAnswer.YES, 2: PayAnswer.NO, 3: PayAnswer.PARTLY}
# The pay checks a worker may answer by code (P12 1): all but those paid or cancelled,
# so "not paid" can be answered again once the money comes.
ANSWERABLE = (PayCheckStatus.DUE, PayCheckStatus.ASKED, PayCheckStatus.UNANSWERED,
              PayCheckStatus.UNPAID, PayCheckStatus.PARTLY)
MAX_LISTED = 4


async def open_pay_checks(session: AsyncSession, worker_id: int) -> list[PayCheck]:
    return list(await session.scalars(
        select(PayCheck).join(Hire, Hire.id == PayCheck.hire_id)
        .where(Hire.worker_id == worker_id, PayCheck.status == PayCheckStatus.ASKED)
        .order_by(PayCheck.period_end.desc())))


async def answer(session: AsyncSession, desk: MarketContext, phone: str, decision: SmsDecision,
                 now: datetime) -> str | None:
    """Returns the SMS answer (None when an SMS already queued says it all)."""
    cat = desk.catalogue
    worker = await load_worker(session, phone)
    match decision.intent:
        case SmsIntent.PAY_ANSWER:
            check = await _own_check(session, worker, decision.question_id)
            if check is None:
                return cat.text("sms_nothing_to_answer", hotline=desk.hotline)
            return await _pay(session, desk, check, decision, now)
        case SmsIntent.RATING:
            rating = next((r for r in await ratings.open_ratings(session, phone)
                           if r.id == decision.question_id), None)
            if rating is None or not await ratings.answer(session, rating, decision.value or -1,
                                                           now=now):
                return cat.text("sms_nothing_to_answer", hotline=desk.hotline)
            return cat.text("rating_thanks")
        case SmsIntent.REPORT_UNPAID if worker is not None:
            await cases.report_by_worker(session, worker, amount_fen=None, via="worker_sms",
                                         now=now, catalogue=cat,
                                         hold_employer=desk.hold_employers)
            return None
        case SmsIntent.CHECK_IN if worker is not None:
            return await _check_in(session, desk, worker, now)
        case SmsIntent.ANSWER:
            return await _bare(session, desk, phone, worker, decision, now)
    return cat.text("sms_unknown", hotline=desk.hotline)


async def _bare(session: AsyncSession, desk: MarketContext, phone: str, worker: Worker | None,
                decision: SmsDecision, now: datetime) -> str | None:
    """A bare number answers the one open question; with several, ask which."""
    cat = desk.catalogue
    offers = await open_offers(session, worker.id, now) if worker else []
    checks = await open_pay_checks(session, worker.id) if worker else []
    rates = await ratings.open_ratings(session, phone)
    codes = ([code for _, code in offers]
             + [f"P{c.id}" for c in checks] + [f"R{r.id}" for r in rates])
    if not codes:
        if worker is not None and decision.value == 1:  # "1" with no question: take a job
            return await take_job_by_sms(session, phone=phone, job_code=None, catalogue=cat,
                                         timezone=desk.timezone, hotline=desk.hotline, now=now)
        return cat.text("sms_nothing_to_answer", hotline=desk.hotline)
    if len(codes) > 1:
        listed = codes[:MAX_LISTED]
        return cat.text("sms_which_question", questions=cat.join(listed), example=listed[0])
    if checks:
        return await _pay(session, desk, checks[0], decision, now)
    if rates:
        if not await ratings.answer(session, rates[0], decision.value, now=now):
            return cat.text("sms_which_question", questions=codes[0], example=codes[0])
        return cat.text("rating_thanks")
    if decision.value != 1:
        return cat.text("sms_which_question", questions=codes[0], example=codes[0])
    return await take_job_by_sms(session, phone=phone, job_code=codes[0], catalogue=cat,
                                 timezone=desk.timezone, hotline=desk.hotline, now=now)


async def _pay(session: AsyncSession, desk: MarketContext, check: PayCheck,
               decision: SmsDecision, now: datetime) -> str:
    kind = PAY_ANSWERS.get(decision.value)
    if kind is None or (kind == PayAnswer.PARTLY and not decision.amount_fen):
        return desk.catalogue.text("wage_partly_needs_amount", check=check.id)
    try:
        return await answer_pay_check(
            session, check, answer=kind, paid_fen=decision.amount_fen, via="sms", now=now,
            rules=desk.wage_rules, catalogue=desk.catalogue, timezone=desk.timezone)
    except ValueError:
        return desk.catalogue.text("wage_partly_needs_amount", check=check.id)


async def _own_check(session: AsyncSession, worker: Worker | None,
                     check_id: int) -> PayCheck | None:
    if worker is None:
        return None
    return await session.scalar(
        select(PayCheck).join(Hire, Hire.id == PayCheck.hire_id)
        .where(PayCheck.id == check_id, Hire.worker_id == worker.id,
               PayCheck.status.in_(ANSWERABLE)))


async def _check_in(session: AsyncSession, desk: MarketContext, worker: Worker,
                    now: datetime) -> str:
    code = await check_in(session, worker, now=now, timezone=desk.timezone)
    if code is None:
        return desk.catalogue.text("sms_nothing_to_check_in")
    return desk.catalogue.text("sms_checked_in", code=code)


async def check_in(session: AsyncSession, worker: Worker, *, now: datetime,
                   timezone: str) -> str | None:
    """The worker is at the site: the hire whose days include today starts. Returns its
    job code, or None when no hire is on today."""
    today = market_today(now, timezone)
    for hire, job in await session.execute(
            select(Hire, Job).join(Job, Job.id == Hire.job_id)
            .where(Hire.worker_id == worker.id, Hire.status.in_(UNDER_WAY))):
        if market_today(job.start_at, timezone) <= today < market_today(job.end_at, timezone):
            if hire.status == HireStatus.CONFIRMED or hire.started_by == StartedBy.ASSUMED:
                hire.status, hire.started_at = HireStatus.STARTED, now
                hire.started_by = StartedBy.WORKER
            return job.code
    return None
