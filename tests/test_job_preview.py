"""Before publishing a job an agent sees who its first wave would alert and why; the
preview leaves nothing behind and names the very workers the real wave then alerts."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from market import jobs
from market.preview import preview
from store.models import Job, Offer, OutboundSms


def spec(market, employer_id: int, town_id: int, trade: str = "welder",
         headcount: int = 1) -> jobs.JobSpec:
    return jobs.JobSpec(employer_id=employer_id, lines=(jobs.LineSpec(trade, headcount, 50000),),
                        start_at=market.clock() + timedelta(days=1), days=3, daily_pay=False,
                        town_id=town_id, address="河东东街88号工地")


async def previewed(market, job_spec):
    async with market.sessions() as session, session.begin():
        return await preview(session, market.context, job_spec, now=market.clock())


async def count(market, model) -> int:
    async with market.sessions() as session:
        return await session.scalar(select(func.count()).select_from(model))


async def test_the_preview_names_the_workers_the_first_wave_then_alerts(market):
    near = await market.worker("+8613800000001", ["welder"], "北城街道")
    far = await market.worker("+8613800000002", ["welder"], "东郭镇")
    await market.worker("+8613800000003", ["cook"], "北城街道")
    employer = await market.employer()
    job_spec = spec(market, employer, await market.town("北城街道"))
    [line] = (await previewed(market, job_spec)).lines
    assert (line.trade, line.headcount) == ("焊工", 1)
    assert [m.worker_number for m in line.matches] == [f"{near:06d}", f"{far:06d}"]
    assert line.matches[0].town == "北城街道" and line.matches[0].parts["nearness"] > \
        line.matches[1].parts["nearness"], "why: the nearer worker ranks first"
    assert (await count(market, Job), await count(market, Offer),
            await count(market, OutboundSms)) == (0, 0, 0), "the preview left nothing behind"

    async with market.sessions() as session, session.begin():
        await jobs.post_job(session, job_spec, market_id=market.market_id, agent="alice",
                            now=market.clock())
    await market.waves()
    assert sorted(o.worker_id for o in await market.offers()) == sorted([near, far])


async def test_an_unverified_employer_s_job_would_alert_no_one_yet(market):
    await market.worker("+8613800000001", ["welder"], "北城街道")
    employer = await market.employer(verification="unverified")
    result = await previewed(market, spec(market, employer, await market.town("北城街道")))
    assert result.held_because == "unverified" and result.lines[0].matches == ()


async def test_a_preview_refuses_what_posting_would_refuse(market):
    employer = await market.employer()
    with pytest.raises(jobs.MarketError, match="unknown trade"):
        await previewed(market, spec(market, employer, await market.town("北城街道"),
                                     trade="astronaut"))
    assert await count(market, Job) == 0
