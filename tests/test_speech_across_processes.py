"""A spoken call whose turns and media streams reach different Gigline processes, as
behind a load balancer: `gigline serve` (with the local carrier) and a second hotline in
the test's own process, on one PostgreSQL database, and a proxy at the public URL that
sends the carrier's webhooks to the first and its media streams to the second. What the
second hears moves the call on (a REST redirect through the carrier) and the first
answers the next turn."""

from __future__ import annotations

import asyncio
from collections import Counter
from urllib.parse import quote

import aiohttp
from aiohttp import WSMsgType, web
from sqlalchemy import select

from gigline.runtime import listen, start_hotline
from local_carrier import RemoteLine
from store.db import make_engine, make_sessionmaker
from store.models import Worker
from tests.conftest import free_port
from tests.hotline_settings import make_settings
from tests.speech_fixtures import KOREAN_MODEL_PATH, no_recognizer_left, utterance
from tests.test_serve_workers import ON_POSTGRES, serving, workers_env

CALLER = "+8613800000019"
QUIET_AFTER = b"\xff" * 8000 * 2  # two seconds of the line after the word
FORWARDED = ("Content-Type", "X-Twilio-Signature", "User-Agent")


class SplittingProxy:
    """The public URL: webhooks go to `webhooks_to`, media streams to `streams_to`."""

    def __init__(self, webhooks_to: str, streams_to: str):
        self.webhooks_to, self.streams_to = webhooks_to, streams_to
        self.served = Counter()  # "webhook" / "stream" -> how many
        self.audio_bytes = 0  # media messages relayed to the stream's process

    async def handle(self, request: web.Request) -> web.StreamResponse:
        headers = {name: request.headers[name] for name in FORWARDED if name in request.headers}
        path = request.rel_url.raw_path_qs
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return await self._relay_stream(request, self.streams_to + path, headers)
        self.served["webhook"] += 1
        async with self._http.request(request.method, self.webhooks_to + path,
                                      headers=headers, data=await request.read()) as answer:
            return web.Response(body=await answer.read(), status=answer.status,
                                content_type=answer.content_type)

    async def _relay_stream(self, request: web.Request, url: str,
                            headers: dict) -> web.StreamResponse:
        self.served["stream"] += 1
        async with self._http.ws_connect(url, headers=headers) as upstream:
            socket = web.WebSocketResponse()
            await socket.prepare(request)

            async def pump(source, sink, *, counted: bool) -> None:
                async for message in source:
                    if message.type == WSMsgType.TEXT:
                        if counted and '"media"' in message.data:
                            self.audio_bytes += len(message.data)
                        await sink.send_str(message.data)
                    elif message.type == WSMsgType.BINARY:
                        await sink.send_bytes(message.data)
                await sink.close()

            await asyncio.gather(pump(socket, upstream, counted=True),
                                 pump(upstream, socket, counted=False))
        return socket

    async def __aenter__(self) -> SplittingProxy:
        self._http = aiohttp.ClientSession()
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        self.port = free_port()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        return self

    async def __aexit__(self, *exc) -> None:
        await self._runner.cleanup()
        await self._http.close()


async def say(http: aiohttp.ClientSession, line: RemoteLine, carrier: str, sid: str,
              word: str, now_hearing: str) -> None:
    """Speaks `word` into the call's microphone (the carrier's phone route) once the
    prompt's stream is open, and waits until the caller hears `now_hearing`."""
    await until(line, sid, lambda call: call.listening, f"{word}: no stream open")
    url = f"{carrier}/phones/{quote(CALLER, safe='')}/calls/{quote(sid)}/microphone"
    async with http.ws_connect(url) as microphone:
        await microphone.send_bytes(utterance(word) + QUIET_AFTER)
        await until(line, sid, lambda call: any(now_hearing in p for p in call.prompts),
                    f"{word}: the caller never heard {now_hearing!r}")


async def until(line: RemoteLine, sid: str, holds, failure: str) -> None:
    """Asks the carrier how the call is until `holds(call)`; the phone route tells no one
    when a call moves on."""
    call = None
    try:
        async with asyncio.timeout(20):
            while True:
                call = await line.look(sid)
                if holds(call):
                    return
                await asyncio.sleep(0.05)
    except TimeoutError:
        raise AssertionError(f"{failure}: {call}") from None


@ON_POSTGRES
async def test_what_one_process_hears_moves_on_a_call_the_other_answers(
        tmp_path, database_url, korean_model):
    turns_port, streams_port, carrier_port = free_port(), free_port(), free_port()
    async with SplittingProxy(f"http://127.0.0.1:{turns_port}",
                              f"http://127.0.0.1:{streams_port}") as proxy:
        shared = {"GIGLINE_PUBLIC_URL": f"http://127.0.0.1:{proxy.port}",
                  "GIGLINE_LOCAL_CARRIER_PORT": str(carrier_port),
                  "GIGLINE_SPEECH_LANGUAGE": "ko", "VOSK_MODEL_PATH": KOREAN_MODEL_PATH}
        # The turns in `gigline serve`, which runs the local carrier; the streams in this
        # test's process, a hotline on a socket of its own that leaves the carrier to the
        # other, as each of `gigline serve --workers N`'s processes does.
        async with serving(workers_env(tmp_path, database_url) | shared | {
                "GIGLINE_PORT": str(turns_port)}, tmp_path, workers=1):
            streams = await start_hotline(
                make_settings(database_url, streams_port, GIGLINE_LOCAL_CARRIER_TOKEN="tok",
                              GIGLINE_DEMO="0", GIGLINE_SCHEDULER="1", **shared),
                speech_model=korean_model,
                listener=listen("127.0.0.1", streams_port, "the streams' hotline"))
            try:
                async with aiohttp.ClientSession() as http:
                    carrier = f"http://127.0.0.1:{carrier_port}"
                    line = await RemoteLine.connect(http, carrier)
                    call = await line.place_call(CALLER)
                    await say(http, line, carrier, call.sid, "예", now_hearing="请选您会的工种")
                    await say(http, line, carrier, call.sid, "삼", now_hearing="已记下：钢筋工")
                    webhooks = proxy.served["webhook"]
                    await line.act(call.sid, "press", "2")  # no other trade: a webhook
                    assert "您住在哪个区县" in (await line.look(call.sid)).prompts[-1]
                    assert proxy.served["webhook"] > webhooks
                    await line.act(call.sid, "hang_up")
                await no_recognizer_left(streams)
            finally:
                await streams.close()
    assert proxy.served["stream"] >= 2, proxy.served  # one per listening prompt
    assert proxy.audio_bytes > 0
    engine = make_engine(database_url)
    try:
        async with make_sessionmaker(engine)() as session:
            worker = await session.scalar(select(Worker).where(Worker.phone == CALLER))
    finally:
        await engine.dispose()
    assert worker is not None, "the spoken consent was kept"
    assert "Traceback" not in (tmp_path / "serve.log").read_text(errors="replace")
