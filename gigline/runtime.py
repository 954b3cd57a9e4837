"""Starts the hotline on real sockets: the app and, on the embedded default, the local
carrier beside it. Used by `gigline serve`, `gigline call`, end-to-end tests and benchmarks."""

from __future__ import annotations

import asyncio
import gc
import logging
import socket
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

import aiohttp
import uvloop
from aiohttp import web

from basics.clock import Clock, utc_now
from gigline.app import create_app
from gigline.settings import Settings
from hotline.carrier import Carrier
from hotline.channel import Channel
from local_carrier import LocalCarrier, RemoteLine
from speech.recognizer import SpeechModel

log = logging.getLogger(__name__)


class LocalCarrierRefused(RuntimeError):
    pass


class CannotListen(RuntimeError):
    """A port Gigline needs is taken (another `gigline serve`?) or cannot be bound."""


class RunningHotlineUnusable(RuntimeError):
    """A Gigline hotline answers at the configured address, but its phones cannot be used."""


PROBE_SECONDS = 3
T = TypeVar("T")


def run(main: Coroutine[Any, Any, T]) -> T:
    """Runs a process's main coroutine on uvloop's event loop (libuv's): its wake-ups,
    callbacks and socket reads cost less CPU than asyncio's own loop, and a turn wakes it
    for every request and database round trip (docs/benchmarks.md: 5-8 % more turns per
    CPU-second)."""
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main)


async def running_hotline(settings: Settings, http: aiohttp.ClientSession) -> RemoteLine | None:
    """The phone line to the hotline already running at the configured address (`gigline
    serve`), through its local carrier; None when nothing answers there. Something that
    answers /healthz but not as Gigline is left for the port check to report."""
    try:
        async with asyncio.timeout(PROBE_SECONDS), \
                http.get(f"{settings.public_url}/healthz") as response:
            health = await response.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError, ValueError):
        return None
    if not (isinstance(health, dict) and {"status", "database"} <= health.keys()):
        return None
    base = settings.rest_api_base
    try:
        async with asyncio.timeout(PROBE_SECONDS):
            line = await RemoteLine.connect(http, base)
    except (aiohttp.ClientError, TimeoutError, ValueError, KeyError):
        line = None
    if line is None or line.webhook_base != settings.public_url:
        raise RunningHotlineUnusable(
            f"a Gigline hotline runs on {settings.public_url}, but no local carrier of it "
            f"answers on {base} (is it using Twilio, or another GIGLINE_LOCAL_CARRIER_PORT?)")
    return line


def listen(host: str, port: int, what: str, *, reuse_port: bool = False) -> socket.socket:
    try:
        return socket.create_server((host, port), reuse_port=reuse_port)
    except OSError as exc:
        raise CannotListen(f"cannot listen on {host}:{port} for {what}: {exc.strerror} "
                           "(is another gigline serve running?)") from None


@dataclass
class Hotline:
    settings: Settings
    app: web.Application
    runner: web.AppRunner
    carrier: LocalCarrier | None
    http: aiohttp.ClientSession | None

    @property
    def url(self) -> str:
        return self.settings.public_url

    async def close(self) -> None:
        if self.carrier is not None:
            await self.carrier.close_streams()  # the phones hang up before the server stops
        await self.runner.cleanup()
        if self.carrier is not None:
            await self.carrier.close()
        if self.http is not None:
            await self.http.close()


async def start_local_carrier(settings: Settings) -> tuple[LocalCarrier, aiohttp.ClientSession]:
    """The Twilio stand-in on its REST port, posting its webhooks to the hotline's
    public URL; the app reaches it over REST like Twilio, from this process or another."""
    if settings.twilio_api_base:
        raise LocalCarrierRefused(
            "GIGLINE_TWILIO_API_BASE is set: Gigline talks to that, not the local carrier")
    http = aiohttp.ClientSession()
    carrier = LocalCarrier(
        account_sid=settings.account_sid,
        auth_token=settings.auth_token,
        webhook_base=settings.public_url,
        hotline_number=settings.sms_from_number,
        http=http,
    )
    try:
        await carrier.start_rest("127.0.0.1", settings.local_carrier_port)
    except OSError as exc:
        await http.close()
        raise CannotListen(
            f"cannot listen on 127.0.0.1:{settings.local_carrier_port} for the local "
            f"carrier: {exc.strerror} (is another gigline serve running?)") from None
    return carrier, http


async def start_hotline(settings: Settings, *, clock: Clock = utc_now,
                        speech_model: SpeechModel | None = None,
                        carrier: Carrier | None = None,
                        channel: Channel | None = None,
                        listener: socket.socket | None = None) -> Hotline:
    """Binds the hotline's port first: a port in use fails at once, before the database
    is touched or any sweep runs. A `channel` and `carrier` of another carrier than
    Twilio replace the local carrier (tests run the hotline over a second one). Given a
    `listener`, it serves that socket and leaves the local carrier to whoever made it:
    one of `gigline serve --workers N`'s processes."""
    worker = listener is not None
    if listener is None:
        listener = listen(settings.listen_host, settings.listen_port, "the hotline")
    try:
        return await _start(settings, listener, clock, speech_model, carrier, channel,
                            worker=worker)
    except BaseException:
        listener.close()
        raise


async def _start(settings: Settings, listener: socket.socket, clock: Clock,
                 speech_model: SpeechModel | None, other_carrier: Carrier | None,
                 channel: Channel | None, *, worker: bool) -> Hotline:
    carrier = http = None
    if settings.uses_local_carrier and channel is None and not worker:
        carrier, http = await start_local_carrier(settings)
    app = create_app(settings, clock=clock, speech_model=speech_model,
                     carrier=other_carrier, channel=channel, name_process=worker)
    runner = web.AppRunner(app, access_log=None)
    try:
        await runner.setup()
        await web.SockSite(runner, listener).start()
    except BaseException:
        await runner.cleanup()
        if carrier is not None:
            await carrier.close()
            await http.close()
        raise
    # What start-up built lives as long as the process: keep it out of the collector's
    # full passes, which otherwise pause every call in flight while they walk it.
    gc.freeze()
    return Hotline(settings, app, runner, carrier, http)
