"""Fault injection for the REST stand-in, so Gigline's retry and reconciliation paths run."""

import asyncio
import contextlib
from collections import deque
from collections.abc import Awaitable, Callable

from aiohttp import web

from .errors import TwilioApiError

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class FaultPlan:
    def __init__(self) -> None:
        self._failures: deque[TwilioApiError] = deque()
        self._delays: deque[float] = deque()
        self._closing = asyncio.Event()

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
        self._delays.extend(seconds for _ in range(count))

    def close(self) -> None:
        self._closing.set()  # release delayed answers so the server can shut down

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if self._failures:
            return self._failures.popleft().response()
        delay = self._delays.popleft() if self._delays else 0.0
        response = await handler(request)
        if delay:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), delay)
        return response
