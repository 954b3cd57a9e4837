"""Whole wage life-cycles with an injected clock: pay questions at their delivery hours,
unpaid wages escalating to a rights case, ratings, restarts and quiet hours."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
from sqlalchemy import select

from market import cases
from market.optouts import set_opt_out
from market.reminders import run_reminders
from market.wages import WageRules, delivery_time
from store.db import connection_unit, sessions_engine
from store.models import (
    CaseEvent,
    CaseWorker,
    Employer,
    Hire,
    Offer,
    OutboundSms,
    PayCheck,
    Reminder,
    RightsCase,
    Worker,
)
from tests.market_world import CATALOGUE, EMPLOYER_PHONE, TZ

WORKER = "+8613800000001"
RULES = WageRules()


def local(day: int, hour: int, minute: int = 0) -> datetime:
    """A time on 2026-11-<day> in Shanghai, as UTC."""
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC) - timedelta(hours=8)


async def hired(market, *, days: int, daily_pay: bool = False, phone: str = WORKER,
                channel: str | None = None) -> Hire:
    """A confirmed hire on a job starting 2026-11-24 07:00 (the clock: 11-23 09:30)."""
    employer = await market.employer()
    await market.worker(phone, ["welder"], "北城街道", alert_channel=channel)
    job = await market.job(employer, [("welder", 1, 300)], days=days,
                           start_in=local(24, 7) - market.clock())
    if daily_pay:
        async with market.sessions() as session, session.begin():
            from store.models import Job

            (await session.get(Job, job.id)).daily_pay = True
    await market.waves()
    assert await market.reply(phone, job.code) is None
    offer = (await market.offers(job.id))[0]
    assert "已录用" in await market.reply(EMPLOYER_PHONE, f"Y{offer.id}")
    async with market.sessions() as session:
        return await session.scalar(select(Hire).where(Hire.offer_id == offer.id))


async def sweep_once(market, at: datetime) -> dict[str, int]:
    """One sweep at `at`, as after Gigline was down until then."""
    market.clock.now = at
    return await run_reminders(market.context, at)


async def sweep(market, at: datetime) -> dict[str, int]:
    """Time runs on to `at` with the sweep running all along (each reminder on time);
    returns what was done at `at` itself."""
    while True:
        async with market.sessions() as session:
            due = await session.scalar(
                select(Reminder.due_at).where(Reminder.status == "pending",
                                              Reminder.due_at < at)
                .order_by(Reminder.due_at).limit(1))
        if due is None:
            return await sweep_once(market, at)
        await sweep_once(market, max(due, market.clock()))


async def reload(market, model, ident):
    async with market.sessions() as session:
        return await session.get(model, ident)


async def checks(market, hire: Hire) -> list[PayCheck]:
    async with market.sessions() as session:
        return list(await session.scalars(select(PayCheck).where(PayCheck.hire_id == hire.id)
                                          .order_by(PayCheck.period_start)))


async def last_text(market, phone: str) -> str:
    return (await market.texts(phone))[-1]


async def test_a_ten_day_job_paid_in_full_then_both_sides_rate(market):
    hire = await hired(market, days=10)
    assert hire.owed_fen == 300000 and hire.days_worked == 10
    [check] = await checks(market, hire)
    assert (check.period_start.isoformat(), check.period_end.isoformat()) == \
        ("2026-11-24", "2026-12-03")
    assert (await sweep(market, local(24, 7, 1))) == {}
    assert (await reload(market, Hire, hire.id)).status == "started"
    assert (await reload(market, Hire, hire.id)).started_by == "assumed"
    assert await sweep(market, local(25, 12)) == {}, "nothing due in the middle of the job"
    assert await sweep(market, datetime(2026, 12, 3, 1, 0, tzinfo=UTC)) == \
        {"employer_reminded": 1}
    assert "今天应付" in await last_text(market, EMPLOYER_PHONE)
    assert "900" not in await last_text(market, EMPLOYER_PHONE)
    assert "3000元" in await last_text(market, EMPLOYER_PHONE)
    assert await sweep(market, datetime(2026, 12, 3, 11, 0, tzinfo=UTC)) == {"asked": 1}
    question = await last_text(market, WORKER)
    assert "回1付清" in question and "3000元" in question
    assert "谢谢" in await market.reply(WORKER, "1")
    hire = await reload(market, Hire, hire.id)
    assert hire.status == "paid" and hire.paid_fen == 300000
    assert (await reload(market, Worker, hire.worker_id)).jobs_completed == 1
    assert await sweep(market, datetime(2026, 12, 4, 1, 0, tzinfo=UTC)) == {"rating_asked": 2}
    worker_question = await last_text(market, WORKER)
    employer_question = await last_text(market, EMPLOYER_PHONE)
    assert "给老板打个分" in worker_question and "没来" in employer_question
    assert "谢谢" in await market.reply(WORKER, "5")
    rating_code = employer_question.split("回复")[1].split(" ")[0]
    assert "谢谢" in await market.reply(EMPLOYER_PHONE, f"{rating_code} 4")
    assert (await reload(market, Worker, hire.worker_id)).rating_avg == 4
    async with market.sessions() as session:
        employer = await session.scalar(select(Employer))
    assert employer.rating_avg == 5


async def test_a_daily_pay_job_with_one_unpaid_day_opens_a_case_after_the_grace(market):
    hire = await hired(market, days=3, daily_pay=True)
    day1, day2, day3 = await checks(market, hire)
    assert [c.owed_fen for c in (day1, day2, day3)] == [30000] * 3
    await sweep(market, local(24, 19))
    assert "付清了吗" in await last_text(market, WORKER)
    await market.reply(WORKER, f"P{day1.id} 1")
    await sweep(market, local(25, 19))
    answer = await market.reply(WORKER, f"P{day2.id} 2")
    assert "300元" in answer and "3天" in answer
    firm = await last_text(market, EMPLOYER_PHONE)
    assert "欠薪300元" in firm and "11月25日" in firm and "劳动维权" in firm
    await sweep(market, local(26, 19))
    await market.reply(WORKER, f"P{day3.id} 1")
    assert (await reload(market, Hire, hire.id)).status == "unpaid"
    assert await sweep(market, local(28, 18)) == {}, "still in the grace period"
    assert await sweep(market, local(28, 19, 30)) == {}
    async with market.sessions() as session:
        assert await session.scalar(select(RightsCase)) is not None, "opened on time"
    async with market.sessions() as session:
        case = await session.scalar(select(RightsCase))
        member = await session.scalar(select(CaseWorker))
        employer = await session.scalar(select(Employer))
    assert case.owed_fen == 30000 and member.owed_fen == 30000 and case.opened_by == "auto"
    assert employer.alerts_held, "no new alerts until an agent clears it"
    assert "已立案" in await last_text(market, WORKER)


async def test_partly_paid_by_sms_needs_the_amount(market):
    hire = await hired(market, days=2)
    [check] = await checks(market, hire)
    await sweep(market, local(25, 19))
    assert "P" in await market.reply(WORKER, "3"), "asked how much"
    assert "还差400元" in await market.reply(WORKER, "3 200")
    check = await reload(market, PayCheck, check.id)
    assert check.status == "partly" and check.paid_fen == 20000
    assert "欠薪400元" in await last_text(market, EMPLOYER_PHONE)


async def test_an_unpaid_job_escalates_and_is_recovered_with_the_worker_told_each_step(market):
    await hired(market, days=1)
    await sweep(market, local(24, 19))
    await market.reply(WORKER, "2")
    await sweep(market, local(27, 19, 30))
    async with market.sessions() as session:
        case = await session.scalar(select(RightsCase))
    for action, amount, expect in (("assign", None, "已有工作人员负责"),
                                   ("contact", None, "已联系老板"),
                                   ("mediation", None, "正在调解"),
                                   ("recovered", 30000, "已为您追回300元"),
                                   ("close", None, "已结案")):
        async with market.sessions() as session, session.begin():
            await cases.act(session, case.id, action=action, agent="alice", note="",
                            amount_fen=amount, referral=None, now=market.clock(),
                            catalogue=CATALOGUE)
        assert expect in await last_text(market, WORKER)
    case = await reload(market, RightsCase, case.id)
    assert case.status == "closed" and case.recovered_fen == 30000


async def two_hired(market):
    """Two welders hired on one job starting 2026-11-24 07:00: their phones, the job."""
    employer = await market.employer()
    phones = (WORKER, "+8613800000002")
    for phone in phones:
        await market.worker(phone, ["welder"], "北城街道")
    job = await market.job(employer, [("welder", 2, 300)], days=1,
                           start_in=local(24, 7) - market.clock())
    await market.waves()
    for phone in phones:
        assert await market.reply(phone, job.code) is None
    for offer in await market.offers(job.id):
        assert "已录用" in await market.reply(EMPLOYER_PHONE, f"Y{offer.id}")
    return phones, job


async def test_a_recovered_sum_tells_each_worker_their_own_share(market):
    phones, job = await two_hired(market)
    async with market.sessions() as session, session.begin():
        for phone, owed in zip(phones, (20000, 30000), strict=True):
            worker = await session.scalar(select(Worker).where(Worker.phone == phone))
            hire = await session.scalar(select(Hire).where(Hire.worker_id == worker.id))
            case = await cases.open_or_join(
                session, worker=worker, hire=hire, owed_fen=owed, opened_by="worker_sms",
                now=market.clock(), catalogue=CATALOGUE, hold_employer=True)
    async with market.sessions() as session, session.begin():
        await cases.act(session, case.id, action="recovered", agent="alice", note="",
                        amount_fen=40000, referral=None, now=market.clock(),
                        catalogue=CATALOGUE)
    # 400元 recovered on 200元 + 300元 owed: each hears their part, not the case's sum.
    assert "为您追回160元" in await last_text(market, phones[0])
    assert "为您追回240元" in await last_text(market, phones[1])
    async with market.sessions() as session, session.begin():
        await cases.act(session, case.id, action="recovered", agent="alice", note="",
                        amount_fen=10000, referral=None, now=market.clock(),
                        catalogue=CATALOGUE)
    async with market.sessions() as session:
        recorded = dict((await session.execute(
            select(CaseWorker.worker_id, CaseWorker.recovered_fen)
            .where(CaseWorker.case_id == case.id).order_by(CaseWorker.worker_id))).all())
    assert list(recorded.values()) == [16000 + 4000, 24000 + 6000], "each share kept, summed"


async def test_workers_reporting_one_job_share_its_case_and_a_repeat_changes_nothing(market):
    phones, job = await two_hired(market)
    async with market.sessions() as session:
        workers = list(await session.scalars(
            select(Worker).where(Worker.phone.in_(phones)).order_by(Worker.phone)))
    # As a call's turn reports (on its own connection, with the amount said), twice for
    # the first worker: the second report finds them in the case already.
    for worker, amount in ((workers[0], 20000), (workers[1], 30000), (workers[0], 99900)):
        async with connection_unit(sessions_engine(market.sessions)) as conn:
            await cases.report_by_worker(conn, worker, amount_fen=amount, via="worker_call",
                                         now=market.clock(), catalogue=CATALOGUE,
                                         hold_employer=True)
    async with market.sessions() as session:
        [case] = list(await session.scalars(select(RightsCase)))
        members = list(await session.execute(
            select(CaseWorker.worker_id, CaseWorker.owed_fen, CaseWorker.hire_id)
            .order_by(CaseWorker.worker_id)))
        hires = dict((await session.execute(select(Hire.worker_id, Hire.id))).all())
        events = list(await session.scalars(select(CaseEvent.kind).order_by(CaseEvent.id)))
        held = await session.scalar(select(Employer.alerts_held).where(
            Employer.id == case.employer_id))
    assert (case.job_id, case.opened_by, case.status) == (job.id, "worker_call", "open")
    assert case.owed_fen == 50000, "each worker's amount once"
    assert [(m.worker_id, m.owed_fen, m.hire_id) for m in members] == [
        (w.id, owed, hires[w.id]) for w, owed in zip(workers, (20000, 30000), strict=True)]
    assert events == ["opened", "worker_added", "worker_added"]
    assert held, "no new alerts for the employer until an agent clears it"
    for phone in phones:
        told = [t for t in await market.texts(phone) if f"C{case.id}" in t]
        assert len(told) == 1 and "已立案" in told[0]


async def test_a_report_with_no_hire_opens_a_case_for_agents_to_find_the_employer(market):
    worker_id = await market.worker(WORKER, ["welder"], "北城街道")
    async with market.sessions() as session:
        worker = await session.get(Worker, worker_id)
    async with connection_unit(sessions_engine(market.sessions)) as conn:  # a call's turn
        case = await cases.report_by_worker(conn, worker, amount_fen=64000, via="worker_call",
                                            now=market.clock(), catalogue=CATALOGUE,
                                            hold_employer=True)
    async with market.sessions() as session:
        stored = await session.get(RightsCase, case.id)
        members = list(await session.execute(
            select(CaseWorker.worker_id, CaseWorker.hire_id, CaseWorker.owed_fen,
                   CaseWorker.recovered_fen).where(CaseWorker.case_id == case.id)))
        events = list(await session.execute(
            select(CaseEvent.kind, CaseEvent.actor, CaseEvent.note, CaseEvent.amount_fen)
            .where(CaseEvent.case_id == case.id).order_by(CaseEvent.id)))
    assert (stored.employer_id, stored.job_id, stored.status, stored.opened_by) == (
        None, None, "open", "worker_call")
    assert (stored.owed_fen, stored.recovered_fen) == (64000, 0)
    assert [tuple(m) for m in members] == [(worker_id, None, 64000, 0)]
    assert [tuple(e) for e in events] == [
        ("opened", "worker_call", "", None),
        ("worker_added", "worker_call", f"worker:{worker_id}", 64000)]
    assert f"C{case.id}" in await last_text(market, WORKER)


async def test_a_report_on_a_hire_with_no_job_recorded_is_about_that_hire(market):
    hire = await hired(market, days=1)
    async with market.sessions() as session, session.begin():
        (await session.get(Hire, hire.id)).job_id = None  # the column allows it
    assert await market.reply(WORKER, "欠薪") is None
    async with market.sessions() as session:
        member = await session.scalar(select(CaseWorker))
        case = await session.get(RightsCase, member.case_id)
    assert (member.hire_id, case.employer_id, case.job_id) == (hire.id, None, None)
    assert "已立案" in await last_text(market, WORKER)
    # As the sweep opens one for the same hire past its grace: no employer to look up.
    async with market.sessions() as session, session.begin():
        worker = await session.get(Worker, member.worker_id)
        swept = await cases.open_or_join(
            session, worker=worker, hire=await session.get(Hire, hire.id), owed_fen=100,
            opened_by="auto", now=market.clock(), catalogue=CATALOGUE, hold_employer=True)
    assert swept.employer_id is None and swept.id != case.id


def test_shares_add_up_to_the_fen():
    assert cases.shares(100, [1, 1, 1]) == [34, 33, 33]
    assert cases.shares(10001, [0, 0]) == [5001, 5000]
    assert cases.shares(99_999, [12_345, 54_321, 1]) == [18_517, 81_480, 2]
    assert sum(cases.shares(1_000_000_007, [3, 7, 11, 13])) == 1_000_000_007


async def test_no_answers_at_all_are_asked_three_times_then_left_for_agents(market):
    hire = await hired(market, days=1)
    outcomes = [await sweep(market, local(day, 19)) for day in (24, 25, 26, 27)]
    assert outcomes == [{"asked": 1}, {"asked": 1}, {"asked": 1}, {"unanswered": 1}]
    [check] = await checks(market, hire)
    assert check.status == "unanswered" and check.asks == 3
    assert len(await market.texts(WORKER, kind="pay_question")) == 3
    assert await sweep(market, local(28, 19)) == {}, "nothing more is asked"


async def test_a_restart_across_a_due_reminder_sends_it_late_or_marks_it_missed(market):
    await hired(market, days=1)
    await sweep(market, local(24, 8))
    # Down from 08:00 to 21:30: the worker's 19:00 question is 2.5 h late and still goes
    # out; the employer's 09:00 reminder is 12.5 h late and is missed, for agents to see.
    assert await sweep_once(market, local(24, 21, 30)) == {"asked": 1, "missed": 1}
    # Down again until 11-26 03:00: the 11-25 09:00 ratings and 19:00 re-ask are missed.
    await sweep_once(market, local(26, 3))
    async with market.sessions() as session:
        missed = list(await session.scalars(select(Reminder).where(Reminder.status == "missed")
                                            .order_by(Reminder.due_at)))
    assert [r.kind for r in missed] == ["employer_pay_due", "rating", "rating", "pay_question"]


def test_reminders_are_never_delivered_in_quiet_hours():
    rules = WageRules(question_hour=time(22))
    moment = delivery_time(datetime(2026, 11, 24).date(), rules.question_hour, rules, TZ)
    assert moment == local(25, 7)
    assert delivery_time(datetime(2026, 11, 24).date(), time(5), rules, TZ) == local(24, 7)
    assert delivery_time(datetime(2026, 11, 24).date(), time(19), rules, TZ) == local(24, 19)


async def test_opting_out_mid_loop_stops_the_sms_but_not_the_case(market):
    await hired(market, days=1)
    await sweep(market, local(24, 19))
    await market.reply(WORKER, "2")
    async with market.sessions() as session, session.begin():
        await set_opt_out(session, WORKER, opted_out=True, keyword="TD", source="sms",
                          now=market.clock())
    await sweep(market, local(27, 19, 30))
    async with market.sessions() as session:
        assert await session.scalar(select(RightsCase)) is not None
        last = (await session.scalars(select(OutboundSms).where(OutboundSms.phone == WORKER)
                                      .order_by(OutboundSms.id.desc()))).first()
    assert "已立案" in last.body and last.status == "suppressed"


async def test_a_worker_reports_unpaid_wages_by_sms(market):
    hire = await hired(market, days=1)
    assert await market.reply(WORKER, "欠薪") is None
    async with market.sessions() as session:
        member = await session.scalar(select(CaseWorker))
        case = await session.scalar(select(RightsCase))
    assert member.hire_id == hire.id and case.opened_by == "worker_sms"
    assert "已立案" in await last_text(market, WORKER)


async def test_check_in_by_sms_starts_the_hire(market):
    hire = await hired(market, days=3)
    assert "没有要报到" in await market.reply(WORKER, "到"), "the job starts tomorrow"
    market.clock.now = local(24, 7, 30)
    assert "报到成功" in await market.reply(WORKER, "到")
    hire = await reload(market, Hire, hire.id)
    assert hire.status == "started" and hire.started_by == "worker"


async def test_several_open_questions_ask_which_one(market):
    hire = await hired(market, days=1)
    await sweep(market, local(24, 19))
    employer = await market.employer(credit_code="91350100M000100Y43")
    job = await market.job(employer, [("welder", 1, 300)], start_in=timedelta(days=5))
    await market.waves()
    answer = await market.reply(WORKER, "1")
    assert job.code in answer and "P" in answer, answer
    [check] = await checks(market, hire)
    assert (await reload(market, PayCheck, check.id)).status == "asked", "nothing applied"
    async with market.sessions() as session:
        offer = await session.scalar(select(Offer).where(Offer.job_id == job.id))
    assert offer.status == "offered"


@pytest.mark.parametrize("body", ["P999 1", "R999 5"])
async def test_answers_to_someone_elses_question_change_nothing(market, body):
    await hired(market, days=1)
    assert "没有待回复" in await market.reply(WORKER, body)


async def test_the_employer_checks_the_worker_in_and_corrects_the_days(market):
    hire = await hired(market, days=5)
    async with market.sessions() as session:
        offer_id = (await session.get(Hire, hire.id)).offer_id
    assert "没找到" in await market.reply("+8613800000999", f"到{offer_id}"), "not the employer"
    assert "到岗" in await market.reply(EMPLOYER_PHONE, f"到{offer_id}")
    assert (await reload(market, Hire, hire.id)).started_by == "employer"
    assert "没找到" in await market.reply(EMPLOYER_PHONE, f"改{offer_id} 9"), "more than agreed"
    answer = await market.reply(EMPLOYER_PHONE, f"改{offer_id} 4")
    assert "干4天" in answer and "1200元" in answer
    hire = await reload(market, Hire, hire.id)
    assert hire.days_worked == 4 and hire.owed_fen == 120000
    [check] = await checks(market, hire)
    assert check.owed_fen == 120000, "the pay question asks what is now owed"
    assert "改为干4天" in await last_text(market, WORKER)
