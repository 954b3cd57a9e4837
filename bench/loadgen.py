"""The load generator: signed webhooks over an aiohttp client, in a closed loop (capacity)
or an open loop with Poisson arrivals (latency, free of coordinated omission)."""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlencode

import aiohttp
from callers import Caller, CallerPolicy, Phonebook, PromptReader, Webhook
from twilio.request_validator import RequestValidator

TURN_KINDS = ("voice", "gather", "record", "unanswered")
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@dataclass
class Sample:
    kind: str
    step: str
    start: float  # when the request was due (open loop) or sent (closed loop)
    end: float
    ok: bool

    @property
    def latency(self) -> float:
        return self.end - self.start


@dataclass
class Recorder:
    samples: list[Sample] = field(default_factory=list)
    errors: Counter = field(default_factory=Counter)

    def window(self, start: float, end: float) -> list[Sample]:
        """Samples completed inside [start, end)."""
        return [s for s in self.samples if start <= s.end < end]


class Client:
    """Signs and posts webhooks the way Twilio does."""

    def __init__(self, session: aiohttp.ClientSession, auth_token: str, recorder: Recorder):
        self.session, self.recorder = session, recorder
        self.validator = RequestValidator(auth_token)

    async def send(self, hook: Webhook, due: float | None = None) -> str | None:
        """Posts; records latency from `due` (default: now). Returns the body, None on error."""
        start = time.perf_counter() if due is None else due
        headers = {**FORM,
                   "X-Twilio-Signature": self.validator.compute_signature(hook.url, hook.params)}
        try:
            async with self.session.post(hook.url, data=urlencode(hook.params),
                                         headers=headers) as resp:
                body = await resp.text()
                ok = resp.status < 300
                if not ok:
                    self.recorder.errors[f"{hook.kind} HTTP {resp.status}"] += 1
        except (aiohttp.ClientError, TimeoutError) as exc:
            self.recorder.errors[f"{hook.kind} {type(exc).__name__}"] += 1
            body, ok = None, False
        self.recorder.samples.append(Sample(hook.kind, hook.step, start, time.perf_counter(), ok))
        return body if ok else None


@dataclass
class Crowd:
    """Makes callers that share one phonebook and reader."""

    base_url: str
    policy: CallerPolicy
    rng: random.Random
    reader: PromptReader = field(default_factory=PromptReader)
    phonebook: Phonebook | None = None

    def __post_init__(self):
        self.phonebook = self.phonebook or Phonebook(self.rng)

    def caller(self) -> Caller:
        return Caller(self.base_url, self.reader, self.phonebook, self.policy, self.rng)


def session(connections: int, timeout_s: float = 30) -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(limit=connections, limit_per_host=connections)
    return aiohttp.ClientSession(connector=connector,
                                 timeout=aiohttp.ClientTimeout(total=timeout_s))


async def closed_loop(client: Client, crowd: Crowd, concurrency: int, stop_at: float) -> None:
    """`concurrency` callers back to back: each sends its next turn as soon as the last
    one is answered, so the server is never idle and its throughput is the result."""

    async def line() -> None:
        while time.perf_counter() < stop_at:
            caller = crowd.caller()
            hook = caller.start()
            while hook is not None and time.perf_counter() < stop_at:
                twiml = await client.send(hook)
                hook = caller.answer(twiml) if twiml is not None else None
            await client.send(caller.hang_up())

    await asyncio.gather(*(line() for _ in range(concurrency)))


async def open_loop(client: Client, crowd: Crowd, calls: int, rate: float,
                    start_at: float, stop_at: float, deadline: float) -> None:
    """`calls` lines, each taking a turn at Poisson times (mean gap calls/rate): together
    a Poisson stream at `rate`. A turn is due at its planned time whatever happened to
    the last one; if the server is late the turn goes late and its latency, counted from
    the planned time, shows it (no coordinated omission). Turns planned before `stop_at`
    but still unanswered at `deadline` are recorded as `unanswered`, as late as the
    deadline, so an overloaded server cannot hide its backlog by ending the run."""
    mean_gap = calls / rate
    rng = crowd.rng

    async def line() -> None:
        due = start_at + rng.expovariate(1 / mean_gap)
        caller, hook = None, None
        try:
            while due < stop_at:
                await _sleep_until(due)
                if caller is None:
                    caller = crowd.caller()
                    hook = caller.start()
                twiml = await client.send(hook, due=due)
                due += rng.expovariate(1 / mean_gap)
                hook = caller.answer(twiml) if twiml is not None else None
                if hook is None:  # the call is over: Twilio reports it, the line rings again
                    await client.send(caller.hang_up())
                    caller = None
        except asyncio.CancelledError:
            while due < stop_at:
                client.recorder.samples.append(
                    Sample("unanswered", "", due, deadline, False))
                due += rng.expovariate(1 / mean_gap)
            raise

    lines = asyncio.gather(*(line() for _ in range(calls)))
    try:
        await asyncio.wait_for(lines, timeout=max(0.0, deadline - time.perf_counter()))
    except TimeoutError:
        unanswered = sum(s.kind == "unanswered" for s in client.recorder.samples)
        client.recorder.errors["unanswered by the deadline"] += unanswered


async def _sleep_until(when: float) -> None:
    delay = when - time.perf_counter()
    if delay > 0:
        await asyncio.sleep(delay)


async def measure_loop_lag(stop_at: float, lags: list[float], period: float = 0.01) -> None:
    """How late the generator's own event loop wakes up: a late generator would look
    like a slow server, so this is reported beside the latencies."""
    while time.perf_counter() < stop_at:
        planned = time.perf_counter() + period
        await asyncio.sleep(period)
        lags.append(time.perf_counter() - planned)


def percentiles(values: list[float], points=(50, 90, 99, 99.9)) -> dict[str, float]:
    """Nearest-rank percentiles plus max, in milliseconds."""
    if not values:
        return {}
    ordered = sorted(values)
    result = {f"p{p:g}": ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))] * 1000
              for p in points}
    result["max"] = ordered[-1] * 1000
    return result


def by_step(samples: list[Sample]) -> dict[str, dict]:
    """Latency by the question a turn answered (step after which Gigline answers)."""
    steps: dict[str, list[float]] = {}
    for s in samples:
        if s.ok:
            steps.setdefault(s.step, []).append(s.latency)
    return {step: {"count": len(v), **percentiles(v, (50, 99))}
            for step, v in sorted(steps.items(), key=lambda kv: -len(kv[1]))}


def summarise(samples: list[Sample], seconds: float,
              kinds: Callable[[str], bool] = lambda k: k in TURN_KINDS) -> dict:
    chosen = [s for s in samples if kinds(s.kind)]
    return {
        "count": len(chosen),
        "errors": sum(not s.ok for s in chosen),
        "per_second": len(chosen) / seconds if seconds else 0.0,
        "latency_ms": percentiles([s.latency for s in chosen]),
    }
