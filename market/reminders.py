"""The reminders sweep: claims due reminders and carries each out once. One that fell
due while Gigline was down goes out when it comes back, within the late window;
beyond it, it is marked missed, and agents see it (GET /api/reminders?status=missed).

A batch is claimed per transaction, `SKIP LOCKED` on PostgreSQL, so sweeps in several
processes take different rows. It is carried out set-based: what the batch's reminders
need (hires, pay checks, workers, the jobs' facts, what a job owes on a day) is read in
a few queries, each reminder is decided in due order on those values as if it were
carried out alone, and the SMS, the new reminders and the changed rows are written in a
few statements. A rights-case check goes through the cases' own rule, one at a time:
the reminders before it are written first, and those after it read what it left."""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Row, func, insert, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from market import cases, ratings
from market.context import MarketContext
from market.notices import lines_facts, worker_label
from market.outbox import Sms, enqueue_many
from market.wages import delivery_time, period_text
from store.db import lost_to_another_transaction
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
MISSED = "missed"
DEADLOCK_RETRIES = 3
log = logging.getLogger(__name__)

HIRES, CHECKS, WORKERS, REMINDERS = (Hire.__table__, PayCheck.__table__, Worker.__table__,
                                     Reminder.__table__)


async def run_reminders(ctx: MarketContext, now: datetime) -> dict[str, int]:
    """Carries out what is due, a batch per transaction; returns counts by outcome. A
    batch PostgreSQL ended to break a deadlock with another transaction (another
    process's sweep writing the same employer's SMS) is claimed and carried out again:
    nothing of it was written."""
    counts: Counter = Counter()
    deadlocks = 0
    while True:
        try:
            claimed, outcomes = await _batch(ctx, now)
        except DBAPIError as error:
            deadlocks += 1
            if not lost_to_another_transaction(error) or deadlocks > DEADLOCK_RETRIES:
                raise
            log.warning("a reminders batch ended in a deadlock: claiming it again")
            continue
        counts.update(outcomes)
        if claimed < BATCH:
            return dict(counts)


async def _batch(ctx: MarketContext, now: datetime) -> tuple[int, list[str]]:
    """Claims up to BATCH due reminders and carries them out in one transaction: how many
    it claimed and the outcome of each."""
    async with ctx.sessions() as session, session.begin():
        due = (await session.execute(
            select(Reminder.id, Reminder.kind, Reminder.hire_id, Reminder.pay_check_id,
                   Reminder.rater, Reminder.due_at)
            .where(Reminder.status == ReminderStatus.PENDING, Reminder.due_at <= now)
            .order_by(Reminder.due_at, Reminder.id).limit(BATCH)
            .with_for_update(skip_locked=True))).all()
        outcomes: list[str] = []
        for part, alone in _parts(due, now - ctx.wage_rules.late_window):
            if alone:
                outcomes.append(await _check_case(session, ctx, part[0], now))
            else:
                outcomes += await _carry_out(session, ctx, part, now)
        for status, missed in ((ReminderStatus.DONE, False), (ReminderStatus.MISSED, True)):
            ids = [r.id for r, outcome in zip(due, outcomes, strict=True)
                   if (outcome == MISSED) == missed]
            if ids:
                await session.execute(update(REMINDERS).where(REMINDERS.c.id.in_(ids))
                                      .values(status=status, done_at=now))
    return len(due), outcomes


def _parts(due: Sequence[Row], late_before: datetime) -> Iterator[tuple[list[Row], bool]]:
    """The batch in due order, cut around the rights-case checks to carry out (each
    alone): (reminders, alone)."""
    part: list[Row] = []
    for reminder in due:
        if reminder.kind == ReminderKind.CASE_CHECK and reminder.due_at >= late_before:
            if part:
                yield part, False
                part = []
            yield [reminder], True
        else:
            part.append(reminder)
    if part:
        yield part, False


async def _check_case(session: AsyncSession, ctx: MarketContext, reminder: Row,
                      now: datetime) -> str:
    hire = await session.get(Hire, reminder.hire_id)
    if hire.status == HireStatus.CANCELLED:
        outcome = "skipped"
    else:
        check = await session.get(PayCheck, reminder.pay_check_id)
        case = await cases.unpaid_past_grace(session, check, now=now, catalogue=ctx.catalogue,
                                             hold_employer=ctx.hold_employers)
        outcome = "case_opened" if case else "paid_meanwhile"
    await session.flush()
    session.expunge_all()  # the reminders after it read the rows afresh
    return outcome


@dataclass(slots=True)
class _Hire:
    id: int
    status: str
    worker_id: int
    job_id: int | None
    job_line_id: int


@dataclass(slots=True)
class _Check:
    id: int
    hire_id: int
    period_start: date
    period_end: date
    owed_fen: int
    status: str
    asks: int


@dataclass(slots=True)
class _Owed:
    """What a job owes on a pay day: its workers still to answer, and their sum."""

    workers: int = 0
    fen: int = 0


async def _carry_out(session: AsyncSession, ctx: MarketContext, reminders: list[Row],
                     now: datetime) -> list[str]:
    """The outcome of each reminder, in order; none of them is a case check to carry out."""
    rules, catalogue = ctx.wage_rules, ctx.catalogue
    live = [r for r in reminders if now - r.due_at <= rules.late_window]
    hires = {row.id: _Hire(*row) for row in await _rows(
        session, select(Hire.id, Hire.status, Hire.worker_id, Hire.job_id, Hire.job_line_id),
        Hire.id, {r.hire_id for r in live})}
    acting = [r for r in live if hires[r.hire_id].status != HireStatus.CANCELLED]
    checks = {row.id: _Check(*row) for row in await _rows(
        session, select(PayCheck.id, PayCheck.hire_id, PayCheck.period_start,
                        PayCheck.period_end, PayCheck.owed_fen, PayCheck.status, PayCheck.asks),
        PayCheck.id, {r.pay_check_id for r in acting if r.pay_check_id is not None})}
    asking = {r.hire_id for r in acting if r.kind == ReminderKind.PAY_QUESTION}
    last_days = dict(await _rows(  # each hire's last pay day: its question ends the hire
        session, select(PayCheck.hire_id, func.max(PayCheck.period_end))
        .group_by(PayCheck.hire_id), PayCheck.hire_id, asking))
    owed = await _owed(session, {
        (hires[r.hire_id].job_id, checks[r.pay_check_id].period_end) for r in acting
        if r.kind == ReminderKind.EMPLOYER_PAY_DUE
        and checks[r.pay_check_id].status in AWAITING_ANSWER})
    messaging = [r for r in acting if r.kind in (ReminderKind.EMPLOYER_PAY_DUE,
                                                 ReminderKind.PAY_QUESTION, ReminderKind.RATING)]
    workers = {row.id: row for row in await _rows(
        session, select(Worker.id, Worker.phone, Worker.name, Worker.alert_channel),
        Worker.id, {hires[r.hire_id].worker_id for r in messaging
                    if r.kind != ReminderKind.EMPLOYER_PAY_DUE})}
    facts = await lines_facts(session, {hires[r.hire_id].job_line_id for r in messaging},
                              timezone=ctx.timezone, catalogue=catalogue)
    rating_ids = await ratings.ask_many(
        session, [(r.hire_id, r.rater) for r in acting if r.kind == ReminderKind.RATING],
        now=now)
    tomorrow = now.astimezone(ZoneInfo(ctx.timezone)).date() + timedelta(days=1)
    next_ask = delivery_time(tomorrow, rules.question_hour, rules, ctx.timezone)

    outcomes: list[str] = []
    messages: list[Sms] = []
    started: list[int] = []
    finished: list[int] = []
    completed: Counter[int] = Counter()  # jobs completed, by worker
    changed: dict[int, _Check] = {}
    asks_again: list[dict] = []
    for reminder in reminders:
        hire = hires.get(reminder.hire_id)
        check = checks.get(reminder.pay_check_id)
        if now - reminder.due_at > rules.late_window:
            outcomes.append(MISSED)
        elif hire.status == HireStatus.CANCELLED:
            outcomes.append("skipped")
        elif reminder.kind == ReminderKind.ASSUME_STARTED:
            if hire.status == HireStatus.CONFIRMED:
                hire.status = HireStatus.STARTED
                started.append(hire.id)
            outcomes.append("started")
        elif reminder.kind == ReminderKind.EMPLOYER_PAY_DUE:
            # One SMS per job and pay day, however many workers are due.
            if check.status not in AWAITING_ANSWER:
                outcomes.append("skipped")
                continue
            job_day = owed[(hire.job_id, check.period_end)]
            messages.append(Sms(
                dedupe_key=f"employer_pay_due:{hire.job_id}:{check.period_end.isoformat()}",
                phone=facts[hire.job_line_id].employer_phone,
                body=catalogue.text("sms_employer_pay_due", code=facts[hire.job_line_id].code,
                                    workers=job_day.workers, amount=catalogue.yuan(job_day.fen)),
                kind="employer_pay_due"))
            outcomes.append("employer_reminded")
        elif reminder.kind == ReminderKind.PAY_QUESTION:
            if check.status not in AWAITING_ANSWER:
                outcomes.append("skipped")
                continue
            if check.period_end == last_days[hire.id] and hire.status in UNDER_WAY:
                hire.status = HireStatus.FINISHED
                finished.append(hire.id)
                completed[hire.worker_id] += 1
            changed[check.id] = check
            if check.asks >= rules.max_asks:
                check.status = PayCheckStatus.UNANSWERED  # agents see it; nothing more is asked
                job_day = owed.get((hire.job_id, check.period_end))
                if job_day is not None:  # no longer owed on that day's employer reminder
                    job_day.workers -= 1
                    job_day.fen -= check.owed_fen
                outcomes.append("unanswered")
                continue
            check.asks += 1
            check.status = PayCheckStatus.ASKED
            worker = workers[hire.worker_id]
            if worker.alert_channel == Channel.CALL:
                body, channel = f"pay?check={check.id}", Channel.CALL
            else:
                body, channel = catalogue.text(
                    "sms_pay_question", code=facts[hire.job_line_id].code,
                    period=period_text(check, catalogue),
                    amount=catalogue.yuan(check.owed_fen)), Channel.SMS
            messages.append(Sms(dedupe_key=f"pay_question:{check.id}:{check.asks}",
                                phone=worker.phone, body=body, kind="pay_question",
                                channel=channel))
            asks_again.append({"kind": ReminderKind.PAY_QUESTION, "hire_id": hire.id,
                               "pay_check_id": check.id, "rater": None, "due_at": next_ask,
                               "status": ReminderStatus.PENDING})
            outcomes.append("asked")
        elif reminder.kind == ReminderKind.RATING:
            rating_id = rating_ids[(hire.id, reminder.rater)]
            worker = workers[hire.worker_id]
            phone, body = ratings.question(reminder.rater, rating_id, facts[hire.job_line_id],
                                           worker.phone, worker_label(worker), catalogue)
            messages.append(Sms(dedupe_key=f"rating:{rating_id}", phone=phone, body=body,
                                kind="rating"))
            outcomes.append("rating_asked")
        else:
            raise ValueError(f"unknown reminder kind {reminder.kind!r}")

    await enqueue_many(session, messages, now=now)
    if started:
        await session.execute(update(HIRES).where(HIRES.c.id.in_(started)).values(
            status=HireStatus.STARTED, started_at=now, started_by=StartedBy.ASSUMED))
    if finished:
        await session.execute(update(HIRES).where(HIRES.c.id.in_(finished)).values(
            status=HireStatus.FINISHED, finished_at=now))
    by_count: defaultdict[int, list[int]] = defaultdict(list)
    for worker_id, count in completed.items():
        by_count[count].append(worker_id)
    for count, ids in by_count.items():
        await session.execute(update(WORKERS).where(WORKERS.c.id.in_(ids)).values(
            jobs_completed=WORKERS.c.jobs_completed + count))
    by_state: defaultdict[tuple[str, int], list[int]] = defaultdict(list)
    for check in changed.values():
        by_state[(check.status, check.asks)].append(check.id)
    for (status, asks), ids in by_state.items():
        await session.execute(update(CHECKS).where(CHECKS.c.id.in_(ids)).values(
            status=status, asks=asks))
    if asks_again:
        await session.execute(insert(REMINDERS), asks_again)
    return outcomes


async def _rows(session: AsyncSession, query, key, ids: set) -> list[Row]:
    """The rows of `query` whose `key` is one of `ids` (none asked, no query)."""
    if not ids:
        return []
    return list(await session.execute(query.where(key.in_(ids))))


async def _owed(session: AsyncSession, job_days: set[tuple[int, date]]) -> dict[
        tuple[int, date], _Owed]:
    """By (job, pay day): its workers still to answer whether they were paid, and what
    they are owed."""
    if not job_days:
        return {}
    found = await session.execute(
        select(Hire.job_id, PayCheck.period_end, func.count(PayCheck.id),
               func.sum(PayCheck.owed_fen))
        .join(Hire, Hire.id == PayCheck.hire_id)
        .where(Hire.job_id.in_({job for job, _ in job_days}),
               PayCheck.period_end.in_({day for _, day in job_days}),
               PayCheck.status.in_(AWAITING_ANSWER), Hire.status != HireStatus.CANCELLED)
        .group_by(Hire.job_id, PayCheck.period_end))
    owed = {(job, day): _Owed(workers, int(fen or 0)) for job, day, workers, fen in found}
    return {job_day: owed.get(job_day, _Owed()) for job_day in job_days}
