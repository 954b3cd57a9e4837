"""Scenario 2: a job posted through the API until its first alert SMS reaches the carrier.

The path timed is the product's own: POST /api/jobs commits the job and nudges the market
sweep; the sweep runs the wave (reach, match, offers, outbox rows) and nudges the outbox
sender, which hands the SMS to the carrier's REST API. The carrier stamps each message
when its REST handler takes it, so the latency is that stamp minus the moment just
before the POST (same process, same clock)."""

from __future__ import annotations

import asyncio
import random
import re
import time as clock
from collections import Counter
from datetime import UTC, datetime, timedelta

import aiohttp
from sqlalchemy import func, select

from basics.clock import market_today
from bench.hire_hotline import AUTH, hotline_settings, running_hotline, town_ids, verified_employer
from bench.hire_population import TOWN_WEIGHTS, TRADE_WEIGHTS
from bench.hire_stats import summary_ms
from gigline.keys import SESSIONS
from store.models import Offer, OutboundSms

FIRST_ALERT_TIMEOUT = 10.0
DRAIN_TIMEOUT = 20.0


async def _first_alert(carrier, code: str, since: datetime) -> datetime | None:
    """When the carrier took the first alert SMS for the job (None if none came)."""
    pattern = re.compile(re.escape(code) + r"(?!\d)")  # J12 must not match J123
    deadline = clock.monotonic() + FIRST_ALERT_TIMEOUT
    while clock.monotonic() < deadline:
        stamps = [m.date_created for m in carrier.messages()
                  if m.direction == "outbound-api" and m.date_created >= since
                  and "急招" in m.body and pattern.search(m.body)]
        if stamps:
            return min(stamps)
        await asyncio.sleep(0.002)
    return None


def _alerted_twice(carrier, code: str, since: datetime) -> int:
    """Phones the carrier took more than one alert SMS for the job."""
    pattern = re.compile(re.escape(code) + r"(?!\d)")
    sent = Counter(m.to for m in carrier.messages()
                   if m.direction == "outbound-api" and m.date_created >= since
                   and "急招" in m.body and pattern.search(m.body))
    return sum(n > 1 for n in sent.values())


async def _drained(hotline) -> None:
    """Wait until the wave's remaining alerts are sent, so runs do not overlap."""
    deadline = clock.monotonic() + DRAIN_TIMEOUT
    while clock.monotonic() < deadline:
        async with hotline.app[SESSIONS]() as session:
            waiting = await session.scalar(select(func.count()).select_from(OutboundSms).where(
                OutboundSms.status.in_(("pending", "claimed"))))
        if not waiting:
            return
        await asyncio.sleep(0.05)


async def post_to_first_alert(database_url: str, *, repeats: int, outbox_interval: float,
                              timezone: str, headcount: int | None = None,
                              employer_id: int | None = None, seed: int = 23) -> dict:
    """headcount None draws 4-10 per job; a fixed one shows how the wave's size (3 offers
    a slot) weighs on the first alert."""
    rng = random.Random(seed)
    settings = hotline_settings(database_url, scheduler=True, outbox_interval=outbox_interval)
    samples, api_s, misses, offers = [], [], 0, []
    to_sweep, sweep_to_carrier, short_waves, resent = [], [], 0, 0
    async with running_hotline(settings) as hotline, aiohttp.ClientSession(
            base_url=hotline.url) as http:
        if employer_id is None:  # an earlier run on this database registered one
            employer_id = await verified_employer(http)
        towns = await town_ids(http)
        tomorrow = market_today(datetime.now(UTC), timezone) + timedelta(days=1)
        await asyncio.sleep(1)  # let the start-up sweeps finish: they are not what we time
        for _ in range(repeats):
            trade = rng.choices(list(TRADE_WEIGHTS), weights=list(TRADE_WEIGHTS.values()))[0]
            town = rng.choices(list(TOWN_WEIGHTS), weights=list(TOWN_WEIGHTS.values()))[0]
            slots = headcount or rng.randint(4, 10)
            body = {"employer_id": employer_id, "start_at": f"{tomorrow}T07:00:00",
                    "days": rng.randint(1, 5), "town_id": towns[town], "address": "基准测试工地",
                    "lines": [{"trade": trade, "headcount": slots,
                               "day_wage_yuan": rng.randrange(150, 510, 10)}]}
            posted_at, t0 = datetime.now(UTC), clock.perf_counter()
            async with http.post("/api/jobs", json=body, headers=AUTH) as response:
                response.raise_for_status()
                job = await response.json()
            api_s.append(clock.perf_counter() - t0)
            first = await _first_alert(hotline.carrier, job["code"], posted_at)
            await _drained(hotline)
            async with hotline.app[SESSIONS]() as session:
                made, swept_at = (await session.execute(
                    select(func.count(), func.min(Offer.created_at))
                    .where(Offer.job_id == job["id"]))).one()
            offers.append(made)
            # The work happened: a whole wave (3 a slot) was offered, and no worker got an
            # alert about the job twice.
            short_waves += made < 3 * slots
            resent += _alerted_twice(hotline.carrier, job["code"], posted_at)
            if first is None:
                misses += 1
                continue
            samples.append((first - posted_at).total_seconds())
            # Offers carry the sweep's clock reading from when it began: it splits the
            # latency into waiting for the sweep and the wave + outbox send.
            to_sweep.append((swept_at - posted_at).total_seconds())
            sweep_to_carrier.append((first - swept_at).total_seconds())
    return {
        "post_to_first_alert": summary_ms(samples),
        "post_api_response": summary_ms(api_s),
        "post_to_sweep_start": summary_ms(to_sweep),
        "sweep_start_to_first_alert": summary_ms(sweep_to_carrier),
        "jobs": repeats,
        "jobs_without_sms_alert": misses,
        "waves_short_of_3_a_slot": short_waves,
        "workers_alerted_twice": resent,
        "complete": misses == 0 and short_waves == 0 and resent == 0,
        "headcount": headcount or "4-10",
        "offers_per_wave_mean": round(sum(offers) / max(len(offers), 1), 1),
        "outbox_interval_s": outbox_interval,
        "employer_id": employer_id,
    }
