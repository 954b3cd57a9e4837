"""The scripted caller: signed voice webhooks and TwiML interpreted as Twilio does."""

from __future__ import annotations

import re

import aiohttp
import pytest
from aiohttp import web
from twilio.twiml.voice_response import Connect, Dial, Gather, Start, VoiceResponse

from local_carrier import CallStateError, LocalCarrier

from .local_carrier_fixtures import (  # noqa: F401 - the *_fixture names are fixtures
    ACCOUNT_SID,
    CALLER,
    HOTLINE,
    FakeHotline,
    carrier_fixture,
    hotline_fixture,
)

SID = re.compile(r"^CA[0-9a-f]{32}$")


def menu(*, then: str | None = "No key pressed.", **gather_attrs) -> VoiceResponse:
    response = VoiceResponse()
    gather = Gather(**({"action": "/twilio/menu", "num_digits": 1} | gather_attrs))
    gather.say("Press 1 for jobs.", language="cmn-CN", voice="Polly.Zhiyu")
    response.append(gather)
    if then:
        response.say(then)
    return response


def say(*texts: str, hangup: bool = False) -> VoiceResponse:
    response = VoiceResponse()
    for text in texts:
        response.say(text)
    if hangup:
        response.hangup()
    return response


async def test_every_webhook_is_signed_with_twilio_fields(
    carrier: LocalCarrier, hotline: FakeHotline
):
    hotline.on("/twilio/voice", menu())
    hotline.on("/twilio/menu", say("Bye.", hangup=True))

    call = await carrier.place_call(CALLER)
    await call.press("1")

    first, action, status = hotline.requests
    assert all(r.signature_ok for r in hotline.requests)
    assert [r.path for r in hotline.requests] == ["/twilio/voice", "/twilio/menu", "/twilio/status"]
    assert first.headers["User-Agent"] == "TwilioProxy/1.1"
    tokens = {r.headers["I-Twilio-Idempotency-Token"] for r in hotline.requests}
    assert len(tokens) == 3
    assert SID.match(first.params["CallSid"]) and first.params["CallSid"] == call.sid
    assert (
        first.params.items()
        >= {
            "AccountSid": ACCOUNT_SID,
            "From": CALLER,
            "To": HOTLINE,
            "Caller": CALLER,
            "Called": HOTLINE,
            "CallStatus": "ringing",
            "Direction": "inbound",
            "ApiVersion": "2010-04-01",
            "FromCountry": "CN",
        }.items()
    )
    assert action.params["CallStatus"] == "in-progress"
    assert status.params["CallStatus"] == "completed"
    assert int(status.params["CallDuration"]) >= 0
    assert call.ended and call.status == "completed"


async def test_gather_press_posts_digits_to_the_resolved_action(
    carrier: LocalCarrier, hotline: FakeHotline
):
    hotline.on("/twilio/voice", menu())
    hotline.on("/twilio/menu", menu(action="jobs"))  # relative to /twilio/menu

    call = await carrier.place_call(CALLER)
    assert call.waiting_for == "gather"
    assert call.new_prompts() == ["Press 1 for jobs."]
    assert call.gather == {
        "action": f"{hotline.base}/twilio/menu",
        "method": "POST",
        "input": ("dtmf",),
        "num_digits": 1,
        "timeout": 5,
        "finish_on_key": "#",
        "action_on_empty_result": False,
        "language": "en-US",
        "hints": None,
    }
    said = next(event for event in call.transcript if event["type"] == "say")
    assert (said["language"], said["voice"]) == ("cmn-CN", "Polly.Zhiyu")

    await call.press("1")
    (request,) = hotline.received("/twilio/menu")
    assert (request.params["Digits"], request.params["FinishedOnKey"]) == ("1", "")
    assert call.new_prompts() == ["Press 1 for jobs."]
    assert call.gather["action"] == f"{hotline.base}/twilio/jobs"
    assert call.prompts == ["Press 1 for jobs.", "Press 1 for jobs."]


async def test_silence_goes_on_with_the_verb_after_the_gather(
    carrier: LocalCarrier, hotline: FakeHotline
):
    hotline.on("/twilio/voice", menu(then="No key pressed."))

    call = await carrier.place_call(CALLER)
    call.new_prompts()
    await call.stay_silent()

    assert call.new_prompts() == ["No key pressed."]
    assert hotline.received("/twilio/menu") == []
    assert call.ended  # the document ran out


async def test_action_on_empty_result_posts_without_digits(
    carrier: LocalCarrier, hotline: FakeHotline
):
    hotline.on("/twilio/voice", menu(action_on_empty_result=True))
    hotline.on("/twilio/menu", say("You said nothing."))

    call = await carrier.place_call(CALLER)
    await call.stay_silent()

    (request,) = hotline.received("/twilio/menu")
    assert "Digits" not in request.params
    assert call.new_prompts() == ["You said nothing."]


@pytest.mark.parametrize(
    ("keys", "attrs", "digits", "finished_on"),
    [
        ("123#", {}, "123", "#"),
        ("12", {}, "12", ""),  # no finish key: the Gather times out with what it has
        ("1*2#", {}, "1*2", "#"),
        ("#5#", {}, "5", "#"),  # a lone finish key ends nothing
        ("12345", {"num_digits": 3}, "123", ""),
        ("12#", {"finish_on_key": ""}, "12#", ""),
        ("9*", {"finish_on_key": "*"}, "9", "*"),
    ],
)
async def test_num_digits_and_finish_on_key(
    carrier: LocalCarrier, hotline: FakeHotline, keys, attrs, digits, finished_on
):
    hotline.on(
        "/twilio/voice",
        menu(
            num_digits=attrs.get("num_digits"),
            **{k: v for k, v in attrs.items() if k != "num_digits"},
        ),
    )
    call = await carrier.place_call(CALLER)
    await call.press(keys)

    (request,) = hotline.received("/twilio/menu")
    assert request.params["Digits"] == digits
    assert request.params["FinishedOnKey"] == finished_on


async def test_a_lone_finish_key_is_no_input(carrier: LocalCarrier, hotline: FakeHotline):
    hotline.on("/twilio/voice", menu(num_digits=None, then="Nothing."))
    call = await carrier.place_call(CALLER)
    await call.press("#")

    assert hotline.received("/twilio/menu") == []
    assert call.prompts[-1] == "Nothing."


async def test_caller_actions_in_the_wrong_state_raise(carrier: LocalCarrier, hotline: FakeHotline):
    hotline.on("/twilio/voice", menu())
    hotline.on("/twilio/menu", say("Bye.", hangup=True))
    call = await carrier.place_call(CALLER)

    with pytest.raises(ValueError, match="keys"):
        await call.press("1a")
    with pytest.raises(CallStateError, match="not waiting for record"):
        await call.record(3)
    await call.press("1")
    with pytest.raises(CallStateError, match=r"ended \(completed\)"):
        await call.press("1")
    with pytest.raises(CallStateError, match="already ended"):
        await call.hang_up()


async def test_record_posts_the_recording_and_serves_it(
    carrier: LocalCarrier, hotline: FakeHotline
):
    response = VoiceResponse()
    response.say("Say your name after the beep.")
    response.record(action="/twilio/name", max_length=30, finish_on_key="#")
    hotline.on("/twilio/voice", response)
    hotline.on("/twilio/name", say("Thanks.", hangup=True))

    call = await carrier.place_call(CALLER)
    assert call.waiting_for == "record"
    assert call.recording["max_length"] == 30 and call.recording["play_beep"] is True
    await call.record(4)

    (request,) = hotline.received("/twilio/name")
    assert re.match(r"^RE[0-9a-f]{32}$", request.params["RecordingSid"])
    assert request.params["RecordingDuration"] == "4"
    assert request.params["Digits"] == "#"
    assert request.params["RecordingUrl"].startswith(carrier.rest_base)
    async with aiohttp.ClientSession() as http, http.get(request.params["RecordingUrl"]) as got:
        assert got.status == 200
        assert got.content_type == "audio/x-wav"
        assert (await got.read())[:4] == b"RIFF"
    assert call.prompts[-1] == "Thanks."


async def test_silent_record_skips_the_action(carrier: LocalCarrier, hotline: FakeHotline):
    response = VoiceResponse()
    response.record(action="/twilio/name")
    response.say("We did not hear you.")
    hotline.on("/twilio/voice", response)

    call = await carrier.place_call(CALLER)
    await call.stay_silent()

    assert hotline.received("/twilio/name") == []
    assert call.prompts == ["We did not hear you."]


async def test_hanging_up_during_record_still_posts_the_action(
    carrier: LocalCarrier, hotline: FakeHotline
):
    response = VoiceResponse()
    response.record(action="/twilio/name")
    hotline.on("/twilio/voice", response)

    call = await carrier.place_call(CALLER)
    await call.record(2, hang_up=True)

    (request,) = hotline.received("/twilio/name")
    assert request.params["Digits"] == "hangup"
    assert call.ended
    assert [r.params["CallStatus"] for r in hotline.received("/twilio/status")] == ["completed"]


async def test_redirect_follows_method_and_relative_url(
    carrier: LocalCarrier, hotline: FakeHotline
):
    response = VoiceResponse()
    response.redirect("next?step=2", method="GET")
    hotline.on("/twilio/voice", response)
    hotline.on("/twilio/next", say("Step two."))

    call = await carrier.place_call(CALLER)

    (request,) = hotline.received("/twilio/next")
    assert request.method == "GET" and request.signature_ok
    assert request.params["step"] == "2" and request.params["CallSid"] == call.sid
    assert call.prompts == ["Step two."]


async def test_dial_without_action_goes_on(carrier: LocalCarrier, hotline: FakeHotline):
    response = VoiceResponse()
    response.dial("+8613700137000")
    response.say("The agent hung up.")
    hotline.on("/twilio/voice", response)

    call = await carrier.place_call(CALLER)

    assert call.dialed == ["+8613700137000"]
    assert call.prompts == ["The agent hung up."]


async def test_dial_with_action_posts_the_dial_outcome(carrier: LocalCarrier, hotline: FakeHotline):
    response = VoiceResponse()
    dial = Dial(action="/twilio/dialed")
    dial.number("+8613700137000")
    response.append(dial)
    response.say("Unreachable: not spoken, the action takes over.")
    hotline.on("/twilio/voice", response)
    hotline.on("/twilio/dialed", say("No agent answered."))
    carrier.set_dial_outcome("+8613700137000", "no-answer")

    call = await carrier.place_call(CALLER)

    (request,) = hotline.received("/twilio/dialed")
    assert request.params["DialCallStatus"] == "no-answer"
    assert "DialCallDuration" not in request.params
    assert call.prompts == ["No agent answered."]


async def test_hangup_verb_posts_the_completed_status_once(
    carrier: LocalCarrier, hotline: FakeHotline
):
    hotline.on("/twilio/voice", say("Goodbye.", hangup=True))

    call = await carrier.place_call(CALLER)
    await carrier.drain()

    assert call.transcript[-1] == {"type": "hangup"}
    (status,) = hotline.received("/twilio/status")
    assert status.params["CallStatus"] == "completed" and status.signature_ok
    assert status.params["CallSid"] == call.sid


async def test_caller_hang_up_posts_the_completed_status(
    carrier: LocalCarrier, hotline: FakeHotline
):
    hotline.on("/twilio/voice", menu())

    call = await carrier.place_call(CALLER)
    await call.hang_up()

    (status,) = hotline.received("/twilio/status")
    assert status.params["CallStatus"] == "completed"
    assert call.ended and call.waiting_for is None


@pytest.mark.parametrize(
    ("reply", "code"),
    [
        (web.Response(status=500, text="boom"), 11200),
        (web.Response(text="hello", content_type="text/plain"), 12300),
        (web.Response(text="<Response><Say>", content_type="text/xml"), 12100),
        (web.Response(text="<Reply/>", content_type="text/xml"), 12102),
        (web.Response(text="<Response><Sing>la</Sing></Response>", content_type="text/xml"), 12200),
    ],
)
async def test_application_errors_end_the_call(
    carrier: LocalCarrier, hotline: FakeHotline, reply, code
):
    hotline.on("/twilio/voice", menu())
    hotline.on("/twilio/menu", reply)

    call = await carrier.place_call(CALLER)
    await call.press("1")

    assert [e["code"] for e in call.errors] == [code]
    assert call.ended
    assert [r.params["CallStatus"] for r in hotline.received("/twilio/status")] == ["completed"]


async def test_reject_busy_never_answers(carrier: LocalCarrier, hotline: FakeHotline):
    response = VoiceResponse()
    response.reject(reason="busy")
    hotline.on("/twilio/voice", response)

    call = await carrier.place_call(CALLER)

    assert call.status == "busy" and call.answered_at is None
    (status,) = hotline.received("/twilio/status")
    assert status.params["CallStatus"] == "busy" and status.params["CallDuration"] == "0"


async def test_streams_and_queues_are_recorded(carrier: LocalCarrier, hotline: FakeHotline):
    response = VoiceResponse()
    start = Start()
    stream = start.stream(url="wss://gigline.example/media", name="asr")
    stream.parameter(name="call", value="42")
    response.append(start)
    response.say("Tell us your trade.")
    connect = Connect(action="/twilio/after-stream")
    connect.stream(url="wss://gigline.example/media2")
    response.append(connect)
    hotline.on("/twilio/voice", response)
    queued = VoiceResponse()
    queued.enqueue("agents", action="/twilio/left-queue")
    hotline.on("/twilio/after-stream", queued)

    call = await carrier.place_call(CALLER)
    assert call.streams[0] == {
        "how": "start",
        "noun": "Stream",
        "name": "asr",
        "track": None,
        "url": "wss://gigline.example/media",
        "parameters": {"call": "42"},
    }
    assert call.streams[1]["how"] == "connect" and call.prompts == ["Tell us your trade."]
    assert call.waiting_for == "stream"

    await call.end_stream()
    assert call.waiting_for == "queue" and call.queue == "agents"
    await call.hang_up()
    (left,) = hotline.received("/twilio/left-queue")
    assert left.params["QueueResult"] == "hangup"


async def test_a_retried_status_callback_keeps_its_idempotency_token(
    carrier: LocalCarrier, hotline: FakeHotline
):
    hotline.on("/twilio/voice", say("Bye.", hangup=True))
    hotline.on("/twilio/status", web.Response(status=503), web.Response(text="<Response/>"))

    await carrier.place_call(CALLER)

    first, retry = hotline.received("/twilio/status")
    assert (
        first.headers["I-Twilio-Idempotency-Token"] == (retry.headers["I-Twilio-Idempotency-Token"])
    )
    assert first.params == retry.params


async def test_speech_gather_posts_the_speech_result(carrier: LocalCarrier, hotline: FakeHotline):
    response = VoiceResponse()
    response.gather(input="speech dtmf", action="/twilio/trade", language="cmn-CN").say(
        "哪个工种？"
    )
    hotline.on("/twilio/voice", response)

    call = await carrier.place_call(CALLER)
    await call.speak("焊工", confidence=0.82)

    (request,) = hotline.received("/twilio/trade")
    assert (request.params["SpeechResult"], request.params["Confidence"]) == ("焊工", "0.82")
    assert request.params["Language"] == "cmn-CN" and "Digits" not in request.params


async def test_a_redirect_loop_puts_the_call_on_hold(carrier: LocalCarrier, hotline: FakeHotline):
    loop = VoiceResponse()
    loop.pause(length=10)
    loop.redirect("/twilio/voice")
    hotline.on("/twilio/voice", loop)

    call = await carrier.place_call(CALLER)

    assert call.waiting_for == "hold" and not call.ended
    await call.hang_up()
    assert call.ended
