"""The demo market on a fresh start has workers, marked demo, so the README's example job
finds matches and its alerts show on the local carrier's SMS page; their numbers are
ones reserved for fiction, never a real subscriber's."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from importlib import resources
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from sqlalchemy import select

from console.schemas import MatchOut
from market.seed import (
    DemoDataError,
    check_demo_workers,
    ensure_demo_jobs,
    ensure_market,
    market_data,
)
from store.db import make_engine, make_sessionmaker
from store.models import Job, Worker
from tests.gigline_processes import embedded_env, serving

TOKEN = "demo-test-token-0123456789"
# ACMA's mobile numbers for creative works (0491 570 006, 0491 570 156-159): never allocated.
FICTION = {"+61491570006", "+61491570156", "+61491570157", "+61491570158", "+61491570159"}


def readme_job() -> dict:
    """The job the README posts: tomorrow at 7, market time."""
    tomorrow = datetime.now(ZoneInfo("Asia/Shanghai")).date() + timedelta(days=1)
    return {"employer_id": 1, "start_at": f"{tomorrow}T07:00:00", "days": 10, "town_id": 2,
            "address": "河东东街88号工地",
            "lines": [{"trade": "welder", "headcount": 4, "day_wage_yuan": 500},
                      {"trade": "labourer", "headcount": 2, "day_wage_yuan": 200}]}


async def test_a_fresh_start_matches_the_readme_job_with_demo_workers(tmp_path):
    # Quiet hours off, so the alerts go out whenever the test runs.
    env = embedded_env(tmp_path) | {"GIGLINE_API_TOKENS": f"agent:{TOKEN}",
                                    "GIGLINE_QUIET_HOURS": "00:00-00:00"}
    api = f"http://127.0.0.1:{env['GIGLINE_PORT']}/api"
    inbox = f"http://127.0.0.1:{env['GIGLINE_LOCAL_CARRIER_PORT']}/inbox"
    async with serving(env, tmp_path), aiohttp.ClientSession(
            headers={"Authorization": f"Bearer {TOKEN}"}) as http:
        async with http.post(f"{api}/jobs", json=readme_job()) as posted:
            assert posted.status == 201, await posted.text()
            job = await posted.json()
        async with asyncio.timeout(20):
            while True:  # the job's first wave goes out at once
                async with http.get(f"{api}/jobs/{job['id']}/matches") as response:
                    matches = await response.json()
                async with http.get(inbox) as page:
                    sms_page = await page.text()
                if matches and all(m["alerted_at"] for m in matches) and "+61491570006" in sms_page:
                    break
                await asyncio.sleep(0.2)

    assert len(matches) >= 3 and all(m["demo_worker"] for m in matches), matches
    for match in matches:  # as /api/openapi.json documents them, no field more or less
        MatchOut.model_validate(match)
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'var' / 'gigline.db'}")
    async with make_sessionmaker(engine)() as session:
        workers = list(await session.scalars(select(Worker)))
    await engine.dispose()
    assert {w.phone for w in workers} == FICTION
    assert all(w.demo and "演示" in w.name for w in workers)
    assert {m["worker_id"] for m in matches} <= {w.id for w in workers}


async def test_a_market_without_the_demo_has_no_workers(database_url):
    """Tests and real markets build their own workers: only the demo seeds any."""
    engine = make_engine(database_url)
    sessions = make_sessionmaker(engine)
    async with sessions() as session, session.begin():
        await ensure_market(session, "yuncheng")
    async with sessions() as session:
        assert list(await session.scalars(select(Worker))) == []
    await engine.dispose()


@pytest.mark.parametrize(("hour", "starts_in_days"), [(6, 0), (15, 1)])
async def test_the_demo_job_for_today_is_one_a_caller_can_still_take(database_url, hour,
                                                                     starts_in_days):
    """Its 07:00 start, once passed, moves to tomorrow: a started job is offered to no one,
    and someone trying the demo in the afternoon must hear an offer."""
    zone = ZoneInfo("Asia/Shanghai")
    now = datetime(2026, 12, 5, hour, 0, tzinfo=zone)
    engine = make_engine(database_url)
    sessions = make_sessionmaker(engine)
    async with sessions() as session, session.begin():
        await ensure_demo_jobs(session, await ensure_market(session, "yuncheng"), now)
    async with sessions() as session:
        job = await session.scalar(select(Job).where(Job.code == "J101"))
    await engine.dispose()
    start = job.start_at.astimezone(zone)
    assert start > now and (start.date() - now.date()).days == starts_in_days
    assert start.hour == 7


def test_every_market_file_gives_its_demo_workers_fiction_numbers():
    for path in resources.files("market").joinpath("data").iterdir():
        check_demo_workers(market_data(path.name.removesuffix(".json"))["demo"]["workers"])


def test_a_demo_worker_with_a_number_someone_may_own_is_refused():
    workers = market_data("yuncheng")["demo"]["workers"]
    workers[0]["phone"] = "+8613800138000"
    with pytest.raises(DemoDataError, match="13800138000"):
        check_demo_workers(workers)
