"""The agents' queue of callers waiting to be rung back: oldest first, a registered
worker's record one click away, closed once with a note, and the closing audited."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from market import callbacks
from market.jobs import Conflict, MarketError, NotFound
from store.models import AuditEntry, CallbackRequest


async def book(market, phone: str, reason: str, minutes_ago: int) -> int:
    async with market.sessions() as session, session.begin():
        request = CallbackRequest(phone=phone, call_sid=f"CA{phone[-4:]}{minutes_ago}",
                                  reason=reason,
                                  created_at=market.clock() - timedelta(minutes=minutes_ago))
        session.add(request)
        await session.flush()
        return request.id


async def queue(market) -> list[callbacks.Waiting]:
    async with market.sessions() as session:
        return await callbacks.waiting(session, market_id=market.market_id)


async def close(market, callback_id: int, note: str = "回过电话了，想找焊工活"):
    async with market.sessions() as session, session.begin():
        return await callbacks.called_back(session, callback_id, agent="alice", note=note,
                                           now=market.clock())


async def test_the_queue_is_oldest_first_with_the_worker_one_click_away(market):
    worker = await market.worker("+8613800000001", ["welder"], "北城街道", name="王建国")
    later = await book(market, "+8613800000002", "agent_requested", 5)
    first = await book(market, "+8613800000001", "repeated_failures", 30)
    assert [w.callback_id for w in await queue(market)] == [first, later]
    head = (await queue(market))[0]
    assert (head.worker_id, head.worker_name, head.phone) == (worker, "王建国", "+8613800000001")
    assert (await queue(market))[1].worker_id is None, "not registered: no record to open"


async def test_calling_back_closes_it_once_with_a_note_and_an_audit_entry(market):
    callback = await book(market, "+8613800000002", "agent_requested", 5)
    closed = await close(market, callback)
    assert closed.status == "done" and closed.done_by == "alice" and "焊工" in closed.note
    assert await queue(market) == []
    with pytest.raises(Conflict, match="closed by alice"):
        await close(market, callback)
    async with market.sessions() as session:
        [entry] = await session.scalars(select(AuditEntry).where(
            AuditEntry.action == "callback_done"))
    assert entry.actor == "alice" and entry.subject == f"callback:{callback}"


async def test_a_missing_request_or_an_essay_is_refused(market):
    with pytest.raises(NotFound):
        await close(market, 999)
    callback = await book(market, "+8613800000002", "agent_requested", 5)
    with pytest.raises(MarketError, match="at most 500"):
        await close(market, callback, note="长" * 501)
    assert [w.callback_id for w in await queue(market)] == [callback]
