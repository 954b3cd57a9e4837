"""Finding a worker by what they can tell an agent, and the worker's whole file: trades,
area, offers, hires with their pay checks, cases, and every call and SMS, newest first."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from market import worker_files
from store.models import InboundSms, Worker
from tests.test_wage_loop import WORKER, hired


async def search(market, text: str) -> list[worker_files.Found]:
    async with market.sessions() as session:
        return await worker_files.search(session, text, market_id=market.market_id)


@pytest.fixture
async def known(market) -> int:
    worker_id = await market.worker(WORKER, ["welder"], "北城街道", name="王建国",
                                    id_number_last4="002X")
    await market.worker("+8613800000002", ["cook"], "东郭镇", name="李秀英")
    return worker_id


@pytest.mark.parametrize("said", ["13800000001", "+8613800000001", "138 0000 0001",
                                  "王建", "002X", "002x"])
async def test_a_worker_is_found_by_what_they_can_tell(market, known, said):
    [found] = await search(market, said)
    assert found.worker_id == known and found.name == "王建国" and found.town == "北城街道"
    assert found.phone_masked == "138****0001", "a search shows no full phone number"


async def test_the_worker_number_as_printed_or_said(market, known):
    for said in (f"{known:06d}", str(known)):
        assert [f.worker_id for f in await search(market, said)] == [known]


@pytest.mark.parametrize("said", ["", " ", "王", "%", "13900000009"])
async def test_too_little_or_no_match_finds_no_one(market, known, said):
    assert await search(market, said) == []


async def test_a_wildcard_in_a_name_is_taken_literally(market, known):
    async with market.sessions() as session, session.begin():
        await session.execute(update(Worker).where(Worker.id == known).values(name="王_国"))
    assert [f.name for f in await search(market, "王_")] == ["王_国"]
    assert await search(market, "李_") == []


async def test_the_file_holds_the_offer_the_hire_and_every_sms(market):
    hire = await hired(market, days=2)
    async with market.sessions() as session, session.begin():
        session.add(InboundSms(message_sid="SM1", phone=WORKER, to_number="+863592123456",
                               body="J-accept", intent="accept", received_at=market.clock()))
    async with market.sessions() as session:
        file = await worker_files.worker_file(session, hire.worker_id,
                                              market_id=market.market_id)
    assert file.phone == WORKER and file.trades == ("焊工",) and file.town == "北城街道"
    assert file.district == "盐湖区" and file.alert_channel == "sms"
    [offer] = file.offers
    assert offer.status == "confirmed" and offer.trade == "焊工"
    [line] = file.hires
    assert line.hire_id == hire.id and line.owed_fen == 60000
    assert line.pay_checks and line.pay_checks[0][1] == 60000
    kinds = [c.kind for c in file.contacts]
    assert "sms_in" in kinds and "sms_out" in kinds
    assert [c.at for c in file.contacts] == sorted((c.at for c in file.contacts), reverse=True)
    assert any(c.kind == "sms_in" and c.detail == "J-accept" for c in file.contacts)
    assert any(c.kind == "sms_out" and offer.job_code in c.detail for c in file.contacts)


async def test_no_file_for_a_worker_of_another_market_or_none(market, known):
    async with market.sessions() as session:
        assert await worker_files.worker_file(session, known, market_id=market.market_id + 1) \
            is None
        assert await worker_files.worker_file(session, 10**6, market_id=market.market_id) \
            is None
