"""One-way Media Streams (<Start><Stream>), as Twilio sends them: a WebSocket to the
stream's URL, its upgrade request signed over that wss:// URL, then `connected`, `start`
and `media` messages with 20 ms frames of 8 kHz μ-law (160 bytes, base64), `stop` last.
`sequenceNumber`, `chunk` and `timestamp` are strings.

Twilio streams the caller's audio all along; here a test (or a benchmark) decides what
the caller says, and when: `send_audio` sends it, at once or paced in real time."""

import asyncio
import base64
import contextlib
import json
from typing import Any

import aiohttp

from .ids import new_sid
from .webhooks import WebhookSender

FRAME_BYTES = 160  # 20 ms of 8 kHz μ-law
FRAME_SECONDS = 0.02
SILENCE = b"\xff"  # μ-law zero


class StreamClosed(RuntimeError):
    """The application closed the stream's socket (or it never opened)."""


class LocalStream:
    def __init__(self, *, name: str | None, url: str, track: str,
                 parameters: dict[str, str], call_sid: str, account_sid: str):
        self.sid = new_sid("MZ")
        self.name = name or self.sid
        self.url, self.track, self.parameters = url, track, parameters
        self.call_sid, self.account_sid = call_sid, account_sid
        self.opened = asyncio.get_running_loop().create_future()
        self.close_code: int | None = None
        self.closed = asyncio.Event()  # the socket is gone, whoever closed it
        self._socket: aiohttp.ClientWebSocketResponse | None = None
        self._reader: asyncio.Task[None] | None = None
        self._stopping = False  # <Stop> and a hang-up may both stop it: one `stop` message
        self._sequence = 0
        self._chunk = 0
        self._timestamp_ms = 0

    @property
    def open(self) -> bool:
        return self._socket is not None and not self.closed.is_set()

    async def connect(self, http: aiohttp.ClientSession, webhooks: WebhookSender) -> None:
        headers = {"X-Twilio-Signature": webhooks.sign(self.url, {}),
                   "User-Agent": "Twilio.TmeWs/1.0"}
        try:
            self._socket = await http.ws_connect(self.url, headers=headers,
                                                 timeout=aiohttp.ClientWSTimeout(ws_close=2))
        except (aiohttp.ClientError, TimeoutError) as exc:
            self.opened.set_exception(StreamClosed(f"stream {self.name} did not open: {exc}"))
            self.closed.set()
            return
        # Not a tracked carrier task: it lives as long as the socket, past any drain().
        self._reader = asyncio.get_running_loop().create_task(self._read())
        tracks = ["inbound", "outbound"] if self.track == "both_tracks" else [
            self.track.removesuffix("_track")]
        try:
            await self._send({"event": "connected", "protocol": "Call", "version": "1.0.0"},
                             numbered=False)
            await self._send({"event": "start", "start": {
                "accountSid": self.account_sid, "streamSid": self.sid,
                "callSid": self.call_sid, "tracks": tracks,
                "customParameters": self.parameters,
                "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000,
                                "channels": 1},
            }})
        except StreamClosed as exc:  # the application closed it at once
            self.opened.set_exception(exc)
            return
        self.opened.set_result(None)

    async def send_audio(self, mulaw: bytes, *, realtime: bool = False) -> None:
        """The caller's audio, frame by frame (the last frame padded with silence)."""
        await self.opened
        started = asyncio.get_running_loop().time()
        for index, start in enumerate(range(0, len(mulaw), FRAME_BYTES)):
            frame = mulaw[start:start + FRAME_BYTES].ljust(FRAME_BYTES, SILENCE)
            self._chunk += 1
            await self._send({"event": "media", "media": {
                "track": "inbound", "chunk": str(self._chunk),
                "timestamp": str(self._timestamp_ms),
                "payload": base64.b64encode(frame).decode("ascii")}})
            self._timestamp_ms += 20
            if realtime:
                due = started + (index + 1) * FRAME_SECONDS
                await asyncio.sleep(max(0.0, due - asyncio.get_running_loop().time()))

    async def send_raw(self, message: str | bytes) -> None:
        """Anything at all, for tests of what the application does with bad input."""
        if self._socket is None or self._socket.closed or self.closed.is_set():
            raise StreamClosed(f"stream {self.name} is closed")
        if isinstance(message, bytes):
            await self._socket.send_bytes(message)
        else:
            await self._socket.send_str(message)

    async def stop(self) -> None:
        """<Stop><Stream>, or the call ended: `stop`, then the socket closes."""
        if self._stopping:
            await self.closed.wait()
            return
        self._stopping = True
        with contextlib.suppress(StreamClosed):
            await self.opened  # a stream stopped as it starts still says start, then stop
        if self.open:
            with contextlib.suppress(StreamClosed):
                await self._send({"event": "stop", "stop": {
                    "accountSid": self.account_sid, "callSid": self.call_sid}})
        await self.close()

    async def close(self) -> None:
        """Drop the socket without a `stop` (the network went away)."""
        with contextlib.suppress(StreamClosed):
            await self.opened
        if self._socket is not None:
            await self._socket.close()
            self.close_code = self.close_code or self._socket.close_code
        if self._reader is not None:
            await self._reader
        self.closed.set()

    async def _read(self) -> None:
        """What the application sends on a one-way stream is ignored; its close is not."""
        assert self._socket is not None
        while True:
            message = await self._socket.receive()
            if message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED,
                                aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.ERROR):
                break
        self.close_code = self._socket.close_code
        self.closed.set()

    async def _send(self, message: dict[str, Any], numbered: bool = True) -> None:
        if self._socket is None or self._socket.closed or self.closed.is_set():
            raise StreamClosed(f"stream {self.name} is closed")
        if numbered:
            self._sequence += 1
            message = {"event": message["event"], "sequenceNumber": str(self._sequence),
                       **message, "streamSid": self.sid}
        try:
            await self._socket.send_str(json.dumps(message))
        except (ConnectionResetError, aiohttp.ClientError) as exc:
            raise StreamClosed(f"stream {self.name}: {exc}") from None
