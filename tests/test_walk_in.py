"""A worker registered or corrected at the window: the hotline's checks, the hotline's
registration SMS, the agent's consent in the audit log, and a bad field changes nothing."""

from __future__ import annotations

import dataclasses
from datetime import date

import pytest
from sqlalchemy import func, select

from market import walk_in
from market.jobs import Conflict, MarketError, NotFound
from store.models import AuditEntry, OutboundSms, Worker
from tests.market_world import CATALOGUE

VALID_ID = "11010519491231002X"
PHONE = "13800000009"


def form(**changes) -> walk_in.Profile:
    fields = {"name": "赵大姐", "trades": ("cleaner", "cook"), "day_wage_yuan": 180,
              "availability": "today", "alert_channel": "call", "id_number": VALID_ID}
    return walk_in.Profile(**(fields | changes))


async def register(market, profile: walk_in.Profile, phone: str = PHONE) -> Worker:
    async with market.sessions() as session, session.begin():
        return await walk_in.register(
            session, phone, profile, market_id=market.market_id, id_hash_key="k",
            catalogue=CATALOGUE, hotline="0359 212 3456", agent="alice",
            now=market.clock(), today=date(2026, 11, 23))


async def workers(market) -> int:
    async with market.sessions() as session:
        return await session.scalar(select(func.count()).select_from(Worker))


async def test_a_walk_in_is_registered_and_told_their_number_by_sms(market):
    town = await market.town("北城街道")
    worker = await register(market, form(town_id=town))
    async with market.sessions() as session:
        stored = await session.get(Worker, worker.id)
        [sms] = await session.scalars(select(OutboundSms))
        consent = await session.scalar(select(AuditEntry).where(
            AuditEntry.action == "consent_given"))
    assert stored.status == "active" and stored.phone == "+8613800000009"
    assert stored.day_wage_fen == 18000 and stored.alert_channel == "call"
    assert stored.id_number_last4 == "002X" and VALID_ID not in str(stored.id_number_hash)
    assert f"工号{worker.id:06d}" in sms.body and sms.kind == "registration"
    assert consent.actor == "alice" and consent.detail == {"at": "window"}


@pytest.mark.parametrize(("changes", "field"), [
    ({"day_wage_yuan": 29}, "day_wage_yuan"),
    ({"day_wage_yuan": 3001}, "day_wage_yuan"),
    ({"trades": ("astronaut",)}, "trades"),
    ({"trades": ()}, "trades"),
    ({"id_number": "110105194912310021"}, "id_number"),
    ({"availability": "someday"}, "availability"),
    ({"alert_channel": "pigeon"}, "alert_channel"),
    ({"name": " "}, "name"),
    ({"town_id": None}, "town_id"),
])
async def test_the_hotline_s_checks_hold_at_the_window_and_nothing_is_kept(market, changes,
                                                                          field):
    town = await market.town("北城街道")
    with pytest.raises(MarketError) as refused:
        await register(market, dataclasses.replace(form(town_id=town), **changes))
    assert refused.value.field == field
    assert await workers(market) == 0


async def test_a_district_is_not_a_town_and_a_bad_phone_is_refused(market):
    district = await market.town("盐湖区")
    with pytest.raises(MarketError, match="no town"):
        await register(market, form(town_id=district))
    with pytest.raises(MarketError, match="mobile number"):
        await register(market, form(town_id=await market.town("北城街道")), phone="12345")


async def test_a_registered_phone_is_corrected_not_registered_twice(market):
    town = await market.town("北城街道")
    worker = await register(market, form(town_id=town))
    with pytest.raises(Conflict, match=f"{worker.id:06d}"):
        await register(market, form(town_id=town))
    async with market.sessions() as session, session.begin():
        await walk_in.correct(session, worker.id, walk_in.Profile(day_wage_yuan=220,
                                                                  trades=("welder",)),
                              market_id=market.market_id, id_hash_key="k", agent="bob",
                              now=market.clock(), today=date(2026, 11, 23))
    async with market.sessions() as session:
        stored = await session.get(Worker, worker.id)
        entry = await session.scalar(select(AuditEntry).where(
            AuditEntry.action == "worker_corrected"))
    assert stored.day_wage_fen == 22000 and stored.name == "赵大姐"
    assert entry.actor == "bob" and entry.detail == {"fields": ["day_wage_fen", "trades"]}


async def test_correcting_no_one_is_refused(market):
    async with market.sessions() as session, session.begin():
        with pytest.raises(NotFound):
            await walk_in.correct(session, 999, walk_in.Profile(day_wage_yuan=200),
                                  market_id=market.market_id, id_hash_key="k", agent="bob",
                                  now=market.clock(), today=date(2026, 11, 23))
