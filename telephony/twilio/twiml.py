"""Voice commands -> TwiML, always through twilio.twiml (never by string formatting)."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from functools import cache, lru_cache

from twilio.twiml.messaging_response import MessagingResponse
from twilio.twiml.voice_response import VoiceResponse

from ivr_flows.commands import Ask, ConnectAgent, HangUp, RecordName, Say

GATHER_PATH = "/twilio/voice/gather"
RECORD_PATH = "/twilio/voice/record"
DIAL_TIMEOUT_SECONDS = 30
RECORD_FINISH_KEYS = "#*0"  # * (repeat) and 0 (agent) work while recording too
# Callers at the same point of a dialogue hear the same TwiML (building it costs more
# than the rest of answering a turn): the answers rendered most recently are kept.
RENDERED_KEPT = 1024


def stream_name(turn: int) -> str:
    return f"listen-{turn}"


def stream_token(secret: str, call_sid: str, turn: int) -> str:
    """Proof that a stream's start message is for the prompt we rendered: the upgrade's
    signature is the same for every stream (one URL, no query), and the start message's
    callSid and parameters are not signed at all."""
    message = f"{call_sid}:{turn}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class VoiceRenderer:
    public_url: str
    say_language: str
    voice: str
    stream_url: str | None = None  # None: speech is off, prompts listen for keys only
    stream_secret: str = ""  # keys the token each stream's start message must carry

    def render(self, commands: list, turn: int, call_sid: str = "",
               listened_before: bool = False) -> str:
        """`turn` goes into every action URL so a retried webhook can be recognised.
        A prompt that hears speech forks the caller's audio to our socket (one stream per
        prompt, named by turn); the next response stops the previous prompt's stream."""
        # The call only shows in a stream's token: without speech, calls share answers.
        return _rendered(self, tuple(commands), turn, call_sid if self.stream_url else "",
                         listened_before)

    def _render(self, commands: tuple, turn: int, call_sid: str,
                listened_before: bool) -> str:
        response = VoiceResponse()
        if listened_before and self.stream_url:
            response.stop().stream(name=stream_name(turn - 1))
        pending: list[str] = []  # Says wait to go inside the next Gather, so keys barge in

        def flush() -> None:
            for text in pending:
                self._say(response, text)
            pending.clear()

        for command in commands:
            match command:
                case Say(text=text):
                    pending.append(text)
                case Ask():
                    if command.listen is not None and self.stream_url:
                        stream = response.start().stream(
                            name=stream_name(turn), url=self.stream_url, track="inbound_track")
                        stream.parameter(name="turn", value=str(turn))
                        stream.parameter(name="token", value=stream_token(
                            self.stream_secret, call_sid, turn))
                    gather = response.gather(
                        input="dtmf",
                        action=self._url(GATHER_PATH, turn),
                        method="POST",
                        num_digits=command.max_digits,
                        finish_on_key=command.finish_on_key,
                        timeout=command.timeout_seconds,
                        action_on_empty_result=True,
                    )
                    for text in [*pending, *command.prompts]:
                        self._say(gather, text)
                    pending.clear()
                    # Only reached if the Gather ends without calling its action.
                    response.redirect(self._url(GATHER_PATH, turn), method="POST")
                case RecordName(prompts=prompts, max_seconds=max_seconds):
                    pending.extend(prompts)
                    flush()
                    response.record(
                        action=self._url(RECORD_PATH, turn),
                        method="POST",
                        max_length=max_seconds,
                        finish_on_key=RECORD_FINISH_KEYS,
                        play_beep=True,
                        timeout=3,
                    )
                    # Twilio skips the action when nothing was recorded: ask again.
                    response.redirect(self._url(GATHER_PATH, turn), method="POST")
                case ConnectAgent(numbers=numbers):
                    flush()
                    dial = response.dial(timeout=DIAL_TIMEOUT_SECONDS)
                    for number in numbers:
                        dial.number(number)
                case HangUp():
                    flush()
                    response.hangup()
                case _:
                    raise TypeError(f"not a voice command: {command!r}")
        flush()
        return str(response)

    def _say(self, parent, text: str) -> None:
        parent.say(text, language=self.say_language, voice=self.voice)

    def _url(self, path: str, turn: int) -> str:
        return f"{self.public_url}{path}?t={turn}"


@lru_cache(maxsize=RENDERED_KEPT)
def _rendered(renderer: VoiceRenderer, commands: tuple, turn: int, call_sid: str,
              listened_before: bool) -> str:
    return renderer._render(commands, turn, call_sid, listened_before)


@cache
def empty_messaging_response() -> str:
    """SMS replies go through the outbox, so the webhook answers with nothing to send."""
    return str(MessagingResponse())
