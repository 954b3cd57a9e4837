"""Memory of one Gigline process over a long day: its RSS as calls go through, and
across 10,000-alert fan-outs. Flat means nothing is kept per call or per message.

    PYTHONPATH=. .venv/bin/python bench/memory.py [--db sqlite|postgresql] [--calls 100000]

`gigline serve` runs as a real process pointed at the local carrier in this one (as it
would be pointed at Twilio), so the process measured holds Gigline alone, not the
stand-in's record of every call and SMS. Callers are the IVR benchmark's (`callers.py`):
realistic calls to their natural end, half from new numbers, 32 at a time. Then
`--fanouts` jobs are posted, each alerting `--alerts` workers in one wave."""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
from sqlalchemy import insert, select

sys.path.insert(0, str(Path(__file__).resolve().parent))
from callers import CallerPolicy  # noqa: E402
from loadgen import Client, Crowd, Recorder, session  # noqa: E402

from basics.clock import market_today, utc_now  # noqa: E402
from chaos.harness import (  # noqa: E402
    RESULTS,
    TOKEN,
    free_port,
    local_carrier,
    start_gigline,
    stop,
    throwaway_database,
    until,
)
from store.db import make_engine, make_sessionmaker  # noqa: E402
from store.models import Area, Market, Trade, Worker, WorkerTrade  # noqa: E402

AUTH = {"Authorization": f"Bearer {TOKEN}"}
HEADCOUNT = 500  # the most one job line takes; the wave multiplier makes up the rest


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


async def calls(base_url: str, pid: int, count: int, checkpoints: int,
                concurrency: int = 32) -> list[dict]:
    """`count` whole calls, `concurrency` at a time; RSS after every count/checkpoints."""
    crowd = Crowd(base_url, CallerPolicy(), random.Random(1))
    recorder = Recorder()
    every = max(1, count // checkpoints)
    begun = done = 0
    samples, started = [], time.monotonic()

    async def line(client: Client) -> None:
        nonlocal begun, done
        while begun < count:
            begun += 1
            caller = crowd.caller()
            hook = caller.start()
            while hook is not None:
                twiml = await client.send(hook)
                hook = caller.answer(twiml) if twiml is not None else None
            await client.send(caller.hang_up())
            done += 1
            if done % every == 0:
                samples.append({"calls": done, "rss_mib": round(rss_mib(pid), 1),
                                "turns": len(recorder.samples),
                                "seconds": round(time.monotonic() - started)})
                print(f"  {done:>7} calls, {len(recorder.samples):>8} requests: "
                      f"RSS {samples[-1]['rss_mib']:.1f} MiB", flush=True)

    async with session(concurrency) as http:
        client = Client(http, TOKEN, recorder)
        await asyncio.gather(*(line(client) for _ in range(concurrency)))
    failed = sum(recorder.errors.values())
    if failed > len(recorder.samples) // 1000:
        raise RuntimeError(f"{failed} requests failed: {dict(recorder.errors)}")
    return samples


async def seed_alertable(url: str, count: int, offset: int) -> str:
    """`count` welders in the first town, available today: one wave alerts them all.
    Returns the town's name."""
    engine = make_engine(url)
    now = utc_now()
    try:
        async with make_sessionmaker(engine)() as db, db.begin():
            market = await db.scalar(select(Market))
            welder = await db.scalar(select(Trade).where(Trade.code == "welder"))
            town = await db.scalar(select(Area).where(Area.kind == "town").order_by(Area.id))
            today = market_today(now, market.timezone)
            phones = [f"+86139{offset + n:08d}" for n in range(count)]
            for start in range(0, count, 1000):
                await db.execute(insert(Worker), [
                    {"market_id": market.id, "phone": phone, "status": "active",
                     "priority_group": False, "alert_channel": "sms", "town_id": town.id,
                     "district_id": town.parent_id, "day_wage_fen": 20000,
                     "availability": "today", "available_from": today, "consent_at": now,
                     "created_at": now, "registered_at": now, "jobs_completed": 0,
                     "no_shows": 0} for phone in phones[start:start + 1000]])
            ids = list(await db.scalars(select(Worker.id).where(Worker.phone.in_(phones))))
            for start in range(0, count, 1000):
                await db.execute(insert(WorkerTrade), [
                    {"worker_id": worker, "trade_id": welder.id}
                    for worker in ids[start:start + 1000]])
            return town.name
    finally:
        await engine.dispose()


async def add_employer(base_url: str) -> int:
    async with aiohttp.ClientSession(base_url=base_url, headers=AUTH) as http:
        made = await http.post("/api/employers", json={
            "name": "安居建筑劳务有限公司", "phone": "+8613900000001", "address": "运城",
            "credit_code": "91140802MA0K000005"})
        if made.status != 201:
            raise RuntimeError(f"could not add the employer: {await made.text()}")
        employer = await made.json()
        verified = await http.post(f"/api/employers/{employer['id']}/verification",
                                   json={"state": "verified", "checked": "营业执照原件"})
        if verified.status != 200:
            raise RuntimeError(f"could not verify the employer: {await verified.text()}")
        return employer["id"]


async def post_job(base_url: str, town_name: str, employer: int) -> None:
    async with aiohttp.ClientSession(base_url=base_url, headers=AUTH) as http:
        areas = await (await http.get("/api/areas")).json()
        town = next(t["id"] for d in areas for t in d["towns"] if t["name"] == town_name)
        start = utc_now() + timedelta(days=1)
        posted = await http.post("/api/jobs", json={
            "employer_id": employer, "start_at": f"{start:%Y-%m-%d}T07:00:00",
            "days": 1, "town_id": town, "address": "河东东街88号工地",
            "lines": [{"trade": "welder", "headcount": HEADCOUNT, "day_wage_yuan": 300}]})
        if posted.status != 201:
            raise RuntimeError(f"could not post the job: {await posted.text()}")


async def fanouts(base_url: str, pid: int, url: str, carrier, alerts: int,
                  times: int) -> list[dict]:
    samples, employer = [], await add_employer(base_url)
    for number in range(times):
        town = await seed_alertable(url, alerts, offset=number * alerts)
        before = rss_mib(pid)
        started = time.monotonic()
        await post_job(base_url, town, employer)
        expected = (number + 1) * alerts
        await until(lambda: alerts_delivered(carrier) >= expected, 1800, 0.5)  # noqa: B023
        samples.append({"fanout": number + 1, "alerts": alerts,
                        "seconds": round(time.monotonic() - started, 1),
                        "rss_before_mib": round(before, 1),
                        "rss_after_mib": round(rss_mib(pid), 1)})
        print(f"  fan-out {number + 1}: {alerts} alerts in {samples[-1]['seconds']} s, "
              f"RSS {before:.1f} -> {samples[-1]['rss_after_mib']:.1f} MiB", flush=True)
    return samples


def alerts_delivered(carrier) -> int:
    return sum("急招" in record.body for record in carrier.sms.messages()
               if record.direction == "outbound-api")


async def run(args: argparse.Namespace) -> dict:
    port = free_port()
    async with throwaway_database(args.db) as url, local_carrier(port) as carrier:
        gigline = await start_gigline(
            url, port, carrier.rest_base, GIGLINE_SMS_RATE="2000",
            GIGLINE_SMS_CONCURRENCY="32", GIGLINE_OUTBOX_INTERVAL="0.5",
            GIGLINE_WAVE_MULTIPLIER=str(-(-args.alerts // HEADCOUNT)),
            GIGLINE_API_SUPERVISORS="chaos")
        base_url = f"http://127.0.0.1:{port}"
        try:
            started = rss_mib(gigline.pid)
            print(f"gigline pid {gigline.pid}: RSS {started:.1f} MiB at start", flush=True)
            by_calls = await calls(base_url, gigline.pid, args.calls, args.checkpoints)
            by_fanout = await fanouts(base_url, gigline.pid, url, carrier, args.alerts,
                                      args.fanouts)
        finally:
            await stop(gigline)
    return {"db": args.db, "rss_at_start_mib": round(started, 1), "calls": by_calls,
            "fanouts": by_fanout, **growth(by_calls, by_fanout)}


def growth(by_calls: list[dict], by_fanout: list[dict]) -> dict:
    """RSS growth over the second half of the calls (the first half warms caches and the
    allocator up), per 10,000 calls, and from the first fan-out's end to the last's."""
    half = by_calls[len(by_calls) // 2 - 1] if len(by_calls) > 1 else by_calls[0]
    last = by_calls[-1]
    calls_between = last["calls"] - half["calls"]
    per_10k = (last["rss_mib"] - half["rss_mib"]) * 10_000 / calls_between \
        if calls_between else 0.0
    return {"growth_mib_per_10k_calls_second_half": round(per_10k, 2),
            "growth_mib_over_later_fanouts": round(
                by_fanout[-1]["rss_after_mib"] - by_fanout[0]["rss_after_mib"], 1)}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument("--checkpoints", type=int, default=10,
                        help="RSS samples over the calls (default %(default)s)")
    parser.add_argument("--alerts", type=int, default=10_000,
                        help="alerts in each fan-out (default %(default)s)")
    parser.add_argument("--fanouts", type=int, default=2)
    args = parser.parse_args(argv)
    result = asyncio.run(run(args))
    print(f"RSS at start {result['rss_at_start_mib']} MiB; over the second half of the "
          f"calls {result['growth_mib_per_10k_calls_second_half']:+.2f} MiB per 10,000 calls; "
          f"from the first fan-out's end to the last's "
          f"{result['growth_mib_over_later_fanouts']:+.1f} MiB")
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"memory-{datetime.now(UTC):%Y%m%d-%H%M%S}.json"
    out.write_text(json.dumps(result | {"settings": vars(args)}, indent=2))
    print(f"results: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
