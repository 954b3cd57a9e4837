"""Fault injection for the REST stand-in, so Gigline's retry and reconciliation paths run.

Scripted faults (fail_next, delay_next) suit a test that needs one particular failure;
randomise() and outage() suit a chaos run that pushes thousands of requests through.
"""

import asyncio
import contextlib
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from aiohttp import web

from .errors import TwilioApiError

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# The transient errors Twilio answers under load; a retrying client must survive each.
RANDOM_ERRORS = (
    (429, 20429, "Too Many Requests"),
    (500, 20500, "Internal Server Error"),
    (503, 20503, "Service Unavailable"),
)


def _unavailable() -> TwilioApiError:
    return TwilioApiError(503, 20503, "Service Unavailable")


@dataclass
class FaultStats:
    """What the faults did, for a harness to check its own bookkeeping against."""

    failed: int = 0  # answered with an error, not carried out (fail_next and random)
    timeouts_carried_out: int = 0  # carried out, answered late
    timeouts_dropped: int = 0  # not carried out, answered 503 late
    refused_in_outage: int = 0


@dataclass(frozen=True)
class _Randomness:
    rng: random.Random
    error_rate: float
    timeout_rate: float
    timeout_seconds: float
    applies_to: frozenset[str]


class FaultPlan:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._failures: deque[TwilioApiError] = deque()
        self._delays: deque[tuple[float, bool]] = deque()  # (seconds, carried out)
        self._random: _Randomness | None = None
        # None: no outage; inf: until restore(); otherwise the clock time it ends.
        self._outage_until: float | None = None
        self._closing = asyncio.Event()
        self.stats = FaultStats()

    def fail_next(
        self,
        count: int = 1,
        *,
        status: int = 500,
        code: int = 20500,
        message: str = "Internal Server Error",
    ) -> None:
        """The next `count` REST requests fail with this Twilio error, doing nothing."""
        self._failures.extend(TwilioApiError(status, code, message) for _ in range(count))

    def delay_next(self, seconds: float, count: int = 1) -> None:
        """The next `count` REST requests are carried out, but answered only after `seconds`.

        Like a real timeout, the client cannot tell whether the request took effect.
        """
        self._delays.extend((seconds, True) for _ in range(count))

    def hang_next(self, seconds: float, count: int = 1) -> None:
        """The next `count` REST requests are not carried out and are answered 503 only
        after `seconds`: to a client that gave up, the same as delay_next."""
        self._delays.extend((seconds, False) for _ in range(count))

    def randomise(
        self,
        *,
        seed: int,
        error_rate: float = 0.0,
        timeout_rate: float = 0.0,
        timeout_seconds: float = 35.0,
        applies_to: Iterable[str] = ("POST",),
    ) -> None:
        """From now on each request whose method is in `applies_to` independently:

        - with probability `error_rate` fails with 429, 500 or 503 (uniformly), doing nothing;
        - with probability `timeout_rate` times out: either carried out and answered after
          `timeout_seconds`, or not carried out and answered 503 after `timeout_seconds`
          (even odds), so a client that gave up earlier cannot tell which.

        GETs are spared by default: they are how a client reconciles after a timeout.
        Scripted faults (fail_next, delay_next) go first. Rates of zero switch this off.
        """
        if not (0 <= error_rate <= 1 and 0 <= timeout_rate <= 1 and error_rate + timeout_rate <= 1):
            raise ValueError("error_rate and timeout_rate must be in [0, 1] and sum to at most 1")
        if timeout_seconds < 0:
            raise ValueError("timeout_seconds must not be negative")
        if not error_rate and not timeout_rate:
            self._random = None
            return
        self._random = _Randomness(
            random.Random(seed),
            error_rate,
            timeout_rate,
            timeout_seconds,
            frozenset(method.upper() for method in applies_to),
        )

    def calm(self) -> None:
        """Switch random faults off (scripted faults and outages are left as they are)."""
        self._random = None

    def outage(self, seconds: float | None = None) -> None:
        """Every request (any method) fails at once with 503, doing nothing, until restore()
        or, if given, until `seconds` have passed."""
        self._outage_until = float("inf") if seconds is None else self._clock() + seconds

    def restore(self) -> None:
        self._outage_until = None

    @property
    def in_outage(self) -> bool:
        return self._outage_until is not None and self._clock() < self._outage_until

    def close(self) -> None:
        self._closing.set()  # release delayed answers so the server can shut down

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if self.in_outage:
            self.stats.refused_in_outage += 1
            return _unavailable().response()
        if self._failures:
            self.stats.failed += 1
            return self._failures.popleft().response()
        if self._delays:
            seconds, carried_out = self._delays.popleft()
            if carried_out:
                return await self._answer_late(request, handler, seconds)
            await self._hold(seconds)
            return _unavailable().response()
        chaos = self._random
        if chaos is None or request.method not in chaos.applies_to:
            return await handler(request)
        # One draw decides the outcome, so outcomes are reproducible for a seed and
        # error_rate + timeout_rate partitions [0, 1).
        draw = chaos.rng.random()
        if draw < chaos.error_rate:
            self.stats.failed += 1
            return TwilioApiError(*chaos.rng.choice(RANDOM_ERRORS)).response()
        if draw < chaos.error_rate + chaos.timeout_rate:
            if chaos.rng.random() < 0.5:
                self.stats.timeouts_carried_out += 1
                return await self._answer_late(request, handler, chaos.timeout_seconds)
            self.stats.timeouts_dropped += 1
            await self._hold(chaos.timeout_seconds)
            return _unavailable().response()
        return await handler(request)

    async def _answer_late(
        self, request: web.Request, handler: Handler, seconds: float
    ) -> web.StreamResponse:
        response = await handler(request)
        await self._hold(seconds)
        return response

    async def _hold(self, seconds: float) -> None:
        """Wait `seconds`, or less if the carrier closes: shutdown must not wait on us."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closing.wait(), seconds)
