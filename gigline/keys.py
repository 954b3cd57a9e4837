"""Typed application state: one key per shared resource. The hotline's own keys (the
desk, the carrier, the channel, the nudges, speech) live in hotline.app_keys, where the
edges below this package read them; they are named here too for the app and tests."""

from __future__ import annotations

from aiohttp import web
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from basics.clock import Clock
from gigline.outage import DatabaseWatch
from gigline.settings import Settings
from hotline.app_keys import CARRIER, CHANNEL, DESK, NUDGE_MARKET, NUDGE_OUTBOX, SPEECH
from hotline.sender import OutboxSender
from hotline.sweeps import MarketSweep

SETTINGS = web.AppKey("settings", Settings)
CLOCK = web.AppKey("clock", Clock)
ENGINE = web.AppKey("engine", AsyncEngine)
SESSIONS = web.AppKey("sessions", async_sessionmaker)
SENDER = web.AppKey("sender", OutboxSender)
SCHEDULER = web.AppKey("scheduler", AsyncIOScheduler)
MARKET_SWEEP = web.AppKey("market_sweep", MarketSweep)
WATCH = web.AppKey("database_watch", DatabaseWatch)  # absent before the scheduler starts

__all__ = ["CARRIER", "CHANNEL", "CLOCK", "DESK", "ENGINE", "MARKET_SWEEP", "NUDGE_MARKET",
           "NUDGE_OUTBOX", "SCHEDULER", "SENDER", "SESSIONS", "SETTINGS", "SPEECH", "WATCH"]
