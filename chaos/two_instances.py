"""Two `gigline serve` processes on one PostgreSQL database send the same fan-out side by
side: every message reaches its phone exactly once.

    .venv/bin/python -m chaos.two_instances [--count 5000] [--rate 200]

Both processes run with the same settings, as two replicas behind a load balancer would,
and talk to the same local carrier; its incoming-SMS webhooks go to the first, each
message's status callback to the process that sent it. That callback URL is how the
sends are told apart. The carrier's busiest second is reported too: GIGLINE_SMS_RATE
is each process's own budget, not a shared one. Exits 0 only if 0 lost, 0 duplicated
and no row is left pending, claimed or unknown."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections import Counter

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
from local_carrier import LocalCarrier


async def run(args: argparse.Namespace) -> dict:
    messages = fan_out(args.count, seed=args.seed)
    ports = free_port(), free_port()
    settings = {"GIGLINE_SMS_RATE": str(args.rate), "GIGLINE_OUTBOX_INTERVAL": "0.5"}
    async with throwaway_database("postgresql") as url, local_carrier(ports[0]) as carrier:
        await fill_outbox(url, messages)
        started = time.monotonic()
        processes, up = [], []  # and when each answered /healthz
        try:
            # One after the other: started at the same instant on a fresh database, both
            # seed the market (market.seed.ensure_market looks, then inserts) and one dies
            # on the market's unique code.
            for port in ports:
                processes.append(await start_gigline(url, port, carrier.rest_base, **settings))
                up.append(round(time.monotonic() - started, 1))
            # The cheap count first: this is polled while the carrier takes messages.
            await until(lambda: len(_outbound(carrier)) >= len(messages)
                         and delivery(messages, carrier).lost == 0)
            carried_all = time.monotonic() - started
            await until_settled(url)
        finally:
            codes = [await stop(process) for process in processes]
        result = delivery(messages, carrier)
        return {
            "count": args.count, "rate_per_process": args.rate, "seed": args.seed,
            "up_after_s": up, "carried_all_s": round(carried_all, 1),
            "wall_s": round(time.monotonic() - started, 1),
            "expected": result.expected, "lost": result.lost, "duplicated": result.duplicated,
            "sent_by": _sent_by(carrier, ports), "busiest_second": _busiest_second(carrier),
            "exit_codes": codes, "rows": dict(await outbox_statuses(url)),
        }


def _outbound(carrier: LocalCarrier) -> list:
    return [r for r in carrier.sms.messages() if r.direction == "outbound-api"]


def _sent_by(carrier: LocalCarrier, ports: tuple[int, int]) -> dict[str, int]:
    """Each process asks for status callbacks at its own address."""
    names = {f"http://127.0.0.1:{port}/twilio/status": f"port {port}" for port in ports}
    return dict(Counter(names.get(r.status_callback, "other") for r in _outbound(carrier)))


def _busiest_second(carrier: LocalCarrier) -> int:
    """The most messages the carrier took within any one second."""
    times = sorted(r.date_created.timestamp() for r in _outbound(carrier))
    busiest, first = 0, 0
    for last, moment in enumerate(times):
        while moment - times[first] >= 1:
            first += 1
        busiest = max(busiest, last - first + 1)
    return busiest





def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--rate", type=float, default=200, help="SMS per second, per process")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    result = asyncio.run(run(args))
    path = write_result("two-instances", result)
    for key, value in result.items():
        print(f"  {key:<18} {value}")
    print(f"  -> {path}")
    ok = result["lost"] == 0 and result["duplicated"] == 0 and not unsettled(result["rows"])
    print("EXACT: 0 lost, 0 duplicated, nothing in doubt" if ok else "NOT EXACT")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
