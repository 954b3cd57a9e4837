"""One rule decides who may take which job line: the offers a caller hears on the phone
are exactly the ones the alert matcher would send them; and every refusal says why."""

from __future__ import annotations

import random
from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select, update

from market.matching import match_line, towns_within_reach
from market.offers import find_offers, reserve_slot
from market.optouts import set_opt_out
from store.models import Employer, Job, JobLine, Worker
from tests.market_world import CATALOGUE, TZ

TRADES = ["welder", "labourer", "porter", "cook"]
# Near one another, one district away, and 河津's 城区街道 beyond the 60 km reach.
TOWNS = ["北城街道", "东郭镇", "解州镇", "猗氏镇", "桐城镇", "城东街道", "城区街道"]


async def varied_population(market, rng: random.Random) -> None:
    """Workers of every kind the rule tells apart, and jobs of every kind it refuses."""
    now = market.clock()
    today = now.astimezone(ZoneInfo(TZ)).date()
    for n in range(70):
        fields = {"day_wage_fen": rng.choice([None, 15000, 30000, 45000, 60000])}
        availability = rng.choice([None, "today", "tomorrow", "week", "not_now"])
        if availability:
            fields["availability"] = availability
            fields["available_from"] = today + timedelta(
                days={"today": 0, "tomorrow": 1, "week": 3, "not_now": 0}[availability])
        if n % 13 == 0:
            fields["status"] = "registering"
        await market.worker(f"+86138{n:08d}", rng.sample(TRADES, rng.randint(1, 2)),
                            rng.choice(TOWNS), **fields)
    async with market.sessions() as session, session.begin():
        for n in range(0, 70, 11):
            await set_opt_out(session, f"+86138{n:08d}", opted_out=True, keyword="退订",
                              source="sms", now=now)
    for n in range(14):
        async with market.sessions() as session, session.begin():
            employer = Employer(
                market_id=market.market_id, name=f"用工单位{n}", phone="+8613900000001",
                credit_code=f"9114080200000{n:05d}", created_at=now,
                verification="unverified" if n % 5 == 4 else "verified",
                alerts_held=n % 7 == 6)
            session.add(employer)
            await session.flush()
        lines = [(trade, rng.randint(1, 3), rng.choice([200, 300, 500]))
                 for trade in rng.sample(TRADES, rng.randint(1, 2))]
        job = await market.job(employer.id, lines, town=rng.choice(TOWNS),
                               start_in=timedelta(days=rng.randint(1, 6), hours=2),
                               days=rng.randint(1, 4))
        if n % 6 == 5:  # a line that filled
            async with market.sessions() as session, session.begin():
                await session.execute(update(JobLine).where(JobLine.job_id == job.id)
                                      .values(filled=JobLine.headcount))
    # Some workers hold slots: overlapping days then rule them out of other jobs.
    async with market.sessions() as session:
        workers = list(await session.scalars(select(Worker).where(Worker.status == "active")))
        line_ids = list(await session.scalars(select(JobLine.id)))
    for worker in rng.sample(workers, 20):
        async with market.sessions() as session, session.begin():
            worker = await session.get(Worker, worker.id)
            await reserve_slot(session, worker, rng.choice(line_ids), channel="sms", now=now,
                               today=today, timezone=TZ, catalogue=CATALOGUE)


async def test_the_phone_offers_exactly_what_the_matcher_would_on_a_varied_population(market):
    await varied_population(market, random.Random(14))
    now = market.clock()
    today = now.astimezone(ZoneInfo(TZ)).date()
    by_matcher: set[tuple[int, int]] = set()
    by_phone: set[tuple[int, int]] = set()
    async with market.sessions() as session:
        for line, job in await session.execute(
                select(JobLine, Job).join(Job, Job.id == JobLine.job_id)):
            reach = await towns_within_reach(session, job.town_id)
            start_day = job.start_at.astimezone(ZoneInfo(TZ)).date()
            for match in await match_line(session, job, line, limit=10_000, now=now,
                                          today=today, start_day=start_day, reach=reach):
                by_matcher.add((match.worker_id, line.id))
        workers = list(await session.scalars(select(Worker)))
        for worker in workers:
            for offer in await find_offers(session, worker, now=now, timezone=TZ,
                                           limit=10_000):
                by_phone.add((worker.id, offer.job_line_id))
        lines = await session.scalar(select(JobLine.id).order_by(JobLine.id.desc()).limit(1))
    assert by_phone == by_matcher
    # Varied enough to mean something: many pairs in, many more out.
    assert 30 <= len(by_matcher) <= len(workers) * lines // 3, len(by_matcher)


async def test_a_job_taken_by_a_worker_not_alerted_to_it_follows_the_same_rule(market):
    employer = await market.employer()
    await market.worker("+8613800000001", ["welder"], "北城街道", day_wage_fen=60000)
    await market.worker("+8613800000002", ["welder"], "北城街道")
    job = await market.job(employer, [("welder", 2, 500)])
    # Not alerted (no wave ran): the first asks more than the job pays, the second may.
    assert "不对您开放" in await market.reply("+8613800000001", job.code)
    assert await market.reply("+8613800000002", job.code) is None
    assert await market.filled(job.id) == [1]


async def test_a_late_bare_1_hears_that_the_line_it_was_alerted_for_filled(market):
    employer = await market.employer()
    early, late = "+8613800000001", "+8613800000002"
    await market.worker(early, ["welder"], "北城街道")
    await market.worker(late, ["welder"], "北城街道")
    job = await market.job(employer, [("welder", 1, 500)])
    await market.waves()
    assert await market.reply(early, "1") is None
    answer = await market.reply(late, "1")
    assert f"{job.code} 名额已满" in answer, answer
    assert "没有可接的活" not in answer


async def test_overlapping_days_are_told_as_such(market):
    employer = await market.employer()
    phone = "+8613800000001"
    await market.worker(phone, ["welder"], "北城街道")
    first = await market.job(employer, [("welder", 1, 500)], days=5)
    await market.waves()
    assert await market.reply(phone, first.code) is None
    second = await market.job(employer, [("welder", 3, 500)], start_in=timedelta(days=2))
    answer = await market.reply(phone, second.code)
    assert f"{second.code} 的日子和您已接的活重了" in answer, answer
    assert await market.filled(second.id) == [0]


async def test_a_job_not_open_to_the_worker_is_never_called_full(market):
    phone = "+8613800000001"
    await market.worker(phone, ["welder"], "北城街道")
    unverified = await market.employer("unverified", credit_code="91350100M000100Y43")
    hidden = await market.job(unverified, [("welder", 1, 500)])
    verified = await market.employer()
    other_trade = await market.job(verified, [("cook", 1, 500)])
    full = await market.job(verified, [("cook", 1, 500)])
    async with market.sessions() as session, session.begin():
        await session.execute(update(JobLine).where(JobLine.job_id == full.id)
                              .values(filled=1))
    for job in (hidden, other_trade, full):
        answer = await market.reply(phone, job.code)
        assert f"{job.code} 这个活不对您开放" in answer and "满" not in answer, answer
    assert "J999999 这个活不对您开放" in await market.reply(phone, "J999999")
