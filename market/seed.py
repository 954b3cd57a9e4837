"""Loads a market's reference data (areas, trades) and, for the demo, an employer, jobs and
workers."""

from __future__ import annotations

import json
from datetime import datetime, time, timedelta
from importlib import resources
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from store.models import Area, Employer, Job, JobLine, Market, Trade, Worker
from store.statuses import AreaKind, Availability, Channel, Verification, WorkerStatus

# Demo workers get alerts, so their numbers must never be a real subscriber's. China
# reserves no numbers for fiction (any valid mobile number may be someone's); Australia's
# regulator (ACMA) reserves these mobile numbers for creative works and never allocates
# them, and they parse as valid mobiles, as Gigline requires.
FICTION_MOBILES = frozenset(
    "+61491" + tail for tail in ("570006", "570156", "570157", "570158", "570159", "570110",
                                 "570313", "570737", "571266", "571491", "571804", "572549",
                                 "572665", "572983", "573770", "573087", "574118", "574632",
                                 "575254", "575789", "576398", "576801", "577426", "577644",
                                 "578957", "578148", "578888", "579212", "579760", "579455"))


class DemoDataError(ValueError):
    """The market's demo data would reach real people."""


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
        parent = Area(market_id=market.id, kind=AreaKind.DISTRICT, name=district["name"],
                      position=d_pos)
        session.add(parent)
        await session.flush()
        for t_pos, town in enumerate(district["towns"]):
            session.add(
                Area(
                    market_id=market.id,
                    parent_id=parent.id,
                    kind=AreaKind.TOWN,
                    name=town["name"],
                    position=t_pos,
                    latitude=town["lat"],
                    longitude=town["lon"],
                )
            )
    await session.flush()
    return market


async def ensure_demo_jobs(session: AsyncSession, market: Market, now: datetime) -> None:
    """A verified employer with two open jobs, so a demo caller has offers to hear, and a
    few workers (marked demo) whom its jobs and the agents' first jobs alert."""
    demo = market_data(market.code)["demo"]
    if await session.scalar(select(Employer).where(Employer.market_id == market.id)):
        return
    employer = Employer(
        market_id=market.id,
        verification=Verification.VERIFIED,
        verified_at=now,
        verified_by="demo",
        created_at=now,
        **demo["employer"],
    )
    session.add(employer)
    await session.flush()
    towns = {a.name: a for a in await session.scalars(
        select(Area).where(Area.market_id == market.id, Area.kind == AreaKind.TOWN))}
    trades = {t.code: t for t in await session.scalars(
        select(Trade).where(Trade.market_id == market.id))}
    _add_demo_workers(session, market, demo.get("workers", []), towns, trades, now)
    zone = ZoneInfo(market.timezone)
    today = now.astimezone(zone).date()
    for spec in demo["jobs"]:
        start = datetime.combine(today + timedelta(days=spec["start_in_days"]), time(7), zone)
        if start <= now:  # seeded after 07:00: a job starting today has started, and a
            start += timedelta(days=1)  # started job is offered to no one
        job = Job(
            market_id=market.id,
            employer_id=employer.id,
            code=spec["code"],
            start_at=start,
            end_at=start + timedelta(days=spec["days"]),
            days=spec["days"],
            daily_pay=spec.get("daily_pay", False),
            town_id=towns[spec["town"]].id,
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
                    trade_id=trades[line["trade"]].id,
                    headcount=line["headcount"],
                    day_wage_fen=line["day_wage_yuan"] * 100,
                )
            )
    await session.flush()


def check_demo_workers(specs: list[dict]) -> None:
    """Raises DemoDataError for a demo worker whose number someone may own."""
    for spec in specs:
        if spec["phone"] not in FICTION_MOBILES:
            raise DemoDataError(f"demo worker {spec['name']}: {spec['phone']} is not a number "
                                "reserved for fiction (market.seed.FICTION_MOBILES)")


def _add_demo_workers(session: AsyncSession, market: Market, specs: list[dict],
                      towns: dict[str, Area], trades: dict[str, Trade], now: datetime) -> None:
    """Registered, consenting, available workers, alerted by SMS (the local carrier's inbox
    shows them); their names say 演示 and `demo` marks them for agents."""
    check_demo_workers(specs)
    for spec in specs:
        town = towns[spec["town"]]
        wage = spec.get("day_wage_yuan")
        session.add(Worker(
            market_id=market.id, phone=spec["phone"], status=WorkerStatus.ACTIVE, demo=True,
            name=spec["name"], town_id=town.id, district_id=town.parent_id,
            day_wage_fen=None if wage is None else wage * 100,
            availability=Availability.TODAY, alert_channel=Channel.SMS,
            trades=[trades[code] for code in spec["trades"]],
            consent_at=now, created_at=now, registered_at=now,
        ))
