"""Consent is recorded once per phone, whatever order the calls come in."""

from __future__ import annotations

from sqlalchemy import func, select

from market import workers
from store.models import AuditEntry, Worker

PHONE = "+8613800000077"


async def consent(market, view, call_sid: str):
    async with market.sessions() as session, session.begin():
        return await workers.record_consent(session, view, market_id=market.market_id,
                                            phone=PHONE, call_sid=call_sid,
                                            now=market.clock())


async def test_a_new_caller_becomes_a_consented_worker(market):
    view = await consent(market, None, "CA1")
    async with market.sessions() as session:
        worker = await session.scalar(select(Worker).where(Worker.phone == PHONE))
        audits = await session.scalar(select(func.count()).select_from(AuditEntry)
                                      .where(AuditEntry.subject == PHONE))
    assert view.consented and view.status == "registering"
    assert view.number == f"{worker.id:06d}" and worker.consent_call_sid == "CA1"
    assert audits == 1


async def test_a_second_call_that_also_saw_no_worker_keeps_the_first_consent(market):
    """Two calls from one phone, both started before either consented."""
    await consent(market, None, "CA1")
    view = await consent(market, None, "CA2")  # its turn began when there was no row
    async with market.sessions() as session:
        rows = list(await session.scalars(select(Worker).where(Worker.phone == PHONE)))
        audits = await session.scalar(select(func.count()).select_from(AuditEntry)
                                      .where(AuditEntry.subject == PHONE))
    assert len(rows) == 1 and rows[0].consent_call_sid == "CA1"
    assert view.consented and audits == 1


async def test_a_worker_row_without_consent_is_consented_once(market):
    async with market.sessions() as session, session.begin():
        session.add(Worker(market_id=market.market_id, phone=PHONE, created_at=market.clock()))
    async with market.sessions() as session:
        stale = await workers.load_worker_view(session, PHONE)
    assert not stale.consented
    first = await consent(market, stale, "CA1")
    second = await consent(market, stale, "CA2")  # its turn began before CA1 consented
    async with market.sessions() as session:
        worker = await session.scalar(select(Worker).where(Worker.phone == PHONE))
        audits = await session.scalar(select(func.count()).select_from(AuditEntry)
                                      .where(AuditEntry.subject == PHONE))
    assert first.consented and second.consented
    assert worker.consent_call_sid == "CA1" and audits == 1
