"""The reminders sweep: claims due reminders and carries each out once. One that fell
due while Gigline was down goes out when it comes back, within the late window;
beyond it, it is marked missed, and agents see it (GET /api/reminders?status=missed)."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from market import cases, ratings
from market.context import MarketContext
from market.notices import line_facts
from market.outbox import PRIORITY_NOTICE, enqueue_sms
from market.wages import delivery_time, period_text
from store.models import Hire, PayCheck, Reminder, Worker
from store.statuses import (
    AWAITING_ANSWER,
    UNDER_WAY,
    Channel,
    HireStatus,
    PayCheckStatus,
    ReminderKind,
    ReminderStatus,
    StartedBy,
)

BATCH = 500


async def run_reminders(ctx: MarketContext, now: datetime) -> dict[str, int]:
    """Carries out what is due, a batch per transaction; returns counts by outcome."""
    counts: dict[str, int] = {}
    while True:
        async with ctx.sessions() as session, session.begin():
            due = list(await session.scalars(
                select(Reminder).where(Reminder.status == ReminderStatus.PENDING,
                                       Reminder.due_at <= now)
                .order_by(Reminder.due_at, Reminder.id).limit(BATCH)
                .with_for_update(skip_locked=True)))
            for reminder in due:
                if now - reminder.due_at > ctx.wage_rules.late_window:
                    reminder.status, outcome = ReminderStatus.MISSED, "missed"
                else:
                    outcome = await _carry_out(session, ctx, reminder, now)
                    reminder.status = ReminderStatus.DONE
                reminder.done_at = now
                counts[outcome] = counts.get(outcome, 0) + 1
        if len(due) < BATCH:
            return counts


async def _carry_out(session: AsyncSession, ctx: MarketContext, reminder: Reminder,
                     now: datetime) -> str:
    hire = await session.get(Hire, reminder.hire_id)
    if hire.status == HireStatus.CANCELLED:
        return "skipped"
    check = await session.get(PayCheck, reminder.pay_check_id) if reminder.pay_check_id else None
    match reminder.kind:
        case ReminderKind.ASSUME_STARTED:
            if hire.status == HireStatus.CONFIRMED:
                hire.status, hire.started_at = HireStatus.STARTED, now
                hire.started_by = StartedBy.ASSUMED
            return "started"
        case ReminderKind.EMPLOYER_PAY_DUE:
            return await _employer_pay_due(session, ctx, hire, check, now)
        case ReminderKind.PAY_QUESTION:
            return await _ask_worker(session, ctx, hire, check, now)
        case ReminderKind.CASE_CHECK:
            case = await cases.unpaid_past_grace(session, check, now=now,
                                                 catalogue=ctx.catalogue,
                                                 hold_employer=ctx.hold_employers)
            return "case_opened" if case else "paid_meanwhile"
        case ReminderKind.RATING:
            await ratings.ask(session, hire, reminder.rater, now=now, catalogue=ctx.catalogue,
                              timezone=ctx.timezone)
            return "rating_asked"
    raise ValueError(f"unknown reminder kind {reminder.kind!r}")


async def _employer_pay_due(session: AsyncSession, ctx: MarketContext, hire: Hire,
                            check: PayCheck, now: datetime) -> str:
    """One SMS per job and pay day, however many workers are due."""
    if check.status not in AWAITING_ANSWER:
        return "skipped"
    workers, total = (await session.execute(
        select(func.count(PayCheck.id), func.sum(PayCheck.owed_fen))
        .join(Hire, Hire.id == PayCheck.hire_id)
        .where(Hire.job_id == hire.job_id, PayCheck.period_end == check.period_end,
               PayCheck.status.in_(AWAITING_ANSWER), Hire.status != HireStatus.CANCELLED)
    )).one()
    facts = await line_facts(session, hire.job_line_id, timezone=ctx.timezone,
                             catalogue=ctx.catalogue)
    await enqueue_sms(
        session, dedupe_key=f"employer_pay_due:{hire.job_id}:{check.period_end.isoformat()}",
        phone=facts.employer_phone,
        body=ctx.catalogue.text("sms_employer_pay_due", code=facts.code, workers=workers,
                                 amount=ctx.catalogue.yuan(int(total or 0))),
        kind="employer_pay_due", priority=PRIORITY_NOTICE, now=now)
    return "employer_reminded"


async def _ask_worker(session: AsyncSession, ctx: MarketContext, hire: Hire, check: PayCheck,
                      now: datetime) -> str:
    if check.status not in AWAITING_ANSWER:
        return "skipped"
    last_day = await session.scalar(
        select(func.max(PayCheck.period_end)).where(PayCheck.hire_id == hire.id))
    if check.period_end == last_day and hire.status in UNDER_WAY:
        hire.status, hire.finished_at = HireStatus.FINISHED, now
        worker = await session.get(Worker, hire.worker_id)
        worker.jobs_completed += 1
    if check.asks >= ctx.wage_rules.max_asks:
        check.status = PayCheckStatus.UNANSWERED  # agents see it; nothing more is asked
        return "unanswered"
    check.asks += 1
    check.status = PayCheckStatus.ASKED
    worker = await session.get(Worker, hire.worker_id)
    facts = await line_facts(session, hire.job_line_id, timezone=ctx.timezone,
                             catalogue=ctx.catalogue)
    if worker.alert_channel == Channel.CALL:
        body, channel = f"pay?check={check.id}", Channel.CALL
    else:
        body, channel = ctx.catalogue.text(
            "sms_pay_question", code=facts.code, period=period_text(check, ctx.catalogue),
            amount=ctx.catalogue.yuan(check.owed_fen)), Channel.SMS
    await enqueue_sms(session, dedupe_key=f"pay_question:{check.id}:{check.asks}",
                      phone=worker.phone, body=body, kind="pay_question",
                      priority=PRIORITY_NOTICE, now=now, channel=channel)
    tomorrow = now.astimezone(ZoneInfo(ctx.timezone)).date() + timedelta(days=1)
    rules = ctx.wage_rules
    session.add(Reminder(kind=ReminderKind.PAY_QUESTION, hire_id=hire.id, pay_check_id=check.id,
                         due_at=delivery_time(tomorrow, rules.question_hour, rules,
                                              ctx.timezone)))
    return "asked"

