"""Instant hire end to end over real sockets: an agent posts a job through the API, the
scheduler's wave alerts workers through the local carrier (SMS or an automated call),
a worker takes it, the employer confirms by SMS, the worker gets the details."""

from __future__ import annotations

import aiohttp
import pytest
from sqlalchemy import select

from gigline.keys import CLOCK, SESSIONS
from store.models import Area, Hire, Offer, Trade, Worker
from tests.conftest import API_TOKEN

AUTH = {"Authorization": f"Bearer {API_TOKEN}"}
EMPLOYER_PHONE = "+8613900000001"


@pytest.fixture
def hotline(hiring_hotline):
    return hiring_hotline


async def add_worker(hotline, phone: str, *, channel: str = "sms", trade: str = "welder"):
    async with hotline.app[SESSIONS]() as session, session.begin():
        town = await session.scalar(select(Area).where(Area.name == "北城街道"))
        trades = list(await session.scalars(select(Trade).where(Trade.code == trade)))
        session.add(Worker(market_id=town.market_id, phone=phone, status="active",
                           created_at=hotline.app[CLOCK](), town_id=town.id,
                           district_id=town.parent_id, trades=trades, alert_channel=channel,
                           consent_at=hotline.app[CLOCK]()))


async def post_job(hotline, headcount: int = 1) -> dict:
    async with aiohttp.ClientSession(base_url=hotline.url, headers=AUTH) as http:
        employer = await (await http.post("/api/employers", json={
            "name": "安居建筑劳务有限公司", "phone": EMPLOYER_PHONE, "address": "运城",
            "credit_code": "91140802MA0K000005"})).json()
        await http.post(f"/api/employers/{employer['id']}/verification",
                        json={"state": "verified", "checked": "营业执照原件"})
        areas = await (await http.get("/api/areas")).json()
        town = next(t["id"] for d in areas for t in d["towns"] if t["name"] == "北城街道")
        response = await http.post("/api/jobs", json={
            "employer_id": employer["id"], "start_at": "2026-11-24T07:00:00", "days": 5,
            "town_id": town, "address": "河东东街88号工地",
            "lines": [{"trade": "welder", "headcount": headcount, "day_wage_yuan": 500}]})
        assert response.status == 201
        return await response.json()


async def offer_of(hotline, phone: str) -> Offer:
    async with hotline.app[SESSIONS]() as session:
        return await session.scalar(
            select(Offer).join(Worker, Worker.id == Offer.worker_id).where(Worker.phone == phone))


async def test_alert_by_sms_accept_by_sms_employer_confirms(hotline):
    carrier, worker = hotline.carrier, "+8613800000001"
    await add_worker(hotline, worker)
    job = await post_job(hotline)
    alert = await carrier.wait_for_sms(worker, predicate=lambda m: "急招" in m.body)
    assert job["code"] in alert.body and "500元" in alert.body
    await carrier.send_sms(worker, job["code"])
    await carrier.wait_for_sms(worker, predicate=lambda m: "已为您保留" in m.body)
    ask = await carrier.wait_for_sms(EMPLOYER_PHONE, predicate=lambda m: "应聘" in m.body)
    offer = await offer_of(hotline, worker)
    assert f"Y{offer.id}" in ask.body
    await carrier.wait_for_sms(EMPLOYER_PHONE, predicate=lambda m: "意外险" in m.body)
    await carrier.send_sms(EMPLOYER_PHONE, f"Y{offer.id}")
    details = await carrier.wait_for_sms(worker, predicate=lambda m: "录用了" in m.body)
    assert "11月24日07:00" in details.body
    await carrier.wait_for_sms(worker, predicate=lambda m: "河东东街88号工地" in m.body)
    await carrier.wait_for_sms(EMPLOYER_PHONE, predicate=lambda m: "已录用" in m.body)
    async with hotline.app[SESSIONS]() as session:
        hire = await session.scalar(select(Hire))
    assert hire.insurance_confirmed is True and "河东东街88号工地" in hire.contract_summary


async def test_alert_by_automated_call_pressing_1_then_the_employer_declines(hotline):
    carrier, worker = hotline.carrier, "+8613800000002"
    await add_worker(hotline, worker, channel="call")
    job = await post_job(hotline)
    call = await carrier.answered_call(worker, timeout=10)
    assert any("有个活想问问您" in p for p in call.prompts)
    assert any(p.startswith("焊工，一天500元，干5天，在北城街道，明天开工") for p in call.prompts)
    await call.press("1")
    assert any("名额给您留好了" in p for p in call.prompts)
    assert call.ended
    ask = await carrier.wait_for_sms(EMPLOYER_PHONE, predicate=lambda m: "应聘" in m.body)
    offer = await offer_of(hotline, worker)
    assert offer.channel == "alert_call" and offer.status == "accepted"
    assert f"N{offer.id}" in ask.body
    await carrier.send_sms(EMPLOYER_PHONE, f"否{offer.id}")
    await carrier.wait_for_sms(worker, predicate=lambda m: "没有录用" in m.body)
    async with aiohttp.ClientSession(base_url=hotline.url, headers=AUTH) as http:
        fetched = await (await http.get(f"/api/jobs/{job['id']}")).json()
        matches = await (await http.get(f"/api/jobs/{job['id']}/matches")).json()
    assert fetched["lines"][0]["filled"] == 0
    assert matches[0]["status"] == "declined" and matches[0]["score"]["nearness"] == 50


async def test_a_worker_who_calls_in_takes_the_job_and_the_employer_is_asked(hotline):
    carrier, worker = hotline.carrier, "+8613800000003"
    job = await post_job(hotline)  # posted before this worker registered: no alert
    await add_worker(hotline, worker)
    call = await carrier.place_call(worker)
    await call.press("1")
    assert call.prompts[-2].startswith("焊工，一天500元，干5天")
    await call.press("1")
    assert any("名额给您留好了" in p for p in call.new_prompts())
    await call.hang_up()
    ask = await carrier.wait_for_sms(EMPLOYER_PHONE, predicate=lambda m: "应聘" in m.body)
    assert job["code"] in ask.body
    assert (await offer_of(hotline, worker)).channel == "call_in"
