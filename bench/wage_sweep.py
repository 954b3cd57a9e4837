"""Benchmark: the reminders sweep over 100,000 active hires with 5,000 pay questions due
at once (target: carried out in under 2 s, each SMS queued exactly once), on SQLite and
PostgreSQL.

    PYTHONPATH=. python bench/wage_sweep.py [--db sqlite|postgres|both] [--hires N] [--due N]

Builds a market with N hires (each with its pay check and its five reminders spread
over 30 days, so 5N reminder rows) in a fresh database migrated by `gigline migrate`
(bench/databases.py: a temporary SQLite file, or a PostgreSQL database created and
dropped), makes `--due` of the pay questions due now, then times (1) the query that
picks due reminders and (2) a whole sweep carrying them out (state changes and SMS
queued). It fails unless every due reminder was asked once: one pay-question SMS per
due worker in the outbox, each pay check asked once, the next ask scheduled, and a
second sweep finding nothing."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import tempfile
import time as wall
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from databases import fresh_database
from sqlalchemy import func, insert, select, text

from gigline.settings import Settings
from market.context import MarketContext
from market.reminders import run_reminders
from market.seed import ensure_market
from market.wages import WageRules
from prompts.catalogue import load_catalogue
from store.db import make_engine, make_sessionmaker
from store.models import (
    Area,
    Employer,
    Hire,
    Job,
    JobLine,
    Offer,
    OutboundSms,
    PayCheck,
    Reminder,
    Trade,
    Worker,
)

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
PG_NAME = "gigline_wage_bench"
NOW = datetime(2026, 11, 24, 11, 0, tzinfo=UTC)  # 19:00 in Shanghai
CHUNK = 5000


async def build(url: str, hires: int, due: int) -> None:
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    rng = random.Random(7)
    async with sessions() as session, session.begin():
        market = await ensure_market(session, "yuncheng")
        town = await session.scalar(select(Area.id).where(Area.kind == "town"))
        trade = await session.scalar(select(Trade.id))
        employer = Employer(market_id=market.id, name="bench", phone="+8613900000001",
                            credit_code="91140802MA0K000005", verification="verified",
                            created_at=NOW)
        session.add(employer)
        await session.flush()
        jobs, lines = [], []
        for n in range(100):
            start = NOW - timedelta(days=rng.randint(0, 20))
            job = Job(market_id=market.id, employer_id=employer.id, code=f"J{n + 1}",
                      start_at=start, end_at=start + timedelta(days=30), days=30,
                      town_id=town, created_at=NOW)
            session.add(job)
            await session.flush()
            line = JobLine(job_id=job.id, trade_id=trade, headcount=hires, filled=0,
                           day_wage_fen=30000)
            session.add(line)
            await session.flush()
            jobs.append(job.id)
            lines.append(line.id)
        market_id = market.id
    async with engine.begin() as conn:
        for first in range(0, hires, CHUNK):
            ids = range(first + 1, min(first + CHUNK, hires) + 1)
            await conn.execute(insert(Worker), [
                {"id": i, "market_id": market_id, "phone": f"+86138{i:08d}", "status": "active",
                 "created_at": NOW, "priority_group": False, "jobs_completed": 0,
                 "no_shows": 0} for i in ids])
            await conn.execute(insert(Offer), [
                {"id": i, "job_id": jobs[i % 100], "job_line_id": lines[i % 100],
                 "worker_id": i, "status": "confirmed", "channel": "sms", "wave": 1,
                 "score": {}, "created_at": NOW} for i in ids])
            await conn.execute(insert(Hire), [
                {"id": i, "offer_id": i, "worker_id": i, "job_id": jobs[i % 100],
                 "job_line_id": lines[i % 100], "status": "started", "contract_summary": "",
                 "day_wage_fen": 30000, "days_worked": 30, "owed_fen": 900000, "paid_fen": 0,
                 "created_at": NOW} for i in ids])
            await conn.execute(insert(PayCheck), [
                {"id": i, "hire_id": i, "period_start": date(2026, 11, 1),
                 "period_end": date(2026, 11, 30), "owed_fen": 900000, "status": "due",
                 "asks": 0} for i in ids])
            rows = []
            for i in ids:
                spread = NOW + timedelta(hours=rng.randint(1, 30 * 24))
                question_at = NOW - timedelta(minutes=5) if i <= due else spread
                rows += [
                    {"kind": "assume_started", "hire_id": i, "due_at": NOW - timedelta(days=3),
                     "status": "done"},
                    {"kind": "employer_pay_due", "hire_id": i, "pay_check_id": i,
                     "due_at": spread, "status": "pending"},
                    {"kind": "pay_question", "hire_id": i, "pay_check_id": i,
                     "due_at": question_at, "status": "pending"},
                    {"kind": "rating", "hire_id": i, "rater": "worker",
                     "due_at": spread + timedelta(days=1), "status": "pending"},
                    {"kind": "rating", "hire_id": i, "rater": "employer",
                     "due_at": spread + timedelta(days=1), "status": "pending"},
                ]
            # executemany takes its columns from the first row: give every row them all
            await conn.execute(insert(Reminder), [
                {"pay_check_id": None, "rater": None, **row} for row in rows])
        if url.startswith("postgresql"):
            for table in ("workers", "offers", "hires", "pay_checks", "reminders"):
                await conn.execute(text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT max(id) FROM {table}))"))
            await conn.execute(text("ANALYZE"))
    await engine.dispose()


class BenchFailed(RuntimeError):
    """The sweep did not do the work the benchmark claims to measure."""


def check(holds: bool, what: str) -> None:
    if not holds:
        raise BenchFailed(what)


async def measure(url: str, due: int) -> dict:
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    pick = (select(Reminder).where(Reminder.status == "pending", Reminder.due_at <= NOW)
            .order_by(Reminder.due_at, Reminder.id).limit(500))
    picks = []
    for _ in range(20):
        async with sessions() as session:
            started = wall.perf_counter()
            found = list(await session.scalars(pick))
            picks.append((wall.perf_counter() - started) * 1000)
    check(len(found) == min(500, due), f"picked {len(found)} due reminders, not {min(500, due)}")
    async with engine.connect() as conn:
        compiled = pick.compile(engine.sync_engine, compile_kwargs={"literal_binds": True})
        explain = ("EXPLAIN QUERY PLAN " if url.startswith("sqlite") else "EXPLAIN ")
        plan = [" ".join(str(c) for c in row)
                for row in await conn.execute(text(explain + str(compiled)))]
    desk = MarketContext(sessions=sessions, market_id=1, timezone="Asia/Shanghai",
                         hotline="0359 212 3456", catalogue=load_catalogue("zh-CN"),
                         wage_rules=WageRules(), hold_employers=True)
    started = wall.perf_counter()
    counts = await run_reminders(desk, NOW)
    sweep_seconds = wall.perf_counter() - started
    again = await run_reminders(desk, NOW)
    async with sessions() as session:
        sms, phones = (await session.execute(
            select(func.count(OutboundSms.id), func.count(OutboundSms.phone.distinct()))
            .where(OutboundSms.kind == "pay_question", OutboundSms.status == "pending"))).one()
        asked = await session.scalar(select(func.count(PayCheck.id))
                                     .where(PayCheck.status == "asked", PayCheck.asks == 1))
        next_asks = await session.scalar(select(func.count(Reminder.id)).where(
            Reminder.kind == "pay_question", Reminder.status == "pending",
            Reminder.due_at == NOW + timedelta(days=1), Reminder.hire_id <= due))
    await engine.dispose()
    check(counts == {"asked": due}, f"the sweep carried out {counts}, not {due} asked")
    check(again == {}, f"a second sweep found {again} left")
    check(sms == due and phones == due,
          f"{sms} pay-question SMS queued to {phones} phones for {due} reminders due")
    check(asked == due, f"{asked} pay checks asked once, not {due}")
    check(next_asks == due, f"{next_asks} next asks scheduled for tomorrow 19:00, not {due}")
    return {"pick_ms_p50": round(statistics.median(picks), 2),
            "pick_ms_max": round(max(picks), 2), "sweep_seconds": round(sweep_seconds, 2),
            "ms_per_reminder": round(sweep_seconds * 1000 / due, 3),
            "carried_out": counts, "sms_queued": sms, "plan": plan}


async def run(db: str, hires: int, due: int, pg_admin: str, pg_name: str) -> dict:
    with tempfile.TemporaryDirectory(prefix="wage-sweep-") as workdir:
        async with fresh_database(db, workdir, pg_admin=pg_admin, pg_name=pg_name) as plain:
            url = Settings.from_env({"GIGLINE_DATABASE_URL": plain}).database_url
            started = wall.perf_counter()
            await build(url, hires, due)
            built = wall.perf_counter() - started
            result = await measure(url, due)
    return {"db": db, "hires": hires, "reminders": hires * 5, "due": due,
            "build_seconds": round(built, 1), **result}


def commit() -> str:
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                          text=True, check=False)
    return done.stdout.strip() or "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--hires", type=int, default=100_000)
    parser.add_argument("--due", type=int, default=5_000)
    parser.add_argument("--pg-admin-url", default=PG_ADMIN,
                        help="where to create the throwaway database (default %(default)s)")
    parser.add_argument("--pg-database", default=PG_NAME)
    args = parser.parse_args()
    if not 0 < args.due <= args.hires:
        parser.error("--due must be between 1 and --hires")
    run_info = {"started": datetime.now(UTC).isoformat(timespec="seconds"), "commit": commit(),
                "cpus": os.cpu_count(), "load_before": os.getloadavg()}
    results = []
    for db in ("sqlite", "postgres") if args.db == "both" else (args.db,):
        result = asyncio.run(run(db, args.hires, args.due, args.pg_admin_url, args.pg_database))
        results.append(result)
        print(f"{db:9} {result['hires']:>7} hires {result['reminders']:>7} reminders: pick "
              f"p50 {result['pick_ms_p50']} ms (max {result['pick_ms_max']} ms); sweep of "
              f"{args.due} due {result['sweep_seconds']} s ({result['ms_per_reminder']} ms "
              f"each), {result['sms_queued']} SMS queued, second sweep: nothing", flush=True)
        for line in result["plan"]:
            print(f"          plan: {line}")
    run_info["load_after"] = os.getloadavg()
    print("load average (1, 5, 15 min): before {:.2f} {:.2f} {:.2f}, after {:.2f} {:.2f} {:.2f}"
          .format(*run_info["load_before"], *run_info["load_after"]))
    out = Path("bench/results")
    out.mkdir(parents=True, exist_ok=True)
    (out / "wage_sweep.json").write_text(json.dumps({**run_info, "results": results},
                                                    indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
