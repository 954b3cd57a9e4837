"""The app factory: nothing is built at import time; each resource has one cleanup context."""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import os
from collections.abc import AsyncIterator
from datetime import timedelta
from urllib.parse import urlsplit

from aiohttp import web
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

import scheduler as market_clock
from basics.clock import Clock, QuietHours, utc_now
from console import board as console_board
from console import pages as console_pages
from console import routes as console_routes
from console.accounts import Staff
from console.deps import CONSOLE, ConsoleDeps
from gigline.keys import (
    CARRIER,
    CHANNEL,
    CLOCK,
    DESK,
    ENGINE,
    MARKET_SWEEP,
    NUDGE_MARKET,
    NUDGE_OUTBOX,
    SCHEDULER,
    SENDER,
    SESSIONS,
    SETTINGS,
    SPEECH,
    WATCH,
)
from gigline.outage import DatabaseWatch, catch_up_inbound, outage_middleware
from gigline.settings import Settings, wage_rules
from hotline.calls import end_stale_calls
from hotline.carrier import Carrier, CarrierError
from hotline.channel import Channel
from hotline.desk import CallDesk
from hotline.sender import OutboxSender
from hotline.sms import newest_inbound
from hotline.sweeps import MarketSweep
from ivr_flows.listening import market_words
from market.directory import load_market_view
from market.seed import ensure_demo_jobs, ensure_market
from market.waves import WaveRules
from prompts.catalogue import load_catalogue
from speech.recognizer import SpeechModel
from speech.service import start_speech
from store.db import (
    database_unreachable,
    ensure_migrated,
    make_engine,
    make_sessionmaker,
    refresh_statistics,
    upgrade,
)
from store.statuses import Role
from telephony import stream_socket, webhooks
from telephony.twilio.channel import TwilioChannel
from telephony.twilio.rest import TwilioCarrier
from telephony.twilio.twiml import VoiceRenderer

log = logging.getLogger(__name__)
MARKET_SWEEP_SECONDS = 15
STATISTICS_SECONDS = 6 * 3600
STATUS_CHECK_SECONDS = 60
CATCH_UP_SKEW = timedelta(minutes=1)  # the carrier's clock and ours may differ
CATCH_UP_AT_MOST = timedelta(days=1)


def create_app(settings: Settings, *, clock: Clock = utc_now,
               carrier: Carrier | None = None, channel: Channel | None = None,
               speech_model: SpeechModel | None = None,
               name_process: bool = False) -> web.Application:
    """Twilio's channel and REST carrier unless another carrier's are given (tests run
    the hotline through a second one). `speech_model` lets tests share one loaded Vosk
    model between apps. `name_process`: every response says which process answered
    (one of several serving the same port)."""
    app = web.Application(middlewares=[
        outage_middleware(lambda request: request.app.get(WATCH)),
    ])
    app[SETTINGS] = settings
    app[CLOCK] = clock
    app.cleanup_ctx.append(_database)
    app.cleanup_ctx.append(_speech(speech_model))
    app.cleanup_ctx.append(_carrier(carrier))
    app.cleanup_ctx.append(_scheduler)
    app[CHANNEL] = channel or TwilioChannel(
        account_sid=settings.account_sid, auth_token=settings.auth_token,
        renderer=VoiceRenderer(public_url=settings.public_url, voice=settings.voice,
                               say_language=load_catalogue(settings.language).say_language))
    webhooks.add_routes(app, app[CHANNEL])
    stream_socket.add_routes(app, f"/{app[CHANNEL].name}/stream")
    console_routes.add_routes(app)
    console_pages.setup(app)
    console_board.setup(app)  # the hall's screen: its feed needs the desk, set up above
    app.on_startup.append(_console)  # after every cleanup context: it needs their resources
    app.router.add_get("/healthz", healthz)
    if name_process:
        app.on_response_prepare.append(_name_process)
    return app


PROCESS_HEADER = "X-Gigline-Process"


async def _name_process(request: web.Request, response: web.StreamResponse) -> None:
    response.headers[PROCESS_HEADER] = str(os.getpid())


async def _database(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    engine = make_engine(settings.database_url, pool_size=settings.database_pool_size)
    try:
        if settings.embedded:
            await upgrade(engine)  # the embedded default looks after itself
        else:
            await ensure_migrated(engine)
        sessions = make_sessionmaker(engine)
        market, market_view = await _load_market(sessions, settings, app[CLOCK]())
        catalogue = load_catalogue(settings.language)
        app[ENGINE], app[SESSIONS] = engine, sessions
        quiet = QuietHours(*settings.quiet_hours)  # one value for alerts and wage reminders
        app[DESK] = CallDesk(
            sessions=sessions, clock=app[CLOCK], catalogue=catalogue, market_id=market.id,
            timezone=market.timezone, hotline=market_view.hotline,
            wage_rules=wage_rules(settings, quiet),
            wave_rules=WaveRules(
                multiplier=settings.wave_multiplier,
                interval=timedelta(minutes=settings.wave_interval_minutes), quiet=quiet,
                quiet_override=timedelta(hours=settings.quiet_hours_override_hours)),
            hold_employers=settings.hold_employers_with_cases,
            market=market_view, id_hash_key=settings.id_hash_key,
            public_url=settings.public_url,
        )
        yield
    finally:
        await engine.dispose()


async def _load_market(sessions, settings: Settings, now):
    """The market (created with its reference data the first time) and its view. Two
    instances starting at once on a new database may both create it: the one that loses
    reads the winner's."""

    async def load():
        async with sessions() as session, session.begin():
            market = await ensure_market(session, settings.market_code)
            if settings.demo_data:
                await ensure_demo_jobs(session, market, now)
            return market, await load_market_view(session, market, settings.agent_numbers,
                                                  settings.hotline_number)

    try:
        return await load()
    except IntegrityError:
        log.info("another instance created the market just now: reading theirs")
        return await load()


def _speech(model: SpeechModel | None):
    async def speech_ctx(app: web.Application) -> AsyncIterator[None]:
        """Runs after _database (it needs the market's words) and, when speech is on,
        gives the desk its speech pack and the renderer its stream URL."""
        settings, desk = app[SETTINGS], app[DESK]
        if not hasattr(app[CHANNEL], "stream_to"):
            log.info("speech is off: the %s channel streams no audio", app[CHANNEL].name)
            yield
            return
        speech = await asyncio.to_thread(  # loading a model takes seconds
            start_speech, settings.vosk_model_path, settings.speech_language,
            settings.speech_threads, functools.partial(market_words, desk.market), model)
        if speech is not None:
            app[SPEECH] = speech
            app[DESK] = dataclasses.replace(desk, speech=speech.words)
            app[CHANNEL].stream_to(settings.stream_url)
        try:
            yield
        finally:
            if speech is not None:
                await asyncio.to_thread(speech.close)  # waits for decodes in flight

    return speech_ctx


def _carrier(injected: Carrier | None):
    async def carrier_ctx(app: web.Application) -> AsyncIterator[None]:
        settings = app[SETTINGS]
        carrier = injected or TwilioCarrier(
            account_sid=settings.account_sid,
            auth_token=settings.auth_token,
            from_number=settings.sms_from_number,
            messaging_service_sid=settings.twilio_messaging_service_sid,
            api_base=settings.rest_api_base,
            request_timeout=settings.carrier_timeout_seconds,
            public_url=settings.public_url,
        )
        app[CARRIER] = carrier
        try:
            yield
        finally:
            await carrier.close()

    return carrier_ctx


async def _scheduler(app: web.Application) -> AsyncIterator[None]:
    settings, desk = app[SETTINGS], app[DESK]
    sender = OutboxSender(
        app[SESSIONS], app[CARRIER], app[CLOCK],
        rate_per_second=settings.sms_rate_per_second,
        interval_seconds=settings.outbox_interval_seconds,
        concurrency=settings.sms_concurrency,
        lease=timedelta(seconds=settings.outbox_lease_seconds),
    )
    app[SENDER] = sender
    scheduler: AsyncIOScheduler | None = None
    watch = DatabaseWatch(app[ENGINE], desk, app[CARRIER], app[CLOCK],
                          on_recovered=lambda: (nudge_outbox(), nudge_market()))
    app[WATCH] = watch
    outbox = market_clock.Sweep(market_clock.OUTBOX_JOB, watch.guard(sender.dispatch))
    statuses = market_clock.Sweep(market_clock.STATUS_JOB, watch.guard(
        lambda: _check_statuses(sender, desk, app[CARRIER])))

    def nudge_outbox() -> None:
        outbox.run_soon(scheduler)

    def nudge_market() -> None:
        market.run_soon(scheduler)

    sender.wake = nudge_outbox

    market_sweep = MarketSweep(desk, timedelta(minutes=settings.employer_confirm_minutes),
                               on_outbox=nudge_outbox)
    market = market_clock.Sweep(market_clock.MARKET_JOB, watch.guard(market_sweep.run))
    statistics = market_clock.Sweep(market_clock.STATISTICS_JOB,
                                    watch.guard(lambda: refresh_statistics(app[ENGINE])))
    scheduler = market_clock.build_scheduler({
        outbox: settings.outbox_interval_seconds,
        market: MARKET_SWEEP_SECONDS,
        statistics: STATISTICS_SECONDS,
        statuses: STATUS_CHECK_SECONDS,
    })
    app[SCHEDULER] = scheduler
    app[MARKET_SWEEP] = market_sweep
    app[NUDGE_OUTBOX] = nudge_outbox
    app[NUDGE_MARKET] = nudge_market
    if settings.run_scheduler:
        await _catch_up_inbound(app)
        scheduler.start()
    try:
        yield
    finally:
        await market_clock.stop(scheduler, [market, outbox, statistics, statuses])
        await sender.finish()
        await watch.close()


async def _console(app: web.Application) -> None:
    settings = app[SETTINGS]
    app[CONSOLE] = ConsoleDeps(
        desk=app[DESK], clock=app[CLOCK],
        api_tokens={token: Staff(name, Role.SUPERVISOR if name in settings.api_supervisors
                                 else Role.AGENT)
                    for token, name in settings.api_tokens.items()},
        secure_cookies=urlsplit(settings.public_url).scheme == "https",
        nudge_market=app[NUDGE_MARKET], nudge_outbox=app[NUDGE_OUTBOX])


async def _catch_up_inbound(app: web.Application) -> None:
    """SMS the carrier took in while no Gigline could store them (the database or this
    process was down) are applied before anything is sent."""
    async with app[SESSIONS]() as session:
        newest = await newest_inbound(session)
    if newest is None:
        return
    try:
        await catch_up_inbound(app[DESK], app[CARRIER], since=max(
            newest - CATCH_UP_SKEW, app[CLOCK]() - CATCH_UP_AT_MOST))
    except CarrierError as exc:
        log.warning("could not ask the carrier for SMS received while down: %s", exc)


async def _check_statuses(sender: OutboxSender, desk: CallDesk, carrier: Carrier) -> None:
    """What the carrier's callbacks would have told us, had they reached us."""
    await sender.check_statuses()
    await end_stale_calls(desk, carrier)



async def healthz(request: web.Request) -> web.Response:
    watch = request.app.get(WATCH)
    if watch is not None and not watch.up:
        return web.json_response({"status": "degraded", "database": "down"}, status=503)
    try:
        async with request.app[ENGINE].connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception as exc:
        if not database_unreachable(exc):
            raise
        if watch is not None:
            watch.report(exc)
        return web.json_response({"status": "degraded", "database": "down"}, status=503)
    return web.json_response({"status": "ok", "database": "ok"})
