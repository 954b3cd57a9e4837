"""The channel interface from the carrier's side: JSON Line's webhooks refuse what its
carrier did not sign or would not send, and each carrier's status words reach the outbox
through its one table, a word it never documented taken as a failure we can see."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from gigline.app import create_app
from gigline.keys import SESSIONS
from store.models import OutboundSms
from store.statuses import OutboxStatus
from telephony.jsonline.channel import JsonLineChannel
from telephony.jsonline.signing import SIGNATURE_HEADER, signature
from tests.conftest import make_settings
from tests.twilio_signing import signed_headers

PUBLIC = "http://127.0.0.1:8080"
SECRET = "test-token-0123456789"


@pytest.fixture
async def jsonline(aiohttp_client, database_url, clock):
    app = create_app(make_settings(database_url, 8080), clock=clock,
                     channel=JsonLineChannel(secret=SECRET, public_url=PUBLIC))
    return await aiohttp_client(app)


@pytest.fixture
async def twilio(aiohttp_client, database_url, clock):
    return await aiohttp_client(create_app(make_settings(database_url, 8080), clock=clock))


async def post_json(client, path: str, fields, *, secret: str = SECRET, raw: bytes | None = None):
    body = raw if raw is not None else json.dumps(fields).encode()
    return await client.post(path, data=body, headers={
        "Content-Type": "application/json",
        SIGNATURE_HEADER: signature(secret, PUBLIC + path, body)})


async def queued_sms(client, sid: str) -> None:
    async with client.app[SESSIONS]() as session, session.begin():
        now = datetime.now(UTC)
        session.add(OutboundSms(phone="+8613800000001", body="急招焊工", kind="alert",
                                dedupe_key="alert:1", status="queued", carrier_sid=sid,
                                created_at=now, updated_at=now, next_attempt_at=now))


async def status_of(client, sid: str) -> str:
    async with client.app[SESSIONS]() as session:
        return await session.scalar(
            select(OutboundSms.status).where(OutboundSms.carrier_sid == sid))


async def test_a_call_over_json_line_is_answered_in_its_steps(jsonline):
    response = await post_json(jsonline, "/jsonline/voice", {
        "call": "JL1", "from": "+8613800000001", "to": "+863592123456"})
    assert response.status == 200 and response.content_type == "application/json"
    steps = (await response.json())["steps"]
    ask = steps[-1]["ask"]
    assert "同意请按1" in ask["say"][-1]
    assert ask["next"] == f"{PUBLIC}/jsonline/voice/keys?t=1"


@pytest.mark.parametrize(("secret", "status", "reason"), [
    (None, 403, "missing X-Line-Signature"),
    ("someone-else-0123456789", 403, "invalid X-Line-Signature"),
])
async def test_json_line_refuses_what_its_carrier_did_not_sign(jsonline, secret, status,
                                                               reason):
    fields = {"call": "JL1", "from": "+8613800000001", "to": "+863592123456"}
    if secret is None:
        response = await jsonline.post("/jsonline/voice", json=fields)
    else:
        response = await post_json(jsonline, "/jsonline/voice", fields, secret=secret)
    assert response.status == status and reason in await response.text()


@pytest.mark.parametrize(("path", "raw", "reason"), [
    ("/jsonline/voice", b"not json", "not JSON"),
    ("/jsonline/voice", b"[1, 2]", "not a JSON object"),
    ("/jsonline/voice", b'{"from": "+8613800000001"}', "missing call"),
    ("/jsonline/voice", b'{"call": 7}', "call is not a short text field"),
    ("/jsonline/voice/keys", b'{"call": "JL1", "keys": "1"}', "lost its t number"),
    ("/jsonline/voice/alert?offer=x", b'{"call": "JL1", "to": "+8613800000001"}',
     "lost its offer number"),
    ("/jsonline/voice/recording?t=1", b'{"call": "JL1", "recording": "loud"}',
     "recording is not an object"),
    ("/jsonline/voice/dance?t=1", b'{"call": "JL1"}', "no voice webhook"),
    ("/jsonline/sms", b'{"id": "JM1", "from": "nobody", "text": "hi"}',
     "from is not a phone number"),
    ("/jsonline/status", b'{"message": "JM1"}', "missing state"),
])
async def test_json_line_answers_a_malformed_request_with_a_reason(jsonline, path, raw,
                                                                   reason):
    response = await post_json(jsonline, path, None, raw=raw)
    assert response.status == 400 and reason in await response.text()


async def test_json_line_delivery_reports_reach_the_outbox(jsonline):
    await queued_sms(jsonline, "JM1")
    response = await post_json(jsonline, "/jsonline/status",
                               {"message": "JM1", "state": "delivered"})
    assert response.status == 204
    assert await status_of(jsonline, "JM1") == OutboxStatus.DELIVERED


async def test_a_status_word_twilio_never_documented_is_a_failure_we_can_see(twilio,
                                                                             caplog):
    caplog.set_level(logging.WARNING)
    await queued_sms(twilio, "SM" + "1" * 32)
    fields = {"MessageSid": "SM" + "1" * 32, "MessageStatus": "teleported",
              "AccountSid": "AC" + "0" * 32}
    response = await twilio.post("/twilio/status", data=fields, headers=signed_headers(
        SECRET, PUBLIC + "/twilio/status", fields))
    assert response.status == 204
    assert await status_of(twilio, "SM" + "1" * 32) == OutboxStatus.FAILED
    assert any("'teleported'" in r.getMessage() for r in caplog.records)


async def test_the_same_word_in_jsonline_unknown_is_a_failure_too(jsonline, caplog):
    caplog.set_level(logging.WARNING)
    await queued_sms(jsonline, "JM2")
    await post_json(jsonline, "/jsonline/status", {"message": "JM2", "state": "teleported"})
    assert await status_of(jsonline, "JM2") == OutboxStatus.FAILED
    assert any("'teleported'" in r.getMessage() for r in caplog.records)
