"""The webhooks through the real app: signed requests only, retries applied once,
hostile input answered with a clear 4xx."""

from __future__ import annotations

import asyncio
import io
import logging
import xml.etree.ElementTree as ET
from urllib.parse import urlencode

import pytest
from sqlalchemy import func, select

from gigline.app import create_app
from gigline.keys import SESSIONS
from store.models import CallSession, InboundSms, OptOut, OutboundSms
from tests.conftest import make_settings
from tests.twilio_signing import signed_headers, voice_params

PUBLIC = "http://127.0.0.1:8080"
TOKEN = "test-token-0123456789"


@pytest.fixture
async def client(aiohttp_client, database_url, clock):
    app = create_app(make_settings(database_url, 8080), clock=clock)
    return await aiohttp_client(app)


async def post(client, path: str, params: dict, *, token: str = TOKEN, sign_url: str | None = None):
    headers = signed_headers(token, sign_url or PUBLIC + path, params)
    return await client.post(path, data=params, headers=headers)


def says(twiml: str) -> list[str]:
    return [e.text for e in ET.fromstring(twiml).iter("Say")]


async def count(client, model) -> int:
    async with client.app[SESSIONS]() as session:
        return await session.scalar(select(func.count()).select_from(model))


async def test_incoming_call_is_greeted_in_mandarin_and_asked_for_consent(client):
    response = await post(client, "/twilio/voice", voice_params("CA1"))
    assert response.status == 200
    assert response.content_type == "text/xml"
    root = ET.fromstring(await response.text())
    gather = root.find("Gather")
    assert gather.get("action") == f"{PUBLIC}/twilio/voice/gather?t=1"
    assert gather.get("actionOnEmptyResult") == "true" and gather.get("numDigits") == "1"
    first = gather.find("Say")
    assert first.get("language") == "cmn-CN"
    assert "零工热线" in first.text
    assert "同意请按1" in says(await response.text())[-1]


@pytest.mark.parametrize("headers", [
    {},
    {"X-Twilio-Signature": "bm90IGEgc2lnbmF0dXJl"},
])
async def test_missing_or_forged_signature_is_403_and_records_nothing(client, headers):
    response = await client.post("/twilio/voice", data=voice_params("CA1"), headers=headers)
    assert response.status == 403
    assert await count(client, CallSession) == 0


async def test_signed_with_the_wrong_token_is_403(client):
    response = await post(client, "/twilio/voice", voice_params("CA1"), token="someone-else")
    assert response.status == 403


async def test_signature_for_other_parameters_is_403(client):
    params = voice_params("CA1")
    headers = signed_headers(TOKEN, PUBLIC + "/twilio/voice", params)
    tampered = params | {"From": "+8613800000666"}
    response = await client.post("/twilio/voice", data=tampered, headers=headers)
    assert response.status == 403


async def test_signature_over_the_internal_url_is_rejected_behind_a_proxy(
    aiohttp_client, database_url, clock
):
    settings = make_settings(
        database_url, 8080, GIGLINE_PUBLIC_URL="https://hotline.example.cn",
        TWILIO_ACCOUNT_SID="AC" + "1" * 32, TWILIO_AUTH_TOKEN="real-token",
        TWILIO_PHONE_NUMBER="+863592123456", GIGLINE_ID_HASH_KEY="k" * 32,
    )
    client = await aiohttp_client(create_app(settings, clock=clock))
    params = voice_params("CA1")
    internal = str(client.make_url("/twilio/voice"))
    wrong = await post(client, "/twilio/voice", params, token="real-token", sign_url=internal)
    assert wrong.status == 403
    right = await post(client, "/twilio/voice", params, token="real-token",
                       sign_url="https://hotline.example.cn/twilio/voice")
    assert right.status == 200


@pytest.mark.parametrize("signed_as", ["http://127.0.0.1:8080", "http://127.0.0.1"])
async def test_a_signature_holds_over_the_url_with_its_port_or_without(client, signed_as):
    """As Twilio's own validator: its signing has spelled the port both ways."""
    response = await post(client, "/twilio/voice", voice_params("CA1"),
                          sign_url=signed_as + "/twilio/voice")
    assert response.status == 200


async def test_a_retried_gather_is_applied_once(client):
    await post(client, "/twilio/voice", voice_params("CA1"))
    first = await post(client, "/twilio/voice/gather?t=1", voice_params("CA1", Digits="1"))
    again = await post(client, "/twilio/voice/gather?t=1", voice_params("CA1", Digits="1"))
    assert await first.text() == await again.text()
    assert "工种" in says(await first.text())[0]
    async with client.app[SESSIONS]() as session:
        call = await session.get(CallSession, "CA1")
    assert call.turn == 2 and call.state["step"] == "trades"


async def test_the_same_turn_answered_twice_at_once_moves_the_call_on_once(client):
    """Two answers to one prompt can arrive together (a key and a retry, keys and speech,
    on two processes): one takes the turn, the other is answered with what it said."""
    await post(client, "/twilio/voice", voice_params("CA1"))
    await post(client, "/twilio/voice/gather?t=1", voice_params("CA1", Digits="1"))
    for turn in (2, 3):  # the trades menu, then the next
        first, second = await asyncio.gather(
            post(client, f"/twilio/voice/gather?t={turn}", voice_params("CA1", Digits="1")),
            post(client, f"/twilio/voice/gather?t={turn}", voice_params("CA1", Digits="2")))
        assert first.status == second.status == 200
        assert await first.text() == await second.text()
    async with client.app[SESSIONS]() as session:
        call = await session.get(CallSession, "CA1")
    assert call.turn == 4


async def test_a_retried_incoming_call_webhook_is_answered_the_same(client):
    first = await post(client, "/twilio/voice", voice_params("CA1"))
    again = await post(client, "/twilio/voice", voice_params("CA1"))
    assert await first.text() == await again.text()
    assert await count(client, CallSession) == 1


@pytest.fixture
async def thread_trips(client, database_url, trips) -> list:
    """Every trip to SQLite's database thread from now on. Calls start and end and
    messages report in bursts, and such a trip holds SQLite's one connection (every turn
    queues behind it) until a busy event loop gets back to it."""
    if not database_url.startswith("sqlite"):
        pytest.skip("SQLite's driver makes the trips; PostgreSQL's is asyncpg")
    # A connection's first commit goes to the thread (its WAL may start afresh), as does
    # every 100th and the one after it (sqlite_driver.CHECKPOINT_EVERY_COMMITS): two calls
    # make it commit twice, leaving the next checkpoint far off.
    for warm_up in ("CA1", "CA2"):
        await post(client, "/twilio/voice", voice_params(warm_up))
    trips.clear()
    return trips


async def test_a_call_starts_and_ends_without_a_trip_to_the_database_thread(
        client, thread_trips):
    await post(client, "/twilio/voice", voice_params("CA3"))
    ended = await post(client, "/twilio/status", voice_params("CA3", CallStatus="completed"))
    assert ended.status == 204
    assert thread_trips == []
    async with client.app[SESSIONS]() as session:
        call = await session.get(CallSession, "CA3")
    assert call.status == "completed" and call.ended_at is not None


async def test_a_message_status_is_recorded_without_a_trip_to_the_database_thread(
        client, clock, thread_trips):
    async with client.app[SESSIONS]() as session, session.begin():
        session.add(OutboundSms(dedupe_key="k1", phone="+8613800000001", body="好", kind="reply",
                                status="sent", next_attempt_at=clock(), carrier_sid="SM1",
                                created_at=clock(), updated_at=clock()))
    thread_trips.clear()
    delivered = await post(client, "/twilio/status",
                           {"MessageSid": "SM1", "MessageStatus": "delivered"})
    assert delivered.status == 204
    assert thread_trips == []
    async with client.app[SESSIONS]() as session:
        sms = await session.scalar(select(OutboundSms).where(OutboundSms.carrier_sid == "SM1"))
    assert sms.status == "delivered"


async def test_a_status_for_a_message_we_never_sent_is_logged_by_sid_and_status(client,
                                                                               caplog):
    caplog.set_level(logging.INFO, logger="telephony.webhooks")
    response = await post(client, "/twilio/status", {
        "MessageSid": "SM" + "9" * 32, "MessageStatus": "delivered",
        "From": "+863592123456", "To": "+8613800000001", "AccountSid": "AC" + "0" * 32})
    assert response.status == 204
    [line] = [r.getMessage() for r in caplog.records if "never saw" in r.getMessage()]
    assert "SM" + "9" * 32 in line and "delivered" in line
    assert "13800000001" not in line and "AC" not in line


async def test_gather_for_a_call_we_never_saw_starts_it_afresh(client):
    response = await post(client, "/twilio/voice/gather?t=7", voice_params("CAunknown", Digits="1"))
    assert response.status == 200
    assert "零工热线" in says(await response.text())[0]


async def test_withheld_number_hears_why(client):
    response = await post(client, "/twilio/voice", voice_params("CA1", caller="anonymous"))
    assert response.status == 200
    assert "号码是隐藏的" in says(await response.text())[0]


@pytest.mark.parametrize("path, params, reason", [
    ("/twilio/voice", {"From": "+8613800000001"}, "missing CallSid"),
    ("/twilio/voice/gather", voice_params("CA1", Digits="1"), "turn number"),
    ("/twilio/voice/gather?t=x", voice_params("CA1", Digits="1"), "turn number"),
    ("/twilio/voice", voice_params("CA1", From="+86" + "1" * 5000), "not a short text field"),
    ("/twilio/voice/record?t=1", voice_params("CA1", RecordingDuration="ten"), "not a number"),
    ("/twilio/sms", {"MessageSid": "SM1", "From": "not-a-phone", "Body": "hi"}, "From"),
    ("/twilio/sms", {"From": "+8613800000001", "Body": "hi"}, "missing MessageSid"),
    ("/twilio/status", {"CallSid": "CA1"}, "missing CallStatus"),
])
async def test_hostile_or_incomplete_parameters_get_a_400_with_a_reason(
    client, path, params, reason
):
    response = await post(client, path, params)
    assert response.status == 400
    assert reason in await response.text()


async def test_a_caller_number_that_is_not_utf8_is_treated_as_withheld(client):
    body = b"CallSid=CA1&From=%FF%FE"
    # aiohttp decodes bad bytes as U+FFFD; Twilio's signature would cover the same text.
    params = {"CallSid": "CA1", "From": "\ufffd\ufffd"}
    headers = signed_headers(TOKEN, PUBLIC + "/twilio/voice", params)
    headers["Content-Type"] = "application/x-www-form-urlencoded; charset=utf-8"
    response = await client.post("/twilio/voice", data=body, headers=headers)
    assert response.status == 200
    assert "号码是隐藏的" in says(await response.text())[0]


async def test_a_huge_body_is_refused(client):
    params = voice_params("CA1", Junk="x" * 2_000_000)
    headers = signed_headers(TOKEN, PUBLIC + "/twilio/voice", params)
    headers["Content-Type"] = "application/x-www-form-urlencoded"
    body = io.BytesIO(urlencode(params).encode())
    response = await client.post("/twilio/voice", data=body, headers=headers)
    assert response.status == 413
    assert await count(client, CallSession) == 0


def sms(sid: str, body: str, phone: str = "+8613800000001") -> dict:
    return {"MessageSid": sid, "SmsSid": sid, "AccountSid": "AC" + "0" * 31 + "1",
            "From": phone, "To": "+863592123456", "Body": body, "NumMedia": "0",
            "NumSegments": "1", "ApiVersion": "2010-04-01"}


async def test_stop_opts_out_once_even_when_twilio_retries(client):
    for _ in range(2):
        response = await post(client, "/twilio/sms", sms("SM1", " 退订 "))
        assert response.status == 200
        assert "<Response" in await response.text()
    assert await count(client, InboundSms) == 1
    async with client.app[SESSIONS]() as session:
        assert (await session.get(OptOut, "+8613800000001")).opted_out
        replies = list(await session.scalars(select(OutboundSms)))
    assert [r.kind for r in replies] == ["opt_out_ack"]
    assert "已退订" in replies[0].body


async def test_an_accept_by_code_retried_is_stored_and_answered_once(client):
    # Not a registered worker: refused before anything is written, then stored with
    # its answer.
    for _ in range(2):
        response = await post(client, "/twilio/sms", sms("SM2", "J101"))
        assert response.status == 200
    async with client.app[SESSIONS]() as session:
        stored = list(await session.scalars(select(InboundSms)))
        replies = list(await session.scalars(select(OutboundSms)))
    assert [(m.message_sid, m.body, m.intent) for m in stored] == [("SM2", "J101", "accept")]
    assert [(r.kind, r.status, r.phone) for r in replies] == [
        ("reply", "pending", "+8613800000001")]
    assert "看不懂" in replies[0].body


async def test_an_opted_out_number_refused_by_code_is_answered_by_no_sms(client):
    await post(client, "/twilio/sms", sms("SM1", "退订"))
    await post(client, "/twilio/sms", sms("SM2", "J101"))
    async with client.app[SESSIONS]() as session:
        replies = list(await session.scalars(select(OutboundSms).order_by(OutboundSms.id)))
    assert [(r.kind, r.status) for r in replies] == [
        ("opt_out_ack", "pending"), ("reply", "suppressed")]


@pytest.mark.parametrize("body, intent_text", [
    ("td", "已退订"), ("ＳＴＯＰ", "已退订"), ("T", "已退订"), ("订阅", "已恢复"),
    ("help", "请拨打"), ("帮助", "请拨打"), ("我想找活", "看不懂"), ("", "看不懂"),
])
async def test_every_sms_gets_a_plain_answer(client, body, intent_text):
    await post(client, "/twilio/sms", sms("SM9", body))
    async with client.app[SESSIONS]() as session:
        reply = await session.scalar(select(OutboundSms))
    assert intent_text in reply.body
    assert len(reply.body) <= 70, "one UCS-2 segment"


async def test_healthz(client):
    response = await client.get("/healthz")
    assert response.status == 200
    assert (await response.json())["database"] == "ok"
