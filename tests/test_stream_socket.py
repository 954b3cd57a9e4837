"""The media socket under bad input, and under a third party's idea of Twilio
(streamdouble). Whatever arrives, the socket closes at worst, recognisers are freed, and
the call goes on by keypad."""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import types

import aiohttp
import pytest
import websockets
from streamdouble import session as streamdouble_session
from streamdouble.audio import frame_ulaw
from streamdouble.protocol import StreamIdentity
from streamdouble.session import Session, SessionConfig
from twilio.request_validator import RequestValidator

from gigline.keys import SPEECH
from telephony import stream_socket
from telephony.twilio.twiml import stream_token
from tests.speech_fixtures import no_recognizer_left, utterance

CALLER = "+8613800000010"
TRADES_MENU = "请选您会的工种"
POLICY_VIOLATION = 1008


def signature(hotline, url: str) -> str:
    return RequestValidator(hotline.settings.auth_token).compute_signature(url, {})


async def open_socket(hotline, *, url: str | None = None):
    url = url or hotline.settings.stream_url
    return await hotline.http.ws_connect(hotline.settings.stream_url,
                                         headers={"X-Twilio-Signature": signature(hotline, url)})


def token(hotline, call_sid: str, turn: int) -> str:
    return stream_token(hotline.settings.auth_token, call_sid, turn)


def start_message(hotline, call_sid: str, turn: str = "1", account: str | None = None,
                  token_for: tuple[str, int] | None = None) -> str:
    parameters = {"turn": turn, "token": token(hotline, *(token_for or (call_sid, int(turn))))}
    return json.dumps({"event": "start", "sequenceNumber": "1", "streamSid": "MZ1", "start": {
        "accountSid": account or hotline.settings.account_sid, "streamSid": "MZ1",
        "callSid": call_sid, "tracks": ["inbound"], "customParameters": parameters,
        "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}}})


async def closed_with(socket) -> int | None:
    message = await asyncio.wait_for(socket.receive(), 5)
    assert message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    await socket.close()
    return socket.close_code


async def keys_still_work(call) -> None:
    await call.press("1")
    assert TRADES_MENU in call.new_prompts()[-1]


@pytest.mark.parametrize("signed_over", ["nothing", "the https URL", "another URL"])
async def test_an_upgrade_without_a_good_signature_is_refused(speaking_hotline, signed_over):
    settings = speaking_hotline.settings
    headers = {
        "nothing": {},
        "the https URL": {"X-Twilio-Signature": signature(
            speaking_hotline, settings.public_url + "/twilio/stream")},
        "another URL": {"X-Twilio-Signature": signature(speaking_hotline, "ws://evil/x")},
    }[signed_over]
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await speaking_hotline.http.ws_connect(settings.stream_url, headers=headers)
    assert refused.value.status == 403


@pytest.mark.parametrize("first", ["hello", '{"event": "start"}', '{"event": "dance"}',
                                   "[1, 2, 3]", '{"event": "start", "start": "x"}',
                                   '{"event": "start", "start": {"callSid": "CA1", '
                                   '"customParameters": [1]}}'])
async def test_garbage_instead_of_start_closes_the_socket(speaking_hotline, first):
    socket = await open_socket(speaking_hotline)
    await socket.send_str(first)
    assert await closed_with(socket) == POLICY_VIOLATION
    await no_recognizer_left(speaking_hotline)


async def test_a_binary_frame_closes_the_socket(speaking_hotline):
    socket = await open_socket(speaking_hotline)
    await socket.send_bytes(b"\xff" * 160)
    assert await closed_with(socket) == POLICY_VIOLATION


async def test_a_socket_that_never_starts_is_closed(speaking_hotline, monkeypatch):
    monkeypatch.setattr(stream_socket, "START_TIMEOUT_SECONDS", 0.3)
    socket = await open_socket(speaking_hotline)
    await socket.send_str(json.dumps({"event": "connected", "protocol": "Call",
                                      "version": "1.0.0"}))
    assert await closed_with(socket) == POLICY_VIOLATION


async def test_a_stream_for_an_unknown_call_is_refused(speaking_hotline):
    socket = await open_socket(speaking_hotline)
    await socket.send_str(start_message(speaking_hotline, "CA" + "0" * 32))
    assert await closed_with(socket) == POLICY_VIOLATION
    await no_recognizer_left(speaking_hotline)


async def test_a_stream_from_another_account_is_refused(speaking_hotline):
    call = await speaking_hotline.carrier.place_call(CALLER)
    socket = await open_socket(speaking_hotline)
    await socket.send_str(start_message(speaking_hotline, call.sid, account="AC" + "9" * 32))
    assert await closed_with(socket) == POLICY_VIOLATION
    await keys_still_work(call)


@pytest.mark.parametrize("forged", ["another call's token", "another turn's token"])
async def test_a_start_without_its_prompts_token_is_refused(speaking_hotline, forged):
    """The upgrade's signature is the same for every stream: knowing it and a CallSid
    must not let anyone speak into a call."""
    call = await speaking_hotline.carrier.place_call(CALLER)
    other = {"another call's token": ("CA" + "1" * 32, 1),
             "another turn's token": (call.sid, 2)}[forged]
    socket = await open_socket(speaking_hotline)
    await socket.send_str(start_message(speaking_hotline, call.sid, token_for=other))
    assert await closed_with(socket) == POLICY_VIOLATION
    await keys_still_work(call)


async def test_a_stream_for_a_prompt_already_answered_hears_nothing(speaking_hotline,
                                                                   caplog):
    call = await speaking_hotline.carrier.place_call(CALLER)
    await call.press("1")
    caplog.set_level(logging.INFO, logger="telephony.stream_socket")
    socket = await open_socket(speaking_hotline)
    await socket.send_str(start_message(speaking_hotline, call.sid, turn="1"))
    assert await closed_with(socket) == 1000
    assert f"stream for {call.sid} turn 1: the call is at turn 2 now" in caplog.messages


async def test_a_second_stream_for_the_same_prompt_is_not_heard(speaking_hotline, caplog):
    """When a keypress and the speech redirect both ran the next prompt's TwiML, its
    stream opens twice: only the first one listens."""
    call = await speaking_hotline.carrier.place_call(CALLER)
    await call.stream().opened
    caplog.set_level(logging.INFO, logger="telephony.stream_socket")
    socket = await open_socket(speaking_hotline)
    await socket.send_str(start_message(speaking_hotline, call.sid, turn="1"))
    assert await closed_with(socket) == 1000
    assert f"a second stream for {call.sid} turn 1: the first one listens" in caplog.messages
    assert await call.speak_audio(utterance("예")), "the first stream still hears"


async def test_a_payload_that_is_not_base64_closes_the_stream_not_the_call(speaking_hotline):
    call = await speaking_hotline.carrier.place_call(CALLER)
    stream = call.stream()
    await stream.opened
    await stream.send_raw(json.dumps({"event": "media", "sequenceNumber": "2", "media": {
        "track": "inbound", "chunk": "1", "timestamp": "0", "payload": "%%% not base64 %%%"},
        "streamSid": stream.sid}))
    await asyncio.wait_for(stream.closed.wait(), 5)
    assert stream.close_code == POLICY_VIOLATION
    await no_recognizer_left(speaking_hotline)
    await keys_still_work(call)


async def test_a_stream_closed_mid_utterance_frees_its_recognizer(speaking_hotline):
    call = await speaking_hotline.carrier.place_call(CALLER)
    stream = call.stream()
    await stream.send_audio(utterance("아니요")[:2400])  # half a word
    await asyncio.sleep(0.2)
    assert speaking_hotline.app[SPEECH].open_recognizers == 1
    await stream.close()
    await no_recognizer_left(speaking_hotline)
    await keys_still_work(call)


async def test_silence_and_noise_move_nothing(speaking_hotline):
    call = await speaking_hotline.carrier.place_call(CALLER)
    noise = bytes(range(256)) * 32  # every μ-law value, a second of it
    assert not await call.speak_audio(b"\xff" * 8000 + noise, wait=1.5)
    assert call.waiting_for == "gather"
    await keys_still_work(call)


async def test_streamdouble_playing_twilio_answers_a_prompt(speaking_hotline, monkeypatch):
    """A third party's Twilio (streamdouble 0.3) speaks 예 at the consent prompt of a live
    call: the call is redirected to the trades menu, as with our own carrier."""
    call = await speaking_hotline.carrier.place_call(CALLER)
    await call.stream().close()  # streamdouble is to be the prompt's one stream
    await no_recognizer_left(speaking_hotline)
    url = speaking_hotline.settings.stream_url
    # streamdouble sends no X-Twilio-Signature: give its websockets.connect the header.
    monkeypatch.setattr(streamdouble_session, "websockets", types.SimpleNamespace(
        connect=functools.partial(websockets.connect, additional_headers={
            "X-Twilio-Signature": signature(speaking_hotline, url)}),
        ConnectionClosed=websockets.ConnectionClosed))
    frames = frame_ulaw(utterance("예") + b"\xff" * 8000 * 2)
    parameters = {"turn": "1", "token": token(speaking_hotline, call.sid, 1)}
    config = SessionConfig(custom_parameters=parameters, response_timeout_s=0.5,
                           quiet_period_s=0.2, max_drain_s=1)
    identity = StreamIdentity(account_sid=speaking_hotline.settings.account_sid,
                              call_sid=call.sid)
    result = await Session(url, frames, config=config, identity=identity).run()
    assert result.frames_sent == len(frames)
    await call.settled()
    await speaking_hotline.carrier.drain()
    assert TRADES_MENU in call.prompts[-1]
    # One recogniser left: the trades menu's, on the stream the redirect started.
    assert [s.name for s in call.open_streams] == ["listen-2"]
    assert speaking_hotline.app[SPEECH].open_recognizers == 1
