"""Scenario 3: a crowd accepts one line with 10 slots, all at once.

Direct: 1,000 workers each run reserve_slot in their own session and transaction (as
tests/test_offers.py does), started together with asyncio.gather. HTTP: 1,000 signed
"J<id>" SMS webhooks posted together to /twilio/sms of a running hotline. Either way
exactly 10 must win. A caller's latency is from the common start to its own answer, so
it includes queueing for a pooled connection and for the line's row lock: what a worker
in the crowd would wait."""

from __future__ import annotations

import asyncio
import secrets
import time as clock
from collections import Counter
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import aiohttp
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import async_sessionmaker
from twilio.request_validator import RequestValidator

from basics.clock import market_today
from bench.hire_hotline import hotline_settings, running_hotline
from bench.hire_population import Market
from bench.hire_stats import summary_ms
from market import jobs
from market.offers import RESERVED, reserve_slot
from market.workers import load_worker
from prompts.catalogue import load_catalogue
from store.models import Job, JobLine, Offer, Worker, WorkerTrade
from store.statuses import HOLDING_A_SLOT

SLOTS = 10
TRADE = "porter"
CATALOGUE = load_catalogue("zh-CN")


async def crowd_job(sessions: async_sessionmaker, market: Market, now: datetime) -> Job:
    """A 搬运 job with 10 slots tomorrow, out of the wave schedule (no alerts)."""
    zone = ZoneInfo(market.timezone)
    start = datetime.combine(market_today(now, market.timezone) + timedelta(days=1), time(7),
                             zone)
    spec = jobs.JobSpec(employer_id=market.employer_id,
                        lines=(jobs.LineSpec(TRADE, SLOTS, 20000),), start_at=start, days=1,
                        daily_pay=True, town_id=market.towns["东郭镇"][0], address="物流园")
    async with sessions() as session, session.begin():
        job = await jobs.post_job(session, spec, market_id=market.id, agent="bench", now=now)
        job.next_wave_at = None
        return job


async def crowd_phones(sessions: async_sessionmaker, market: Market, count: int) -> list[str]:
    """Active 搬运 workers holding no slot anywhere, so every one of them may take it
    (a later crowd leaves out an earlier one's winners by the same rule)."""
    holds = select(Offer.id).where(Offer.worker_id == Worker.id, Offer.status.in_(HOLDING_A_SLOT))
    async with sessions() as session:
        return list(await session.scalars(
            select(Worker.phone).join(WorkerTrade, WorkerTrade.worker_id == Worker.id)
            .where(WorkerTrade.trade_id == market.trade_ids[TRADE], Worker.status == "active",
                   ~holds.exists())
            .order_by(Worker.id).limit(count)))


async def _outcome(sessions: async_sessionmaker, job_id: int) -> tuple[int, int]:
    async with sessions() as session:
        filled = await session.scalar(select(JobLine.filled).where(JobLine.job_id == job_id))
        accepted = await session.scalar(select(func.count()).select_from(Offer).where(
            Offer.job_id == job_id, Offer.status.in_(HOLDING_A_SLOT)))
    return filled, accepted


async def direct_race(sessions: async_sessionmaker, market: Market, now: datetime,
                      crowd: int) -> dict:
    job = await crowd_job(sessions, market, now)
    async with sessions() as session:
        line_id = await session.scalar(select(JobLine.id).where(JobLine.job_id == job.id))
    phones = await crowd_phones(sessions, market, crowd)
    today = market_today(now, market.timezone)
    start, cpu = clock.perf_counter(), clock.process_time()

    async def accept(phone: str) -> tuple[bool, float]:
        async with sessions() as session, session.begin():
            worker = await load_worker(session, phone)
            took = await reserve_slot(session, worker, line_id, channel="sms", now=now,
                                      today=today, timezone=market.timezone,
                                      catalogue=CATALOGUE)
        return took == RESERVED, clock.perf_counter() - start

    results = await asyncio.gather(*(accept(p) for p in phones), return_exceptions=True)
    total, cpu = clock.perf_counter() - start, clock.process_time() - cpu
    done = [r for r in results if not isinstance(r, BaseException)]
    errors = Counter(type(r).__name__ for r in results if isinstance(r, BaseException))
    filled, held = await _outcome(sessions, job.id)
    return {
        "crowd": len(phones), "slots": SLOTS, "won": sum(took for took, _ in done),
        "line_filled": filled, "offers_held": held, "errors": dict(errors),
        "exactly_10": sum(took for took, _ in done) == filled == held == SLOTS,
        "latency": summary_ms(s for _, s in done), "total_s": round(total, 2),
        # CPU this process used meanwhile: near total_s means Python, not the database,
        # set the pace (one event loop; SQLite's driver threads are counted too).
        "process_cpu_s": round(cpu, 2),
    }


async def http_race(database_url: str, sessions: async_sessionmaker, market: Market,
                    now: datetime, crowd: int) -> dict:
    """The same crowd through the front door: signed SMS webhooks to a running hotline."""
    job = await crowd_job(sessions, market, now)
    phones = await crowd_phones(sessions, market, crowd)
    settings = hotline_settings(database_url, scheduler=False, outbox_interval=2)
    url = f"{settings.public_url}/twilio/sms"
    validator = RequestValidator(settings.auth_token)
    forms = []
    for phone in phones:
        params = {"MessageSid": "SM" + secrets.token_hex(16), "AccountSid": settings.account_sid,
                  "From": phone, "To": settings.sms_from_number, "Body": job.code,
                  "NumSegments": "1", "ApiVersion": "2010-04-01"}
        forms.append((params, {"X-Twilio-Signature": validator.compute_signature(url, params)}))
    async with running_hotline(settings), aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0)) as http:
        start, cpu = clock.perf_counter(), clock.process_time()

        async def text_in(params: dict, headers: dict) -> tuple[int, float]:
            async with http.post(url, data=params, headers=headers) as response:
                await response.read()
                return response.status, clock.perf_counter() - start

        results = await asyncio.gather(*(text_in(*form) for form in forms),
                                       return_exceptions=True)
        total, cpu = clock.perf_counter() - start, clock.process_time() - cpu
    done = [r for r in results if not isinstance(r, BaseException)]
    statuses = Counter(str(status) for status, _ in done)
    statuses.update(type(r).__name__ for r in results if isinstance(r, BaseException))
    filled, held = await _outcome(sessions, job.id)
    return {
        "crowd": len(phones), "slots": SLOTS, "http_statuses": dict(statuses),
        "line_filled": filled, "offers_held": held, "exactly_10": filled == held == SLOTS,
        "latency": summary_ms(s for status, s in done if status == 200),
        "total_s": round(total, 2),
        "process_cpu_s": round(cpu, 2),  # server and client share this process
    }
