"""Loads a market's reference data (areas, trades) and, for the demo, an employer and jobs."""

from __future__ import annotations

import json
from datetime import datetime, time, timedelta
from importlib import resources
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from store.models import Area, Employer, Job, JobLine, Market, Trade


def market_data(code: str) -> dict:
    path = resources.files("market").joinpath(f"data/{code}.json")
    return json.loads(path.read_text(encoding="utf-8"))


async def ensure_market(session: AsyncSession, code: str) -> Market:
    """Creates the market with its trades and areas the first time; a no-op afterwards."""
    market = await session.scalar(select(Market).where(Market.code == code))
    if market:
        return market
    data = market_data(code)
    market = Market(**data["market"])
    session.add(market)
    await session.flush()
    for position, trade in enumerate(data["trades"]):
        session.add(Trade(market_id=market.id, position=position, **trade))
    for d_pos, district in enumerate(data["districts"]):
        parent = Area(market_id=market.id, kind="district", name=district["name"], position=d_pos)
        session.add(parent)
        await session.flush()
        for t_pos, town in enumerate(district["towns"]):
            session.add(
                Area(
                    market_id=market.id,
                    parent_id=parent.id,
                    kind="town",
                    name=town["name"],
                    position=t_pos,
                    latitude=town["lat"],
                    longitude=town["lon"],
                )
            )
    await session.flush()
    return market


async def ensure_demo_jobs(session: AsyncSession, market: Market, now: datetime) -> None:
    """A verified employer with two open jobs, so a demo caller has offers to hear."""
    demo = market_data(market.code)["demo"]
    if await session.scalar(select(Employer).where(Employer.market_id == market.id)):
        return
    employer = Employer(
        market_id=market.id,
        verification="verified",
        verified_at=now,
        verified_by="demo",
        created_at=now,
        **demo["employer"],
    )
    session.add(employer)
    await session.flush()
    towns = {a.name: a.id for a in await session.scalars(select(Area).where(Area.kind == "town"))}
    trades = {t.code: t.id for t in await session.scalars(select(Trade))}
    zone = ZoneInfo(market.timezone)
    today = now.astimezone(zone).date()
    for spec in demo["jobs"]:
        start = datetime.combine(today + timedelta(days=spec["start_in_days"]), time(7), zone)
        job = Job(
            market_id=market.id,
            employer_id=employer.id,
            code=spec["code"],
            start_at=start,
            end_at=start + timedelta(days=spec["days"]),
            days=spec["days"],
            daily_pay=spec.get("daily_pay", False),
            town_id=towns[spec["town"]],
            address=spec["address"],
            created_at=now,
            next_wave_at=now,
        )
        session.add(job)
        await session.flush()
        for line in spec["lines"]:
            session.add(
                JobLine(
                    job_id=job.id,
                    trade_id=trades[line["trade"]],
                    headcount=line["headcount"],
                    day_wage_fen=line["day_wage_yuan"] * 100,
                )
            )
    await session.flush()
