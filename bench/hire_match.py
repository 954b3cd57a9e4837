"""Scenario 1: match one job line against the whole register, as a wave does.

Jobs are posted with the product's post_job (a few per trade, towns drawn), then
towns_within_reach + match_line run with the wave's limit (multiplier x headcount), each
in its own session like run_waves. Timed cold (each job's first match on a new engine: a
new connection, no statement or page cache of its own, as after a start) and warm (after
a pass over all jobs), for match_line as shipped and for the baseline, the same query
scoring every worker of the trade within reach. Every match must fill the wave and equal
the baseline's, or the benchmark fails. The statements of one match are captured as the
driver got them and explained with the same parameters, so the plans shown are the plans
of the timed queries."""

from __future__ import annotations

import random
import re
import time as clock
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import partial
from zoneinfo import ZoneInfo

from sqlalchemy import event, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from basics.clock import market_today
from bench.hire_population import TOWN_WEIGHTS, TRADE_WEIGHTS, Market
from bench.hire_stats import summary_ms
from market import jobs
from market.matching import match_line, towns_within_reach
from store.db import make_engine, make_sessionmaker
from store.models import Job, JobLine

WAVE_MULTIPLIER = 3  # the settings' default GIGLINE_WAVE_MULTIPLIER
CENTRE = "北城街道"
MATCHERS: dict[str, Callable] = {
    "match_line": match_line,
    # The trade's workers within reach all scored, then sorted: the one query matching had
    # before workers carried match_rank, and what match_line still does for a rare trade.
    "baseline": partial(match_line, narrow=False),
}


class BenchFailed(RuntimeError):
    """The work the benchmark claims to time did not happen as the product must do it."""


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


async def time_matches(url: str, sessions: async_sessionmaker, benches: list[BenchJob],
                       market: Market, now: datetime, rounds: int) -> dict:
    """Cold and warm timings of every matcher in MATCHERS over the same jobs. Raises
    BenchFailed if a match falls short of the wave or differs from the baseline's."""
    today = market_today(now, market.timezone)
    start_day = benches[0].job.start_at.astimezone(ZoneInfo(market.timezone)).date()
    chosen: dict[str, dict[int, list]] = {}
    results = {}
    for name, matcher in MATCHERS.items():
        picks = chosen[name] = {}
        cold = []
        for bench in benches:
            # A new engine per job: its first match runs on a new connection with empty
            # statement caches (and, on SQLite, an empty page cache), as after a restart.
            engine = make_engine(url)
            try:
                _, match_t, found = await match_once(make_sessionmaker(engine), bench, now,
                                                     today, start_day, matcher)
            finally:
                await engine.dispose()
            cold.append(match_t)
            picks[bench.line.id] = _check(name, bench, found)
        for bench in benches:  # warm-up: caches, prepared statements, SQLite page cache
            await match_once(sessions, bench, now, today, start_day, matcher)
        reach_s, match_s, by_trade = [], [], {}
        for _ in range(rounds):
            for bench in benches:
                reach_t, match_t, found = await match_once(sessions, bench, now, today,
                                                           start_day, matcher)
                reach_s.append(reach_t)
                match_s.append(match_t)
                by_trade.setdefault(bench.trade, []).append(match_t)
                if _check(name, bench, found) != picks[bench.line.id]:
                    raise BenchFailed(f"{name} chose differently cold and warm for "
                                      f"{bench.trade} in {bench.town}")
        results[name] = {
            "cold": summary_ms(cold),
            "warm": summary_ms(match_s),
            "towns_within_reach_warm": summary_ms(reach_s),
            "warm_p50_ms_by_trade": {t: summary_ms(v)["p50_ms"] for t, v in by_trade.items()},
        }
    for name, picks in chosen.items():
        differ = [b for b in benches if picks[b.line.id] != chosen["baseline"][b.line.id]]
        if differ:
            raise BenchFailed(f"{name} chose other workers than the baseline for "
                              f"{len(differ)} jobs, e.g. {differ[0].trade} in {differ[0].town}")
    return {"matchers": results, "jobs": len(benches), "rounds": rounds,
            "same_choice_as_baseline": True}


def _check(name: str, bench: BenchJob, found: list) -> list[tuple[int, float]]:
    wanted = WAVE_MULTIPLIER * bench.line.headcount
    if len(found) < wanted:
        raise BenchFailed(f"{name} found {len(found)} workers for a wave of {wanted} "
                          f"({bench.trade} in {bench.town}): too few workers loaded?")
    return [(m.worker_id, m.score) for m in found]


async def explain_match(engine: AsyncEngine, sessions: async_sessionmaker, bench: BenchJob,
                        market: Market, now: datetime, matcher: str = "match_line") -> dict:
    """Runs one match with a cursor hook that keeps its statements, then EXPLAINs exactly
    those statements with the same parameters."""
    captured: list[tuple[str, object]] = []

    def keep(_conn, _cursor, statement, parameters, _context, _many):
        if "worker_trades" in statement or "match_rank" in statement:
            captured.append((statement, parameters))

    event.listen(engine.sync_engine, "before_cursor_execute", keep)
    try:
        today = market_today(now, market.timezone)
        start_day = bench.job.start_at.astimezone(ZoneInfo(market.timezone)).date()
        await match_once(sessions, bench, now, today, start_day, MATCHERS[matcher])
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", keep)
    postgres = engine.dialect.name == "postgresql"
    prefix = "EXPLAIN (ANALYZE, BUFFERS) " if postgres else "EXPLAIN QUERY PLAN "
    statements = []
    async with engine.connect() as conn:
        for statement, parameters in captured:
            rows = list(await conn.exec_driver_sql(prefix + statement, parameters))
            plan = [row[0] for row in rows] if postgres else _sqlite_tree(rows)
            statements.append({"sql": _inline(statement, parameters, postgres), "plan": plan,
                               "full_scans": _full_scans(plan, postgres)})
        await conn.rollback()
    return {"matcher": matcher, "trade": bench.trade, "town": bench.town,
            "headcount": bench.line.headcount, "statements": statements}


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
