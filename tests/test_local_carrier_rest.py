"""The REST stand-in, driven by the real twilio-python client."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta

import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client
from twilio.twiml.messaging_response import MessagingResponse
from twilio.twiml.voice_response import VoiceResponse

from local_carrier import LocalCarrier

from .local_carrier_fixtures import (  # noqa: F401 - the *_fixture names are fixtures
    ACCOUNT_SID,
    CALLER,
    HOTLINE,
    OTHER_PHONE,
    FakeHotline,
    carrier_fixture,
    hotline_fixture,
    make_client,
    twilio_client_fixture,
)

# twilio 9.13's AsyncTwilioHttpClient still passes aiohttp's deprecated `auth=` argument.
pytestmark = pytest.mark.filterwarnings(
    "ignore:The 'auth' parameter is deprecated:DeprecationWarning"
)


async def test_create_returns_twilios_message_resource(
    twilio_client: Client, carrier: LocalCarrier
):
    message = await twilio_client.messages.create_async(
        to=CALLER, from_=HOTLINE, body="Job: welder, 300/day"
    )

    assert re.match(r"^SM[0-9a-f]{32}$", message.sid)
    assert (message.status, message.direction) == ("queued", "outbound-api")
    assert (message.to, message.from_, message.account_sid) == (CALLER, HOTLINE, ACCOUNT_SID)
    assert message.num_segments == "1" and message.num_media == "0"
    assert message.price is None and message.error_code is None
    assert message.error_message is None and message.api_version == "2010-04-01"
    assert abs(message.date_created - datetime.now(UTC)) < timedelta(minutes=1)
    assert message.date_sent is None  # Twilio fills it in when the message goes out
    assert message.uri == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/{message.sid}.json"

    sms = await carrier.wait_for_sms(CALLER)
    assert (sms.body, sms.from_, sms.sid) == ("Job: welder, 300/day", HOTLINE, message.sid)
    fetched = await twilio_client.messages(message.sid).fetch_async()
    assert fetched.status == "delivered" and fetched.date_sent is not None


@pytest.mark.parametrize(
    ("body", "segments"),
    [("a" * 160, "1"), ("a" * 161, "2"), ("焊" * 70, "1"), ("焊" * 71, "2"), ("焊" * 135, "3")],
)
async def test_segments_follow_gsm7_and_ucs2(twilio_client: Client, body, segments):
    message = await twilio_client.messages.create_async(to=CALLER, from_=HOTLINE, body=body)
    assert message.num_segments == segments


async def test_messaging_service_sends_are_accepted(twilio_client: Client, carrier: LocalCarrier):
    message = await twilio_client.messages.create_async(
        to=CALLER, messaging_service_sid="MG" + "0" * 32, body="hi"
    )
    assert (message.status, message.from_, message.num_segments) == ("accepted", None, "0")
    assert (await carrier.wait_for_sms(CALLER)).from_ == HOTLINE


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"to": "", "body": "x"}, 21604),
        ({"to": "12345", "body": "x"}, 21211),
        ({"to": CALLER}, 21602),
        ({"to": CALLER, "body": "x" * 1601}, 21617),
        ({"to": "+861062345678", "body": "x"}, 21614),  # a Beijing landline
        ({"to": CALLER, "body": "x", "from_": "+8613700137000"}, 21606),
    ],
)
async def test_invalid_sends_raise_twilio_errors(twilio_client: Client, fields, code):
    with pytest.raises(TwilioRestException) as raised:
        await twilio_client.messages.create_async(**({"from_": HOTLINE} | fields))
    assert (raised.value.code, raised.value.status) == (code, 400)


async def test_bad_credentials_are_refused(carrier: LocalCarrier):
    client, http_client = make_client(carrier, token="wrong")
    try:
        with pytest.raises(TwilioRestException) as raised:
            await client.messages.create_async(to=CALLER, from_=HOTLINE, body="x")
    finally:
        await http_client.close()
    assert (raised.value.code, raised.value.status) == (20003, 401)


async def test_stop_opts_out_until_start(
    twilio_client: Client, carrier: LocalCarrier, hotline: FakeHotline
):
    result = await carrier.send_sms(CALLER, " stop ")
    assert result.status == 200
    assert carrier.is_opted_out(CALLER)
    assert "unsubscribed" in (await carrier.wait_for_sms(CALLER)).body
    with pytest.raises(TwilioRestException) as raised:
        await twilio_client.messages.create_async(to=CALLER, from_=HOTLINE, body="job")
    assert raised.value.code == 21610

    await carrier.send_sms(CALLER, "START")
    assert not carrier.is_opted_out(CALLER)
    await twilio_client.messages.create_async(to=CALLER, from_=HOTLINE, body="job")
    assert (await carrier.wait_for_sms(CALLER, predicate=lambda s: s.body == "job")).body == "job"

    received = hotline.received("/twilio/sms")
    assert [r.params["Body"] for r in received] == [" stop ", "START"]
    assert all(r.signature_ok for r in received)
    assert (
        received[0].params.items()
        >= {
            "From": CALLER,
            "To": HOTLINE,
            "AccountSid": ACCOUNT_SID,
            "NumMedia": "0",
            "NumSegments": "1",
            "ApiVersion": "2010-04-01",
        }.items()
    )
    assert (
        received[0].params["MessageSid"]
        == received[0].params["SmsSid"]
        == (received[0].params["SmsMessageSid"])
    )


async def test_twiml_replies_to_an_sms_reach_the_phone(carrier: LocalCarrier, hotline: FakeHotline):
    reply = MessagingResponse()
    reply.message("收到，谢谢")
    hotline.on("/twilio/sms", reply)

    await carrier.send_sms(CALLER, "1")

    sms = await carrier.wait_for_sms(CALLER)
    assert sms.body == "收到，谢谢"
    assert carrier.messages()[0].direction == "outbound-reply"


async def test_wait_for_sms_times_out_listing_the_inbox(carrier: LocalCarrier):
    with pytest.raises(TimeoutError, match=r"got no new SMS within 0.05s.*nothing"):
        await carrier.wait_for_sms(CALLER, timeout=0.05)


async def test_list_filters_and_pages(twilio_client: Client, carrier: LocalCarrier):
    for phone, body in [(CALLER, "one"), (OTHER_PHONE, "two"), (CALLER, "three")]:
        await twilio_client.messages.create_async(to=phone, from_=HOTLINE, body=body)
    await carrier.drain()

    to_caller = await twilio_client.messages.list_async(to=CALLER, page_size=1)
    assert [m.body for m in to_caller] == ["three", "one"]  # newest first, across pages
    today = datetime.now(UTC) - timedelta(minutes=5)
    recent = await twilio_client.messages.list_async(date_sent_after=today)
    assert len(recent) == 3
    assert await twilio_client.messages.list_async(date_sent_before=today - timedelta(days=1)) == []
    page = await twilio_client.messages.page_async(to=OTHER_PHONE)
    assert [m.body for m in page] == ["two"] and page.next_page_url is None


async def test_message_status_callbacks_are_signed(
    twilio_client: Client, carrier: LocalCarrier, hotline: FakeHotline
):
    callback = f"{hotline.base}/twilio/sms-status"
    sent = await twilio_client.messages.create_async(
        to=CALLER, from_=HOTLINE, body="x", status_callback=callback
    )
    carrier.set_unreachable(OTHER_PHONE, 30003)
    lost = await twilio_client.messages.create_async(
        to=OTHER_PHONE, from_=HOTLINE, body="y", status_callback=callback
    )
    await carrier.drain()

    statuses = [
        (r.params["MessageSid"], r.params["MessageStatus"], r.params.get("ErrorCode"))
        for r in hotline.received("/twilio/sms-status")
    ]
    assert sorted(statuses) == sorted(
        [
            (sent.sid, "sent", None),
            (sent.sid, "delivered", None),
            (lost.sid, "sent", None),
            (lost.sid, "undelivered", "30003"),
        ]
    )
    assert all(r.signature_ok for r in hotline.received("/twilio/sms-status"))
    assert carrier.inbox(OTHER_PHONE) == []


async def test_fetching_an_unknown_message_is_20404(twilio_client: Client):
    with pytest.raises(TwilioRestException) as raised:
        await twilio_client.messages("SM" + "0" * 32).fetch_async()
    assert (raised.value.code, raised.value.status) == (20404, 404)


async def test_update_with_twiml_takes_over_a_live_call(
    twilio_client: Client, carrier: LocalCarrier, hotline: FakeHotline
):
    menu = VoiceResponse()
    menu.gather(action="/twilio/menu", num_digits=1).say("Press 1.")
    hotline.on("/twilio/voice", menu)
    call = await carrier.place_call(CALLER)

    takeover = VoiceResponse()
    takeover.say("An agent is free now.")
    takeover.hangup()
    updated = await twilio_client.calls(call.sid).update_async(twiml=str(takeover))
    assert updated.sid == call.sid and updated.status == "in-progress"
    await call.settled()

    assert call.prompts[-1] == "An agent is free now." and call.ended
    with pytest.raises(TwilioRestException) as ended:
        await twilio_client.calls(call.sid).update_async(twiml=str(takeover))
    assert (ended.value.code, ended.value.status) == (21220, 400)
    with pytest.raises(TwilioRestException) as unknown:
        await twilio_client.calls("CA" + "0" * 32).update_async(status="completed")
    assert (unknown.value.code, unknown.value.status) == (20404, 404)


async def test_update_status_completed_hangs_up(
    twilio_client: Client, carrier: LocalCarrier, hotline: FakeHotline
):
    menu = VoiceResponse()
    menu.gather(action="/twilio/menu").say("Press 1.")
    hotline.on("/twilio/voice", menu)
    call = await carrier.place_call(CALLER)

    updated = await twilio_client.calls(call.sid).update_async(status="completed")
    await carrier.drain()

    assert updated.status == "completed" and call.ended
    (status,) = hotline.received("/twilio/status")
    assert status.params["CallStatus"] == "completed"


async def test_outbound_call_is_answered_by_the_phone(
    twilio_client: Client, carrier: LocalCarrier, hotline: FakeHotline
):
    alert = VoiceResponse()
    alert.gather(action="/twilio/alert-answer", num_digits=1).say("New job. Press 1.")
    hotline.on("/twilio/alert", alert)
    hotline.on("/twilio/alert-answer", VoiceResponse())

    created = await twilio_client.calls.create_async(
        to=CALLER,
        from_=HOTLINE,
        url=f"{hotline.base}/twilio/alert",
        status_callback=f"{hotline.base}/twilio/alert-status",
        status_callback_event=["answered", "completed"],
    )
    assert created.status == "queued" and created.direction == "outbound-api"

    call = await carrier.answered_call(CALLER)
    assert call.sid == created.sid and call.prompts == ["New job. Press 1."]
    await call.press("1")

    (first,) = hotline.received("/twilio/alert")
    assert first.params["Direction"] == "outbound-api" and first.params["To"] == CALLER
    assert hotline.received("/twilio/alert-answer")[0].params["Digits"] == "1"
    statuses = [r.params["CallStatus"] for r in hotline.received("/twilio/alert-status")]
    assert statuses == ["in-progress", "completed"]


async def test_unanswered_outbound_call_reports_no_answer(
    twilio_client: Client, carrier: LocalCarrier, hotline: FakeHotline
):
    carrier.set_answer(CALLER, "no-answer")
    await twilio_client.calls.create_async(
        to=CALLER,
        from_=HOTLINE,
        url=f"{hotline.base}/twilio/alert",
        status_callback=f"{hotline.base}/twilio/alert-status",
    )

    call = await carrier.answered_call(CALLER)

    assert call.status == "no-answer" and hotline.received("/twilio/alert") == []
    (status,) = hotline.received("/twilio/alert-status")
    assert status.params["CallStatus"] == "no-answer"


async def test_fail_next_gives_rate_limit_errors(twilio_client: Client, carrier: LocalCarrier):
    carrier.fail_next(1, status=429, code=20429, message="Too Many Requests")

    with pytest.raises(TwilioRestException) as raised:
        await twilio_client.messages.create_async(to=CALLER, from_=HOTLINE, body="x")
    assert (raised.value.code, raised.value.status) == (20429, 429)
    await twilio_client.messages.create_async(to=CALLER, from_=HOTLINE, body="x")
    assert len(carrier.messages()) == 1  # the failed request did nothing


async def test_a_delayed_answer_times_out_but_the_send_happened(
    twilio_client: Client, carrier: LocalCarrier
):
    carrier.delay_next(5)
    # AsyncTwilioHttpClient ignores its own `timeout`, so the caller bounds the wait.
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.1):
            await twilio_client.messages.create_async(to=CALLER, from_=HOTLINE, body="unknown fate")
    await carrier.drain()

    # Reconciliation: the message exists although the client never heard back.
    found = await twilio_client.messages.list_async(to=CALLER, from_=HOTLINE)
    assert [m.body for m in found] == ["unknown fate"]


async def test_rest_app_can_be_mounted_by_the_caller(aiohttp_server, carrier: LocalCarrier):
    server = await aiohttp_server(carrier.rest_app())
    client, http_client = make_client(carrier)
    client.api.base_url = str(server.make_url("")).rstrip("/")
    try:
        message = await client.messages.create_async(to=CALLER, from_=HOTLINE, body="x")
    finally:
        await http_client.close()
    assert message.status == "queued"


async def test_update_during_the_calls_own_webhook_wins(
    twilio_client: Client, carrier: LocalCarrier, hotline: FakeHotline
):
    """Gigline may redirect a call while answering one of its webhooks: no deadlock, and
    the TwiML it then answers is thrown away, as Twilio does."""
    takeover = VoiceResponse()
    takeover.say("Moved by the API.")

    async def voice(params: dict[str, str]) -> VoiceResponse:
        await twilio_client.calls(params["CallSid"]).update_async(twiml=str(takeover))
        stale = VoiceResponse()
        stale.say("Stale answer.")
        return stale

    hotline.on("/twilio/voice", voice)
    call = await carrier.place_call(CALLER)
    await call.settled()

    assert call.prompts == ["Moved by the API."] and call.ended


async def test_inline_twiml_needs_absolute_urls(
    twilio_client: Client, carrier: LocalCarrier, hotline: FakeHotline
):
    twiml = VoiceResponse()
    twiml.gather(action="/twilio/relative").say("Press a key.")
    created = await twilio_client.calls.create_async(to=CALLER, from_=HOTLINE, twiml=str(twiml))

    call = await carrier.answered_call(CALLER)

    assert [e["code"] for e in call.errors] == [11100]
    fetched = await twilio_client.calls(created.sid).fetch_async()
    assert fetched.status == "completed" and fetched.direction == "outbound-api"


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"to": "", "url": "http://x.example/a"}, 21201),
        ({"to": "12345", "url": "http://x.example/a"}, 21211),
        ({"to": CALLER, "from_": "+8613700137000", "url": "http://x.example/a"}, 21210),
        ({"to": CALLER}, 21205),
        ({"to": CALLER, "url": "/relative"}, 21205),
    ],
)
async def test_invalid_calls_raise_twilio_errors(twilio_client: Client, fields, code):
    with pytest.raises(TwilioRestException) as raised:
        await twilio_client.calls.create_async(**({"from_": HOTLINE} | fields))
    assert (raised.value.code, raised.value.status) == (code, 400)
