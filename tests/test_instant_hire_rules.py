"""The instant-hire rules on a real database with an injected clock: who is matched and
in what order, waves, quiet hours, taking a job by SMS, the employer's answer."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from market import jobs
from market.hires import chase_employers
from market.optouts import set_opt_out
from market.waves import release_held_alerts, run_waves
from store.models import Hire, Job, OutboundSms, Worker
from tests.market_world import CATALOGUE, EMPLOYER_PHONE, RULES, TZ


async def test_the_first_wave_goes_to_twice_the_headcount_nearest_first(market):
    employer = await market.employer()
    towns = ["北城街道", "东郭镇", "解州镇", "猗氏镇", "北城街道", "桐城镇"]
    ids = [await market.worker(f"+86138000000{n:02d}", ["welder"], town)
           for n, town in enumerate(towns)]
    job = await market.job(employer, [("welder", 2, 500)])
    assert await market.waves() == 4
    offers = await market.offers(job.id)
    chosen = [o.worker_id for o in offers]
    assert set(chosen) == {ids[0], ids[4], ids[1], ids[2]}  # 北城×2, then same district
    first = next(o for o in offers if o.worker_id == ids[0])
    assert first.score["nearness"] == 50 and first.wave == 1
    assert set(first.score) == {"total", "nearness", "reliability", "priority", "fairness"}
    alerts = await market.texts(kind="alert")
    assert len(alerts) == 4 and all(job.code in text and "500元" in text for text in alerts)
    assert all(len(text) <= 70 for text in alerts)


async def test_ineligible_workers_are_never_alerted(market):
    employer = await market.employer()
    ok = await market.worker("+8613800000001", ["welder"], "北城街道")
    await market.worker("+8613800000002", ["cook"], "北城街道")
    await market.worker("+8613800000003", ["welder"], "北城街道", availability="not_now")
    await market.worker("+8613800000004", ["welder"], "北城街道",
                        available_from=(market.clock() + timedelta(days=9)).date())
    await market.worker("+8613800000005", ["welder"], "北城街道", day_wage_fen=90000)
    await market.worker("+8613800000006", ["welder"], "北城街道", status="registering")
    await market.worker("+8613800000007", ["welder"], "城区街道")  # 河津: ~90 km away
    opted_out = "+8613800000008"
    await market.worker(opted_out, ["welder"], "北城街道")
    async with market.sessions() as session, session.begin():
        await set_opt_out(session, opted_out, opted_out=True, keyword="TD", source="sms",
                          now=market.clock())
    job = await market.job(employer, [("welder", 5, 500)])
    await market.waves()
    assert [o.worker_id for o in await market.offers(job.id)] == [ok]


async def test_priority_group_reliability_and_fairness_order_equals(market):
    employer = await market.employer()
    today = (market.clock().astimezone(UTC).date() - datetime(1970, 1, 1).date()).days
    plain = await market.worker("+8613800000001", ["welder"], "北城街道", last_hired_day=today)
    priority = await market.worker("+8613800000002", ["welder"], "北城街道",
                                   priority_group=True, last_hired_day=today)
    reliable = await market.worker("+8613800000003", ["welder"], "北城街道", jobs_completed=5,
                                   last_hired_day=today)
    rested = await market.worker("+8613800000004", ["welder"], "北城街道",
                                 last_hired_day=today - 26)
    no_show = await market.worker("+8613800000005", ["welder"], "北城街道", no_shows=1,
                                  last_hired_day=today)
    job = await market.job(employer, [("welder", 3, 500)])
    await market.waves()
    ranked = sorted(await market.offers(job.id), key=lambda o: -o.score["total"])
    assert [o.worker_id for o in ranked] == [priority, rested, reliable, plain, no_show]


async def test_next_waves_wait_their_interval_and_stop_when_full(market):
    employer = await market.employer()
    phones = [f"+86138000000{n:02d}" for n in range(10)]
    for phone in phones:
        await market.worker(phone, ["welder"], "北城街道")
    job = await market.job(employer, [("welder", 1, 500)])
    assert await market.waves() == 2
    assert await market.waves() == 0, "not before the interval"
    market.clock.advance(minutes=10)
    assert await market.waves() == 2
    first = (await market.offers(job.id))[0]
    async with market.sessions() as session:
        phone = await session.scalar(select(Worker.phone).where(Worker.id == first.worker_id))
    assert await market.reply(phone, "1") is None  # taken: the reservation SMS answers
    market.clock.advance(minutes=10)
    assert await market.waves() == 0, "full: no more waves"
    assert len(await market.offers(job.id)) == 4


async def test_waves_stop_for_cancelled_and_started_jobs(market):
    employer = await market.employer()
    for n in range(6):
        await market.worker(f"+86138000000{n:02d}", ["welder"], "北城街道")
    soon = await market.job(employer, [("welder", 1, 500)], start_in=timedelta(minutes=30))
    later = await market.job(employer, [("welder", 1, 500)], start_in=timedelta(days=2))
    await market.waves()
    async with market.sessions() as session, session.begin():
        await jobs.cancel_job(session, later.id, agent="alice", now=market.clock(),
                              catalogue=CATALOGUE, timezone=TZ)
    market.clock.advance(hours=1)
    assert await market.waves() == 0
    async with market.sessions() as session:
        assert (await session.get(Job, soon.id)).next_wave_at is None


async def test_quiet_hours_hold_alerts_until_morning_unless_the_job_starts_soon(market):
    market.clock.now = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)  # 22:00 in Shanghai
    assert RULES.quiet.until(market.clock(), TZ) == datetime(2026, 11, 23, 23, 0, tzinfo=UTC)
    employer = await market.employer()
    await market.worker("+8613800000001", ["welder"], "北城街道")
    await market.worker("+8613800000002", ["porter"], "北城街道")
    await market.job(employer, [("welder", 1, 500)], start_in=timedelta(days=2))
    await market.job(employer, [("porter", 1, 200)], start_in=timedelta(hours=10))
    await market.waves()
    assert len(await market.texts(kind="alert")) == 1, "only the job starting within 12 h"
    held = [o for o in await market.offers() if o.alert_hold_until is not None]
    assert len(held) == 1
    assert await release_held_alerts(market.context, market.clock()) == 0
    market.clock.now = datetime(2026, 11, 23, 23, 0, tzinfo=UTC)  # 07:00
    assert await release_held_alerts(market.context, market.clock()) == 1
    assert len(await market.texts(kind="alert")) == 2


async def test_unverified_employers_jobs_wait_for_verification(market):
    employer = await market.employer(verification="unverified")
    await market.worker("+8613800000001", ["welder"], "北城街道")
    job = await market.job(employer, [("welder", 1, 500)])
    assert await market.waves() == 0
    async with market.sessions() as session, session.begin():
        await jobs.set_verification(session, employer, state="verified", checked="营业执照",
                                    agent="bob", now=market.clock())
    assert await market.waves() == 1
    assert len(await market.offers(job.id)) == 1


async def test_blacklisted_employers_jobs_are_never_offered(market):
    employer = await market.employer(verification="blacklisted")
    await market.worker("+8613800000001", ["welder"], "北城街道")
    await market.job(employer, [("welder", 1, 500)])
    market.clock.advance(hours=1)
    assert await market.waves() == 0


async def test_a_worker_is_offered_a_job_once_even_for_two_of_its_trades(market):
    employer = await market.employer()
    both = await market.worker("+8613800000001", ["welder", "labourer"], "北城街道")
    job = await market.job(employer, [("welder", 1, 500), ("labourer", 1, 200)])
    await market.waves()
    market.clock.advance(minutes=10)
    await market.waves()
    assert [o.worker_id for o in await market.offers(job.id)] == [both]
    assert len(await market.texts(kind="alert")) == 1


async def test_taking_a_job_by_sms_one_several_and_too_late(market):
    employer = await market.employer()
    early, late = "+8613800000001", "+8613800000002"
    await market.worker(early, ["welder"], "北城街道")
    await market.worker(late, ["welder"], "北城街道")
    first = await market.job(employer, [("welder", 1, 500)])
    await market.waves()
    second = await market.job(employer, [("welder", 1, 450)], start_in=timedelta(days=10))
    await market.waves()
    answer = await market.reply(early, "1")
    assert "J" in answer and first.code in answer and second.code in answer, "which one?"
    assert await market.reply(early, f"{first.code} 1") is None
    assert await market.filled(first.id) == [1]
    too_late = await market.reply(late, first.code)
    assert f"{first.code} 名额已满" in too_late and second.code in too_late, "and the next"
    assert len(await market.texts(EMPLOYER_PHONE, kind="employer_confirm")) == 1


async def test_a_crowd_taking_one_job_by_its_code_fills_it_exactly_and_hears_why_not(market):
    """Every accept at once, each in its own transaction: exactly the headcount win, once
    each; a loser hears "full" (naming the other job they were alerted to, if any), "not
    open to you" or "days taken", whichever is true of them."""
    employer = await market.employer()
    alerted = "+8613800000090"
    await market.worker(alerted, ["welder"], "北城街道")
    other = await market.job(employer, [("welder", 1, 450)], start_in=timedelta(days=10))
    assert await market.waves() == 1  # the one welder so far is alerted to the other job
    holder = "+8613800000091"
    await market.worker(holder, ["welder"], "北城街道")
    held = await market.job(employer, [("welder", 1, 500)], days=5)
    assert await market.reply(holder, held.code) is None
    eligible = [f"+86138000001{n:02d}" for n in range(12)]
    for phone in eligible:
        await market.worker(phone, ["welder"], "北城街道")
    far = [f"+86138000002{n:02d}" for n in range(3)]
    for phone in far:
        await market.worker(phone, ["welder"], "城区街道")  # 河津: ~90 km away
    dear = [f"+86138000003{n:02d}" for n in range(2)]
    for phone in dear:
        await market.worker(phone, ["welder"], "北城街道", day_wage_fen=90000)
    job = await market.job(employer, [("welder", 3, 500)], start_in=timedelta(days=2))
    crowd = [alerted, holder, *eligible, *far, *dear]
    answers = dict(zip(crowd, await asyncio.gather(
        *(market.reply(phone, job.code) for phone in crowd)), strict=True))
    winners = [phone for phone, answer in answers.items() if answer is None]
    assert len(winners) == 3 and set(winners) <= {alerted, *eligible}
    assert await market.filled(job.id) == [3]
    held_slots = [o for o in await market.offers(job.id) if o.status == "accepted"]
    assert sorted(o.worker_id for o in held_slots) == sorted(
        {o.worker_id for o in held_slots}), "each winner once"
    assert len(await market.texts(kind="offer_reserved")) == 1 + 3  # the holder's and 3
    full = CATALOGUE.text("sms_already_full", code=job.code)
    for phone in set(eligible) - set(winners):
        assert answers[phone] == full
    if alerted not in winners:
        assert answers[alerted] == CATALOGUE.text("sms_already_full_next", code=job.code,
                                                  next=other.code)
    assert answers[holder] == CATALOGUE.text("sms_overlap", code=job.code)
    for phone in far + dear:
        assert answers[phone].startswith(
            CATALOGUE.text("sms_not_open", code=job.code, hotline="\0").split("\0")[0])


async def test_the_employer_confirms_and_a_hire_with_its_contract_is_kept(market):
    employer = await market.employer()
    phone = "+8613800000001"
    await market.worker(phone, ["welder"], "北城街道", jobs_completed=3, rating_avg=4.5)
    job = await market.job(employer, [("welder", 1, 500)], days=5)
    await market.waves()
    await market.reply(phone, "接")
    ask, insurance = await market.texts(EMPLOYER_PHONE)
    assert "焊工" in ask and "做过3次，评分4.5" in ask, "who, what trade, how reliable"
    offer = (await market.offers(job.id))[0]
    assert f"Y{offer.id}" in ask and f"N{offer.id}" in ask
    assert "意外险" in insurance and f"Y{offer.id}" in insurance, "5 days: insurance"
    assert "没找到" in await market.reply("+8613800000999", f"Y{offer.id}")
    assert (await market.offers(job.id))[0].status == "accepted", "a stranger changes nothing"
    ack = await market.reply(EMPLOYER_PHONE, f"是{offer.id}")
    assert "已录用" in ack
    async with market.sessions() as session:
        hire = await session.scalar(select(Hire))
    assert hire.insurance_confirmed is True
    assert "安居建筑劳务" in hire.contract_summary and "日薪500元" in hire.contract_summary
    # The contract summary, one segment each: terms, place, who employs them, insurance.
    hired, place, employer_sms, insured = (await market.texts(phone))[-4:]
    assert "录用了" in hired and "焊工" in hired and "5天" in hired and "日薪500元" in hired
    assert "完工结清" in hired and "11月24日09:30开工" in hired
    assert "河东东街88号工地" in place
    assert "安居建筑劳务" in employer_sms and "139 0000 0001" in employer_sms
    assert "意外险" in insured
    assert all(len(text) <= 70 for text in (hired, place, employer_sms, insured))


@pytest.mark.parametrize("reply, hired", [
    ("Y", True), ("y", True), ("是", True), ("好", True), ("确认", True),
    ("N", False), ("否", False), ("不要", False),
])
async def test_a_bare_yes_or_no_answers_the_employers_one_waiting_request(market, reply, hired):
    employer = await market.employer()
    phone = "+8613800000001"
    await market.worker(phone, ["welder"], "北城街道")
    job = await market.job(employer, [("welder", 1, 500)], days=2)
    await market.waves()
    await market.reply(phone, "1")
    answer = await market.reply(EMPLOYER_PHONE, reply)
    assert ("已录用" if hired else "不录用") in answer, answer
    [offer] = await market.offers(job.id)
    assert offer.status == ("confirmed" if hired else "declined")


async def test_a_bare_yes_with_several_requests_waiting_asks_which(market):
    employer = await market.employer()
    phones = ["+8613800000001", "+8613800000002"]
    for phone in phones:
        await market.worker(phone, ["welder"], "北城街道")
    job = await market.job(employer, [("welder", 2, 500)], days=2)
    await market.waves()
    for phone in phones:
        await market.reply(phone, "1")
    offers = await market.offers(job.id)
    answer = await market.reply(EMPLOYER_PHONE, "Y")
    assert all(f"Y{o.id}" in answer for o in offers), answer
    assert {o.status for o in await market.offers(job.id)} == {"accepted"}, "nothing decided"


async def test_a_bare_yes_from_a_worker_is_still_a_workers_answer(market):
    employer = await market.employer()
    phone = "+8613800000001"
    await market.worker(phone, ["welder"], "北城街道")
    job = await market.job(employer, [("welder", 1, 500)], days=2)
    await market.waves()
    assert await market.reply(phone, "好") is None, "好 takes the job, as before"
    assert [o.status for o in await market.offers(job.id)] == ["accepted"]


async def test_a_declined_worker_frees_the_slot_for_the_next_wave(market):
    employer = await market.employer()
    phones = [f"+86138000000{n:02d}" for n in range(5)]
    for phone in phones:
        await market.worker(phone, ["welder"], "北城街道")
    job = await market.job(employer, [("welder", 1, 500)], days=2)
    await market.waves()
    taker = [p for p in phones if await market.texts(p, kind="alert")][0]
    await market.reply(taker, "1")
    offer = next(o for o in await market.offers(job.id) if o.status == "accepted")
    await market.reply(EMPLOYER_PHONE, f"N{offer.id}")
    assert await market.filled(job.id) == [0]
    assert "没有录用" in (await market.texts(taker))[-1]
    assert await market.waves() == 2, "the next wave goes out at once"


async def test_no_answer_brings_one_reminder_then_the_slot_is_released(market):
    employer = await market.employer()
    phone = "+8613800000001"
    await market.worker(phone, ["welder"], "北城街道")
    job = await market.job(employer, [("welder", 1, 500)])
    await market.waves()
    await market.reply(phone, "1")
    wait = timedelta(minutes=60)

    async def chase():
        async with market.sessions() as session, session.begin():
            return await chase_employers(session, wait=wait, catalogue=CATALOGUE, timezone=TZ,
                                         now=market.clock())

    assert await chase() == (0, 0)
    market.clock.advance(minutes=61)
    assert await chase() == (1, 0)
    assert await chase() == (0, 0)
    market.clock.advance(minutes=61)
    assert await chase() == (0, 1)
    assert await market.filled(job.id) == [0]
    assert "名额已释放" in (await market.texts(phone))[-1]
    assert len(await market.texts(EMPLOYER_PHONE, kind="employer_reminder")) == 1


async def test_cancelling_or_changing_a_job_tells_the_holders(market):
    employer = await market.employer()
    phone = "+8613800000001"
    await market.worker(phone, ["welder"], "北城街道")
    job = await market.job(employer, [("welder", 2, 500)])
    await market.waves()
    await market.reply(phone, "1")
    async with market.sessions() as session, session.begin():
        await jobs.change_job(session, job.id, agent="alice", now=market.clock(),
                              catalogue=CATALOGUE, timezone=TZ, address="新工地南门")
    assert "新工地南门" in (await market.texts(phone))[-1]
    async with market.sessions() as session, session.begin():
        await jobs.cancel_job(session, job.id, agent="alice", now=market.clock(),
                              catalogue=CATALOGUE, timezone=TZ)
    assert "已取消" in (await market.texts(phone))[-1]
    assert (await market.offers(job.id))[0].status == "cancelled"


async def test_a_worker_is_never_hired_twice_for_overlapping_days(market):
    employer = await market.employer()
    phone = "+8613800000001"
    await market.worker(phone, ["welder"], "北城街道")
    first = await market.job(employer, [("welder", 1, 500)], days=5)
    await market.waves()
    await market.reply(phone, first.code)
    overlapping = await market.job(employer, [("welder", 1, 600)],
                                   start_in=timedelta(days=3))
    await market.waves()
    assert await market.offers(overlapping.id) == [], "not alerted while holding those days"
    assert await market.reply(phone, overlapping.code) is not None
    assert await market.filled(overlapping.id) == [0]


async def test_two_instances_sweeping_at_once_send_each_alert_once(market):
    employer = await market.employer()
    for n in range(12):
        await market.worker(f"+86138000000{n:02d}", ["welder"], "北城街道")
    jobs_posted = [await market.job(employer, [("welder", 2, 500)],
                                    start_in=timedelta(days=1 + 10 * k)) for k in range(3)]
    made = await asyncio.gather(*(run_waves(market.context, market.clock())
                                  for _ in range(4)))
    assert sum(made) == 12, "3 jobs x 2 slots x 2"
    for job in jobs_posted:
        assert len(await market.offers(job.id)) == 4
    async with market.sessions() as session:
        sent = list(await session.execute(
            select(OutboundSms.phone, OutboundSms.body).where(OutboundSms.kind == "alert")))
    assert len(sent) == len(set(sent)) == 12, "no worker alerted twice about a job"
