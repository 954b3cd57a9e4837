"""The interactive terminal call, with its input and output injected: on a carrier in the
same process, and over HTTP on the phones of a carrier in another (as `gigline call` uses a
running `gigline serve`)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest
from twilio.twiml.voice_response import VoiceResponse

from local_carrier import (
    LocalCarrier,
    LocalLine,
    PhoneLine,
    RemoteLine,
    run_terminal_call,
)

from .local_carrier_fixtures import (  # noqa: F401 - the *_fixture names are fixtures
    CALLER,
    HOTLINE,
    FakeHotline,
    carrier_fixture,
    hotline_fixture,
)


def scripted(*lines: str):
    pending = list(lines)

    async def read_line() -> str:
        return pending.pop(0)

    return read_line


def welcome() -> VoiceResponse:
    response = VoiceResponse()
    response.gather(action="/twilio/menu", num_digits=1).say("Press 1 to register.")
    response.say("Goodbye.")
    return response


@pytest.fixture(params=["in-process", "over-http"])
async def line(request, carrier: LocalCarrier) -> AsyncIterator[PhoneLine]:
    if request.param == "in-process":
        yield LocalLine(carrier)
        return
    async with aiohttp.ClientSession() as http:
        yield await RemoteLine.connect(http, carrier.rest_base)


async def test_a_person_walks_through_the_hotline(carrier: LocalCarrier, hotline: FakeHotline,
                                                 line: PhoneLine):
    def menu(params: dict[str, str]) -> VoiceResponse:
        carrier.sms.create({"To": params["From"], "From": HOTLINE, "Body": "Welcome, No. 17"})
        response = VoiceResponse()
        response.say("Say your name after the beep.")
        response.record(action="/twilio/name")
        return response

    connected = VoiceResponse()
    connected.say("Connecting you to an agent.")
    connected.dial("+8613700137000")
    connected.redirect("/twilio/voice")
    hotline.on("/twilio/voice", welcome())
    hotline.on("/twilio/menu", menu)
    hotline.on("/twilio/name", connected)
    out: list[str] = []

    call = await run_terminal_call(
        line, CALLER, read_line=scripted("x", "1", "r 2", ""), write=out.append
    )

    text = "\n".join(out)
    for expected in [
        "« Press 1 to register.",
        "! keys must be some of 0-9 * #",
        "« Say your name after the beep.",
        "« Connecting you to an agent.",
        "(dialing +8613700137000)",
        f"[SMS from {HOTLINE}] Welcome, No. 17",
        "« Goodbye.",
        "Call ended (completed",
    ]:
        assert expected in text
    assert call.ended and hotline.received("/twilio/name")[0].params["RecordingDuration"] == "2"


async def test_h_hangs_up_and_async_writers_work(carrier: LocalCarrier, hotline: FakeHotline,
                                                 line: PhoneLine):
    hotline.on("/twilio/voice", welcome())
    out: list[str] = []

    async def write(line: str) -> None:
        out.append(line)

    call = await run_terminal_call(line, CALLER, read_line=scripted("h"), write=write)

    assert call.ended and out[-1].startswith("Call ended (completed")
    assert [r.params["CallStatus"] for r in hotline.received("/twilio/status")] == ["completed"]


def speech_prompt() -> VoiceResponse:
    response = VoiceResponse()
    response.gather(action="/twilio/trade", input="dtmf speech", language="zh-CN").say("工种？")
    return response


async def test_the_speech_hint_shows_only_at_prompts_that_take_speech(
        carrier: LocalCarrier, hotline: FakeHotline, line: PhoneLine):
    hotline.on("/twilio/voice", welcome())
    hotline.on("/twilio/menu", speech_prompt())

    def heard(params: dict[str, str]) -> VoiceResponse:
        response = VoiceResponse()
        response.say(f"听到：{params['SpeechResult']}")
        return response

    hotline.on("/twilio/trade", heard)
    out: list[str] = []

    await run_terminal_call(line, CALLER, read_line=scripted("1", "say 焊工"), write=out.append)

    hints = [text for text in out if text.startswith("[")]
    assert len(hints) == 2 and "'say <words>'" not in hints[0], hints
    assert "'say <words>' = speak" in hints[1]
    assert "  « 听到：焊工" in out


async def test_words_at_a_keys_only_prompt_are_refused_and_no_hint_offers_them(
        carrier: LocalCarrier, hotline: FakeHotline, line: PhoneLine):
    hotline.on("/twilio/voice", welcome())
    out: list[str] = []

    await run_terminal_call(line, CALLER, read_line=scripted("say 焊工", "h"), write=out.append)

    assert "! this Gather does not listen for speech" in out
    assert not any("say <words>" in text for text in out)


async def test_the_sms_a_call_set_off_after_hanging_up_are_shown(
        carrier: LocalCarrier, hotline: FakeHotline, line: PhoneLine):
    def hung_up(params: dict[str, str]) -> str:
        # The confirmation goes out through an outbox: a moment after the call ends.
        asyncio.get_running_loop().call_later(0.05, carrier.sms.create, {
            "To": params["From"], "From": HOTLINE, "Body": "登记成功，编号17"})
        return "<Response/>"

    hotline.on("/twilio/voice", welcome())
    hotline.on("/twilio/status", hung_up)
    out: list[str] = []

    await run_terminal_call(line, CALLER, read_line=scripted("h"), write=out.append, linger=0.2)

    assert out[-2:] == ["Call ended (completed, 0 s).", f"  [SMS from {HOTLINE}] 登记成功，编号17"]
