"""What the agents' API takes from the app that mounts it. The app sets it once its
resources exist (the desk needs the database, the nudges need the scheduler); the API
never reaches up for the app's own keys."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from aiohttp import web

from basics.clock import Clock
from console.accounts import Staff
from hotline.desk import CallDesk


@dataclass(frozen=True)
class ConsoleDeps:
    desk: CallDesk  # sessions, the market and its time zone, the SMS wording
    clock: Clock
    api_tokens: Mapping[str, Staff]  # GIGLINE_API_TOKENS: bearer token -> who it names
    secure_cookies: bool  # the public URL is https: cookies go over TLS only
    nudge_market: Callable[[], None]  # a job changed: its next wave goes out now
    nudge_outbox: Callable[[], None]  # SMS were queued: send them now


CONSOLE = web.AppKey("console", ConsoleDeps)
