"""SIGKILL `gigline serve` again and again in the middle of a fan-out, start it again on
the same database each time: every message still reaches its phone exactly once, and no
row is left in doubt.

    .venv/bin/python -m chaos.kill9 [--db sqlite|postgresql|both] [--count 2000]
                                    [--kills 20] [--seed 1] [--rate 200]

Each life of the process is killed after a random number of newly carried messages (the
rest of the fan-out shared among the kills still to come, give or take), so the kills
spread over the whole fan-out. Before about half of the kills the carrier answers the
next requests late, past Gigline's carrier timeout (some carried out, some not): those
rows either die `claimed` with the process (reconciled once the lease runs out) or time
out first (`unknown`: the carrier is asked before any resend). Exits 0 only if every
database ran exact: 0 lost, 0 duplicated, no row pending, claimed or unknown."""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time

from sqlalchemy import func, select

from chaos.harness import (
    delivery,
    fan_out,
    fill_outbox,
    free_port,
    local_carrier,
    outbox_statuses,
    start_gigline,
    stop,
    throwaway_database,
    unsettled,
    until,
    until_settled,
    write_result,
)
from store.db import make_engine
from store.models import OutboundSms

LEASE_SECONDS = 4.0  # short, so dead claims come back quickly; the default is 120
CARRIER_TIMEOUT = LEASE_SECONDS / 4  # what Gigline derives from the lease
CONCURRENCY = 8


async def run(db: str, args: argparse.Namespace) -> dict:
    rng = random.Random(args.seed)
    messages = fan_out(args.count, seed=args.seed)
    port = free_port()  # every life listens here: the carrier's callbacks find the next one
    settings = {"GIGLINE_SMS_RATE": str(args.rate), "GIGLINE_SMS_CONCURRENCY": str(CONCURRENCY),
                "GIGLINE_OUTBOX_INTERVAL": "0.5",
                "GIGLINE_OUTBOX_LEASE_SECONDS": str(LEASE_SECONDS)}
    async with throwaway_database(db) as url, local_carrier(port) as carrier:
        await fill_outbox(url, messages)

        def carried() -> int:
            return sum(r.direction == "outbound-api" for r in carrier.sms.messages())

        def missing() -> int:
            return delivery(messages, carrier).lost

        def all_carried() -> bool:  # the cheap count first: polled while Gigline sends
            return carried() >= len(messages) and not missing()

        started = time.monotonic()
        kills = late_kills = late_answers = 0
        kill_points = []  # messages carried when each kill came
        gigline = None
        try:
            while kills < args.kills and not all_carried():
                gigline = await start_gigline(url, port, carrier.rest_base, **settings)
                share = missing() / (args.kills - kills + 1)
                target = carried() + max(1, round(share * rng.uniform(0.2, 1.8)))
                await until(lambda target=target: carried() >= target or all_carried(), every=0.02)
                if rng.random() < 0.5:
                    # Every slot's next request answered late, past the carrier timeout: the
                    # kill comes while they are in flight, or after they timed out as unknown.
                    for _ in range(CONCURRENCY):
                        late = rng.choice((carrier.faults.delay_next, carrier.faults.hang_next))
                        late(CARRIER_TIMEOUT + rng.uniform(0.5, 2.0))
                    late_kills, late_answers = late_kills + 1, late_answers + CONCURRENCY
                    await asyncio.sleep(rng.uniform(0.2, 2.5))
                gigline.kill()  # SIGKILL: no shutdown, sends in flight cut off
                await gigline.wait()
                kills += 1
                kill_points.append(carried())

            gigline = await start_gigline(url, port, carrier.rest_base, **settings)
            await until(all_carried)
            carried_all = time.monotonic() - started
            # Claims cut off by the last kill come back after the lease, unknowns after
            # their pause: only once none is left can no second copy still go out.
            await until_settled(url)
            await asyncio.sleep(LEASE_SECONDS + 1)
        finally:
            if gigline is not None:  # the last life, or whichever was up when a wait failed
                await stop(gigline)
        result = delivery(messages, carrier)
        return {
            "db": db, "count": args.count, "kills": kills, "late_answer_kills": late_kills,
            "late_answers_scripted": late_answers, "kill_points": kill_points,
            "rate": args.rate, "seed": args.seed,
            "lease_s": LEASE_SECONDS, "carried_all_s": round(carried_all, 1),
            "wall_s": round(time.monotonic() - started, 1),
            "expected": result.expected, "lost": result.lost, "duplicated": result.duplicated,
            "carrier_took": carried(), **await _doubted(url),
            "rows": dict(await outbox_statuses(url)),
        }


async def _doubted(url: str) -> dict:
    """How many rows went through the paths in question (a row's error message stays
    after it is reconciled; a resent row's attempts went past one)."""
    engine = make_engine(url)
    async with engine.connect() as conn:
        timed_out = await conn.scalar(select(func.count()).select_from(OutboundSms)
                                      .where(OutboundSms.error_message.like("no answer%")))
        resent = await conn.scalar(select(func.count()).select_from(OutboundSms)
                                   .where(OutboundSms.attempts > 1))
    await engine.dispose()
    return {"rows_timed_out_unknown": timed_out, "rows_handed_over_again": resent}





def exact(result: dict) -> bool:
    return result["lost"] == 0 and result["duplicated"] == 0 and not unsettled(result["rows"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rate", type=float, default=200, help="SMS per second allowed")
    args = parser.parse_args()
    databases = ("sqlite", "postgresql") if args.db == "both" else (args.db,)
    results = [asyncio.run(run(db, args)) for db in databases]
    path = write_result(f"kill9-{args.db}", {"runs": results})
    print(f"{'db':<11} {'kills':>5} {'msgs':>5} {'lost':>4} {'dup':>4} {'wall s':>7}  rows")
    for r in results:
        rows = ", ".join(f"{status} {n}" for status, n in sorted(r["rows"].items()))
        print(f"{r['db']:<11} {r['kills']:>5} {r['expected']:>5} {r['lost']:>4} "
              f"{r['duplicated']:>4} {r['wall_s']:>7}  {rows}")
    print(f"-> {path}")
    ok = all(exact(r) for r in results)
    print("EXACT on every database" if ok else "NOT EXACT")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
