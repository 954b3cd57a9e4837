"""The media stream socket: the caller's audio while a prompt plays, recognised against
that prompt's grammar. A spoken answer takes the call's turn and the live call is
redirected to the next prompt; keys pressed meanwhile win or lose the same turn race. The
carrier's messages are read by its channel's stream protocol
(hotline.channel.StreamProtocol): nothing here knows a carrier's wire format.

Anything wrong on the socket (no start, garbage, an unknown call, a stale prompt) closes
the socket only: the call itself goes on by keypad."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import WSMsgType, web

from hotline import calls
from hotline.app_keys import CARRIER, CHANNEL, DESK, NUDGE_OUTBOX, SPEECH
from hotline.carrier import CarrierError
from hotline.channel import (
    MediaStreamError,
    StreamAudio,
    StreamEnd,
    StreamProtocol,
    StreamStart,
)
from ivr_flows.understand import understand
from speech.recognizer import (
    SETTLED_MS,
    SETTLED_MS_NUMBERS,
    Chunker,
    GrammarRecognizer,
    SpeechUnavailable,
)
from speech.service import Speech
from speech.voice_gate import VoiceGate
from telephony.webhooks import read

log = logging.getLogger(__name__)
START_TIMEOUT_SECONDS = 10  # carriers send the start at once
MESSAGES_BEFORE_START = 3  # Twilio: connected, then start; anything more is not the carrier
CLOSE_TIMEOUT_SECONDS = 2  # waiting for a vanished peer's close reply (aiohttp: 10 s)
NORMAL_CLOSURE, GOING_AWAY, POLICY_VIOLATION = 1000, 1001, 1008
CLOSED = object()  # the socket closed: no more events
OPEN_SOCKETS = web.AppKey("open_media_sockets", set)  # closed on shutdown
# (CallSid, turn) of the prompts a socket listens to: one socket per prompt
LISTENING = web.AppKey("listening_prompts", set)


def add_routes(app: web.Application, path: str) -> None:
    app.router.add_get(path, media_stream)
    app[OPEN_SOCKETS] = set()
    app[LISTENING] = set()
    app.on_shutdown.append(_close_sockets)


async def _close_sockets(app: web.Application) -> None:
    """Open streams would hold shutdown up for a minute: tell them we are going away."""
    await asyncio.gather(*(socket.close(code=GOING_AWAY, message=b"server shutdown")
                           for socket in list(app[OPEN_SOCKETS])))


async def media_stream(request: web.Request) -> web.StreamResponse:
    await read(request)  # the upgrade is signed like any webhook
    speech = request.app.get(SPEECH)
    if speech is None:
        raise web.HTTPNotFound(text="speech is off on this hotline")
    streams = request.app[CHANNEL].streams
    socket = web.WebSocketResponse(max_msg_size=streams.max_message,
                                   timeout=CLOSE_TIMEOUT_SECONDS)
    await socket.prepare(request)
    listener = _Listener(request.app, speech, socket, streams)
    request.app[OPEN_SOCKETS].add(socket)
    try:
        await listener.run()
    finally:
        request.app[OPEN_SOCKETS].discard(socket)
        await socket.close(code=listener.close_code)
    return socket


class _Listener:
    def __init__(self, app: web.Application, speech: Speech, socket: web.WebSocketResponse,
                 streams: StreamProtocol):
        self.app, self.speech, self.socket, self.streams = app, speech, socket, streams
        self.close_code = NORMAL_CLOSURE

    async def run(self) -> None:
        try:
            started = await asyncio.wait_for(self._start(), START_TIMEOUT_SECONDS)
        except TimeoutError:
            return self._refuse("no start event")
        except MediaStreamError as exc:
            return self._refuse(str(exc))
        prompt = await self._prompt(started) if started else None
        if prompt is None:
            return
        listening, key = self.app[LISTENING], (prompt.call_sid, prompt.turn)
        if key in listening:
            # A keypress fetched the next prompt as the speech redirect did: it ran twice.
            log.info("a second stream for %s turn %d: the first one listens", *key)
            return
        listening.add(key)
        try:
            await self._hear(prompt)
        finally:
            listening.discard(key)

    async def _hear(self, prompt: calls.ListeningCall) -> None:
        try:
            settled_ms = SETTLED_MS_NUMBERS if prompt.listen.amount_words else SETTLED_MS
            recognizer = await self.speech.recognizer(prompt.listen.grammar, settled_ms)
        except SpeechUnavailable as exc:
            log.info("no speech at %s turn %d: %s", prompt.call_sid, prompt.turn, exc)
            return
        try:
            await self._listen(prompt, recognizer)
        except MediaStreamError as exc:
            self._refuse(f"{exc} (call {prompt.call_sid})")
        finally:
            self.speech.release(recognizer)

    async def _start(self) -> StreamStart | None:
        for _ in range(MESSAGES_BEFORE_START):
            event = await self._next()
            if event is CLOSED:
                return None
            if isinstance(event, StreamStart):
                return event
        raise MediaStreamError("no start event among the first messages")

    async def _prompt(self, started: StreamStart) -> calls.ListeningCall | None:
        """The live call at the prompt this stream was started for."""
        call = await calls.listening_call(self.app[DESK], started.call_sid)
        if call is None:
            # Signed by the carrier, so most likely a call that just ended: no alarm.
            log.info("stream for %s, not a live call of ours", started.call_sid)
            self.close_code = POLICY_VIOLATION
            return None
        if started.turn != call.turn or call.listen is None:
            log.info("stream for %s turn %s: the call is at turn %d now", started.call_sid,
                     started.turn, call.turn)
            return None
        return call

    async def _listen(self, prompt: calls.ListeningCall, recognizer: GrammarRecognizer) -> None:
        chunker, gate = Chunker(recognizer), VoiceGate()
        while (event := await self._next()) is not CLOSED:
            if isinstance(event, StreamEnd):
                return
            if not isinstance(event, StreamAudio):
                continue
            chunk = chunker.add(event.mulaw)
            if chunk is not None:
                chunk = gate.admit(chunk, recognizer.mid_utterance)
            if chunk is None:  # filling, or the caller is quiet: hearing the prompt out
                continue
            heard = await self.speech.hear(recognizer, chunk)
            answer = heard and understand(heard.text, heard.confidence, prompt.listen)
            if answer:
                self.speech.release(recognizer)  # not needed while waiting for stop
                await self._answer(prompt, answer)
                await self._drain()  # the prompt is answered; the next TwiML stops us
                return

    async def _answer(self, prompt: calls.ListeningCall, answer) -> None:
        """Takes the prompt's turn with the spoken answer, unless keys took it first."""
        done = await calls.take_turn(
            self.app[DESK], call_sid=prompt.call_sid, caller=prompt.phone,
            turn=prompt.turn, event=answer, direction=prompt.direction)
        if not done.taken:
            log.info("speech for %s turn %d came after keys", prompt.call_sid, prompt.turn)
            return
        if done.queued_messages:
            self.app[NUDGE_OUTBOX]()
        try:
            await self.app[CARRIER].redirect_call(
                prompt.call_sid, self.app[CHANNEL].render(done.reply).body)
        except CarrierError as exc:
            # Ended meanwhile, or the carrier failed: a keypress at the old prompt still
            # gets this turn's answer (the saved response), so nothing is lost.
            log.warning("could not move call %s on after speech: %s", prompt.call_sid, exc)

    async def _drain(self) -> None:
        while (event := await self._next()) is not CLOSED and not isinstance(event, StreamEnd):
            pass

    async def _next(self):
        """The next stream event (None: a message that needs nothing done), or CLOSED."""
        message = await self.socket.receive()
        if message.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED,
                            WSMsgType.ERROR):
            return CLOSED
        if message.type != WSMsgType.TEXT:
            raise MediaStreamError("media streams send text frames only")
        return self.streams.read(message.data)

    def _refuse(self, why: str) -> None:
        log.warning("media stream refused: %s", why)
        self.close_code = POLICY_VIOLATION
        return None
