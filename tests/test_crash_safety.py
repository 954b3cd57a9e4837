"""Kill -9 in the middle of a fan-out, start again: every alert arrives exactly once.

Gigline runs as a real process (`gigline serve`) pointed at the local carrier's REST API
in this test process, as it would be pointed at Twilio; the process is SIGKILLed after
the carrier has taken some of the alerts, then started again on the same database."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy import select

from gigline.settings import LOCAL_ACCOUNT_SID, LOCAL_HOTLINE_NUMBER
from local_carrier import LocalCarrier
from market import jobs
from market.seed import ensure_market
from store.db import make_engine, make_sessionmaker
from store.models import Area, Trade, Worker
from tests.conftest import free_port

TOKEN = "crash-test-token-0123456789"
WORKERS = 30


async def seed(database_url: str) -> None:
    """A verified employer's job wanting 10 welders, and 30 welders nearby (3x10 alerts)."""
    engine = make_engine(database_url)
    sessions, now = make_sessionmaker(engine), datetime.now(UTC)
    async with sessions() as session, session.begin():
        market = await ensure_market(session, "yuncheng")
        town = await session.scalar(select(Area).where(Area.name == "北城街道"))
        welder = await session.scalar(select(Trade).where(Trade.code == "welder"))
        for n in range(WORKERS):
            session.add(Worker(market_id=market.id, phone=f"+86138{n:08d}", status="active",
                               created_at=now, town_id=town.id, district_id=town.parent_id,
                               trades=[welder], consent_at=now))
        employer = await jobs.register_employer(
            session, market_id=market.id, name="安居建筑", phone="+8613900000001",
            address="运城", credit_code="91140802MA0K000005", agent="test", now=now)
        await jobs.set_verification(session, employer.id, state="verified", checked="执照",
                                    agent="test", now=now)
        await jobs.post_job(session, jobs.JobSpec(
            employer_id=employer.id, lines=(jobs.LineSpec("welder", 10, 50000),),
            start_at=now + timedelta(days=1), days=2, daily_pay=False, town_id=town.id,
            address="工地"), market_id=market.id, agent="test", now=now)
    await engine.dispose()


async def start_gigline(database_url: str, port: int, rest_base: str):
    env = os.environ | {
        "GIGLINE_DATABASE_URL": database_url, "GIGLINE_PORT": str(port),
        "GIGLINE_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "TWILIO_ACCOUNT_SID": LOCAL_ACCOUNT_SID, "TWILIO_AUTH_TOKEN": TOKEN,
        "TWILIO_PHONE_NUMBER": LOCAL_HOTLINE_NUMBER, "GIGLINE_TWILIO_API_BASE": rest_base,
        "GIGLINE_ID_HASH_KEY": "k" * 32, "GIGLINE_SMS_RATE": "4",
        "GIGLINE_OUTBOX_INTERVAL": "0.5", "GIGLINE_OUTBOX_LEASE_SECONDS": "2",
        "GIGLINE_QUIET_HOURS": "00:00-00:00",  # equal times: no quiet hours
    }
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gigline.cli", "serve", env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)


@pytest.fixture
async def carrier():
    """The local carrier's REST API, with a sink for the status callbacks it posts."""
    async def accept(request: web.Request) -> web.Response:
        return web.Response(status=204)

    sink = web.Application()
    sink.router.add_post("/{tail:.*}", accept)
    runner = web.AppRunner(sink)
    await runner.setup()
    sink_port = free_port()
    await web.TCPSite(runner, "127.0.0.1", sink_port).start()
    http = aiohttp.ClientSession()
    local = LocalCarrier(account_sid=LOCAL_ACCOUNT_SID, auth_token=TOKEN,
                         webhook_base=f"http://127.0.0.1:{sink_port}",
                         hotline_number=LOCAL_HOTLINE_NUMBER, http=http)
    await local.start_rest()
    yield local
    await local.close()
    await http.close()
    await runner.cleanup()


async def wait_until(condition, seconds: float) -> None:
    """Polls: what we wait for happens in another process."""
    async with asyncio.timeout(seconds):
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.05)


async def test_alerts_survive_a_kill_during_fan_out_exactly_once(database_url, carrier):
    await seed(database_url)
    port = free_port()
    first = await start_gigline(database_url, port, carrier.rest_base)
    try:
        await wait_until(lambda: len(carrier.messages()) >= 5, seconds=30)
    finally:
        first.send_signal(signal.SIGKILL)
        await first.wait()
    sent_before_kill = len(carrier.messages())
    assert sent_before_kill < WORKERS, "killed mid fan-out"

    second = await start_gigline(database_url, port, carrier.rest_base)
    try:
        await wait_until(lambda: len(carrier.messages()) >= WORKERS, seconds=60)
        await asyncio.sleep(3)  # past the lease: anything sent twice would show now
    finally:
        second.send_signal(signal.SIGTERM)
        assert await second.wait() == 0
    per_phone = Counter(m.to for m in carrier.messages())
    assert len(per_phone) == WORKERS
    assert set(per_phone.values()) == {1}, "every worker got the alert exactly once"
