"""Builds a market in a real database for the market-rule tests."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker

from market.seed import ensure_demo_jobs, ensure_market
from store.models import Area, Employer, Job, JobLine, Trade, Worker


async def seed_market(sessions: async_sessionmaker, now: datetime):
    async with sessions() as session, session.begin():
        market = await ensure_market(session, "yuncheng")
        await ensure_demo_jobs(session, market, now)
    return market


async def add_worker(sessions, market, phone: str, trades: list[str], town: str,
                     now: datetime) -> Worker:
    async with sessions() as session, session.begin():
        town_row = await session.scalar(select(Area).where(Area.name == town))
        trade_rows = list(await session.scalars(select(Trade).where(Trade.code.in_(trades))))
        worker = Worker(market_id=market.id, phone=phone, status="active", created_at=now,
                        town_id=town_row.id, district_id=town_row.parent_id, trades=trade_rows,
                        consent_at=now)
        session.add(worker)
    return worker


async def add_job(sessions, market, *, code: str, trade: str, town: str, headcount: int,
                  wage_yuan: int, start: datetime, verification: str = "verified",
                  credit_code: str | None = None) -> int:
    """Returns the job line id."""
    async with sessions() as session, session.begin():
        employer = Employer(market_id=market.id, name=f"{code} 公司", phone="+8613900000002",
                            credit_code=credit_code or f"X{code:0>17}"[:18],
                            verification=verification, created_at=start)
        session.add(employer)
        await session.flush()
        town_id = await session.scalar(select(Area.id).where(Area.name == town))
        trade_id = await session.scalar(select(Trade.id).where(Trade.code == trade))
        job = Job(market_id=market.id, employer_id=employer.id, code=code,
                  start_at=start, end_at=start + timedelta(days=3), days=3, town_id=town_id,
                  created_at=start)
        session.add(job)
        await session.flush()
        line = JobLine(job_id=job.id, trade_id=trade_id, headcount=headcount,
                       day_wage_fen=wage_yuan * 100)
        session.add(line)
        await session.flush()
        return line.id


def tomorrow(now: datetime) -> datetime:
    return now + timedelta(days=1)
