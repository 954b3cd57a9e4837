"""A market in a real database, driven at the level of the market's rules with an
injected clock: workers, employers, jobs, waves and SMS replies."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time, timedelta

import pytest
from sqlalchemy import select

from basics.clock import QuietHours
from hotline.desk import CallDesk
from hotline.sms import apply_sms
from ivr_flows.sms_flow import decide
from market import jobs
from market.context import MarketContext
from market.directory import load_market_view
from market.seed import ensure_market
from market.waves import WaveRules, run_waves
from prompts.catalogue import load_catalogue
from store.db import make_engine, make_sessionmaker
from store.models import Area, Job, JobLine, Offer, OutboundSms, Trade, Worker
from store.models import Market as MarketRow
from tests.clock import FixedClock

TZ = "Asia/Shanghai"
CATALOGUE = load_catalogue("zh-CN")
EMPLOYER_PHONE = "+8613900000001"
RULES = WaveRules(multiplier=2, interval=timedelta(minutes=10),
                  quiet=QuietHours(time(21), time(7)), quiet_override=timedelta(hours=12))


@dataclass
class Market:
    sessions: object
    clock: FixedClock
    context: MarketContext  # the market's clock, wording and rules
    market_id: int

    async def town(self, name: str) -> int:
        async with self.sessions() as session:
            return await session.scalar(select(Area.id).where(Area.name == name))

    async def worker(self, phone: str, trades: list[str], town: str, **fields) -> int:
        async with self.sessions() as session, session.begin():
            town_row = await session.scalar(select(Area).where(Area.name == town))
            trade_rows = list(await session.scalars(select(Trade).where(Trade.code.in_(trades))))
            worker = Worker(**{
                "market_id": self.market_id, "phone": phone, "status": "active",
                "created_at": self.clock(), "town_id": town_row.id,
                "district_id": town_row.parent_id, "trades": trade_rows,
                "consent_at": self.clock(), **fields})
            session.add(worker)
            await session.flush()
            return worker.id

    async def employer(self, verification: str = "verified",
                       credit_code: str = "91140802MA0K000005") -> int:
        async with self.sessions() as session, session.begin():
            employer = await jobs.register_employer(
                session, market_id=self.market_id, name="安居建筑劳务", phone=EMPLOYER_PHONE,
                address="运城", credit_code=credit_code, agent="alice", now=self.clock())
            if verification != "unverified":
                await jobs.set_verification(session, employer.id, state=verification,
                                            checked="营业执照原件", agent="alice",
                                            now=self.clock())
            return employer.id

    async def job(self, employer_id: int, lines: list[tuple[str, int, int]], *,
                  town: str = "北城街道", start_in: timedelta = timedelta(days=1),
                  days: int = 5) -> Job:
        spec = jobs.JobSpec(
            employer_id=employer_id,
            lines=tuple(jobs.LineSpec(t, n, wage * 100) for t, n, wage in lines),
            start_at=self.clock() + start_in, days=days, daily_pay=False,
            town_id=await self.town(town), address="河东东街88号工地")
        async with self.sessions() as session, session.begin():
            return await jobs.post_job(session, spec, market_id=self.market_id, agent="alice",
                                       now=self.clock())

    async def waves(self) -> int:
        return await run_waves(self.context, self.clock())

    async def offers(self, job_id: int | None = None) -> list[Offer]:
        async with self.sessions() as session:
            query = select(Offer).order_by(Offer.id)
            if job_id is not None:
                query = query.where(Offer.job_id == job_id)
            return list(await session.scalars(query))

    async def texts(self, phone: str | None = None, kind: str | None = None) -> list[str]:
        async with self.sessions() as session:
            query = select(OutboundSms).order_by(OutboundSms.id)
            if phone:
                query = query.where(OutboundSms.phone == phone)
            if kind:
                query = query.where(OutboundSms.kind == kind)
            return [row.body for row in await session.scalars(query)]

    async def reply(self, phone: str, body: str) -> str | None:
        """What Gigline answers an SMS (None: the answer was queued already)."""
        decision = decide(body, CATALOGUE, "0359 212 3456")
        desk = await self.desk()
        async with self.sessions() as session, session.begin():
            return await apply_sms(session, desk, phone, body, decision, self.clock())

    async def desk(self) -> CallDesk:
        async with self.sessions() as session:
            market_row = await session.get(MarketRow, self.market_id)
            view = await load_market_view(session, market_row, (), "+863592123456")
        return CallDesk(sessions=self.sessions, clock=self.clock, catalogue=CATALOGUE,
                        market_id=self.market_id, timezone=TZ, hotline=view.hotline,
                        wave_rules=RULES, market=view, id_hash_key="k")

    async def filled(self, job_id: int) -> list[int]:
        async with self.sessions() as session:
            return list(await session.scalars(
                select(JobLine.filled).where(JobLine.job_id == job_id).order_by(JobLine.id)))


@pytest.fixture
async def market(database_url, clock):
    engine = make_engine(database_url)
    sessions = make_sessionmaker(engine)
    async with sessions() as session, session.begin():
        market_row = await ensure_market(session, "yuncheng")
    context = MarketContext(sessions=sessions, clock=clock, market_id=market_row.id, timezone=TZ,
                            hotline="0359 212 3456", catalogue=CATALOGUE, wave_rules=RULES)
    yield Market(sessions, clock, context, market_row.id)
    await engine.dispose()


