"""Twilio Media Streams' wire format, in one module (the socket handler stays
provider-free). Messages: connected, start, media, dtmf, mark, stop; `sequenceNumber`,
`chunk` and `timestamp` are strings; media payloads are base64 μ-law, 20 ms = 160 bytes."""

from __future__ import annotations

import base64
import binascii
import hmac
import json
from dataclasses import dataclass, field

from hotline.channel import MediaStreamError, StreamAudio, StreamEnd, StreamEvent, StreamStart
from telephony.twilio.twiml import stream_token


@dataclass(frozen=True)
class StreamStarted:
    stream_sid: str
    call_sid: str
    account_sid: str
    custom_parameters: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Audio:
    mulaw: bytes
    timestamp_ms: int


@dataclass(frozen=True)
class Key:
    digit: str


@dataclass(frozen=True)
class StreamStopped:
    call_sid: str


@dataclass(frozen=True)
class Ignored:
    """connected and mark: nothing to do."""

    event: str


TwilioEvent = StreamStarted | Audio | Key | StreamStopped | Ignored
MAX_MESSAGE = 64 * 1024  # a 20 ms frame is ~300 bytes of JSON; anything huge is not Twilio


def parse(message: str | bytes) -> TwilioEvent:
    if len(message) > MAX_MESSAGE:
        raise MediaStreamError("message too large")
    try:
        data = json.loads(message)
        event = data["event"]
        if event == "start":
            start = data["start"]
            media_format = start.get("mediaFormat", {})
            if media_format.get("encoding", "audio/x-mulaw") != "audio/x-mulaw":
                raise MediaStreamError(f"unexpected encoding {media_format['encoding']!r}")
            return StreamStarted(data.get("streamSid") or start["streamSid"], start["callSid"],
                                 start.get("accountSid", ""),
                                 {str(k): str(v) for k, v in
                                  (start.get("customParameters") or {}).items()})
        if event == "media":
            media = data["media"]
            if media.get("track", "inbound") not in ("inbound", "inbound_track"):
                return Ignored("media:" + str(media.get("track")))
            return Audio(base64.b64decode(media["payload"], validate=True),
                         int(media.get("timestamp", "0")))
        if event == "dtmf":
            return Key(str(data["dtmf"]["digit"]))
        if event == "stop":
            return StreamStopped(data["stop"]["callSid"])
        if event in ("connected", "mark"):
            return Ignored(event)
    except MediaStreamError:
        raise
    except (ValueError, KeyError, TypeError, AttributeError, binascii.Error) as exc:
        raise MediaStreamError(f"not a Media Streams message: {exc}") from None
    raise MediaStreamError(f"unknown event {event!r}")


class TwilioStreams:
    """Twilio's Media Streams as the hotline's stream protocol. A start must name our
    account and carry the token of the prompt it was rendered for: the upgrade's signature
    is the same for every stream (one URL, no query), and the start message's callSid and
    parameters are not signed at all."""

    max_message = MAX_MESSAGE

    def __init__(self, account_sid: str, secret: str):
        self.account_sid, self._secret = account_sid, secret

    def read(self, message: str) -> StreamEvent | None:
        event = parse(message)
        if isinstance(event, Audio):
            return StreamAudio(event.mulaw)
        if isinstance(event, StreamStopped):
            return StreamEnd()
        if isinstance(event, StreamStarted):
            return self._start(event)
        return None  # connected, mark, keys (the Gather hears those), the outbound track

    def _start(self, started: StreamStarted) -> StreamStart:
        if started.account_sid != self.account_sid:
            raise MediaStreamError(f"stream from another account {started.account_sid!r}")
        turn = started.custom_parameters.get("turn", "")
        turn_number = int(turn) if turn.isdigit() else -1
        expected = stream_token(self._secret, started.call_sid, turn_number)
        if not hmac.compare_digest(started.custom_parameters.get("token", ""), expected):
            raise MediaStreamError(f"stream for {started.call_sid} without its prompt's token")
        return StreamStart(started.call_sid, turn_number)
