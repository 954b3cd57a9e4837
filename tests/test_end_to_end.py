"""Whole calls and SMS round trips over real sockets: the hotline on its embedded setup,
the local carrier playing Twilio and the phones."""

from __future__ import annotations

import aiohttp
import pytest
from sqlalchemy import select

from gigline.keys import SENDER, SESSIONS
from gigline.runtime import start_hotline
from store.models import (
    CallbackRequest,
    CallSession,
    CaseWorker,
    JobLine,
    Offer,
    OutboundSms,
    RightsCase,
    WageReport,
    Worker,
)
from tests.conftest import CARRIERS, free_port, make_settings, start_over

CALLER = "+8613800000001"
VALID_ID = "11010519491231002X"


async def running_over(carrier: str, database_url: str):
    settings = make_settings(database_url, free_port(),
                             GIGLINE_LOCAL_CARRIER_PORT=str(free_port()),
                             GIGLINE_SCHEDULER="1", GIGLINE_OUTBOX_INTERVAL="0.2",
                             GIGLINE_SMS_RATE="50")
    return await start_over(carrier, settings)


@pytest.fixture(params=CARRIERS)
async def hotline(database_url, request):
    running = await running_over(request.param, database_url)
    yield running
    await running.close()


@pytest.fixture
async def local_hotline(database_url):
    """The local carrier's own pages are the subject: Twilio's stand-in only."""
    running = await running_over("twilio", database_url)
    yield running
    await running.close()


async def worker_row(hotline, phone=CALLER) -> Worker | None:
    async with hotline.app[SESSIONS]() as session:
        return await session.scalar(select(Worker).where(Worker.phone == phone))


async def register_by_keypad(hotline, phone=CALLER):
    call = await hotline.carrier.place_call(phone)
    keys_pressed = ["1", "1", "1", "3", "2", "1", "2", "350#", "1", "1", "1",
                    VALID_ID.replace("X", "*")]
    for keys in keys_pressed:
        await call.press(keys)
    await call.record(2)
    await call.press("1")
    return call


async def test_a_worker_registers_by_keypad_and_gets_an_sms(hotline):
    call = await register_by_keypad(hotline)
    assert any("登记好了" in p for p in call.prompts)
    await call.hang_up()
    sms = await hotline.carrier.wait_for_sms(CALLER, predicate=lambda m: "登记成功" in m.body)
    worker = await worker_row(hotline)
    assert f"工号{worker.id:06d}" in sms.body
    assert len(sms.body) <= 70
    assert worker.status == "active" and worker.day_wage_fen == 35000
    assert worker.availability == "today" and worker.consent_call_sid == call.sid
    assert worker.id_number_last4 == "002X" and len(worker.id_number_hash) == 64
    assert worker.name_recording_url.startswith(hotline.carrier.rest_base)
    async with hotline.app[SESSIONS]() as session:
        stored = await session.get(CallSession, call.sid)
        worker = await session.scalar(select(Worker).where(Worker.phone == CALLER))
    assert stored.status == "completed" and stored.ended_at is not None
    assert VALID_ID[:17] not in str(stored.state) + stored.last_response


async def test_a_hang_up_mid_registration_keeps_what_was_entered(hotline):
    call = await hotline.carrier.place_call(CALLER)
    for keys in ["1", "3", "2", "1", "2"]:  # consent, 钢筋工, done, 盐湖区, 东郭镇
        await call.press(keys)
    await call.hang_up()
    worker = await worker_row(hotline)
    assert worker.status == "registering" and worker.town_id is not None

    again = await hotline.carrier.place_call(CALLER)
    assert any("接着上次" in p for p in again.prompts)
    assert "一天挣多少钱" in again.prompts[-1]


async def test_a_registered_worker_hears_an_offer_and_takes_a_slot(hotline):
    first = await register_by_keypad(hotline)
    await first.hang_up()
    call = await hotline.carrier.place_call(CALLER)
    assert any("欢迎回到" in p for p in call.prompts)
    await call.press("1")
    offer = call.prompts[-2]
    assert offer.startswith("焊工，一天500元，干10天，在北城街道")
    await call.press("1")
    assert any("名额给您留好了" in p for p in call.new_prompts())
    await call.hang_up()
    await hotline.carrier.wait_for_sms(CALLER, predicate=lambda m: "保留焊工名额" in m.body)
    async with hotline.app[SESSIONS]() as session:
        offer_row = await session.scalar(  # the demo's workers have offers too
            select(Offer).join(Worker, Worker.id == Offer.worker_id).where(Worker.phone == CALLER))
        line = await session.get(JobLine, offer_row.job_line_id)
    assert offer_row.status == "accepted" and offer_row.channel == "call_in"
    assert line.filled == 1


async def test_a_worker_reports_unpaid_wages_by_keypad_and_a_case_is_opened(hotline):
    first = await register_by_keypad(hotline)
    await first.hang_up()
    call = await hotline.carrier.place_call(CALLER)
    await call.press("3")
    await call.press("6400#")
    assert any("已经记下了" in p for p in call.new_prompts())
    await call.hang_up()
    sms = await hotline.carrier.wait_for_sms(CALLER, predicate=lambda m: "已立案" in m.body)
    worker = await worker_row(hotline)
    async with hotline.app[SESSIONS]() as session:
        report = await session.scalar(select(WageReport).where(WageReport.worker_id == worker.id))
        member = await session.scalar(select(CaseWorker).where(CaseWorker.worker_id == worker.id))
        case = await session.get(RightsCase, member.case_id)
    assert (report.amount_fen, report.call_sid) == (640000, call.sid)
    assert (member.owed_fen, case.owed_fen, case.opened_by) == (640000, 640000, "worker_call")
    assert f"C{case.id}" in sms.body


async def test_the_help_sms_names_the_number_set_for_workers_to_call(database_url):
    settings = make_settings(database_url, free_port(),
                             GIGLINE_LOCAL_CARRIER_PORT=str(free_port()),
                             GIGLINE_HOTLINE_NUMBER="0359-555 0000")
    running = await start_hotline(settings)
    try:
        await running.carrier.send_sms(CALLER, "帮助")
        await running.app[SENDER].send_due()
        help_sms = await running.carrier.wait_for_sms(CALLER)
        assert "0359 555 0000" in help_sms.body
    finally:
        await running.close()


async def test_a_person_sees_every_sms_the_local_carrier_carried_on_its_inbox_page(
        local_hotline):
    carrier = local_hotline.carrier
    await carrier.send_sms(CALLER, "<b>帮助</b>")
    await carrier.send_sms(CALLER, "帮助")
    await carrier.wait_for_sms(CALLER)
    async with aiohttp.ClientSession() as http, http.get(f"{carrier.rest_base}/inbox") as page:
        assert page.status == 200 and page.content_type == "text/html"
        html = await page.text()
    assert "&lt;b&gt;帮助&lt;/b&gt;" in html and "<b>帮助" not in html, "escaped"
    assert "0359" in html, "the answer Gigline sent"


async def test_sms_round_trip_help_stop_and_start(hotline):
    carrier = hotline.carrier
    await carrier.send_sms(CALLER, "帮助")
    help_sms = await carrier.wait_for_sms(CALLER)
    assert "0359" in help_sms.body
    await carrier.send_sms(CALLER, "退订")
    ack = await carrier.wait_for_sms(CALLER)
    assert "已退订" in ack.body
    await carrier.send_sms(CALLER, "你好")  # answered into the outbox, but never sent
    await carrier.send_sms(CALLER, "订阅")
    back = await carrier.wait_for_sms(CALLER)
    assert "已恢复" in back.body
    async with hotline.app[SESSIONS]() as session:
        statuses = {r.body[:10]: r.status for r in await session.scalars(select(OutboundSms))}
    assert "suppressed" in statuses.values()


async def test_zero_reaches_the_agents_on_duty(database_url):
    settings = make_settings(database_url, free_port(),
                             GIGLINE_LOCAL_CARRIER_PORT=str(free_port()),
                             GIGLINE_AGENT_NUMBERS="+8613900000099,+8613900000098")
    running = await start_hotline(settings)
    try:
        call = await running.carrier.place_call(CALLER)
        await call.press("0")
        assert call.dialed == ["+8613900000099", "+8613900000098"]
        assert "正在为您转接工作人员" in " ".join(call.prompts)
    finally:
        await running.close()


async def test_zero_without_agents_books_a_callback(hotline):
    call = await hotline.carrier.place_call(CALLER)
    await call.press("0")
    assert call.ended
    async with hotline.app[SESSIONS]() as session:
        request = await session.scalar(select(CallbackRequest))
    assert request.phone == CALLER and request.call_sid == call.sid
