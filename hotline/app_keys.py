"""The hotline's shared state in the web app, one typed key each: the app factory sets
them; the carrier webhooks and the agents' API read them."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from hotline.carrier import Carrier
from hotline.channel import Channel
from hotline.desk import CallDesk
from speech.service import Speech

DESK = web.AppKey("desk", CallDesk)
CARRIER = web.AppKey("carrier", Carrier)
CHANNEL = web.AppKey("channel", Channel)  # the carrier's webhooks: read requests, render
NUDGE_OUTBOX = web.AppKey("nudge_outbox", Callable[[], None])  # send queued SMS now
NUDGE_MARKET = web.AppKey("nudge_market", Callable[[], None])  # a job was posted: wave now
SPEECH = web.AppKey("speech", Speech)  # absent when speech is off
