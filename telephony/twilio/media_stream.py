"""Twilio Media Streams' wire format, in one module (the socket handler stays
provider-free). Messages: connected, start, media, dtmf, mark, stop; `sequenceNumber`,
`chunk` and `timestamp` are strings; media payloads are base64 μ-law, 20 ms = 160 bytes."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field


class MediaStreamError(ValueError):
    """A message that is not Twilio's: the stream is closed, the call goes on by keypad."""


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


StreamEvent = StreamStarted | Audio | Key | StreamStopped | Ignored
MAX_MESSAGE = 64 * 1024  # a 20 ms frame is ~300 bytes of JSON; anything huge is not Twilio


def parse(message: str | bytes) -> StreamEvent:
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
