"""The local carrier's Media Streams, checked against Twilio's documented format: what
the application's socket receives, message by message, and how the upgrade is signed."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json

import aiohttp
from aiohttp import web
from twilio.request_validator import RequestValidator
from twilio.twiml.voice_response import VoiceResponse

from local_carrier import LocalCarrier
from tests.local_carrier_fixtures import (  # noqa: F401
    ACCOUNT_SID,
    AUTH_TOKEN,
    CALLER,
    carrier_fixture,
    hotline_fixture,
)


class StreamingHotline:
    """Answers the voice webhook with <Start><Stream> and records what its socket gets."""

    def __init__(self, starts: int = 1):
        self.stream_url = ""  # known once the server has its port
        self.starts = starts
        self.messages: list[dict] = []
        self.signature_ok: bool | None = None
        self.closed = asyncio.Event()
        self.handshake = asyncio.Event()  # cleared: the socket's upgrade waits
        self.handshake.set()

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/twilio/voice", self.voice)
        app.router.add_get("/stream", self.socket)
        return app

    async def voice(self, request: web.Request) -> web.Response:
        response = VoiceResponse()
        if "Digits" in await request.post():  # a key answers the prompt: stop listening
            response.stop().stream(name="listen-7")
            response.gather(input="dtmf", num_digits=1, action="/twilio/voice").say("好")
            return web.Response(text=str(response), content_type="text/xml")
        for _ in range(self.starts):
            stream = response.start().stream(name="listen-7", url=self.stream_url,
                                              track="inbound_track")
            stream.parameter(name="turn", value="7")
        gather = response.gather(input="dtmf", num_digits=1, action="/twilio/voice")
        gather.say("请说")
        return web.Response(text=str(response), content_type="text/xml")

    async def socket(self, request: web.Request) -> web.WebSocketResponse:
        validator = RequestValidator(AUTH_TOKEN)
        self.signature_ok = validator.validate(
            self.stream_url, {}, request.headers.get("X-Twilio-Signature", ""))
        socket = web.WebSocketResponse()
        await self.handshake.wait()
        await socket.prepare(request)
        async for message in socket:
            self.messages.append(json.loads(message.data))
        self.closed.set()
        return socket


@contextlib.asynccontextmanager
async def carrier_for(aiohttp_server, hotline: StreamingHotline):
    """A local carrier whose calls reach `hotline`, itself served on a free port."""
    server = await aiohttp_server(hotline.app())
    base = str(server.make_url("")).rstrip("/")
    hotline.stream_url = base.replace("http://", "ws://") + "/stream"
    async with aiohttp.ClientSession() as http:
        carrier = LocalCarrier(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN,
                               webhook_base=base, hotline_number="+864008001234", http=http)
        try:
            yield carrier
        finally:
            await carrier.close()


async def test_a_stream_speaks_twilios_message_format(aiohttp_server):
    hotline = StreamingHotline()
    async with carrier_for(aiohttp_server, hotline) as carrier:
        call = await carrier.place_call(CALLER)
        await call.speak_audio(b"\x00" * 400, silence_after=0, wait=0.01)
        await call.hang_up()
        await asyncio.wait_for(hotline.closed.wait(), 5)

    assert hotline.signature_ok, "the upgrade is signed over the ws(s):// URL"
    connected, start, *media, stop = hotline.messages
    assert connected == {"event": "connected", "protocol": "Call", "version": "1.0.0"}
    sid = start["streamSid"]
    assert sid.startswith("MZ") and start["sequenceNumber"] == "1"
    assert start["start"] == {
        "accountSid": ACCOUNT_SID, "streamSid": sid, "callSid": call.sid,
        "tracks": ["inbound"], "customParameters": {"turn": "7"},
        "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}}
    assert [m["sequenceNumber"] for m in media] == ["2", "3", "4"]
    assert [m["media"]["chunk"] for m in media] == ["1", "2", "3"]
    assert [m["media"]["timestamp"] for m in media] == ["0", "20", "40"]
    assert {m["media"]["track"] for m in media} == {"inbound"}
    frames = [base64.b64decode(m["media"]["payload"]) for m in media]
    assert [len(f) for f in frames] == [160, 160, 160], "20 ms frames, the last padded"
    assert frames[2] == b"\x00" * 80 + b"\xff" * 80, "padded with μ-law silence"
    assert stop == {"event": "stop", "sequenceNumber": "5", "streamSid": sid,
                    "stop": {"accountSid": ACCOUNT_SID, "callSid": call.sid}}


async def test_a_stream_still_connecting_when_the_caller_hangs_up_is_stopped(aiohttp_server):
    hotline = StreamingHotline()
    hotline.handshake.clear()
    async with carrier_for(aiohttp_server, hotline) as carrier:
        call = await carrier.place_call(CALLER)
        await call.hang_up()  # the stream's upgrade has not been answered yet
        hotline.handshake.set()
        await asyncio.wait_for(hotline.closed.wait(), 5)
    assert [m["event"] for m in hotline.messages] == ["connected", "start", "stop"]


async def test_a_stream_still_connecting_when_the_next_twiml_stops_it_is_stopped(
        aiohttp_server):
    hotline = StreamingHotline()
    hotline.handshake.clear()
    async with carrier_for(aiohttp_server, hotline) as carrier:
        call = await carrier.place_call(CALLER)
        await call.press("1")  # <Stop><Stream name="listen-7"/> before its upgrade is answered
        await call.hang_up()  # stops it again: still one `stop` message
        hotline.handshake.set()
        await asyncio.wait_for(hotline.closed.wait(), 5)
    assert [m["event"] for m in hotline.messages] == ["connected", "start", "stop"]
    assert {"type": "stop", "streams": ["listen-7"]} in call.transcript


async def test_a_second_stream_with_an_open_ones_name_is_not_opened(aiohttp_server):
    async with carrier_for(aiohttp_server, StreamingHotline(starts=2)) as carrier:
        call = await carrier.place_call(CALLER)
        await carrier.drain()
        assert [s.name for s in call.open_streams] == ["listen-7"]
        warning = {"type": "warning", "message": "a stream named listen-7 is open already"}
        assert warning in call.transcript


async def test_a_stream_url_with_a_query_string_is_not_opened(carrier, hotline):
    response = VoiceResponse()
    response.start().stream(url="wss://example.invalid/stream?token=1")
    response.gather(input="dtmf").say("x")
    hotline.on("/twilio/voice", str(response))
    call = await carrier.place_call(CALLER)
    assert not call.open_streams
    warning = {"type": "warning", "code": 31920,
               "message": "invalid stream URL 'wss://example.invalid/stream?token=1'"}
    assert warning in call.transcript
