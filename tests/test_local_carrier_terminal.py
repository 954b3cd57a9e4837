"""The interactive terminal call, with its input and output injected."""

from __future__ import annotations

from twilio.twiml.voice_response import VoiceResponse

from telephony.local_carrier import LocalCarrier, run_terminal_call

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


async def test_a_person_walks_through_the_hotline(carrier: LocalCarrier, hotline: FakeHotline):
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
        carrier, CALLER, read_line=scripted("x", "1", "r 2", ""), write=out.append
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


async def test_h_hangs_up_and_async_writers_work(carrier: LocalCarrier, hotline: FakeHotline):
    hotline.on("/twilio/voice", welcome())
    out: list[str] = []

    async def write(line: str) -> None:
        out.append(line)

    call = await run_terminal_call(carrier, CALLER, read_line=scripted("h"), write=write)

    assert call.ended and out[-1].startswith("Call ended (completed")
    assert [r.params["CallStatus"] for r in hotline.received("/twilio/status")] == ["completed"]
