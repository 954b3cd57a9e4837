"""Speech benchmark: how many callers speaking at once one Gigline process recognises in
real time, next to raw Vosk on the same audio, in the same run.

    python bench/speech_streams.py                 # until a rung fails, raw Vosk too (~1-2 min)
    python bench/speech_streams.py --keep-going    # every rung of the ladder (~4 min)
    python bench/speech_streams.py --ladder 5,10 --repeat 1 --raw-seconds 3
                                                   # quick check (~20 s)

Targets (the speech issues): one 2-core process hears >= 60 callers saying different
words at once, each moved on (the redirect request reaching the carrier) within 700 ms
p95 of the end of their voice, and >= 75% of what raw Vosk, held to the same
end-of-speech rule on the same callers in the same run, hears within that; < 8 MiB per
active stream; the model loaded once per process.

How it runs:

0. The callers (`bench/speech_callers.py`): the consent prompt's words, yes and no, said
   in espeak-ng's Korean voices at several speeds and pitches, each kept if the grammar
   hears it as said ten times out of ten; caller i says the i-th (cycling), so
   neighbours say different words and voices end at every phase of the server's 100 ms
   chunks. Gigline and raw Vosk hear the same callers.
1. Raw Vosk first (`bench/speech_raw.py`, a subprocess of its own, as many decoding
   threads as Gigline): the yardstick is the same callers as each rung of the ladder
   speaking at once in real time, heard by Gigline's own end-of-speech rule (its
   recogniser, chunking and decoding pool's order, without sockets, JSON, database, REST
   or a Twilio stand-in),
   judged as Gigline is (`--raw-settle`). Beside it: 100 ms chunks of each caller's word
   + 2.5 s of silence decoded as fast as they go (audio seconds per wall second = the
   real-time streams raw Vosk sustains flat out), and, optionally, paced callers heard by
   Vosk's own endpoint (`--raw-paced`).
2. Gigline in its own process (`bench/speech_server.py`: `create_app` with speech on, the
   Korean test pack, embedded SQLite in a temporary folder, decoding threads as
   Gigline's default), its REST calls pointed at this process.
3. This process plays Twilio: it runs the local carrier (`local_carrier`). For
   each N of the ladder it places N new calls (each hears the consent prompt and opens its
   Media Stream; Gigline makes a recogniser per stream), waits until all N listen, then all
   N speak at once in real time (20 ms frames, start times spread over `--spread-ms`),
   followed by silence, as Twilio streams it (`--lead-seconds` of a quiet line first:
   callers who hear the prompt out). Per call: the latency = the REST update reaching the
   carrier (Twilio's `calls(sid).update`) - the moment the caller's voice ended (its last
   voiced sample: the target's reading; espeak leaves ~0.3 s of quiet after it, and
   Gigline waits for 0.3 s of quiet before it takes the answer), and whether the call
   went where its word leads (the "right" column: the read-back of the word said, or the
   trades menu for a yes; see speech_callers). Vosk dithers its input, so a word on the
   edge is at times heard otherwise, here as in raw Vosk: that is accuracy, reported,
   not capacity. Each rung runs `--repeat` rounds (3), their calls pooled; it passes if
   every call was moved on and p95 latency < 700 ms. Calls are hung up between rounds;
   the ladder stops at the first failing rung (`--keep-going` not to).
4. Memory per stream = (the server's peak RSS while the N streams are decoded - its RSS
   idle with the model loaded, after a warm-up round) / N.

Columns: latencies in ms from each caller's voice's end (v50, v95, vmax; audio95: p95
from the audio's end); right: calls moved on where their answer leads; CPU in % of one
core over the speaking window (srv: the server, loop: its event-loop thread, cli: this
process, all: the whole machine in % of all cores); the server's own timings p95 in ms
(lag95: its event loop's lateness, heard95: waiting for the chunk that ended an
utterance, queue + decode; ans95: taking the turn + the REST redirect); sent95: p95 from
the audio's end to Gigline sending its redirect request (without the time the request
spends reaching this process's Twilio stand-in, busy on the same cores); RSS: the
server's peak, MiB.

Results: a table on stdout and JSON under bench/results/ (see docs/speech_benchmarks.md).
The run fails (exit 1, saying why) if it did not measure what it claims: a rung where no
call was moved on, recognisers left open, errors in the server's log, the model loaded
more than once, raw Vosk answering no one."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import aiohttp
import profiling
from databases import DEFAULT_PG_ADMIN, fresh_database
from procstat import machine_busy, process_cpu, wait_for_quiet
from servers import ServerProcess
from speech_callers import Caller
from speech_raw import callers_from, model_path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from gigline.settings import (  # noqa: E402
    DEFAULT_SPEECH_THREADS,
    LOCAL_ACCOUNT_SID,
    LOCAL_HOTLINE_NUMBER,
)
from local_carrier import LocalCarrier  # noqa: E402
from tests.hotline_settings import free_port  # noqa: E402

RESULTS = HERE / "results"
TOKEN = "bench-speech-token-0123456789"
SAMPLE_RATE = 8000
DEFAULT_LADDER = "20,30,40,50,60,70,80,90,100,120"
LATENCY_TARGET_MS = 700
STREAMS_TARGET, RATIO_TARGET, MIB_TARGET = 60, 0.75, 8.0
PG_DATABASE = "gigline_speech_bench"  # not ivr_turns.py's, which may run meanwhile
PLACE_CONCURRENCY = 16  # calls being set up at once (setup is not what is measured)
PROFILE_S = 3  # py-spy's window: the callers speak, are heard and moved on


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--ladder", default=DEFAULT_LADDER,
                   help="numbers of calls speaking at once, in order (default %(default)s)")
    p.add_argument("--repeat", type=int, default=3,
                   help="rounds per rung, their calls pooled for the percentiles "
                        "(default %(default)s)")
    p.add_argument("--keep-going", action="store_true",
                   help="run every rung, not stopping at the first failing round")
    p.add_argument("--threads", type=int, default=DEFAULT_SPEECH_THREADS,
                   help="Gigline's GIGLINE_SPEECH_THREADS and raw Vosk's pool (default: "
                   "Gigline's own, cores + 1)")
    p.add_argument("--spread-ms", type=float, default=100,
                   help="the callers start speaking within this many ms (default %(default)s)")
    p.add_argument("--lead-seconds", type=float, default=0,
                   help="seconds of a quiet line each caller streams before the word, as "
                        "when hearing the prompt out (default %(default)s: speaks at once)")
    p.add_argument("--silence-after", type=float, default=2.5,
                   help="seconds of silence streamed after the word (default %(default)s)")
    p.add_argument("--wait", type=float, default=10,
                   help="seconds after the audio to wait for the call to move on")
    p.add_argument("--warmup", type=int, default=5,
                   help="calls in the unmeasured warm-up round (default %(default)s)")
    p.add_argument("--raw-seconds", type=float, default=10,
                   help="seconds of raw Vosk throughput (0: skip raw Vosk entirely)")
    p.add_argument("--raw-streams", type=int, default=64,
                   help="recognisers fed by the raw throughput run (default %(default)s)")
    p.add_argument("--raw-paced", default="",
                   help="raw Vosk paced rounds with Vosk's own endpoint: 'ladder' (the same N "
                        "as Gigline), a comma-separated list, or '' for none (the default)")
    p.add_argument("--raw-settle", default="ladder",
                   help="raw Vosk with Gigline's own end-of-utterance rule, paced, judged by "
                        "the same 700 ms p95 as Gigline: 'ladder' (the same N as Gigline, the "
                        "default), a comma-separated list, or '' for none")
    p.add_argument("--quiet-wait", type=float, default=30,
                   help="seconds to wait for the machine to be idle first")
    p.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite",
                   help="sqlite: the embedded default in a temporary folder; postgres: a "
                        "fresh database on --pg-admin-url's server, migrated and dropped")
    p.add_argument("--pg-admin-url", default=DEFAULT_PG_ADMIN)
    p.add_argument("--client-nice", type=int, default=0,
                   help="what-if: lower this process's CPU priority (the Twilio stand-in) by "
                        "N once Gigline runs, as if the carrier were not on the measured "
                        "cores; frames it sends late still count against Gigline")
    p.add_argument("--gigline-env", action="append", default=[], metavar="NAME=VALUE",
                   help="extra setting for the Gigline server (what-if runs)")
    p.add_argument("--profile", action="store_true",
                   help="sample the server with py-spy (if on PATH) while the callers speak")
    p.add_argument("--output", type=Path, help="JSON file (default bench/results/...)")
    return p.parse_args(argv)


# --- the machine and the processes -----------------------------------------------------


def machine() -> dict:
    model = next((line.split(":", 1)[1].strip()
                  for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), "")
    return {"cpus": os.cpu_count(), "cpu_model": model, "python": platform.python_version(),
            "platform": platform.platform(), "aiohttp": aiohttp.__version__,
            "vosk": metadata.version("vosk")}


def git_state() -> dict:
    """The commit measured, and whether the app's files differed from it (others may be
    editing the working tree while this runs)."""
    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
        return done.stdout.strip()

    return {"head": git("rev-parse", "--short", "HEAD"),
            "changed": git("status", "--short", "--untracked-files=no").splitlines()}


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def thread_cpu(pid: int, tid: int) -> float:
    """CPU seconds of one thread (the server's main thread runs its event loop)."""
    try:
        stat = Path(f"/proc/{pid}/task/{tid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class SpeechServer(ServerProcess):
    """bench/speech_server.py as a ServerProcess (start, /healthz, stop, log checks)."""

    def launch(self) -> None:
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, str(HERE / "speech_server.py")],
                env=self.env, stdout=log, stderr=log)

    async def stats(self, http: aiohttp.ClientSession, reset: bool = False) -> dict:
        url = f"{self.base_url}/_bench/stats" + ("?reset=1" if reset else "")
        async with http.get(url) as resp:
            return await resp.json()


def server_env(port: int, carrier_port: int, data_dir: Path, database_url: str | None,
               threads: int, extra: list[str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("GIGLINE_", "TWILIO_", "VOSK_"))}
    env.update({
        "GIGLINE_PORT": str(port),
        "GIGLINE_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "GIGLINE_TWILIO_API_BASE": f"http://127.0.0.1:{carrier_port}",
        "GIGLINE_LOCAL_CARRIER_TOKEN": TOKEN,
        "GIGLINE_DATA_DIR": str(data_dir),  # embedded SQLite: migrated at start, demo data
        "GIGLINE_SCHEDULER": "0",
        "GIGLINE_SPEECH_LANGUAGE": "ko",
        "VOSK_MODEL_PATH": model_path(),
        "GIGLINE_SPEECH_THREADS": str(threads),
        "PYTHONPATH": str(ROOT),
    })
    if database_url:  # migrated by bench/databases.py; demo data as on the embedded one
        env.update({"GIGLINE_DATABASE_URL": database_url, "GIGLINE_DEMO": "1"})
    for pair in extra:
        name, _, value = pair.partition("=")
        env[name] = value
    return env


# --- raw Vosk --------------------------------------------------------------------------


def make_callers(folder: Path, lead_seconds: float) -> dict:
    """bench/speech_callers.py in a process of its own (it loads the model)."""
    out = subprocess.run([sys.executable, str(HERE / "speech_callers.py"), str(folder),
                          "--lead-seconds", str(lead_seconds)],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_raw(mode: str, args: argparse.Namespace, *more: str) -> dict:
    """bench/speech_raw.py in a process of its own: the same callers and thread count."""
    out = subprocess.run([sys.executable, str(HERE / "speech_raw.py"), mode,
                          "--callers", str(args.callers), "--lead-seconds", str(args.lead_seconds),
                          "--threads", str(args.threads), *more],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def raw_paced(args: argparse.Namespace, n: int, *more: str) -> dict:
    return run_raw("paced", args, "--streams", str(n), "--spread-ms", str(args.spread_ms), *more)


def raw_vosk(args: argparse.Namespace, ladder: list[int]) -> dict:
    raw = {"throughput": run_raw("throughput", args, "--streams", str(args.raw_streams),
                                 "--seconds", str(args.raw_seconds))}
    t = raw["throughput"]
    print(f"raw Vosk, {args.threads} threads: {t['realtime_streams']} real-time streams "
          f"({t['decode_ms_per_chunk']} ms per 100 ms chunk, {t['cpu_pct']}% CPU, "
          f"{t['heard_expected']}/{t['utterances_heard']} heard as said)", flush=True)
    paced_n = ladder if args.raw_paced == "ladder" else [
        int(n) for n in args.raw_paced.split(",") if n.strip()]
    raw["paced"] = []
    for n in paced_n:
        r = raw_paced(args, n)
        r["kept_up"] = r["heard_expected"] == n and r["chunk_lag_ms"].get("p95", 1e9) <= 100
        raw["paced"].append(r)
        print(f"raw Vosk paced {n:4d}: heard {r['heard_expected']}/{n}, chunk lag p95 "
              f"{r['chunk_lag_ms'].get('p95')} ms, Vosk endpoint p50 "
              f"{r['endpoint_ms'].get('p50')} ms after the utterance, "
              f"{r['mib_per_stream']} MiB/stream, {r['cpu_pct']}% CPU", flush=True)
        if not r["kept_up"] and not args.keep_going:
            break
    kept = [r["streams"] for r in raw["paced"] if r["kept_up"]]
    raw["paced_capacity"] = max(kept, default=None)
    raw["settled"] = []
    settle_n = ladder if args.raw_settle == "ladder" else [
        int(n) for n in args.raw_settle.split(",") if n.strip()]
    for n in settle_n:
        r = raw_paced(args, n, "--settle")
        p95, voice95 = r["endpoint_ms"].get("p95"), r["endpoint_from_voice_end_ms"].get("p95")
        heard_all = r["endpointed"] == n  # as Gigline's: every caller answered in time
        r["passed"] = heard_all and (voice95 or 1e9) < LATENCY_TARGET_MS
        r["passed_from_audio_end"] = heard_all and (p95 or 1e9) < LATENCY_TARGET_MS
        raw["settled"].append(r)
        print(f"raw Vosk + Gigline's settle rule {n:4d}: heard {r['heard_expected']}/{n}, "
              f"p95 {p95} ms after the audio's end, {voice95} ms after the voice's end, "
              f"{r['cpu_pct']}% CPU", flush=True)
        if not r["passed"] and not args.keep_going:
            break
    settled = [{"calls": r["streams"], **r} for r in raw["settled"]]
    raw["settle_capacity"] = contiguous_max(settled, lambda r: r["passed"]) or None
    raw["settle_capacity_from_audio_end"] = contiguous_max(
        settled, lambda r: r["passed_from_audio_end"]) or None
    return raw


# --- the callers -----------------------------------------------------------------------


def phone(round_no: int, index: int) -> str:
    return f"+86138{round_no:02d}{index:06d}"


async def place_calls(carrier: LocalCarrier, n: int, round_no: int) -> list:
    gate = asyncio.Semaphore(PLACE_CONCURRENCY)

    async def place(i: int):
        async with gate:
            call = await carrier.place_call(phone(round_no, i))
            await call.stream().opened
            return call

    return await asyncio.gather(*(place(i) for i in range(n)))


async def open_recognizers(server: SpeechServer, http: aiohttp.ClientSession,
                           settled: Callable[[int], bool], limit_s: float) -> int:
    """Polls the server's count of recognisers (another process: no event to wait on)
    until `settled(count)` or `limit_s` has passed; returns the last count."""
    deadline = time.monotonic() + limit_s
    while True:
        count = (await server.stats(http))["open_recognizers"]
        if settled(count) or time.monotonic() > deadline:
            return count
        await asyncio.sleep(0.1)


async def until_listening(server: SpeechServer, http: aiohttp.ClientSession, n: int) -> None:
    """Every stream has its recogniser in the server: the calls wait at the prompt."""
    if await open_recognizers(server, http, lambda count: count >= n, 60) < n:
        raise RuntimeError(f"{n} streams not listening after 60 s")


async def speak(call, caller: Caller, delay: float, args: argparse.Namespace) -> dict:
    await asyncio.sleep(delay)
    started = time.perf_counter()
    moved = await call.speak_audio(caller.mulaw, realtime=True,
                                   silence_after=args.silence_after, wait=args.wait)
    speech_end = started + len(caller.mulaw) / SAMPLE_RATE
    voice_end = started + caller.voiced_s

    def since(moment: float) -> float | None:
        return round(1000 * (call.updated_at - moment), 1) if moved else None

    prompts = call.new_prompts() if moved else []
    return {"sid": call.sid, "word": caller.word, "moved": moved, "speech_end": speech_end,
            "as_said": moved and caller.moved_on_by(prompts), "prompts": prompts,
            "latency_ms": since(speech_end), "from_voice_end_ms": since(voice_end)}


def note_requests_issued(spoken: list[dict], issued: dict[str, float]) -> None:
    """Per call, when Gigline sent its redirect request (the server's CLOCK_MONOTONIC,
    the same clock as this process's perf_counter): the latency without the time the
    request took to reach this process's stand-in and wait in its busy event loop."""
    for s in spoken:
        sent = issued.get(s["sid"]) if s["moved"] else None
        s["issued_ms"] = round(1000 * (sent - s["speech_end"]), 1) if sent else None


async def hang_up_all(calls: list) -> None:
    async def hang_up(call):
        if not call.ended:
            with contextlib.suppress(RuntimeError):  # CallStateError: it ended meanwhile
                await call.hang_up()

    await asyncio.gather(*(hang_up(c) for c in calls))


class Sampler:
    """The server's peak RSS, and this process's loop lag, while the callers speak."""

    def __init__(self, pid: int):
        self.pid, self.peak_rss, self.lags = pid, 0.0, []
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            self.peak_rss = max(self.peak_rss, rss_mib(self.pid))
            due = loop.time() + 0.05
            await asyncio.sleep(0.05)
            self.lags.append(loop.time() - due)

    async def stop(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self.peak_rss = max(self.peak_rss, rss_mib(self.pid))


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# --- one round -------------------------------------------------------------------------


async def run_round(carrier: LocalCarrier, server: SpeechServer, http: aiohttp.ClientSession,
                    n: int, round_no: int, rss_idle: float, args: argparse.Namespace,
                    callers: list[Caller]) -> dict:
    calls = await place_calls(carrier, n, round_no)
    await until_listening(server, http, n)
    rss_listening = rss_mib(server.pid)
    await server.stats(http, reset=True)
    sampler = Sampler(server.pid)
    profile = None
    if args.profile:
        profile = asyncio.get_running_loop().create_task(profiling.record(
            server.pid, PROFILE_S, args.profile_dir / f"calls-{n}.txt"))
        await asyncio.sleep(0.5)  # py-spy attaches
    cpu = (process_cpu(server.pid), thread_cpu(server.pid, server.pid), process_cpu(os.getpid()),
           machine_busy()[0])
    started = time.perf_counter()
    sampler.start()
    spoken = await asyncio.gather(*(speak(c, callers[i % len(callers)],
                                          args.spread_ms / 1000 * i / n, args)
                                    for i, c in enumerate(calls)))
    await sampler.stop()
    wall = time.perf_counter() - started
    profiled = await profile if profile else None
    used = {"server": process_cpu(server.pid) - cpu[0],
            "server_loop_thread": thread_cpu(server.pid, server.pid) - cpu[1],
            "client": process_cpu(os.getpid()) - cpu[2], "machine": machine_busy()[0] - cpu[3]}
    stats = await server.stats(http, reset=True)
    note_requests_issued(spoken, stats["redirect_issued"])
    await hang_up_all(calls)
    await carrier.drain()
    leaked = await open_recognizers(server, http, lambda count: count == 0, 30)
    row = summarise(n, spoken, wall, used, sampler, rss_idle, rss_listening, stats, leaked)
    if profiled:
        row["profile"] = {"raw": str(profiled),
                          "self_by_package": profiling.self_time_by_package(profiled),
                          "top_functions": profiling.top_functions(
                              profiled, packages=(*profiling.PRODUCT, "speech"))}
    return row


def summarise(n, spoken, wall, used, sampler, rss_idle,
              rss_listening, stats, leaked) -> dict:
    as_said = sum(s["as_said"] for s in spoken)
    pct = lambda seconds: round(100 * seconds / wall, 1)  # noqa: E731 - % of one core
    return {
        "calls": n, "moved": sum(s["moved"] for s in spoken), "as_said": as_said,
        **latency_summary(spoken, all(s["moved"] for s in spoken)), "wall_s": round(wall, 2),
        "cpu_pct": {"server": pct(used["server"]),
                    "server_loop_thread": pct(used["server_loop_thread"]),
                    "server_other_threads": pct(used["server"] - used["server_loop_thread"]),
                    "client": pct(used["client"]),
                    "machine": round(pct(used["machine"]) / os.cpu_count(), 1)},
        "rss_mib": {"idle": round(rss_idle, 1), "listening": round(rss_listening, 1),
                    "peak": round(sampler.peak_rss, 1)},
        "mib_per_stream": round((sampler.peak_rss - rss_idle) / n, 2),
        "server": {k: stats[k] for k in ("decode_ms", "hear_ms", "heard_ms", "answer_ms",
                                          "turn_ms", "redirect_ms", "loop_lag_ms", "hold_ms")},
        "sql_statements_per_call": round(stats["sql_statements"] / n, 1),
        "client_loop_lag_ms": {"p99": _ms(percentile(sampler.lags, 0.99)),
                               "max": _ms(max(sampler.lags, default=0))},
        "recognizers_left_open": leaked,
        "per_call": spoken,
    }


def latency_summary(spoken: list[dict], all_moved: bool) -> dict:
    """Latency percentiles, also counted from where each caller's voice ends, and the
    verdict."""
    latencies = [s["latency_ms"] for s in spoken if s["latency_ms"] is not None]
    from_voice = [s["from_voice_end_ms"] for s in spoken if s["from_voice_end_ms"] is not None]
    issued = [s["issued_ms"] for s in spoken if s.get("issued_ms") is not None]
    p50, p95 = percentile(latencies, 0.5), percentile(latencies, 0.95)
    return {"latency_ms": {"p50": p50, "p95": p95, "max": max(latencies, default=None)},
            "request_sent_ms": {"p50": percentile(issued, 0.5),
                                "p95": percentile(issued, 0.95)},
            "latency_from_voice_end_ms": {"p50": percentile(from_voice, 0.5),
                                          "p95": percentile(from_voice, 0.95),
                                          "max": max(from_voice, default=None)},
            "passed": all_moved and bool(from_voice)
            and percentile(from_voice, 0.95) < LATENCY_TARGET_MS}


def merge_repeats(rows: list[dict]) -> dict:
    """One rung run several times: the latencies of every call of every repeat pooled;
    CPU and the server's timings averaged; memory the worst repeat's."""
    if len(rows) == 1:
        return {**rows[0], "repeats": 1}
    n = rows[0]["calls"]
    spoken = [c for r in rows for c in r["per_call"]]

    def mean(values) -> float:
        values = [v for v in values if v is not None]
        return round(sum(values) / len(values), 2) if values else None

    server = {metric: {q: mean(r["server"][metric].get(q) for r in rows)
                       for q in ("p50", "p95", "mean")}
              for metric in rows[0]["server"]}
    return {
        "calls": n, "repeats": len(rows),
        "moved": min(r["moved"] for r in rows), "as_said": min(r["as_said"] for r in rows),
        **latency_summary(spoken, all(s["moved"] for s in spoken)),
        "cpu_pct": {k: mean(r["cpu_pct"][k] for r in rows) for k in rows[0]["cpu_pct"]},
        "rss_mib": {"idle": rows[0]["rss_mib"]["idle"],
                    "listening": max(r["rss_mib"]["listening"] for r in rows),
                    "peak": max(r["rss_mib"]["peak"] for r in rows)},
        "mib_per_stream": max(r["mib_per_stream"] for r in rows),
        "server": server,
        "sql_statements_per_call": mean(r["sql_statements_per_call"] for r in rows),
        "client_loop_lag_ms": {"max": max(r["client_loop_lag_ms"]["max"] for r in rows)},
        "recognizers_left_open": max(r["recognizers_left_open"] for r in rows),
        "each": rows,
    }


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(1000 * seconds, 1)


# --- the whole run ---------------------------------------------------------------------


async def gigline_rounds(args: argparse.Namespace, ladder: list[int], workdir: Path,
                         database_url: str | None) -> dict:
    port, carrier_port = free_port(), free_port()
    server = SpeechServer("gigline-speech", [], server_env(
        port, carrier_port, workdir / "data", database_url, args.threads, args.gigline_env),
        f"http://127.0.0.1:{port}", workdir / "server.log")
    # No connection limit: every call holds a WebSocket (aiohttp's default is 100).
    http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
    # The app has no Twilio credentials: it uses the local account and hotline number.
    carrier = LocalCarrier(account_sid=LOCAL_ACCOUNT_SID, auth_token=TOKEN,
                           webhook_base=server.base_url, hotline_number=LOCAL_HOTLINE_NUMBER,
                           http=http)
    await carrier.start_rest("127.0.0.1", carrier_port)
    callers = callers_from(args.callers, args.lead_seconds)
    result: dict = {"rounds": []}
    try:
        loading = time.perf_counter()
        await server.start(timeout_s=120)
        if args.client_nice:  # after the server started: it does not inherit it
            os.nice(args.client_nice)
        result["start_s"] = round(time.perf_counter() - loading, 1)
        result["rss_mib_started"] = round(rss_mib(server.pid), 1)
        if args.warmup:
            await run_round(carrier, server, http, args.warmup, 0, 0.0, args, callers)
        await asyncio.sleep(1)
        rss_idle = result["rss_mib_idle"] = round(rss_mib(server.pid), 1)
        print(f"Gigline up in {result['start_s']} s, RSS {result['rss_mib_started']} MiB "
              f"started, {rss_idle} MiB idle after warm-up", flush=True)
        print_header()
        round_no = 0
        for n in ladder:
            repeats = []
            for _ in range(args.repeat):
                round_no += 1
                repeats.append(await run_round(carrier, server, http, n, round_no, rss_idle,
                                               args, callers))
            row = merge_repeats(repeats)
            result["rounds"].append(row)
            print_row(row)
            if not row["passed"] and not args.keep_going:
                break
        final = await server.stats(http)
        result["model_loads"] = final["model_loads"]
        result["recognizers_made"] = final["recognizers_made"]
    finally:
        await carrier.close()
        await http.close()
        server.stop()
        result["server_exit_line"] = next(
            (line for line in server.log_tail(50).splitlines() if "model loads" in line), "")
        result["server_problems"] = server.problems()
    return result


def print_header() -> None:
    print(f"{'calls':>5} {'right':>6} {'v50':>6} {'v95':>6} {'vmax':>6} {'audio95':>7} "
          f"{'srv%':>5} {'loop%':>5} {'cli%':>5} {'all%':>5} {'lag95':>6} {'heard95':>7} "
          f"{'ans95':>6} {'sent95':>6} {'RSS':>6} {'MiB/st':>6}  pass", flush=True)


def print_row(r: dict) -> None:
    voice, cpu, srv = r["latency_from_voice_end_ms"], r["cpu_pct"], r["server"]

    def f(v) -> str:
        return "-" if v is None else f"{v:.0f}"

    print(f"{r['calls']:>5} {r['as_said']:>6} {f(voice['p50']):>6} {f(voice['p95']):>6} "
          f"{f(voice.get('max')):>6} {f(r['latency_ms']['p95']):>7} "
          f"{cpu['server']:>5.0f} {cpu['server_loop_thread']:>5.0f} {cpu['client']:>5.0f} "
          f"{cpu['machine']:>5.0f} {f(srv['loop_lag_ms'].get('p95')):>6} "
          f"{f(srv['heard_ms'].get('p95')):>7} {f(srv['answer_ms'].get('p95')):>6} "
          f"{f(r['request_sent_ms']['p95']):>6} {r['rss_mib']['peak']:>6.0f} "
          f"{r['mib_per_stream']:>6.2f}  "
          f"{'yes' if r['passed'] else 'NO'}", flush=True)


def contiguous_max(rounds: list[dict], ok: Callable[[dict], bool]) -> int:
    """The largest N of the ladder such that it and every smaller rung were ok."""
    best = 0
    for r in sorted(rounds, key=lambda r: r["calls"]):
        if not ok(r):
            break
        best = r["calls"]
    return best


def within_target(rounds: list[dict], latency: str) -> int:
    """Capacity with the latency measured as `latency` (a percentiles dict of a row)."""
    return contiguous_max(rounds, lambda r: r["moved"] == r["calls"] and (
        r[latency]["p95"] or 1e9) < LATENCY_TARGET_MS)


def verdicts(result: dict) -> dict:
    """Every count is timed from the end of each caller's voice (the target's reading:
    the quiet Gigline waits for is part of the wait), unless its name says otherwise."""
    gigline, raw = result["gigline"], result.get("raw") or {}
    capacity = contiguous_max(gigline["rounds"], lambda r: r["passed"])
    recognised = contiguous_max(gigline["rounds"], lambda r: r["moved"] == r["calls"])
    best = next((r for r in gigline["rounds"] if r["calls"] == capacity), None)
    raw_streams = (raw.get("throughput") or {}).get("realtime_streams")
    paced, settle = raw.get("paced_capacity"), raw.get("settle_capacity")
    p95 = best["latency_from_voice_end_ms"]["p95"] if best else None
    mib = best["mib_per_stream"] if best else None
    ratio = round(capacity / settle, 2) if settle else None

    def to(count: int | None) -> float | None:
        return round(capacity / count, 2) if count else None

    return {
        "capacity": capacity, "all_moved_up_to": recognised,
        "right_pct": {r["calls"]: round(100 * r["as_said"] / r["calls"], 1)
                      for r in gigline["rounds"]},
        # The target's yardstick: raw Vosk, the same callers, Gigline's own end-of-speech
        # rule, p95 < 700 ms from the voice's end.
        "raw_settle_capacity": settle, "ratio": ratio,
        # For reading beside it: raw Vosk flat out (no latency at all) and paced with
        # Vosk's own endpoint; the counts from the audio's end, on either side.
        "raw_realtime_streams": raw_streams, "ratio_to_flat_out": to(raw_streams),
        "raw_paced_capacity": paced, "ratio_to_paced": to(paced),
        "capacity_from_audio_end": within_target(gigline["rounds"], "latency_ms"),
        "raw_settle_capacity_from_audio_end": raw.get("settle_capacity_from_audio_end"),
        # Gigline's count when the latency ends as its redirect request is sent.
        "capacity_by_request_sent": within_target(gigline["rounds"], "request_sent_ms"),
        "streams_met": capacity >= STREAMS_TARGET,
        "ratio_met": ratio is not None and ratio >= RATIO_TARGET,
        "latency_p95_ms_at_capacity": p95,
        "latency_met": p95 is not None and p95 < LATENCY_TARGET_MS,
        "mib_per_stream_at_capacity": mib,
        "memory_met": mib is not None and mib < MIB_TARGET,
        "model_loads": gigline.get("model_loads"),
        "model_once": gigline.get("model_loads") == 1,
    }


def print_verdicts(v: dict) -> None:
    def mark(met: bool) -> str:
        return "met" if met else "MISSED"

    print(f"\ncapacity, p95 < {LATENCY_TARGET_MS} ms from the voice's end: {v['capacity']} "
          f"streams (target >= {STREAMS_TARGET}): {mark(v['streams_met'])}; every call "
          f"moved on, however late, up to {v['all_moved_up_to']}; heard as said (% by "
          f"rung): {v['right_pct']}")
    print(f"vs raw Vosk held to the same rule: {v['capacity']} / {v['raw_settle_capacity']} = "
          f"{v['ratio']} (target >= {RATIO_TARGET}): {mark(v['ratio_met'])}")
    print(f"beside it: raw Vosk flat out {v['raw_realtime_streams']} (ratio "
          f"{v['ratio_to_flat_out']}), paced with Vosk's endpoint {v['raw_paced_capacity']} "
          f"(ratio {v['ratio_to_paced']}); from the audio's end Gigline "
          f"{v['capacity_from_audio_end']}, raw Vosk {v['raw_settle_capacity_from_audio_end']}; "
          f"to the redirect request sent {v['capacity_by_request_sent']}")
    print(f"latency p95 at capacity, from the voice's end: {v['latency_p95_ms_at_capacity']} ms "
          f"(target < {LATENCY_TARGET_MS}): {mark(v['latency_met'])}")
    print(f"memory per stream at capacity: {v['mib_per_stream_at_capacity']} MiB "
          f"(target < {MIB_TARGET}): {mark(v['memory_met'])}")
    print(f"model loads in the server process: {v['model_loads']}: {mark(v['model_once'])}")


async def main(argv: list[str]) -> int:
    args = parse_args(argv)
    ladder = [int(n) for n in args.ladder.split(",") if n.strip()]
    started = datetime.now(UTC)
    result = {"started": started.isoformat(timespec="seconds"), "machine": machine(),
              "command": " ".join(["bench/speech_streams.py", *argv]),
              "git": git_state(),
              "settings": {k: str(v) for k, v in vars(args).items()}}
    result["background_load_pct"] = wait_for_quiet(20, args.quiet_wait)
    args.profile_dir = RESULTS / f"speech-profiles-{started:%Y%m%d-%H%M%S}"
    if args.profile:
        args.profile_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="gigline-speech-") as workdir:
        args.callers = Path(workdir) / "callers"
        result["callers"] = made = make_callers(args.callers, args.lead_seconds)
        print(f"callers: {made['callers']} utterances, by word {made['by_word']}", flush=True)
        if args.raw_seconds > 0:
            result["raw"] = raw_vosk(args, ladder)
        if args.db == "sqlite":
            result["gigline"] = await gigline_rounds(args, ladder, Path(workdir), None)
        else:
            async with fresh_database("postgres", workdir, pg_admin=args.pg_admin_url,
                                      pg_name=PG_DATABASE) as url:
                result["gigline"] = await gigline_rounds(args, ladder, Path(workdir), url)
    result["verdicts"] = verdicts(result)
    print_verdicts(result["verdicts"])
    out = args.output or RESULTS / f"speech_streams-{started:%Y%m%d-%H%M%S}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1, ensure_ascii=False))
    print(f"\nresults: {out}")
    failed = self_check(result)
    for reason in failed:
        print(f"BENCHMARK FAILED: {reason}", file=sys.stderr)
    return 1 if failed else 0


def self_check(result: dict) -> list[str]:
    """Why the run did not measure what it claims, if it did not: callers nobody
    answered, recognisers left open, the server's errors, raw Vosk hearing no one."""
    gigline, failed = result["gigline"], []
    for row in gigline["rounds"]:
        if row["moved"] == 0:
            failed.append(f"{row['calls']} callers: no call was moved on")
        if row["recognizers_left_open"]:
            failed.append(f"{row['calls']} callers: {row['recognizers_left_open']} "
                          "recognisers left open after the calls ended")
    errors = {line: n for line, n in gigline.get("server_problems", {}).items()
              if "ERROR" in line or line.startswith("Traceback")}
    if errors:
        failed.append(f"the server logged errors: {errors}")
    if gigline.get("model_loads") != 1:
        failed.append(f"the model was loaded {gigline.get('model_loads')} times")
    for raw in (result.get("raw") or {}).get("settled", []):
        if raw["endpointed"] == 0:
            failed.append(f"raw Vosk answered none of {raw['streams']} callers")
    return failed


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
