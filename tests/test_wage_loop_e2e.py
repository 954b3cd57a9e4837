"""The wage loop through the real app: a "were you paid?" call through the local carrier
answered by keypad, and the agents' API for cases, corrections and figures."""

from __future__ import annotations

from datetime import UTC, datetime

import aiohttp
import pytest
from sqlalchemy import select

from gigline.keys import MARKET_SWEEP, SESSIONS
from store.models import AuditEntry, Hire, PayCheck, RightsCase
from tests.test_instant_hire_e2e import AUTH, EMPLOYER_PHONE, add_worker, offer_of, post_job

WORKER = "+8613800000007"


@pytest.fixture
def hotline(hiring_hotline):
    return hiring_hotline


async def hire_by_sms(hotline, channel: str | None = None) -> Hire:
    """The job of tests/test_instant_hire_e2e: 5 days from 11-24 07:00, ¥500 a day."""
    carrier = hotline.carrier
    await add_worker(hotline, WORKER, channel=channel)
    job = await post_job(hotline)
    if channel == "call":
        call = await carrier.answered_call(WORKER, timeout=10)
        await call.press("1")
    else:
        await carrier.wait_for_sms(WORKER, predicate=lambda m: "急招" in m.body)
        await carrier.send_sms(WORKER, job["code"])
    await carrier.wait_for_sms(EMPLOYER_PHONE, predicate=lambda m: "应聘" in m.body)
    offer = await offer_of(hotline, WORKER)
    await carrier.send_sms(EMPLOYER_PHONE, f"Y{offer.id}")
    await carrier.wait_for_sms(WORKER, predicate=lambda m: "录用了" in m.body)
    if channel == "call":  # and a call reads the contract to a worker who may not read
        told = await carrier.answered_call(WORKER, timeout=10)
        assert any("老板确认录用您了" in p for p in told.prompts)
        assert any("河东东街88号工地" in p and "日薪500元" in p for p in told.prompts)
        await told.hang_up()
    async with hotline.app[SESSIONS]() as session:
        return await session.scalar(select(Hire))


async def test_the_pay_question_by_automated_call_answered_partly_by_keypad(hotline, clock):
    hire = await hire_by_sms(hotline, channel="call")
    for moment in (datetime(2026, 11, 23, 23, 1, tzinfo=UTC),   # 11-24 07:01 started
                   datetime(2026, 11, 28, 1, 0, tzinfo=UTC),    # 11-28 09:00 employer told
                   datetime(2026, 11, 28, 11, 0, tzinfo=UTC)):  # 11-28 19:00 worker asked
        clock.now = moment
        await hotline.app[MARKET_SWEEP].run()
    due = await hotline.carrier.wait_for_sms(EMPLOYER_PHONE, predicate=lambda m: "今天应付" in
                                             m.body)
    assert "2500元" in due.body
    call = await hotline.carrier.answered_call(WORKER, timeout=10)
    assert any("付清了吗" in p and "2500元" in p for p in call.prompts)
    await call.press("3")
    assert "收到了多少钱" in call.prompts[-1]
    await call.press("3000#")
    assert "要少于2500元" in " ".join(call.new_prompts()), "more than owed is refused"
    await call.press("2000#")
    assert call.ended and any("工作人员会帮您维权" in p for p in call.prompts)
    async with hotline.app[SESSIONS]() as session:
        check = await session.scalar(select(PayCheck))
        hire = await session.get(Hire, hire.id)
    assert check.status == "partly" and check.paid_fen == 200000 and check.answered_via == "call"
    assert hire.status == "unpaid" and hire.paid_fen == 200000
    firm = await hotline.carrier.wait_for_sms(EMPLOYER_PHONE, predicate=lambda m: "欠薪" in m.body)
    assert "欠薪500元" in firm.body


async def test_agents_work_a_case_through_the_api(hotline, clock):
    hire = await hire_by_sms(hotline)
    carrier = hotline.carrier
    await carrier.send_sms(WORKER, "欠薪")
    await carrier.wait_for_sms(WORKER, predicate=lambda m: "已立案" in m.body)
    async with aiohttp.ClientSession(base_url=hotline.url, headers=AUTH) as http:
        [case] = await (await http.get("/api/cases?status=open")).json()
        detail = await (await http.get(f"/api/cases/{case['id']}")).json()
        assert detail["employer"]["phone"] == EMPLOYER_PHONE
        assert detail["site"]["address"] == "河东东街88号工地"
        [worker] = detail["workers"]
        assert worker["hire"]["contract_summary"].startswith("用工方：安居建筑劳务有限公司")
        assert any(m["body"] == "欠薪" and m["direction"] == "in" for m in worker["sms"])
        assert detail["history"][0]["kind"] == "opened"
        employer = await (await http.get(f"/api/employers/{detail['employer']['id']}")).json()
        assert employer["open_cases"] == [case["id"]] and employer["alerts_held"] is True
        bad = await http.post(f"/api/cases/{case['id']}/actions",
                              json={"action": "recovered"})
        assert bad.status == 422 and (await bad.json())["field"] == "amount_yuan"
        bad = await http.post(f"/api/cases/{case['id']}/actions",
                              json={"action": "refer", "referral": "court"})
        assert bad.status == 422 and (await bad.json())["field"] == "referral"
        for body in ({"action": "assign"}, {"action": "refer", "referral": "platform"},
                     {"action": "recovered", "amount_yuan": 2500}, {"action": "close"}):
            response = await http.post(f"/api/cases/{case['id']}/actions", json=body)
            assert response.status == 200, await response.text()
        closed = await http.post(f"/api/cases/{case['id']}/actions", json={"action": "note"})
        assert closed.status == 409
        corrected = await http.patch(f"/api/hires/{hire.id}", json={"days_worked": 4})
        assert (await corrected.json())["owed_fen"] == 200000
        cleared = await http.post(f"/api/employers/{detail['employer']['id']}/clear")
        assert cleared.status == 200
        figures = await (await http.get("/api/figures?from=2026-11-23&to=2026-11-23")).json()
        bad_period = await http.get("/api/figures?from=2026-11-23")
    await carrier.wait_for_sms(WORKER, predicate=lambda m: "为您追回2500元" in m.body)
    assert figures["recommended"] == 1 and figures["hired"] == 1
    assert figures["unpaid_cases_opened"] == 1 and figures["unpaid_cases_resolved"] == 1
    assert figures["amount_recovered_fen"] == 250000
    assert bad_period.status == 400
    async with hotline.app[SESSIONS]() as session:
        case_row = await session.scalar(select(RightsCase))
        audit = set(await session.scalars(select(AuditEntry.action)))
    assert case_row.status == "closed" and case_row.referred_to == "platform"
    assert {"case_viewed", "hire_corrected", "employer_cleared"} <= audit
