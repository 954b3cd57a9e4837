"""The reminders sweep over more than a batch at once: each due reminder carried out
exactly once (one SMS each), also by two sweeps running side by side (two engines: two
processes' connections, SKIP LOCKED on PostgreSQL), and what one reminder changes seen by
the later ones of the same batch."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, insert, select, text

from market.context import MarketContext
from market.optouts import set_opt_out
from market.reminders import BATCH, run_reminders
from market.wages import WageRules
from store.db import make_engine, make_sessionmaker
from store.models import Hire, Job, JobLine, Offer, OutboundSms, PayCheck, Reminder, Worker
from tests.conftest import TEST_DATABASE_URL
from tests.market_world import CATALOGUE, EMPLOYER_PHONE, TZ

NOW = datetime(2026, 11, 24, 11, 0, tzinfo=UTC)  # 19:00 in Shanghai: pay questions go out


async def hires_asked_now(market, count: int) -> list[int]:
    """`count` hires on one job, each with one worker, its one pay check (ending today)
    and its pay question due now; returns the workers' ids."""
    job = await market.job(await market.employer(), [("welder", count, 300)],
                           days=1)
    async with market.sessions() as session, session.begin():
        line_id = await session.scalar(select(JobLine.id).where(JobLine.job_id == job.id))
        phones = [f"+86137{n:08d}" for n in range(count)]
        await session.execute(insert(Worker), [
            {"market_id": market.market_id, "phone": phone, "status": "active",
             "created_at": NOW, "priority_group": False, "jobs_completed": 0, "no_shows": 0}
            for phone in phones])
        workers = list(await session.scalars(
            select(Worker.id).where(Worker.phone.in_(phones)).order_by(Worker.phone)))
        await session.execute(insert(Offer), [
            {"job_id": job.id, "job_line_id": line_id, "worker_id": worker,
             "status": "confirmed", "channel": "sms", "wave": 1, "score": {},
             "created_at": NOW} for worker in workers])
        offers = dict((await session.execute(
            select(Offer.worker_id, Offer.id).where(Offer.job_id == job.id))).all())
        await session.execute(insert(Hire), [
            {"offer_id": offers[worker], "worker_id": worker, "job_id": job.id,
             "job_line_id": line_id, "status": "started", "contract_summary": "",
             "day_wage_fen": 30000, "days_worked": 10, "owed_fen": 300000, "paid_fen": 0,
             "created_at": NOW} for worker in workers])
        hires = list(await session.scalars(
            select(Hire.id).where(Hire.job_id == job.id).order_by(Hire.worker_id)))
        await session.execute(insert(PayCheck), [
            {"hire_id": hire, "period_start": date(2026, 11, 15),
             "period_end": date(2026, 11, 24), "owed_fen": 300000, "status": "due",
             "asks": 0} for hire in hires])
        checks = dict((await session.execute(
            select(PayCheck.hire_id, PayCheck.id).where(PayCheck.hire_id.in_(hires)))).all())
        rows = [{"kind": "pay_question", "hire_id": hire, "pay_check_id": checks[hire],
                  "due_at": NOW - timedelta(minutes=5), "status": "pending"} for hire in hires]
        await session.execute(insert(Reminder), rows)
    return workers


def sweeper(market, sessions=None) -> MarketContext:
    return MarketContext(sessions=sessions or market.sessions, market_id=market.market_id,
                         timezone=TZ, hotline="0359 212 3456", catalogue=CATALOGUE,
                         wage_rules=WageRules())


async def pay_questions(market) -> tuple[int, int]:
    """(pay-question SMS queued, phones they go to)."""
    async with market.sessions() as session:
        return tuple((await session.execute(
            select(func.count(OutboundSms.id), func.count(OutboundSms.phone.distinct()))
            .where(OutboundSms.kind == "pay_question"))).one())


async def test_more_due_than_a_batch_are_each_asked_exactly_once(market):
    due = 2 * BATCH + 37
    await hires_asked_now(market, due)
    assert await run_reminders(sweeper(market), NOW) == {"asked": due}
    assert await pay_questions(market) == (due, due)
    assert await run_reminders(sweeper(market), NOW) == {}, "nothing left, nothing twice"
    async with market.sessions() as session:
        asked = await session.scalar(select(func.count(PayCheck.id)).where(
            PayCheck.status == "asked", PayCheck.asks == 1))
        finished = await session.scalar(select(func.count(Hire.id)).where(
            Hire.status == "finished", Hire.finished_at == NOW))
        completed = await session.scalar(select(func.sum(Worker.jobs_completed)))
        next_asks = list(await session.scalars(
            select(Reminder.due_at).where(Reminder.status == "pending").distinct()))
    assert asked == finished == completed == due
    assert next_asks == [NOW + timedelta(days=1)], "asked again tomorrow at 19:00"


async def test_two_sweeps_side_by_side_ask_each_once(market, database_url):
    due = 3 * BATCH
    await hires_asked_now(market, due)
    engines = [make_engine(database_url) for _ in range(2)]
    try:
        done = await asyncio.gather(*(run_reminders(sweeper(market, make_sessionmaker(e)), NOW)
                                      for e in engines))
    finally:
        for engine in engines:
            await engine.dispose()
    assert sum(counts.get("asked", 0) for counts in done) == due
    assert all(set(counts) <= {"asked"} for counts in done), done
    assert await pay_questions(market) == (due, due)
    async with market.sessions() as session:
        assert await session.scalar(select(func.max(PayCheck.asks))) == 1


async def test_one_employer_sms_per_job_and_day_counts_those_still_asked(market):
    """Three hires of one job end today; one was asked as often as the rules allow. Its
    pay question, earlier in the batch than the employer's reminders, leaves it to
    agents (and its own employer reminder is skipped): the employer hears of the two
    still owed, once."""
    await hires_asked_now(market, 3)
    async with market.sessions() as session, session.begin():
        first = await session.scalar(select(PayCheck).order_by(PayCheck.id).limit(1))
        first.asks = WageRules().max_asks
        hires = list(await session.scalars(select(Hire.id).order_by(Hire.id)))
        checks = list(await session.scalars(select(PayCheck.id).order_by(PayCheck.id)))
        await session.execute(
            insert(Reminder),
            [{"kind": "employer_pay_due", "hire_id": hire, "pay_check_id": check,
              "due_at": NOW - timedelta(minutes=1), "status": "pending"}
             for hire, check in zip(hires, checks, strict=True)])
    assert await run_reminders(sweeper(market), NOW) == {
        "unanswered": 1, "asked": 2, "skipped": 1, "employer_reminded": 2}
    async with market.sessions() as session:
        code = await session.scalar(select(Job.code))
    assert await market.texts(EMPLOYER_PHONE) == [CATALOGUE.text(
        "sms_employer_pay_due", code=code, workers=2, amount=CATALOGUE.yuan(600000))]


async def test_a_worker_finishing_two_hires_at_once_completes_two_jobs(market):
    [worker, other] = await hires_asked_now(market, 2)
    async with market.sessions() as session, session.begin():
        second = await session.scalar(select(Hire).where(Hire.worker_id == other))
        second.worker_id = worker  # a second job of the same worker, ending the same day
    assert await run_reminders(sweeper(market), NOW) == {"asked": 2}
    async with market.sessions() as session:
        assert (await session.get(Worker, worker)).jobs_completed == 2


async def test_an_opted_out_worker_is_asked_but_sent_nothing(market):
    [quiet, asked] = await hires_asked_now(market, 2)
    async with market.sessions() as session, session.begin():
        phone = (await session.get(Worker, quiet)).phone
        await set_opt_out(session, phone, opted_out=True, keyword="TD", source="sms", now=NOW)
    assert await run_reminders(sweeper(market), NOW) == {"asked": 2}
    async with market.sessions() as session:
        statuses = dict((await session.execute(
            select(OutboundSms.phone, OutboundSms.status)
            .where(OutboundSms.kind == "pay_question"))).all())
        other = (await session.get(Worker, asked)).phone
    assert statuses == {phone: "suppressed", other: "pending"}


@pytest.mark.skipif(not TEST_DATABASE_URL.startswith("postgresql"),
                    reason="only PostgreSQL runs two writers at once")
async def test_a_sweep_that_postgresql_ends_in_a_deadlock_tries_its_batch_again(
        market, database_url):
    """Another transaction holds the key of one pay question's SMS, then waits for that
    reminder: PostgreSQL ends the sweep's transaction to break the deadlock. The sweep
    asks the others at once; the one left is asked when the other transaction is gone."""
    await hires_asked_now(market, 3)
    async with market.sessions() as session:
        held = await session.scalar(select(Reminder).order_by(Reminder.id).limit(1))
    key = f"pay_question:{held.pay_check_id}:1"
    engine = make_engine(database_url)
    try:
        async with engine.connect() as other:
            # Only the sweep's backend looks for the deadlock: it is the one ended.
            await other.execute(text("SET deadlock_timeout = '20s'"))
            await other.execute(insert(OutboundSms).values(
                dedupe_key=key, channel="sms", phone="+8613700000000", body="held",
                kind="pay_question", priority=0, status="pending", attempts=0,
                next_attempt_at=NOW, created_at=NOW, updated_at=NOW))
            sweep = asyncio.create_task(run_reminders(sweeper(market), NOW))
            await asyncio.sleep(0.5)  # the sweep waits for the key
            await other.execute(select(Reminder.id).where(Reminder.id == held.id)
                                .with_for_update())
            assert await sweep == {"asked": 2}
            await other.rollback()
    finally:
        await engine.dispose()
    assert await run_reminders(sweeper(market), NOW) == {"asked": 1}
    assert await pay_questions(market) == (3, 3)
