"""The outbox under faults, against the local carrier's REST API: opt-outs with messages
waiting, carriers that answer late or not at all, identical messages, slow requests, and
delivery statuses and call ends whose callbacks never came."""

from __future__ import annotations

import asyncio
import time

import pytest
from sqlalchemy import select, update

from gigline.keys import CARRIER, DESK, SENDER, SESSIONS
from hotline.calls import end_stale_calls
from market.outbox import enqueue_sms
from store.models import CallSession, OutboundSms
from tests.outbox_fixtures import PHONE, add, outbox_hotline, real_time_clock, rows  # noqa: F401

LEASE_SECONDS = 2  # the carrier's requests time out at a quarter of it: 0.5 s


@pytest.fixture
async def hotline(database_url, clock):
    async with outbox_hotline(database_url, clock, GIGLINE_SMS_RATE="50",
                              GIGLINE_OUTBOX_LEASE_SECONDS=str(LEASE_SECONDS)) as running:
        yield running


def sent_to(hotline, phone: str = PHONE) -> list[str]:
    """The bodies the carrier took for this phone, oldest first."""
    return [m.body for m in reversed(hotline.carrier.messages()) if m.to == phone]


async def test_an_opt_out_with_messages_waiting_suppresses_them_and_freezes_nothing(
        hotline, clock):
    for n in range(5):
        await add(hotline, clock, f"k{n}", body=f"通知{n}")
    await hotline.carrier.send_sms(PHONE, "TD")  # the phone texts the hotline
    sender = hotline.app[SENDER]
    started = time.monotonic()
    report = await sender.send_due()
    report.add(await sender.send_due())
    assert time.monotonic() - started < 2
    assert report.suppressed == 5 and report.sent == 1, "only the opt-out confirmation"
    await hotline.carrier.drain()
    assert [sms.body for sms in hotline.carrier.inbox(PHONE)] == [
        r.body for r in await rows(hotline) if r.kind == "opt_out_ack"]
    call = await hotline.carrier.place_call("+8613900000002")
    assert call.prompts, "the hotline still answers"
    await call.hang_up()


async def test_an_opt_out_is_confirmed_ahead_of_an_alert_backlog(database_url, clock):
    async with outbox_hotline(database_url, clock, GIGLINE_SMS_RATE="1",
                              GIGLINE_OUTBOX_INTERVAL="1") as running:
        for n in range(5):
            await add(running, clock, f"alert{n}", phone=f"+861380000010{n}", priority=1)
        await running.carrier.send_sms(PHONE, "TD")
        assert (await running.app[SENDER].send_due()).sent == 1, "one a second"
        confirmation = await running.carrier.wait_for_sms(PHONE)
        assert "已退订" in confirmation.body


async def test_a_late_answer_is_reconciled_not_sent_again(hotline, clock):
    await add(hotline, clock, "k1")
    hotline.carrier.delay_next(2.0)  # taken by the carrier; the answer comes after our timeout
    report = await hotline.app[SENDER].send_due()
    assert report.unknown == 1 and report.retried == 0
    [row] = await rows(hotline)
    assert row.status == "unknown" and row.carrier_sid is None
    clock.advance(seconds=6)
    report = await hotline.app[SENDER].send_due()
    assert report.reconciled == 1 and report.sent == 0
    [row] = await rows(hotline)
    assert row.status == "queued" and row.carrier_sid == hotline.carrier.messages()[0].sid
    assert sent_to(hotline) == ["测试短信"], "the phone got it once"


async def test_a_request_lost_on_the_way_is_asked_about_then_sent_once(hotline, clock):
    await add(hotline, clock, "k1")
    hotline.carrier.hang_next(2.0)  # dropped: the carrier never took it
    sender = hotline.app[SENDER]
    assert (await sender.send_due()).unknown == 1
    clock.advance(seconds=6)
    assert (await sender.send_due()).retried == 1, "the carrier has nothing: due again"
    assert (await sender.send_due()).sent == 1
    assert sent_to(hotline) == ["测试短信"]


async def test_a_failure_the_carrier_answered_is_retried_without_asking(hotline, clock):
    await add(hotline, clock, "k1")
    hotline.carrier.fail_next(1, status=503, code=20503, message="busy")
    sender = hotline.app[SENDER]
    assert (await sender.send_due()).retried == 1
    clock.advance(seconds=6)
    report = await sender.send_due()
    assert report.sent == 1 and report.reconciled == 0
    assert sent_to(hotline) == ["测试短信"]


async def test_two_identical_texts_are_told_apart_when_one_is_in_doubt(hotline, clock):
    """The first went out and was recorded; the second, word for word the same, is taken
    by the carrier but its answer is lost. Asking the carrier must find the second
    message, not the first one again."""
    await add(hotline, clock, "first", body="明天7点开工")
    sender = hotline.app[SENDER]
    assert (await sender.send_due()).sent == 1
    await add(hotline, clock, "second", body="明天7点开工")
    hotline.carrier.delay_next(2.0)
    assert (await sender.send_due()).unknown == 1
    clock.advance(seconds=6)
    assert (await sender.send_due()).reconciled == 1
    first, second = await rows(hotline)
    assert {first.carrier_sid, second.carrier_sid} == {m.sid for m in hotline.carrier.messages()}
    assert first.carrier_sid != second.carrier_sid
    assert sent_to(hotline) == ["明天7点开工", "明天7点开工"]


async def test_two_alert_calls_to_one_worker_are_told_apart_when_one_is_in_doubt(
        hotline, clock):
    hotline.carrier.set_answer(PHONE, "no-answer")  # only the placing matters here
    sender = hotline.app[SENDER]
    for key in ("alert-call-1", "alert-call-2"):
        async with hotline.app[SESSIONS]() as session, session.begin():
            await enqueue_sms(session, dedupe_key=key, phone=PHONE, channel="call",
                              body=f"{hotline.url}/twilio/voice/alert?offer=1", kind="alert",
                              now=clock())
        if key == "alert-call-2":
            hotline.carrier.hang_next(2.0)  # the second call is never placed
        await sender.send_due()
    clock.advance(seconds=6)
    assert (await sender.send_due()).retried == 1, "the first call is not taken for it"
    assert (await sender.send_due()).sent == 1
    first, second = await rows(hotline)
    placed = {call.sid for call in hotline.carrier.calls()}
    assert len(placed) == 2 and {first.carrier_sid, second.carrier_sid} == placed


async def test_an_identical_text_that_never_reached_the_carrier_is_sent(hotline, clock):
    """The second identical text was cut off before the carrier took it (the process
    died): asking the carrier must not take the first one for it."""
    await add(hotline, clock, "first", body="明天7点开工")
    sender = hotline.app[SENDER]
    assert (await sender.send_due()).sent == 1
    await add(hotline, clock, "second", body="明天7点开工")
    clock.advance(seconds=1)
    await sender.claim()  # claimed, then the process dies before sending
    clock.advance(seconds=LEASE_SECONDS + 1)
    assert (await sender.send_due()).retried == 1, "the carrier has no second message"
    assert (await sender.send_due()).sent == 1
    assert sent_to(hotline) == ["明天7点开工", "明天7点开工"]


async def test_a_carrier_that_is_down_gets_one_message_at_a_time_until_it_is_back(
        hotline, clock):
    phones = [f"+86138000001{n:02d}" for n in range(20)]
    for n, phone in enumerate(phones):
        await add(hotline, clock, f"k{n}", phone=phone)
    hotline.carrier.outage()
    sender = hotline.app[SENDER]
    for _ in range(6):  # a minute of sweeps while the carrier refuses everything
        await sender.send_due()
        clock.advance(seconds=10)
    refused = hotline.carrier.faults.stats.refused_in_outage
    assert refused < 20, f"paused after the first failures, not {refused} requests"
    hotline.carrier.restore()
    clock.advance(seconds=30)
    report = await sender.send_due()
    assert report.sent == 1, "one message first, to see the carrier is back"
    sent = sum([(await sender.send_due()).sent for _ in range(3)])  # 8 in flight at most
    assert sent == 19, "then the rest with no wait: none was held back by the outage"
    assert max(row.attempts for row in await rows(hotline)) <= refused


async def test_a_slow_request_delays_no_other_message(hotline, clock):
    phones = [f"+861380000010{n}" for n in range(5)]
    for n, phone in enumerate(phones):
        await add(hotline, clock, f"k{n}", phone=phone)
    hotline.carrier.delay_next(0.4)  # the first request is slow (within the timeout)
    sender = hotline.app[SENDER]
    started = time.monotonic()
    sends = await sender.dispatch()
    assert len(sends) == 5, "all in flight at once"
    for phone in phones[1:]:
        await hotline.carrier.wait_for_sms(phone)
    assert time.monotonic() - started < 0.35, "the others did not wait for the slow one"
    await asyncio.gather(*sends)
    assert all(row.carrier_sid for row in await rows(hotline))


async def test_no_more_requests_than_the_concurrency_setting_are_in_flight(database_url, clock):
    async with outbox_hotline(database_url, clock, GIGLINE_SMS_RATE="50",
                              GIGLINE_SMS_CONCURRENCY="2") as running:
        for n in range(5):
            await add(running, clock, f"k{n}", phone=f"+861380000010{n}")
        sender = running.app[SENDER]
        running.carrier.delay_next(0.3, count=5)
        first = await sender.dispatch()
        assert len(first) == 2 and await sender.dispatch() == []
        await asyncio.gather(*first)
        assert len(await sender.dispatch()) == 2


async def test_a_delivery_whose_callback_was_lost_is_asked_for(hotline, clock):
    await add(hotline, clock, "k1")
    sender = hotline.app[SENDER]
    assert (await sender.send_due()).sent == 1
    await hotline.carrier.drain()
    async with hotline.app[SESSIONS]() as session, session.begin():
        # As if the callbacks had reached a dead process: we still say "queued".
        await session.execute(update(OutboundSms).values(status="queued"))
    assert await sender.check_statuses() == 0, "too early to ask: the callback may come"
    clock.advance(minutes=6)
    assert await sender.check_statuses() == 1
    [row] = await rows(hotline)
    assert row.status == "delivered"
    clock.advance(minutes=6)
    assert await sender.check_statuses() == 0, "final: not asked again"
    clock.advance(days=2)
    assert [r.status for r in await rows(hotline)] == ["delivered"]


async def test_a_stale_unsettled_row_is_asked_about_only_after_its_lease(hotline, clock):
    await add(hotline, clock, "k1")
    sender = hotline.app[SENDER]
    await sender.claim()
    assert (await sender.send_due()).retried == 0, "another process may still be sending it"
    clock.advance(seconds=LEASE_SECONDS + 1)
    assert (await sender.send_due()).retried == 1


async def test_a_call_whose_end_never_reached_us_is_ended_from_the_carrier(hotline, clock):
    call = await hotline.carrier.place_call("+8613900000002")
    await call.hang_up()
    await hotline.carrier.drain()
    async with hotline.app[SESSIONS]() as session, session.begin():
        # As if the "completed" callback had reached a dead process.
        await session.execute(update(CallSession).values(status="in-progress", ended_at=None))
    desk, carrier = hotline.app[DESK], hotline.app[CARRIER]
    assert await end_stale_calls(desk, carrier) == 0, "it may still be talking"
    clock.advance(hours=2)
    assert await end_stale_calls(desk, carrier) == 1
    async with hotline.app[SESSIONS]() as session:
        [row] = await session.scalars(select(CallSession))
    assert row.status == "completed" and row.ended_at is not None
