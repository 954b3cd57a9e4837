"""The two measurements: capacity (closed loop) and latency under a realistic load
(open loop). Each returns a plain dict that goes into the JSON results."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import loadgen
import profiling
from loadgen import Client, Crowd, Recorder
from procstat import CpuMeter, tree_cpu


async def _at(when: float) -> None:
    await asyncio.sleep(max(0.0, when - time.perf_counter()))


async def settle(pid: int, busy: float = 0.1, limit_s: float = 30) -> float:
    """Waits until the server is idle (under `busy` of a core), so a run does not inherit
    the backlog of the one before. Returns the seconds waited."""
    began = time.perf_counter()
    while time.perf_counter() - began < limit_s:
        used = tree_cpu(pid)
        await asyncio.sleep(0.5)
        if tree_cpu(pid) - used < busy * 0.5:
            break
    return round(time.perf_counter() - began, 1)


def _profile(pid: int, seconds: float, out: Path | None) -> asyncio.Task | None:
    return asyncio.create_task(profiling.record(pid, seconds, out)) if out else None


async def _profiled(task: asyncio.Task | None) -> dict | None:
    path = await task if task else None
    if path is None:
        return None
    return {"raw": str(path), "self_time_by_package": profiling.self_time_by_package(path),
            "inclusive_top": profiling.top_functions(path)}


async def capacity(base_url: str, token: str, meter: CpuMeter, crowd: Crowd, *,
                   concurrency: int, warmup: float, duration: float,
                   profile_to: Path | None = None) -> dict:
    """Most turns per second: `concurrency` callers back to back; turns answered inside
    the window after the warm-up count."""
    recorder = Recorder()
    async with loadgen.session(concurrency) as http:
        client = Client(http, token, recorder)
        begin = time.perf_counter() + warmup
        end = begin + duration
        load = asyncio.create_task(loadgen.closed_loop(client, crowd, concurrency, end))
        await _at(begin)
        first = meter.snapshot()
        profiler = _profile(meter.server_pid, duration, profile_to)
        await _at(end)
        last = meter.snapshot()
        await load
        profile = await _profiled(profiler)
    window = recorder.window(begin, end)
    return {
        "server": base_url,
        "window": [begin, end],
        "concurrency": concurrency,
        "seconds": duration,
        "turns": loadgen.summarise(window, duration),
        "status_callbacks": loadgen.summarise(window, duration, lambda k: k == "status"),
        "cpu_percent": CpuMeter.usage(first, last),
        "errors": dict(recorder.errors),
        "profile": profile,
    }


async def latency(base_url: str, token: str, meter: CpuMeter, crowd: Crowd, *,
                  calls: int, rate: float, warmup: float, duration: float, drain: float,
                  connections: int = 256, profile_to: Path | None = None) -> dict:
    """Latency at `rate` turns/s offered by `calls` simultaneous calls, measured from
    each turn's planned time. Turns planned inside the window after the warm-up count;
    those still unanswered `drain` seconds after it count as that late."""
    recorder = Recorder()
    lags: list[float] = []
    registered_at_start = len(crowd.phonebook.registered)
    calls_before = crowd.phonebook.calls.copy()
    async with loadgen.session(connections) as http:
        client = Client(http, token, recorder)
        start = time.perf_counter() + 0.2
        begin, end = start + warmup, start + warmup + duration
        load = asyncio.gather(
            loadgen.open_loop(client, crowd, calls, rate, start, end, end + drain),
            loadgen.measure_loop_lag(end, lags),
        )
        await _at(begin)
        first = meter.snapshot()
        profiler = _profile(meter.server_pid, duration, profile_to)
        await _at(end)
        last = meter.snapshot()
        await load
        profile = await _profiled(profiler)
    planned = [s for s in recorder.samples if begin <= s.start < end]
    turns = loadgen.summarise(planned, duration)
    completed = loadgen.summarise([s for s in recorder.window(begin, end) if s.ok], duration)
    by_kind = {kind: loadgen.summarise(planned, duration, lambda k, kind=kind: k == kind)
               for kind in (*loadgen.TURN_KINDS, "status")}
    return {
        "server": base_url,
        "window": [begin, end],
        "calls": calls,
        "offered_rate": rate,
        "seconds": duration,
        "turns": turns,
        "achieved_per_second": completed["per_second"],
        "by_kind": by_kind,
        "by_step": loadgen.by_step(planned),
        "generator_loop_lag_ms": loadgen.percentiles(lags),
        "registered_callers_at_start": registered_at_start,
        "registered_callers_at_end": len(crowd.phonebook.registered),
        "calls_started": dict(crowd.phonebook.calls - calls_before),
        "cpu_percent": CpuMeter.usage(first, last),
        "errors": dict(recorder.errors),
        "profile": profile,
    }
