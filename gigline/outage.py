"""While the database is down: callers hear an apology from memory, nothing 500s, the
sweeps pause; once it is back, what the carrier took in meanwhile is caught up before
anything is sent.

A webhook or sweep that cannot reach the database reports it here. From then on a
probe asks the database once a second; when it answers, every SMS the carrier received
since the outage began is applied (each once, by its MessageSid: opt-outs among them
take effect before the sender resumes), the callers who heard the apology are booked
for a call back, and only then are the sweeps let go."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from aiohttp import web
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from basics.clock import Clock
from basics.phones import caller_number
from hotline import sms
from hotline.app_keys import CHANNEL, DESK
from hotline.calls import book_callbacks
from hotline.carrier import Carrier, CarrierError
from hotline.channel import VoiceReply
from hotline.desk import CallDesk
from ivr_flows.commands import HangUp, Say
from store.db import database_unreachable
from telephony.webhooks import SMS_REQUEST, VOICE_REQUEST, respond

log = logging.getLogger(__name__)

PROBE_SECONDS = 1.0
# The carrier's clock and ours may differ: the catch-up looks back this much further.
CLOCK_SKEW = timedelta(minutes=1)
MAX_MISSED_CALLERS = 10_000
CALLBACK_REASON = "database_down"


class DatabaseWatch:
    def __init__(self, engine: AsyncEngine, desk: CallDesk, carrier: Carrier, clock: Clock,
                 *, on_recovered: Callable[[], None] = lambda: None):
        self.engine, self.desk, self.carrier, self.clock = engine, desk, carrier, clock
        self.on_recovered = on_recovered
        self.down_since: datetime | None = None
        self.missed_callers: dict[str, str] = {}  # CallSid -> the caller's number
        self._probe: asyncio.Task[None] | None = None

    @property
    def up(self) -> bool:
        """False from the first failure until the catch-up after it is done."""
        return self.down_since is None

    def report(self, exc: BaseException) -> None:
        if self.down_since is None:
            self.down_since = self.clock()
            log.error("the database is unreachable (%s): callers hear an apology, "
                      "sending waits", exc.__class__.__name__)
        if self._probe is None or self._probe.done():
            self._probe = asyncio.create_task(self._watch(), name="database-probe")

    def missed_call(self, call_sid: str, phone: str) -> None:
        if call_sid and phone and len(self.missed_callers) < MAX_MISSED_CALLERS:
            self.missed_callers[call_sid] = phone

    def guard(self, work: Callable[[], Awaitable[object]]) -> Callable[[], Awaitable[None]]:
        """`work` (a sweep) paused while the database is down or being caught up with."""

        async def guarded() -> None:
            if not self.up:
                return
            try:
                await work()
            except Exception as exc:
                if not database_unreachable(exc):
                    raise
                self.report(exc)

        return guarded

    async def close(self) -> None:
        if self._probe is not None:
            self._probe.cancel()
            await asyncio.gather(self._probe, return_exceptions=True)

    async def _watch(self) -> None:
        while self.down_since is not None:
            await asyncio.sleep(PROBE_SECONDS)
            try:
                await self._catch_up()
            except Exception as exc:
                if not database_unreachable(exc) and not isinstance(exc, CarrierError):
                    # A bug, not the outage: said loudly every try, but the probe goes on
                    # (a dead probe would leave sending paused with nothing to say why).
                    log.exception("catching up after the outage failed")
                continue  # still down, or the carrier did not answer: next second
            log.warning("the database is back (down since %s): caught up", self.down_since)
            self.down_since = None
            self.on_recovered()

    async def _catch_up(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        await catch_up_inbound(self.desk, self.carrier, since=self.down_since - CLOCK_SKEW)
        if self.missed_callers:
            async with self.desk.sessions() as session, session.begin():
                await book_callbacks(session, self.missed_callers, reason=CALLBACK_REASON,
                                     now=self.clock())
            self.missed_callers = {}


async def catch_up_inbound(desk: CallDesk, carrier: Carrier, *, since: datetime) -> int:
    """Applies every SMS the carrier took in since `since`, oldest first; one stored
    already (by its MessageSid) changes nothing. Returns how many were looked at."""
    received = await carrier.received_sms(since=since)
    for message in received:
        if phone := caller_number(message.phone):  # else not a number Gigline can answer
            await sms.receive_sms(desk, message_sid=message.message_sid, phone=phone,
                                  to=message.to, body=message.body)
    return len(received)


def outage_middleware(watch_of: Callable[[web.Request], DatabaseWatch | None]):
    """Answers what a handler could not because the database is unreachable: a voice
    webhook gets an apology (said from memory, in the carrier's language) and the caller
    is kept for a call back; an SMS webhook an empty answer (the message is caught up
    from the carrier); anything else 503 with a reason."""

    @web.middleware
    async def middleware(request: web.Request, handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except Exception as exc:
            watch = watch_of(request)
            if watch is None or not database_unreachable(exc):
                raise
            watch.report(exc)
        if (call := request.get(VOICE_REQUEST)) is not None:
            watch.missed_call(call.call_sid, call.phone)
            apology = Say(request.app[DESK].catalogue.text("unavailable"))
            return respond(request.app[CHANNEL].render(
                VoiceReply((apology, HangUp()), 0, call.call_sid, False)))
        if SMS_REQUEST in request:
            return respond(request.app[CHANNEL].sms_reply())
        return web.json_response({"error": "the database is unavailable; try again shortly"},
                                 status=503, headers={"Retry-After": "5"})

    return middleware

