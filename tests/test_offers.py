"""Which offers a worker hears, and taking a slot: exact fill under a crowd."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from basics.clock import market_today
from market.offers import FULL, NOT_OPEN, OVERLAP, RESERVED, find_offers, reserve_slot
from market.optouts import set_opt_out
from market.workers import load_worker
from prompts.catalogue import load_catalogue
from store.db import make_engine, make_sessionmaker
from store.models import JobLine, Offer, OutboundSms
from tests.market_fixtures import add_job, add_worker, seed_market, tomorrow

TZ = "Asia/Shanghai"


@pytest.fixture
async def sessions(database_url):
    engine = make_engine(database_url)
    yield make_sessionmaker(engine)
    await engine.dispose()


@pytest.fixture
async def market(sessions, clock):
    return await seed_market(sessions, clock())


async def offers_for(sessions, phone, clock):
    async with sessions() as session:
        worker = await load_worker(session, phone)
        return await find_offers(session, worker, now=clock(), timezone=TZ)


async def test_offers_match_trade_nearest_first_and_only_from_verified_employers(
    sessions, market, clock
):
    now = clock()
    await add_worker(sessions, market, "+8613800000001", ["welder"], "东郭镇", now)
    far = await add_job(sessions, market, code="J201", trade="welder", town="猗氏镇",
                        headcount=2, wage_yuan=600, start=tomorrow(now))
    same_town = await add_job(sessions, market, code="J202", trade="welder", town="东郭镇",
                              headcount=2, wage_yuan=400, start=tomorrow(now))
    await add_job(sessions, market, code="J203", trade="welder", town="东郭镇", headcount=2,
                  wage_yuan=900, start=tomorrow(now), verification="unverified")
    await add_job(sessions, market, code="J204", trade="welder", town="东郭镇", headcount=2,
                  wage_yuan=900, start=tomorrow(now), verification="blacklisted")
    await add_job(sessions, market, code="J205", trade="welder", town="东郭镇", headcount=2,
                  wage_yuan=900, start=now - timedelta(days=2))  # already started
    await add_job(sessions, market, code="J206", trade="cook", town="东郭镇", headcount=2,
                  wage_yuan=900, start=tomorrow(now))
    await add_job(sessions, market, code="J207", trade="welder", town="北城街道", headcount=2,
                  wage_yuan=500, start=tomorrow(now))
    offers = await offers_for(sessions, "+8613800000001", clock)
    codes = [o.job_code for o in offers]
    # 北城街道 is in the same district as 东郭镇: after the same town, with the demo's job
    # J101 there (seeded at 09:30, after its 07:00 start: it starts tomorrow). J205 has
    # started: no alert would offer it, and neither does the phone.
    assert codes == ["J202", "J101", "J207", "J201"]
    assert offers[0].job_line_id == same_town and offers[-1].job_line_id == far
    assert offers[0].trade == "焊工" and offers[0].day_wage_fen == 40000
    assert offers[0].place == "东郭镇"


async def test_a_full_line_or_a_held_slot_is_not_offered_again(sessions, market, clock):
    now = clock()
    worker = await add_worker(sessions, market, "+8613800000001", ["welder"], "东郭镇", now)
    line = await add_job(sessions, market, code="J301", trade="welder", town="东郭镇",
                         headcount=1, wage_yuan=400, start=tomorrow(now))
    assert await reserve(sessions, worker.phone, line, clock) == RESERVED
    codes = [o.job_code for o in await offers_for(sessions, "+8613800000001", clock)]
    assert "J301" not in codes


async def reserve(sessions, phone, line_id, clock) -> str:
    async with sessions() as session, session.begin():
        worker = await load_worker(session, phone)
        return await reserve_slot(
            session, worker, line_id, channel="call_in", now=clock(),
            today=market_today(clock(), TZ), timezone=TZ, catalogue=load_catalogue("zh-CN"),
        )


async def test_a_crowd_of_accepts_fills_exactly_the_headcount(sessions, market, clock):
    now = clock()
    line = await add_job(sessions, market, code="J401", trade="porter", town="东郭镇",
                         headcount=10, wage_yuan=200, start=tomorrow(now))
    phones = [f"+86139{n:08d}" for n in range(1000)]
    for phone in phones:
        await add_worker(sessions, market, phone, ["porter"], "东郭镇", now)
    results = await asyncio.gather(*(reserve(sessions, p, line, clock) for p in phones))
    assert results.count(RESERVED) == 10 and results.count(FULL) == 990
    async with sessions() as session:
        assert await session.scalar(select(JobLine.filled).where(JobLine.id == line)) == 10
        accepted = await session.scalar(
            select(func.count()).select_from(Offer).where(Offer.status == "accepted")
        )
        kinds = list(await session.scalars(select(OutboundSms.kind)))
    assert accepted == 10
    assert sorted(kinds) == ["employer_confirm"] * 10 + ["offer_reserved"] * 10


async def test_a_reservation_asks_the_employer_unless_they_opted_out(sessions, market, clock):
    now = clock()
    worker = await add_worker(sessions, market, "+8613800000001", ["porter"], "东郭镇", now)
    line = await add_job(sessions, market, code="J451", trade="porter", town="东郭镇",
                         headcount=2, wage_yuan=200, start=tomorrow(now))
    async with sessions() as session, session.begin():  # the job's employer sent TD
        await set_opt_out(session, "+8613900000002", opted_out=True, keyword="TD",
                          source="sms", now=now)
    assert await reserve(sessions, worker.phone, line, clock) == RESERVED
    async with sessions() as session:
        offer = await session.scalar(select(Offer).where(Offer.job_line_id == line))
        queued = {row.kind: row for row in await session.scalars(select(OutboundSms))}
    assert offer.status == "accepted" and offer.worker_id == worker.id
    assert offer.accepted_at == offer.employer_asked_at == now
    assert queued["employer_confirm"].status == "suppressed"  # kept, never sent
    assert queued["employer_confirm"].phone == "+8613900000002"
    assert f"Y{offer.id}" in queued["employer_confirm"].body
    assert "employer_insurance" not in queued  # a 3-day job needs none
    assert queued["offer_reserved"].status == "pending"
    assert queued["offer_reserved"].phone == worker.phone


async def test_one_worker_accepting_twice_at_once_holds_one_slot(sessions, market, clock):
    now = clock()
    worker = await add_worker(sessions, market, "+8613800000001", ["porter"], "东郭镇", now)
    line = await add_job(sessions, market, code="J501", trade="porter", town="东郭镇",
                         headcount=5, wage_yuan=200, start=tomorrow(now))
    results = await asyncio.gather(*(reserve(sessions, worker.phone, line, clock)
                                     for _ in range(8)))
    assert results == [RESERVED] * 8
    async with sessions() as session:
        assert await session.scalar(select(JobLine.filled).where(JobLine.id == line)) == 1


async def test_one_worker_racing_for_two_overlapping_jobs_gets_one(sessions, market, clock):
    now = clock()
    worker = await add_worker(sessions, market, "+8613800000001", ["porter"], "东郭镇", now)
    lines = [await add_job(sessions, market, code=f"J7{n:02d}", trade="porter", town="东郭镇",
                           headcount=5, wage_yuan=200, start=tomorrow(now)) for n in range(6)]
    results = await asyncio.gather(*(reserve(sessions, worker.phone, line, clock)
                                     for line in lines))
    assert sorted(results) == [OVERLAP] * 5 + [RESERVED]
    async with sessions() as session:
        held = await session.scalar(select(func.count()).select_from(Offer)
                                    .where(Offer.status == "accepted"))
        filled = sum(await session.scalars(select(JobLine.filled)))
    assert held == 1 and filled == 1


async def test_an_unverified_employers_slot_cannot_be_taken(sessions, market, clock):
    now = clock()
    worker = await add_worker(sessions, market, "+8613800000001", ["porter"], "东郭镇", now)
    line = await add_job(sessions, market, code="J601", trade="porter", town="东郭镇",
                         headcount=5, wage_yuan=200, start=tomorrow(now),
                         verification="unverified")
    assert await reserve(sessions, worker.phone, line, clock) == NOT_OPEN
