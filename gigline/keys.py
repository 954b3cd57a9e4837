"""Typed application state: one key per shared resource."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from basics.clock import Clock
from gigline.outage import DatabaseWatch
from gigline.settings import Settings
from hotline.carrier import Carrier
from hotline.desk import CallDesk
from hotline.sender import OutboxSender
from hotline.sweeps import MarketSweep
from speech.service import Speech
from telephony.twilio.twiml import VoiceRenderer

SETTINGS = web.AppKey("settings", Settings)
CLOCK = web.AppKey("clock", Clock)
ENGINE = web.AppKey("engine", AsyncEngine)
SESSIONS = web.AppKey("sessions", async_sessionmaker)
DESK = web.AppKey("desk", CallDesk)
CARRIER = web.AppKey("carrier", Carrier)
SENDER = web.AppKey("sender", OutboxSender)
SCHEDULER = web.AppKey("scheduler", AsyncIOScheduler)
RENDERER = web.AppKey("renderer", VoiceRenderer)
NUDGE_OUTBOX = web.AppKey("nudge_outbox", Callable[[], None])  # send queued SMS now
NUDGE_MARKET = web.AppKey("nudge_market", Callable[[], None])  # a job was posted: wave now
MARKET_SWEEP = web.AppKey("market_sweep", MarketSweep)
WATCH = web.AppKey("database_watch", DatabaseWatch)  # absent before the scheduler starts
SPEECH = web.AppKey("speech", Speech)  # absent when speech is off
OPEN_SOCKETS = web.AppKey("open_media_sockets", set)  # closed on shutdown
# (CallSid, turn) of the prompts a socket listens to: one socket per prompt
LISTENING = web.AppKey("listening_prompts", set)
