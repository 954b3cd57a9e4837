"""The outbox sender against the local carrier's REST API (Twilio's shapes and errors):
retries with backoff, no retry on permanent errors, never a message sent twice."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from gigline.keys import SENDER, SESSIONS
from hotline.sender import record_delivery_status
from market.outbox import enqueue_sms
from store.models import OutboundSms
from tests.outbox_fixtures import PHONE, add, outbox_hotline, real_time_clock, rows  # noqa: F401


@pytest.fixture
async def hotline(database_url, clock):
    async with outbox_hotline(database_url, clock, GIGLINE_SMS_RATE="20") as running:
        yield running


async def test_a_message_is_queued_once_sent_once_and_its_delivery_recorded(hotline, clock):
    assert await add(hotline, clock, "k1")
    assert not await add(hotline, clock, "k1"), "the same dedupe key queues nothing"
    report = await hotline.app[SENDER].send_due()
    assert report.sent == 1
    assert (await hotline.app[SENDER].send_due()).sent == 0
    sms = await hotline.carrier.wait_for_sms(PHONE)
    assert sms.body == "测试短信"
    await hotline.carrier.drain()  # the status callbacks: sent, then delivered
    [row] = await rows(hotline)
    assert row.status == "delivered" and row.carrier_sid == sms.sid and row.attempts == 1


@pytest.mark.parametrize("status, code", [(429, 20429), (500, 20500), (503, 20503)])
async def test_rate_limits_and_server_errors_are_retried_with_backoff(hotline, clock, status,
                                                                      code):
    await add(hotline, clock, "k1")
    hotline.carrier.fail_next(2, status=status, code=code, message="try later")
    sender = hotline.app[SENDER]
    assert (await sender.send_due()).retried == 1
    [row] = await rows(hotline)
    assert row.status == "pending" and row.error_code == code
    assert (await sender.send_due()).sent == 0, "not before its backoff has passed"
    clock.advance(seconds=6)
    assert (await sender.send_due()).retried == 1
    clock.advance(seconds=11)
    assert (await sender.send_due()).sent == 1
    await hotline.carrier.drain()
    assert len(hotline.carrier.inbox(PHONE)) == 1
    [row] = await rows(hotline)
    assert row.attempts == 3 and row.status == "delivered"


async def test_an_invalid_number_fails_at_once_without_retry(hotline, clock):
    await add(hotline, clock, "k1", phone="+8610")
    report = await hotline.app[SENDER].send_due()
    assert report.failed == 1
    clock.advance(hours=1)
    assert (await hotline.app[SENDER].send_due()).failed == 0
    [row] = await rows(hotline)
    assert row.status == "failed" and row.error_code == 21211


async def test_a_recipient_who_texted_stop_to_the_carrier_is_marked_opted_out(hotline, clock):
    await hotline.carrier.send_sms(PHONE, "STOP")  # Twilio's own opt-out handling
    await hotline.carrier.drain()
    async with hotline.app[SESSIONS]() as session, session.begin():
        # The carrier saw STOP before we did: pretend our record still says opted in.
        from store.models import OptOut
        await session.execute(OptOut.__table__.delete())
        await session.execute(OutboundSms.__table__.delete())
    await add(hotline, clock, "k1")
    assert (await hotline.app[SENDER].send_due()).failed == 1
    [row] = await rows(hotline)
    assert row.error_code == 21610
    async with hotline.app[SESSIONS]() as session:
        assert (await session.get(OptOut, PHONE)).opted_out
    await add(hotline, clock, "k2")
    [_, later] = await rows(hotline)
    assert later.status == "suppressed"


async def test_a_send_cut_off_after_the_carrier_took_it_is_not_sent_again(hotline, clock):
    await add(hotline, clock, "k1")
    sender = hotline.app[SENDER]
    hotline.carrier.delay_next(5.0)  # the carrier takes the message, the answer is late
    await sender.dispatch()
    await hotline.carrier.wait_for_sms(PHONE)  # the phone already has it
    await sender.abandon()  # the process dies before recording the outcome
    [row] = await rows(hotline)
    assert row.status == "claimed" and row.carrier_sid is None
    assert (await sender.send_due()).sent == 0, "the lease still holds"
    clock.advance(minutes=3)
    report = await sender.send_due()
    assert report.reconciled == 1 and report.sent == 0
    [row] = await rows(hotline)
    # The carrier's own status for it: still queued, or already delivered on a busy host.
    assert row.status in ("queued", "sent", "delivered")
    assert row.carrier_sid == hotline.carrier.messages()[0].sid
    assert len(hotline.carrier.messages()) == 1


async def test_a_send_cut_off_before_the_carrier_took_it_is_sent_after_the_lease(hotline, clock):
    await add(hotline, clock, "k1")
    sender = hotline.app[SENDER]
    [claimed], _ = await sender.claim()  # claimed, then the process dies before sending
    assert claimed.outcome_unknown is False
    clock.advance(minutes=3)
    report = await sender.send_due()
    assert report.retried == 1 and report.sent == 0, "asked first: the carrier has nothing"
    report = await sender.send_due()
    assert report.sent == 1 and report.reconciled == 0
    assert len(hotline.carrier.messages()) == 1


async def test_urgent_messages_go_first_within_the_rate_limit(database_url, clock):
    async with outbox_hotline(database_url, clock, GIGLINE_SMS_RATE="1",
                              GIGLINE_OUTBOX_INTERVAL="2") as running:
        async with running.app[SESSIONS]() as session, session.begin():
            for n in range(3):
                await enqueue_sms(session, dedupe_key=f"notice{n}", phone=f"+861380000010{n}",
                                  body=f"通知{n}", kind="test", now=clock(), priority=5)
            await enqueue_sms(session, dedupe_key="alert", phone=PHONE, body="急招", kind="test",
                              now=clock(), priority=1)
        assert (await running.app[SENDER].send_due()).sent == 2, "1/s for a 2 s sweep"
        assert (await running.app[SENDER].send_due()).sent == 0, \
            "a sweep asked for at once shares the budget: the carrier's rate holds"
        await running.carrier.drain()
        assert [m.body for m in running.carrier.messages()][::-1] == ["急招", "通知0"]


async def test_a_recipients_messages_keep_their_order_whatever_their_urgency(hotline, clock):
    async with hotline.app[SESSIONS]() as session, session.begin():
        await enqueue_sms(session, dedupe_key="notice", phone=PHONE, body="通知", kind="test",
                          now=clock(), priority=5)
        await enqueue_sms(session, dedupe_key="alert", phone=PHONE, body="急招", kind="test",
                          now=clock(), priority=1)
    sender = hotline.app[SENDER]
    assert (await sender.send_due()).sent == 1, "one at a time to one phone"
    assert (await sender.send_due()).sent == 1
    await hotline.carrier.drain()
    assert [m.body for m in hotline.carrier.inbox(PHONE)] == ["通知", "急招"]


async def test_a_status_callback_that_overtakes_the_send_is_applied(hotline, clock):
    assert await add(hotline, clock, "k-early")
    # The callback arrives before the sender has saved the message's sid (a fast carrier).
    early = asyncio.create_task(record_delivery_status(
        hotline.app[SESSIONS], "SM" + "e" * 32, "delivered", None, clock()))
    await asyncio.sleep(0.1)
    async with hotline.app[SESSIONS]() as session, session.begin():
        [row] = await session.scalars(select(OutboundSms))
        row.status, row.carrier_sid = "queued", "SM" + "e" * 32
    assert await early
    [row] = await rows(hotline)
    assert row.status == "delivered"
    assert not await record_delivery_status(hotline.app[SESSIONS], "SM" + "0" * 32,
                                            "delivered", None, clock()), "not ours"
