"""Matching reads only the top of the trade's ranks in each town (`Worker.match_rank`)
and must choose exactly the workers, in the order and with the scores, that scoring the
whole trade chooses: on random markets full of ties, near misses and ineligible workers."""

from __future__ import annotations

import random
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event, insert, or_, select, update

from market.matching import _score_parts, day_number, match_line, towns_within_reach
from market.optouts import set_opt_out
from store.db import sessions_engine
from store.models import Area, Job, JobLine, Offer, Trade, Worker, WorkerTrade
from tests.market_world import TZ

TRADES = ["welder", "labourer", "cook"]
# Every town of the market: near, one district away, and 城区街道 beyond the reach.
TOWNS = ["北城街道", "东郭镇", "解州镇", "龙居镇", "城东街道", "蒲州镇", "猗氏镇", "临晋镇",
         "桐城镇", "城区街道"]


async def random_market(market, rng: random.Random, workers: int) -> None:
    """Workers drawn from few values, so that scores tie often (the tie goes to the lower
    id) and fall just short of one another; some ineligible in every way the rule knows;
    jobs in drawn towns, some already offered to or held by the workers."""
    now = market.clock()
    today = now.astimezone(ZoneInfo(TZ)).date()
    async with market.sessions() as session, session.begin():
        trade_ids = {t.code: t.id for t in await session.scalars(select(Trade))}
        towns = {a.name: a for a in await session.scalars(select(Area).where(Area.kind == "town"))}
        first = (await session.scalar(select(Worker.id).order_by(Worker.id.desc()).limit(1))
                 or 0) + 1
        rows, links = [], []
        for n in range(workers):
            town = towns[rng.choice(TOWNS)]
            completed = rng.choice([0, 0, 1, 3, 9, 10, 12, 40])
            rows.append({
                "id": first + n, "market_id": market.market_id, "phone": f"+86137{n:08d}",
                "status": "registering" if rng.random() < 0.08 else "active",
                "town_id": town.id, "district_id": town.parent_id,
                "day_wage_fen": rng.choice([None, None, 15000, 30000, 60000]),
                "availability": rng.choice([None, "today", "week", "not_now"]),
                "available_from": rng.choice([None, None, today, today + timedelta(days=9)]),
                "priority_group": rng.random() < 0.3,
                "alert_channel": rng.choice([None, "sms", "call"]),
                "jobs_completed": completed,
                "no_shows": rng.choice([0, 0, 0, 1, 2]),
                "rating_avg": rng.choice([None, 3.0, 4.2, 13 / 3, 4.5, 5.0, 1.7]),
                # Hired long ago (fairness capped), lately (less), never, and a day the
                # clock has not reached (fairness below zero).
                "last_hired_day": rng.choice(
                    [None, day_number(today) - rng.choice([0, 3, 29, 30, 31, 200]),
                     day_number(today) + 2]),
                "consent_at": now, "created_at": now,
            })
            for code in rng.sample(TRADES, rng.randint(1, 2)):
                links.append({"worker_id": first + n, "trade_id": trade_ids[code]})
        await session.execute(insert(Worker.__table__), rows)
        await session.execute(insert(WorkerTrade.__table__), links)
    async with market.sessions() as session, session.begin():
        for n in rng.sample(range(workers), workers // 20):
            await set_opt_out(session, f"+86137{n:08d}", opted_out=True, keyword="退订",
                              source="sms", now=now)
    employer = await market.employer()
    for _ in range(8):
        lines = [(trade, rng.randint(1, 6), rng.choice([200, 300, 500]))
                 for trade in rng.sample(TRADES, rng.randint(1, 2))]
        job = await market.job(employer, lines, town=rng.choice(TOWNS[:-1]),
                               start_in=timedelta(days=rng.randint(1, 4), hours=2),
                               days=rng.randint(1, 4))
        # Offered before (no second alert) or holding a slot (days overlapping others').
        async with market.sessions() as session, session.begin():
            line = await session.scalar(select(JobLine).where(JobLine.job_id == job.id))
            for worker_id in rng.sample(range(first, first + workers), workers // 10):
                session.add(Offer(job_id=job.id, job_line_id=line.id, worker_id=worker_id,
                                  status=rng.choice(["offered", "declined", "accepted"]),
                                  channel="sms", wave=1, created_at=now))


async def both_ways(market, limit: int) -> list[tuple[list, list, int]]:
    """For each job line: (what reading the ranks chose, what scoring the whole trade
    chose, whether the last statement, the one that scores, read ranges of ranks)."""
    now = market.clock()
    today = now.astimezone(ZoneInfo(TZ)).date()
    statements: list[str] = []
    engine = sessions_engine(market.sessions).sync_engine

    def keep(_conn, _cursor, statement, *_):
        statements.append(statement)

    found = []
    async with market.sessions() as session:
        pairs = list(await session.execute(
            select(JobLine, Job).join(Job, Job.id == JobLine.job_id).order_by(JobLine.id)))
        for line, job in pairs:
            reach = await towns_within_reach(session, job.town_id)
            start_day = job.start_at.astimezone(ZoneInfo(TZ)).date()
            ask = {"limit": limit, "now": now, "today": today, "start_day": start_day,
                   "reach": reach}
            event.listen(engine, "before_cursor_execute", keep)
            try:
                ranked = await match_line(session, job, line, narrow=True, **ask)
            finally:
                event.remove(engine, "before_cursor_execute", keep)
            whole = await match_line(session, job, line, narrow=False, **ask)
            found.append((ranked, whole, "match_rank" in statements[-1]))
            statements.clear()
    return found


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_reading_the_top_ranks_chooses_as_scoring_the_whole_trade(market, seed):
    await random_market(market, random.Random(seed), workers=600)
    pruned = 0
    for limit in (1, 2, 5, 12, 40, 10_000):
        for ranked, whole, narrowed in await both_ways(market, limit):
            assert ranked == whole
            pruned += narrowed  # only those whose rank could reach the nearest town's sample
    # The narrowing was used, not only its fallback (fewer than `limit` in the nearest town).
    assert pruned >= 20, pruned


async def test_match_rank_is_the_workers_own_part_of_the_score_as_it_changes(market):
    """The bound the narrowing relies on: match_rank is reliability plus priority, kept
    by the database through inserts and later updates by anyone."""
    await random_market(market, random.Random(5), workers=200)
    parts = _score_parts({0: (0.0, True)}, market.clock().date())

    async def differences() -> list[float]:
        async with market.sessions() as session:
            rows = await session.execute(select(
                Worker.match_rank, parts["reliability"] + parts["priority"]))
            return [abs(rank - own) for rank, own in rows]

    assert max(await differences()) < 1e-9
    assert await trades_out_of_step(market) == []
    async with market.sessions() as session, session.begin():
        await session.execute(update(Worker).where(Worker.id % 3 == 0).values(
            jobs_completed=Worker.jobs_completed + 4, rating_avg=3.7,
            priority_group=~Worker.priority_group))
        await session.execute(update(Worker).where(Worker.id % 3 == 1).values(
            no_shows=Worker.no_shows + 1, rating_avg=None))
    assert max(await differences()) < 1e-9
    assert await trades_out_of_step(market) == []


async def trades_out_of_step(market) -> list:
    """WorkerTrade rows whose copy of the worker's town or rank differs from the worker's."""
    async with market.sessions() as session:
        return list(await session.execute(
            select(WorkerTrade.worker_id, WorkerTrade.trade_id)
            .join(Worker, Worker.id == WorkerTrade.worker_id)
            .where(or_(WorkerTrade.town_id.is_distinct_from(Worker.town_id),
                       WorkerTrade.match_rank.is_distinct_from(Worker.match_rank)))))


async def test_each_trade_of_a_worker_carries_his_town_and_rank_as_they_change(market):
    """The index matching reads (trade, town, rank) is kept by the database's triggers:
    through a worker registered the ORM's way, trades added and moved, moving town,
    changing rank by anyone, and changes that leave both alone."""
    await random_market(market, random.Random(6), workers=100)
    async with market.sessions() as session, session.begin():
        towns = list(await session.scalars(select(Area.id).where(Area.kind == "town")))
        trades = list(await session.scalars(select(Trade).order_by(Trade.id)))
        # Its id given: random_market's explicit ids leave PostgreSQL's sequence behind.
        worker = Worker(id=10_000, market_id=market.market_id, phone="+8613999999999",
                        status="active",
                        town_id=towns[0], jobs_completed=4, priority_group=True,
                        created_at=market.clock())
        worker.trades = trades[:2]
        session.add(worker)
    assert await trades_out_of_step(market) == []
    async with market.sessions() as session, session.begin():
        await session.execute(update(Worker).where(Worker.id % 2 == 0).values(
            town_id=towns[3], no_shows=Worker.no_shows + 2))
        await session.execute(update(Worker).where(Worker.id % 5 == 0).values(town_id=None))
        await session.execute(update(Worker).where(Worker.id % 7 == 0).values(
            name="改名", day_wage_fen=30000))
        await session.execute(update(WorkerTrade).where(
            WorkerTrade.worker_id == worker.id, WorkerTrade.trade_id == trades[1].id)
            .values(worker_id=1))
        await session.execute(insert(WorkerTrade.__table__), [
            {"worker_id": worker.id, "trade_id": trades[2].id}])
    assert await trades_out_of_step(market) == []
    async with market.sessions() as session:
        copied = await session.scalar(select(WorkerTrade.match_rank).where(
            WorkerTrade.worker_id == worker.id, WorkerTrade.trade_id == trades[2].id))
    assert copied == 4 * 2 - 2 * 10 + 15  # moved and two no-shows (its id is even)
