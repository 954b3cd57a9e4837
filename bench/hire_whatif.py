"""What if (benchmark only; the product's code is not changed): is the match query's cost
in its shape, in missing planner statistics, or in a missing index?

match_line asks for the trade with a correlated EXISTS on worker_trades, so SQLite can only
walk every active worker of the towns in reach (ix_workers_match) and probe worker_trades
for each. The copy below is match_line's query with one change: the trade is a JOIN, which
lets a planner start from the trade's rows instead. (worker_id, trade_id) is the key of
worker_trades, so the join cannot repeat a worker: the results are the same, and the
warm-up pass checks they are. Each step runs on fresh connections, because SQLite reads
its statistics when a connection opens."""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

from sqlalchemy import and_, exists, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from bench.hire_match import BenchJob, explain_match, match_once
from bench.hire_population import Market
from bench.hire_stats import summary_ms
from market.clock import market_today
from market.matching import HELD, Match, _score_parts, match_line
from store.db import make_engine, make_sessionmaker
from store.models import Job, JobLine, Offer, OptOut, Worker, WorkerTrade

COVERING_INDEX = "CREATE INDEX ix_bench_worker_trades_trade_worker ON worker_trades " \
                 "(trade_id, worker_id)"


async def match_line_trade_join(session: AsyncSession, job: Job, line: JobLine, *, limit: int,
                                today: date, start_day: date,
                                reach: dict[int, tuple[float, bool]]) -> list[Match]:
    parts = _score_parts(reach, today)
    total = sum(parts.values())
    overlapping_hold = (
        select(Offer.id)
        .join(Job, Job.id == Offer.job_id)
        .where(Offer.worker_id == Worker.id, Offer.status.in_(HELD), Job.id != job.id,
               Job.start_at < job.end_at, Job.end_at > job.start_at)
    )
    query = (
        select(Worker.id, Worker.phone, Worker.alert_channel, total.label("score"),
               *(expr.label(name) for name, expr in parts.items()))
        # The one change: JOIN instead of EXISTS for the trade.
        .join(WorkerTrade, and_(WorkerTrade.worker_id == Worker.id,
                                WorkerTrade.trade_id == line.trade_id))
        .where(
            Worker.status == "active",
            Worker.town_id.in_(list(reach)),
            ~exists().where(OptOut.phone == Worker.phone, OptOut.opted_out),
            or_(Worker.availability.is_(None), Worker.availability != "not_now"),
            or_(Worker.available_from.is_(None), Worker.available_from <= start_day),
            or_(Worker.day_wage_fen.is_(None), Worker.day_wage_fen <= line.day_wage_fen),
            ~exists().where(and_(Offer.job_id == job.id, Offer.worker_id == Worker.id)),
            ~overlapping_hold.exists(),
        )
        .order_by(total.desc(), Worker.id)
        .limit(limit)
    )
    return [
        Match(row.id, row.phone, row.alert_channel, line.id, round(float(row.score), 1),
              {name: round(float(getattr(row, name)), 1) for name in parts})
        for row in await session.execute(query)
    ]


async def _time(sessions, benches: list[BenchJob], today: date, start_day: date,
                matcher) -> tuple[dict, list[list[int]]]:
    chosen = [[m.worker_id for m in (await match_once(sessions, b, today, start_day,
                                                      matcher))[2]] for b in benches]  # warm-up
    seconds = [(await match_once(sessions, b, today, start_day, matcher))[1] for b in benches]
    return summary_ms(seconds), chosen


async def what_if(url: str, benches: list[BenchJob], market: Market, now) -> list[dict]:
    """Times both query forms after each step; steps build on each other."""
    today = market_today(now, market.timezone)
    start_day = benches[0].job.start_at.astimezone(ZoneInfo(market.timezone)).date()
    sqlite = url.startswith("sqlite")
    # PostgreSQL was ANALYZEd after loading (autovacuum would have); SQLite never is.
    steps = [("as shipped", [])]
    if sqlite:
        steps.append(("+ ANALYZE", ["ANALYZE"]))
    steps.append(("+ index worker_trades(trade_id, worker_id), ANALYZE",
                  [COVERING_INDEX, "ANALYZE"]))
    report = []
    for label, statements in steps:
        engine = make_engine(url)
        try:
            async with engine.begin() as conn:
                for statement in statements:
                    await conn.execute(text(statement))
            await engine.dispose()  # fresh connections load the new statistics
            sessions = make_sessionmaker(engine)
            shipped, shipped_ids = await _time(sessions, benches, today, start_day, match_line)
            joined, joined_ids = await _time(sessions, benches, today, start_day,
                                             match_line_trade_join)
            plan = await explain_match(engine, sessions, benches[0], market, now,
                                       match_line_trade_join)
        finally:
            await engine.dispose()
        report.append({"step": label, "exists_form": shipped, "join_form": joined,
                       "same_matches": shipped_ids == joined_ids,
                       "join_plan_head": plan["plan"][:3]})
    return report
