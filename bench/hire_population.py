"""A market the size of a prefecture's gig hotline, loaded fast with bulk INSERTs.

Workers get 1-3 trades drawn with a skew (小工 and 搬运 common, 月嫂 rare), live in the
10 towns unevenly (the city centre most), and carry the profile fields matching reads:
wage asked, availability, priority group, reliability numbers. Around them: opt-outs and
a backlog of earlier jobs with offers, some held, so the "not offered before" and "no
overlapping hold" checks have rows to look at."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, insert, select, text
from sqlalchemy.ext.asyncio import async_sessionmaker

from basics.clock import market_today
from market.matching import day_number
from market.seed import ensure_market
from store.models import Area, Employer, Job, JobLine, Offer, OptOut, Trade, Worker, WorkerTrade

# Relative share of registrations naming each trade (a worker may name up to three).
TRADE_WEIGHTS = {
    "labourer": 24, "porter": 14, "cleaner": 8, "packer": 8, "mason": 6, "rebar": 5,
    "carpenter": 5, "welder": 5, "painter": 4, "courier": 5, "driver": 4, "cook": 4,
    "electrician": 3, "plumber": 3, "housekeeper": 3, "nanny": 0.6,
}
# The city centre (北城街道) has the most workers, the far county towns the fewest.
TOWN_WEIGHTS = {
    "北城街道": 24, "东郭镇": 12, "解州镇": 8, "龙居镇": 7, "城东街道": 11, "蒲州镇": 5,
    "猗氏镇": 9, "临晋镇": 8, "桐城镇": 8, "城区街道": 8,
}
TRADES_PER_WORKER = ((1, 0.55), (2, 0.30), (3, 0.15))
CHUNK = 5_000  # rows per executemany: bounded memory, few round trips
PHONE_BASE = 13_800_000_000  # +86 138…: valid mainland mobile numbers


@dataclass(frozen=True)
class Market:
    id: int
    timezone: str
    trade_ids: dict[str, int]  # code -> id
    towns: dict[str, tuple[int, int]]  # name -> (town id, district id)
    employer_id: int  # a verified employer the scenarios post jobs for


@dataclass(frozen=True)
class Population:
    workers: int
    worker_trades: int
    opt_outs: int
    background_jobs: int
    offers: int
    held_offers: int
    seconds: float
    trade_share: dict[str, float]  # share of active workers registered for the trade


def worker_phone(n: int) -> str:
    return f"+86{PHONE_BASE + n}"


async def load_market(sessions: async_sessionmaker, now: datetime) -> Market:
    async with sessions() as session, session.begin():
        market = await ensure_market(session, "yuncheng")
        trades = {t.code: t.id for t in await session.scalars(select(Trade))}
        towns = {a.name: (a.id, a.parent_id) for a in await session.scalars(
            select(Area).where(Area.kind == "town"))}
        # Inserted directly: the API scenario registers its own employer the agents' way.
        # A kept database (--keep-db) has it from the run that filled it.
        employer = await session.scalar(select(Employer).where(
            Employer.credit_code == "BENCH0000000000001"))
        if employer:
            return Market(market.id, market.timezone, trades, towns, employer.id)
        employer = Employer(market_id=market.id, name="基准测试劳务公司", phone="+8613900000099",
                            credit_code="BENCH0000000000001", verification="verified",
                            verified_at=now, verified_by="bench", created_at=now)
        session.add(employer)
        await session.flush()
        return Market(market.id, market.timezone, trades, towns, employer.id)


def _worker_row(rng: random.Random, n: int, market: Market, today: date,
                now: datetime) -> tuple[dict, list[str]]:
    town = rng.choices(list(TOWN_WEIGHTS), weights=list(TOWN_WEIGHTS.values()))[0]
    town_id, district_id = market.towns[town]
    count = rng.choices([c for c, _ in TRADES_PER_WORKER],
                        weights=[w for _, w in TRADES_PER_WORKER])[0]
    trades: list[str] = []
    while len(trades) < count:  # weighted draw without replacement
        pick = rng.choices(list(TRADE_WEIGHTS), weights=list(TRADE_WEIGHTS.values()))[0]
        if pick not in trades:
            trades.append(pick)
    completed = min(int(rng.expovariate(1 / 6)), 60)
    hired_ago = rng.randint(0, 200)
    row = {
        "market_id": market.id,
        "phone": worker_phone(n),
        "status": "active" if rng.random() < 0.93 else "registering",
        "district_id": district_id,
        "town_id": town_id,
        "day_wage_fen": None if rng.random() < 0.4 else rng.randrange(120, 460, 10) * 100,
        "availability": rng.choices([None, "today", "tomorrow", "week", "not_now"],
                                    weights=[30, 20, 20, 20, 10])[0],
        "available_from": None if rng.random() < 0.7 else today + timedelta(rng.randint(0, 10)),
        "priority_group": rng.random() < 0.08,
        "alert_channel": "call" if rng.random() < 0.15 else "sms",
        "jobs_completed": completed,
        "no_shows": 0 if rng.random() < 0.85 else rng.randint(1, 3),
        "rating_avg": None if completed == 0 else round(rng.uniform(3.0, 5.0), 1),
        "last_hired_day": None if completed == 0 else day_number(today) - hired_ago,
        "consent_at": now,
        "created_at": now,
        "registered_at": now,
    }
    return row, trades


async def populate(sessions: async_sessionmaker, market: Market, count: int, now: datetime,
                   seed: int = 7) -> Population:
    rng = random.Random(seed)
    today = market_today(now, market.timezone)
    started = datetime.now()
    worker_ids: list[int] = []
    trade_rows = 0
    active_by_trade = dict.fromkeys(TRADE_WEIGHTS, 0)
    active = 0
    async with sessions() as session:
        base = await session.scalar(select(func.coalesce(func.max(Worker.id), 0)))
    for first in range(0, count, CHUNK):
        drawn = [_worker_row(rng, n, market, today, now)
                 for n in range(first, min(first + CHUNK, count))]
        # Core executemany with the ids written in: the ORM's bulk path (and RETURNING the
        # ids) is 10-70x slower, and the trade rows need the ids up front.
        ids = list(range(base + first + 1, base + first + 1 + len(drawn)))
        rows = [{"id": wid, **row} for wid, (row, _) in zip(ids, drawn, strict=True)]
        links = [{"worker_id": wid, "trade_id": market.trade_ids[code]}
                 for wid, (_, codes) in zip(ids, drawn, strict=True) for code in codes]
        async with sessions() as session, session.begin():
            await session.execute(insert(Worker.__table__), rows)
            await session.execute(insert(WorkerTrade.__table__), links)
        worker_ids.extend(ids)
        trade_rows += len(links)
        for row, codes in drawn:
            if row["status"] == "active":
                active += 1
                for code in codes:
                    active_by_trade[code] += 1
    await _advance_sequence(sessions)
    opt_outs = await _opt_outs(sessions, rng, count, now)
    jobs, offers, held = await _backlog(sessions, rng, market, worker_ids, now)
    return Population(
        workers=count, worker_trades=trade_rows, opt_outs=opt_outs, background_jobs=jobs,
        offers=offers, held_offers=held,
        seconds=round((datetime.now() - started).total_seconds(), 1),
        trade_share={code: round(n / max(active, 1), 4) for code, n in active_by_trade.items()},
    )


async def _advance_sequence(sessions) -> None:
    """PostgreSQL hands out ids from a sequence that explicit ids do not move: move it past
    them, or the next worker registered through the product would collide."""
    async with sessions() as session, session.begin():
        if session.bind.dialect.name == "postgresql":
            await session.execute(text(
                "SELECT setval(pg_get_serial_sequence('workers', 'id'), max(id)) FROM workers"))


async def _opt_outs(sessions, rng: random.Random, count: int, now: datetime) -> int:
    """About 1% of workers texted 退订 at some point."""
    rows = [{"phone": worker_phone(n), "opted_out": True, "keyword": "退订", "source": "sms",
             "changed_at": now} for n in range(count) if rng.random() < 0.01]
    async with sessions() as session, session.begin():
        for first in range(0, len(rows), CHUNK):
            await session.execute(insert(OptOut.__table__), rows[first:first + CHUNK])
    return len(rows)


async def _backlog(sessions, rng: random.Random, market: Market, worker_ids: list[int],
                   now: datetime) -> tuple[int, int, int]:
    """Earlier jobs around the benchmark's dates, each offered to ~30 workers with a few
    holding slots: one offer per 10 workers in all, a fifth of them held."""
    zone = ZoneInfo(market.timezone)
    tomorrow = market_today(now, market.timezone) + timedelta(days=1)
    job_count = max(1, len(worker_ids) // 300)
    offers, held = [], 0
    async with sessions() as session, session.begin():
        for n in range(job_count):
            start = datetime.combine(tomorrow + timedelta(rng.randint(-3, 4)), time(7), zone)
            days = rng.randint(1, 10)
            town_id = rng.choice(list(market.towns.values()))[0]
            job = Job(market_id=market.id, employer_id=market.employer_id, code=f"B{n}",
                      start_at=start, end_at=start + timedelta(days=days), days=days,
                      town_id=town_id, created_at=now, next_wave_at=None, waves_sent=1)
            session.add(job)
            await session.flush()
            chosen = rng.sample(worker_ids, 30)
            accepted = rng.randint(0, 10)
            line = JobLine(job_id=job.id, trade_id=rng.choice(list(market.trade_ids.values())),
                           headcount=accepted + 2, filled=accepted, day_wage_fen=20000)
            session.add(line)
            await session.flush()
            for i, worker_id in enumerate(chosen):
                status = "accepted" if i < accepted else rng.choice(["offered", "declined"])
                held += status == "accepted"
                offers.append({
                    "job_id": job.id, "job_line_id": line.id, "worker_id": worker_id,
                    "status": status, "channel": "sms", "wave": 1, "score": {},
                    "created_at": now, "alerted_at": now,
                    "accepted_at": now if status == "accepted" else None,
                })
        for first in range(0, len(offers), CHUNK):
            await session.execute(insert(Offer.__table__), offers[first:first + CHUNK])
    return job_count, len(offers), held
