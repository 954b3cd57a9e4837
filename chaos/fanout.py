"""A fan-out through a carrier that fails at random and goes down for two minutes in the
middle: every message reaches its phone exactly once, alerts ahead of notices.

    .venv/bin/python -m chaos.fanout [--db sqlite|postgresql] [--count 10000]

`gigline serve` runs as a real process pointed at the local carrier in this one, as it
would be pointed at Twilio. The carrier answers POSTs with random 429/500/503s and
timeouts (half of them carried out, half not: Gigline cannot tell which), and refuses
everything for `--outage-seconds` once `--outage-at` of the fan-out has gone out."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time

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
    until,
    until_settled,
    urgent_first,
    write_result,
)


async def run(args: argparse.Namespace) -> dict:
    messages = fan_out(args.count, seed=args.seed)
    port = free_port()
    async with throwaway_database(args.db) as url, local_carrier(port) as carrier:
        await fill_outbox(url, messages)
        carrier.faults.randomise(seed=args.seed, error_rate=args.error_rate,
                                 timeout_rate=args.timeout_rate,
                                 timeout_seconds=args.timeout_seconds)
        started = time.monotonic()
        gigline = await start_gigline(
            url, port, carrier.rest_base, GIGLINE_SMS_RATE=str(args.rate),
            GIGLINE_SMS_CONCURRENCY=str(args.concurrency), GIGLINE_OUTBOX_INTERVAL="0.5")
        try:
            # Counting what the phones got costs a pass over every message: twice a second.
            await until(lambda: delivery(messages, carrier).delivered
                        >= args.outage_at * args.count, args.deadline, every=0.5)
            outage_began = time.monotonic() - started
            carrier.faults.outage(args.outage_seconds)
            await asyncio.sleep(args.outage_seconds)
            recovered = time.monotonic()
            await until(lambda: delivery(messages, carrier).delivered >= len(messages),
                        args.deadline, every=0.5)
            drained = time.monotonic() - recovered
            # Anything in doubt is settled with the carrier before we count copies.
            await until_settled(url, args.deadline)
        finally:
            await stop(gigline)
        result = delivery(messages, carrier)
        return {
            "db": args.db, "count": args.count, "rate": args.rate,
            "concurrency": args.concurrency, "error_rate": args.error_rate,
            "timeout_rate": args.timeout_rate, "timeout_seconds": args.timeout_seconds,
            "outage_seconds": args.outage_seconds, "outage_began_s": round(outage_began, 1),
            "drain_after_recovery_s": round(drained, 1),
            "wall_s": round(time.monotonic() - started, 1),
            "lost": result.lost, "duplicated": result.duplicated,
            "alerts_before_median_notice": round(urgent_first(messages, carrier), 3),
            "carrier_faults": vars(carrier.faults.stats),
            "rows": dict(await outbox_statuses(url)),
        }




def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=300, help="SMS per second allowed")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--error-rate", type=float, default=0.05)
    parser.add_argument("--timeout-rate", type=float, default=0.005)
    parser.add_argument("--timeout-seconds", type=float, default=35,
                        help="past Gigline's carrier timeout (10 s at the default lease)")
    parser.add_argument("--outage-at", type=float, default=0.5,
                        help="share of the fan-out sent when the carrier goes down")
    parser.add_argument("--outage-seconds", type=float, default=120)
    parser.add_argument("--deadline", type=float, default=1800)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    result = asyncio.run(run(args))
    path = write_result(f"fanout-{args.db}", result)
    for key, value in result.items():
        print(f"  {key:<30} {value}")
    print(f"  -> {path}")
    exact = result["lost"] == 0 and result["duplicated"] == 0
    print("EXACT: 0 lost, 0 duplicated" if exact else "NOT EXACT")
    return 0 if exact else 1


if __name__ == "__main__":
    sys.exit(main())
