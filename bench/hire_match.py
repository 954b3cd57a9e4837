"""Scenario 1: match one job line against the whole register, as a wave does.

Jobs are posted with the product's post_job (a few per trade, towns drawn), then
towns_within_reach + match_line run with the wave's limit (multiplier x headcount), each
in its own session like run_waves. The match SELECT is captured as the driver got it and
explained on the same connection, so the plan shown is the plan of the timed query."""

from __future__ import annotations

import random
import re
import time as clock
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import event, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from basics.clock import market_today
from bench.hire_population import TOWN_WEIGHTS, TRADE_WEIGHTS, Market
from bench.hire_stats import summary_ms
from market import jobs
from market.matching import match_line, towns_within_reach
from store.models import Job, JobLine

WAVE_MULTIPLIER = 3  # the settings' default GIGLINE_WAVE_MULTIPLIER
CENTRE = "北城街道"


@dataclass(frozen=True)
class BenchJob:
    job: Job
    line: JobLine
    trade: str
    town: str


async def post_bench_jobs(sessions: async_sessionmaker, market: Market, now: datetime,
                          per_trade: int, seed: int = 11) -> list[BenchJob]:
    """per_trade jobs for every trade, in towns drawn like the workers'; posted with
    the product's post_job, then taken out of the wave schedule so nothing alerts."""
    rng = random.Random(seed)
    zone = ZoneInfo(market.timezone)
    start = datetime.combine(market_today(now, market.timezone) + timedelta(days=1), time(7),
                             zone)
    posted = []
    async with sessions() as session, session.begin():
        for trade in TRADE_WEIGHTS:
            for n in range(per_trade):
                # Each trade's first job is in the city centre: most workers within reach,
                # the worst case, and the job whose plan is shown.
                town = CENTRE if n == 0 else rng.choices(
                    list(TOWN_WEIGHTS), weights=list(TOWN_WEIGHTS.values()))[0]
                spec = jobs.JobSpec(
                    employer_id=market.employer_id,
                    lines=(jobs.LineSpec(trade, rng.randint(4, 10),
                                         rng.randrange(150, 510, 10) * 100),),
                    start_at=start, days=rng.randint(1, 5), daily_pay=False,
                    town_id=market.towns[town][0], address="基准测试工地")
                job = await jobs.post_job(session, spec, market_id=market.id, agent="bench",
                                          now=now)
                posted.append((job, trade, town))
        await session.execute(update(Job).where(Job.id.in_([j.id for j, _, _ in posted]))
                              .values(next_wave_at=None))
    async with sessions() as session:
        lines = {line.job_id: line for line in await session.scalars(
            select(JobLine).where(JobLine.job_id.in_([j.id for j, _, _ in posted])))}
    return [BenchJob(job, lines[job.id], trade, town) for job, trade, town in posted]


async def match_once(sessions: async_sessionmaker, bench: BenchJob, now: datetime,
                     today: date, start_day: date, matcher=match_line) -> tuple[float, float, list]:
    """(seconds for towns_within_reach, seconds for the match, the matches)."""
    async with sessions() as session:
        t0 = clock.perf_counter()
        reach = await towns_within_reach(session, bench.job.town_id)
        t1 = clock.perf_counter()
        found = await matcher(session, bench.job, bench.line,
                              limit=WAVE_MULTIPLIER * bench.line.headcount, now=now,
                              today=today, start_day=start_day, reach=reach)
        t2 = clock.perf_counter()
    return t1 - t0, t2 - t1, found


async def time_matches(sessions: async_sessionmaker, benches: list[BenchJob], market: Market,
                       now: datetime, rounds: int) -> dict:
    today = market_today(now, market.timezone)
    start_day = benches[0].job.start_at.astimezone(ZoneInfo(market.timezone)).date()
    for bench in benches:  # warm-up: caches, prepared statements, SQLite page cache
        await match_once(sessions, bench, now, today, start_day)
    reach_s, match_s, by_trade, short = [], [], {}, 0
    for _ in range(rounds):
        for bench in benches:
            reach_t, match_t, found = await match_once(sessions, bench, now, today, start_day)
            reach_s.append(reach_t)
            match_s.append(match_t)
            by_trade.setdefault(bench.trade, []).append(match_t)
            short += len(found) < WAVE_MULTIPLIER * bench.line.headcount
    return {
        "match_line": summary_ms(match_s),
        "towns_within_reach": summary_ms(reach_s),
        "by_trade_p50_ms": {t: summary_ms(v)["p50_ms"] for t, v in by_trade.items()},
        "samples_with_fewer_matches_than_wanted": short,
        "jobs": len(benches),
        "rounds": rounds,
    }


async def explain_match(engine: AsyncEngine, sessions: async_sessionmaker, bench: BenchJob,
                        market: Market, now: datetime, matcher=match_line) -> dict:
    """Runs one match with a cursor hook that keeps its SELECT, then EXPLAINs exactly that
    statement with the same parameters."""
    captured: list[tuple[str, object]] = []

    def keep(_conn, _cursor, statement, parameters, _context, _many):
        if "worker_trades" in statement and "ORDER BY" in statement:
            captured.append((statement, parameters))

    event.listen(engine.sync_engine, "before_cursor_execute", keep)
    try:
        today = market_today(now, market.timezone)
        start_day = bench.job.start_at.astimezone(ZoneInfo(market.timezone)).date()
        await match_once(sessions, bench, now, today, start_day, matcher)
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", keep)
    statement, parameters = captured[-1]
    postgres = engine.dialect.name == "postgresql"
    prefix = "EXPLAIN (ANALYZE, BUFFERS) " if postgres else "EXPLAIN QUERY PLAN "
    async with engine.connect() as conn:
        rows = list(await conn.exec_driver_sql(prefix + statement, parameters))
        await conn.rollback()
    plan = [row[0] for row in rows] if postgres else _sqlite_tree(rows)
    return {"trade": bench.trade, "town": bench.town, "headcount": bench.line.headcount,
            "sql": _inline(statement, parameters, postgres), "plan": plan,
            "full_scans": _full_scans(plan, postgres)}


def _sqlite_tree(rows) -> list[str]:
    """EXPLAIN QUERY PLAN rows (id, parent, _, detail) as the indented tree sqlite3 prints."""
    depth = {0: -1}
    lines = []
    for node, parent, _, detail in rows:
        depth[node] = depth.get(parent, -1) + 1
        lines.append("  " * depth[node] + detail)
    return lines


def _full_scans(plan: list[str], postgres: bool) -> list[str]:
    if postgres:
        return [line.strip() for line in plan if "Seq Scan" in line]
    # SQLite: "SCAN t" walks the whole table; "SCAN t USING INDEX" walks a whole index.
    return [line.strip() for line in plan if line.strip().startswith("SCAN ")]


def _literal(value: object) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


def _inline(statement: str, parameters, postgres: bool) -> str:
    """The statement with its parameters written in, for reading (not for running)."""
    values = list(parameters)
    if postgres:
        return re.sub(r"\$(\d+)", lambda m: _literal(values[int(m[1]) - 1]), statement)
    parts = statement.split("?")
    out = [parts[0]]
    for value, rest in zip(values, parts[1:], strict=True):
        out += [_literal(value), rest]
    return "".join(out)
