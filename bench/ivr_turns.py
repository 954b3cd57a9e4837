"""IVR turn benchmark: Gigline against a bare aiohttp handler, on SQLite and PostgreSQL.

    python bench/ivr_turns.py [--db sqlite|postgres|both] [--duration S] [--calls N] [--rate R]

This process is the load generator; each server runs in a process of its own (see
bench/README.md for what is measured and why). Results: a table on stdout and a JSON
file under bench/results/."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import socket
import sys
import tempfile
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

import scenarios
from callers import CallerPolicy
from databases import DEFAULT_PG_ADMIN, DEFAULT_PG_NAME, fresh_database, seed_workers
from loadgen import Crowd
from procstat import CpuMeter, wait_for_quiet
from report import BACKGROUND_BUSY, print_report
from servers import ServerProcess, gc_pauses_in

RESULTS = Path(__file__).resolve().parent / "results"
TOKEN = "bench-token-0123456789abcdef"
CAPACITY_TURNS_PER_CALL = 12  # a new caller registers in 11 turns


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    p.add_argument("--scenario", choices=("capacity", "latency", "both"), default="both")
    p.add_argument("--duration", type=float, default=20,
                   help="measured seconds of each capacity run (default %(default)s)")
    p.add_argument("--latency-duration", type=float, default=45,
                   help="measured seconds of the latency run (default %(default)s)")
    p.add_argument("--warmup", type=float, default=5,
                   help="seconds of load before each measured window (default %(default)s)")
    p.add_argument("--concurrency", type=int, default=64,
                   help="callers in flight in the capacity runs (default %(default)s)")
    p.add_argument("--calls", type=int, default=2000,
                   help="simultaneous calls in the latency run (default %(default)s)")
    p.add_argument("--rate", type=float, default=400,
                   help="turns per second offered in the latency run (default %(default)s)")
    p.add_argument("--workers", type=int, default=3000,
                   help="registered workers seeded before the runs; half the calls come "
                        "from them (default %(default)s)")
    p.add_argument("--also-rates", default="",
                   help="comma-separated lower rates to try after the main latency run, each "
                        "with as many calls as keep a call's pace (calls/rate seconds a turn)")
    p.add_argument("--drain", type=float, default=10,
                   help="seconds a latency run waits for late answers (default %(default)s)")
    p.add_argument("--gigline-env", action="append", default=[], metavar="NAME=VALUE",
                   help="extra setting for the Gigline server, e.g. GIGLINE_SCHEDULER=0 "
                        "(repeatable; for what-if runs)")
    p.add_argument("--serve-workers", type=int, default=0, metavar="N",
                   help="PostgreSQL only: also run Gigline as `gigline serve --workers N`; "
                        "the capacity run compares it with one process, and the latency "
                        "runs go to it")
    p.add_argument("--profile", action="store_true",
                   help="sample the Gigline server with py-spy (if installed) while measured")
    p.add_argument("--quiet-wait", type=float, default=60,
                   help="seconds to wait for a busy machine to calm down before each "
                        "scenario (default %(default)s)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--pg-admin-url", default=DEFAULT_PG_ADMIN,
                   help="where to create the throwaway database (default %(default)s)")
    p.add_argument("--pg-database", default=DEFAULT_PG_NAME)
    args = p.parse_args(argv)
    if args.serve_workers and args.db != "postgres":
        p.error("--serve-workers needs --db postgres: several processes share PostgreSQL")
    if args.serve_workers == 1:
        p.error("--serve-workers N: N is 2 or more (one process is always measured)")
    return args


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def gigline_env(database_url: str, port: int, extra: Iterable[str] = ()) -> dict[str, str]:
    # Settings come from here alone: none of the caller's GIGLINE_* or TWILIO_* leak in.
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(("GIGLINE_", "TWILIO_"))}
    return {
        **inherited,
        "GIGLINE_DATABASE_URL": database_url,
        "GIGLINE_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "GIGLINE_PORT": str(port),
        "GIGLINE_LOCAL_CARRIER_TOKEN": TOKEN,
        "GIGLINE_LOCAL_CARRIER_PORT": str(free_port()),
        "GIGLINE_DEMO": "1",
        **dict(item.split("=", 1) for item in extra),
    }


class DatabaseRun:
    """The scenarios on one database: a Gigline and a bare server process, one crowd of
    callers for Gigline (numbers registered in the capacity run call back later)."""

    def __init__(self, kind: str, url: str, args: argparse.Namespace, workdir: Path,
                 profile_dir: Path | None):
        self.kind, self.url, self.args, self.profile_dir = kind, url, args, profile_dir
        self.rng = random.Random(args.seed)
        port, bare_port = free_port(), free_port()
        self.gc_file = workdir / f"gigline-{kind}-gc.json"
        env = gigline_env(url, port, args.gigline_env) | {"BENCH_GC_PAUSES": str(self.gc_file)}
        self.gigline = ServerProcess("gigline", ["gigline"], env, f"http://127.0.0.1:{port}",
                                     workdir / f"gigline-{kind}.log")
        self.bare = ServerProcess("bare", ["bare", str(bare_port)], dict(os.environ),
                                  f"http://127.0.0.1:{bare_port}", workdir / f"bare-{kind}.log")
        self.workers = None
        if args.serve_workers:
            port = free_port()
            self.workers = ServerProcess(
                f"gigline x{args.serve_workers}", ["gigline-workers", str(args.serve_workers)],
                gigline_env(url, port, args.gigline_env), f"http://127.0.0.1:{port}",
                workdir / f"gigline-workers-{kind}.log")
        # The latency runs go to the processes the machine allows: several when asked.
        self.served = self.workers or self.gigline
        self.crowd = Crowd(self.served.base_url, CallerPolicy(), self.rng)

    @property
    def servers(self) -> list[ServerProcess]:
        return [self.bare, self.gigline, *([self.workers] if self.workers else [])]

    async def run(self) -> dict:
        result: dict = {"database": self.kind}
        try:
            for server in self.servers:
                await server.start()
            self.say(", ".join(f"{server.name} pid {server.pid} on {server.base_url}"
                               for server in self.servers))
            await self.seed()
            if self.args.scenario in ("capacity", "both"):
                result["capacity"] = await self.capacity()
            if self.args.scenario in ("latency", "both"):
                result["latency"] = [await self.latency(calls, rate)
                                     for calls, rate in latency_loads(self.args)]
        finally:
            for server in self.servers:
                server.stop()
        for scenario in [result.get("capacity", {}).get("gigline"), *result.get("latency", [])]:
            if scenario:
                scenario["gigline_gc_pauses"] = gc_pauses_in(self.gc_file, *scenario["window"])
        result["server_log_problems"] = {
            "gigline": self.gigline.problems(), "bare": self.bare.problems(),
            "gigline_first_traceback": self.gigline.first_traceback(),
            **({"workers": self.workers.problems(),
                "workers_first_traceback": self.workers.first_traceback()}
               if self.workers else {}),
        }
        return result

    async def seed(self) -> None:
        phonebook = self.crowd.phonebook
        phones = [phonebook.new_number() for _ in range(self.args.workers)]
        await seed_workers(self.url, phones)
        for phone in phones:
            phonebook.mark_registered(phone)
        self.say(f"seeded {len(phones)} registered workers")

    async def capacity(self) -> dict:
        args = self.args
        fixed = CallerPolicy(max_turns=CAPACITY_TURNS_PER_CALL)
        crowds = {server.name: Crowd(server.base_url, fixed, self.rng,
                                     phonebook=self.crowd.phonebook)
                  for server in self.servers if server is not self.bare}
        crowds["bare"] = Crowd(self.bare.base_url, fixed, self.rng)
        results = {}
        for server in self.servers:
            before = await self.quiet(server)
            self.say(f"capacity: {server.name}, {args.concurrency} callers, "
                     f"{args.warmup:g}+{args.duration:g}s")
            results[server.name] = before | await scenarios.capacity(
                server.base_url, TOKEN, self.meter(server), crowds[server.name],
                concurrency=args.concurrency, warmup=args.warmup, duration=args.duration,
                profile_to=self.profile_to(server, "capacity"),
            )
        return results

    async def latency(self, calls: int, rate: float) -> dict:
        args = self.args
        before = await self.quiet(self.served)
        self.say(f"latency: {self.served.name}, {calls} calls at {rate:g} turns/s, "
                 f"{args.warmup:g}+{args.latency_duration:g}s")
        return before | {"server_name": self.served.name} | await scenarios.latency(
            self.served.base_url, TOKEN, self.meter(self.served), self.crowd, calls=calls,
            rate=rate, warmup=args.warmup, duration=args.latency_duration, drain=args.drain,
            profile_to=self.profile_to(self.served, f"latency-{rate:g}"),
        )

    async def quiet(self, server: ServerProcess) -> dict:
        """The server idle again, and the machine as quiet as it will get."""
        settled = await scenarios.settle(server.pid)
        load = await asyncio.to_thread(wait_for_quiet, BACKGROUND_BUSY, self.args.quiet_wait)
        return {"server_settled_s": settled, "machine_load_before": load}

    def meter(self, server: ServerProcess) -> CpuMeter:
        return CpuMeter(server.pid, self.args.pg_database)

    def profile_to(self, server: ServerProcess, scenario: str) -> Path | None:
        if self.profile_dir is None or server is self.bare:
            return None
        return self.profile_dir / f"{self.kind}-{server.name.replace(' ', '')}-{scenario}.txt"

    def say(self, text: str) -> None:
        print(f"[{self.kind}] {text}", flush=True)


async def run_database(kind: str, args: argparse.Namespace, workdir: Path,
                       profile_dir: Path | None) -> dict:
    async with fresh_database(kind, str(workdir), pg_admin=args.pg_admin_url,
                              pg_name=args.pg_database) as url:
        return await DatabaseRun(kind, url, args, workdir, profile_dir).run()


def latency_loads(args: argparse.Namespace) -> list[tuple[int, float]]:
    """(calls, rate) for each latency run; extra rates keep the main run's pace per call."""
    pace = args.calls / args.rate
    extra = [float(r) for r in args.also_rates.split(",") if r.strip()]
    return [(args.calls, args.rate)] + [(max(1, round(r * pace)), r) for r in extra]


def machine() -> dict:
    model = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    return {"cpus": os.cpu_count(), "cpu_model": model, "python": platform.python_version(),
            "platform": platform.platform()}


async def main(argv: list[str]) -> int:
    args = parse_args(argv)
    kinds = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    started = datetime.now(UTC)
    results = {"started": started.isoformat(timespec="seconds"), "machine": machine(),
               "command": " ".join([Path(sys.argv[0]).as_posix(), *argv]),
               "settings": vars(args), "runs": []}
    profile_dir = RESULTS / f"profiles-{started:%Y%m%d-%H%M%S}" if args.profile else None
    if profile_dir:
        profile_dir.mkdir(parents=True)
    with tempfile.TemporaryDirectory(prefix="gigline-bench-") as workdir:
        for kind in kinds:
            results["runs"].append(await run_database(kind, args, Path(workdir), profile_dir))
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"ivr_turns-{started:%Y%m%d-%H%M%S}.json"
    out.write_text(json.dumps(results, indent=2, ensure_ascii=False))
    print_report(results)
    print(f"\nresults: {out}")
    return 0


if __name__ == "__main__":
    t0 = time.perf_counter()
    code = asyncio.run(main(sys.argv[1:]))
    print(f"took {time.perf_counter() - t0:.0f}s")
    sys.exit(code)
