"""The wage loop of a hire: its pay periods, the reminders around them, and the worker's
answer to "were you paid ¥X in full?" (1 yes, 2 no, 3 partly).

Every reminder is a row due at a delivery hour in the market's time zone, never inside
quiet hours; the sweep (market/reminders.py) sends it once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from basics.clock import QuietHours
from basics.market_views import PayAnswer
from market.notices import line_facts, worker_label
from market.outbox import PRIORITY_REPLY, enqueue_sms
from prompts.catalogue import Catalogue
from store.models import Hire, Job, JobLine, PayCheck, Reminder, Worker
from store.statuses import (
    AWAITING_ANSWER,
    NOT_PAID_IN_FULL,
    HireStatus,
    PayCheckStatus,
    Rater,
    ReminderKind,
    ReminderStatus,
)

STATUS_AFTER_ANSWER = {PayAnswer.YES: PayCheckStatus.PAID, PayAnswer.NO: PayCheckStatus.UNPAID,
                       PayAnswer.PARTLY: PayCheckStatus.PARTLY}


@dataclass(frozen=True)
class WageRules:
    employer_hour: time = time(9)  # "today ¥X is due" to the employer on a pay day
    question_hour: time = time(19)  # "were you paid?" to the worker, after the day's work
    max_asks: int = 3  # unanswered questions are asked again next day, this many times
    grace: timedelta = timedelta(days=3)  # unpaid this long: a rights case opens
    late_window: timedelta = timedelta(hours=6)  # a reminder later than this is missed
    quiet: QuietHours = QuietHours(time(21), time(7))


def delivery_time(day: date, hour: time, rules: WageRules, timezone: str) -> datetime:
    """`hour` on `day` in market time, moved to the end of quiet hours if inside them."""
    wanted = datetime.combine(day, hour, ZoneInfo(timezone))
    return (rules.quiet.until(wanted, timezone) or wanted).astimezone(ZoneInfo("UTC"))


def next_delivery(now: datetime, hour: time, rules: WageRules, timezone: str) -> datetime:
    """The first delivery time at `hour` that is not in the past."""
    today = now.astimezone(ZoneInfo(timezone)).date()
    for day in (today, today + timedelta(days=1)):
        moment = delivery_time(day, hour, rules, timezone)
        if moment >= now:
            return moment
    return moment


async def plan_hire(session: AsyncSession, hire: Hire, job: Job, line: JobLine, *,
                    rules: WageRules, timezone: str) -> None:
    """At confirmation: what is owed, the pay periods, and every reminder on their days."""
    hire.job_id, hire.day_wage_fen, hire.days_worked = job.id, line.day_wage_fen, job.days
    hire.owed_fen = line.day_wage_fen * job.days
    await session.flush()
    first = job.start_at.astimezone(ZoneInfo(timezone)).date()
    last = first + timedelta(days=job.days - 1)
    periods = ([(first + timedelta(days=n),) * 2 for n in range(job.days)] if job.daily_pay
               else [(first, last)])
    session.add(Reminder(kind=ReminderKind.ASSUME_STARTED, hire_id=hire.id, due_at=job.start_at))
    for start, end in periods:
        days = (end - start).days + 1
        check = PayCheck(hire_id=hire.id, period_start=start, period_end=end,
                         owed_fen=line.day_wage_fen * days)
        session.add(check)
        await session.flush()
        session.add_all([
            Reminder(kind=ReminderKind.EMPLOYER_PAY_DUE, hire_id=hire.id, pay_check_id=check.id,
                     due_at=delivery_time(end, rules.employer_hour, rules, timezone)),
            Reminder(kind=ReminderKind.PAY_QUESTION, hire_id=hire.id, pay_check_id=check.id,
                     due_at=delivery_time(end, rules.question_hour, rules, timezone)),
        ])
    for rater in (Rater.WORKER, Rater.EMPLOYER):
        session.add(Reminder(kind=ReminderKind.RATING, hire_id=hire.id, rater=rater,
                             due_at=delivery_time(last + timedelta(days=1), rules.employer_hour,
                                                  rules, timezone)))


async def correct_owed(session: AsyncSession, hire: Hire, *, days_worked: int | None,
                       owed_fen: int | None) -> None:
    """An employer or agent corrects the days worked or the amount owed."""
    if days_worked is not None:
        hire.days_worked = days_worked
        hire.owed_fen = (hire.day_wage_fen or 0) * days_worked
    if owed_fen is not None:
        hire.owed_fen = owed_fen
    checks = list(await session.scalars(
        select(PayCheck).where(PayCheck.hire_id == hire.id).order_by(PayCheck.period_start)))
    if len(checks) == 1:  # one pay day: it owes what the hire owes
        checks[0].owed_fen = hire.owed_fen
    elif days_worked is not None:  # 日结: days not worked owe nothing
        for index, check in enumerate(checks):
            if index >= days_worked and check.status in AWAITING_ANSWER:
                check.status, check.owed_fen = PayCheckStatus.CANCELLED, 0


async def answer_pay_check(session: AsyncSession, check: PayCheck, *, answer: PayAnswer,
                           paid_fen: int | None, via: str, now: datetime, rules: WageRules,
                           catalogue: Catalogue, timezone: str) -> str:
    """`answer` is yes, no or partly (with the amount received). Unpaid: the employer
    gets a firm reminder and a rights case is due after the grace period. Returns what
    to tell the worker."""
    if answer == PayAnswer.PARTLY and (paid_fen is None or not 0 < paid_fen < check.owed_fen):
        raise ValueError("partly paid needs an amount between nothing and all")
    check.status = STATUS_AFTER_ANSWER[answer]
    check.paid_fen = {PayAnswer.YES: check.owed_fen, PayAnswer.NO: 0}.get(answer, paid_fen)
    check.answered_at, check.answered_via = now, via
    await session.execute(
        update(Reminder).where(Reminder.pay_check_id == check.id,
                               Reminder.kind == ReminderKind.PAY_QUESTION,
                               Reminder.status == ReminderStatus.PENDING)
        .values(status=ReminderStatus.CANCELLED, done_at=now))
    hire = await session.get(Hire, check.hire_id)
    checks = list(await session.scalars(select(PayCheck).where(PayCheck.hire_id == hire.id)))
    hire.paid_fen = sum(c.paid_fen or 0 for c in checks)
    if check.status not in NOT_PAID_IN_FULL:
        if all(c.status in (PayCheckStatus.PAID, PayCheckStatus.CANCELLED) for c in checks):
            hire.status = HireStatus.PAID
        return catalogue.text("wage_thanks")
    hire.status = HireStatus.UNPAID
    deadline = now + rules.grace
    session.add(Reminder(kind=ReminderKind.CASE_CHECK, hire_id=hire.id, pay_check_id=check.id,
                         due_at=deadline))
    facts = await line_facts(session, hire.job_line_id, timezone=timezone, catalogue=catalogue)
    missing = catalogue.yuan(check.owed_fen - (check.paid_fen or 0))
    worker = await session.get(Worker, hire.worker_id)
    local_deadline = deadline.astimezone(ZoneInfo(timezone))
    await enqueue_sms(
        session, dedupe_key=f"employer_unpaid:{check.id}", phone=facts.employer_phone,
        body=catalogue.text("sms_employer_unpaid", code=facts.code, worker=worker_label(worker),
                            amount=missing, period=period_text(check, catalogue),
                            deadline=catalogue.text("date", month=local_deadline.month,
                                                    day=local_deadline.day)),
        kind="employer_unpaid", priority=PRIORITY_REPLY, now=now)
    return catalogue.text("wage_unpaid_next", amount=missing, days=rules.grace.days)


def period_text(check: PayCheck, catalogue: Catalogue) -> str:
    start = catalogue.text("date", month=check.period_start.month, day=check.period_start.day)
    if check.period_start == check.period_end:
        return start
    end = catalogue.text("date", month=check.period_end.month, day=check.period_end.day)
    return f"{start}-{end}"
