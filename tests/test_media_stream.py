"""Twilio Media Streams messages as Twilio documents them, and what is not one."""

from __future__ import annotations

import base64
import json

import pytest

from telephony.twilio.media_stream import (
    Audio,
    Ignored,
    Key,
    MediaStreamError,
    StreamStarted,
    StreamStopped,
    parse,
)

START = {
    "event": "start", "sequenceNumber": "1", "streamSid": "MZ" + "1" * 32,
    "start": {"accountSid": "AC" + "0" * 32, "streamSid": "MZ" + "1" * 32,
              "callSid": "CA" + "2" * 32, "tracks": ["inbound"],
              "customParameters": {"prompt": "main_menu", "turn": "3"},
              "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}},
}


def media(payload: bytes, track: str = "inbound") -> str:
    return json.dumps({"event": "media", "sequenceNumber": "3", "streamSid": "MZ1",
                       "media": {"track": track, "chunk": "2", "timestamp": "40",
                                 "payload": base64.b64encode(payload).decode()}})


def test_start_carries_the_call_and_its_parameters():
    event = parse(json.dumps(START))
    assert event == StreamStarted("MZ" + "1" * 32, "CA" + "2" * 32, "AC" + "0" * 32,
                                  {"prompt": "main_menu", "turn": "3"})


def test_media_frames_are_decoded_from_base64():
    assert parse(media(b"\xff" * 160)) == Audio(b"\xff" * 160, 40)
    assert isinstance(parse(media(b"\x00", track="outbound")), Ignored)


def test_keys_stop_and_the_rest():
    assert parse(json.dumps({"event": "dtmf", "dtmf": {"track": "inbound_track",
                                                       "digit": "5"}})) == Key("5")
    assert parse(json.dumps({"event": "stop", "stop": {"accountSid": "AC",
                                                       "callSid": "CA9"}})) == StreamStopped("CA9")
    assert parse(json.dumps({"event": "connected", "protocol": "Call",
                             "version": "1.0.0"})) == Ignored("connected")


@pytest.mark.parametrize("message", [
    "not json", "{}", json.dumps({"event": "start"}), json.dumps({"event": "media"}),
    json.dumps({"event": "media", "media": {"payload": "***not base64***"}}),
    json.dumps({"event": "party"}), "[]", b"\xff\xfe",
    json.dumps({**START, "start": {**START["start"],
                                   "mediaFormat": {"encoding": "audio/l16"}}}),
    "x" * 100_000,
])
def test_garbage_is_refused_with_a_clear_error(message):
    with pytest.raises(MediaStreamError):
        parse(message)
