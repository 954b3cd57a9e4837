"""Callers waiting for an agent to ring back: they pressed 0 with no agent free, failed a
prompt three times, or rang while the database was down. The agents' queue takes them
oldest first; whoever calls back closes the request with a note."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from market.jobs import Conflict, MarketError, NotFound
from store.models import AuditEntry, CallbackRequest, Worker
from store.statuses import CallbackStatus

MAX_NOTE = 500
QUEUE = 200  # the longest queue shown: an hour's calls at a busy market


@dataclass(frozen=True)
class Waiting:
    callback_id: int
    phone: str  # to ring: the agent needs it whole
    reason: str  # caller_asked | hidden_number | repeated_failures | database_down
    waiting_since: datetime
    worker_id: int | None  # a registered worker's record is one click away
    worker_name: str | None


async def waiting(session: AsyncSession, *, market_id: int) -> list[Waiting]:
    rows = await session.execute(
        select(CallbackRequest, Worker.id, Worker.name)
        .outerjoin(Worker, (Worker.phone == CallbackRequest.phone)
                   & (Worker.market_id == market_id))
        .where(CallbackRequest.status == CallbackStatus.OPEN)
        .order_by(CallbackRequest.created_at, CallbackRequest.id).limit(QUEUE))
    return [Waiting(c.id, c.phone, c.reason, c.created_at, worker_id, name)
            for c, worker_id, name in rows]


async def called_back(session: AsyncSession, callback_id: int, *, agent: str, note: str,
                      now: datetime) -> CallbackRequest:
    """Closes the request; the note says what came of the call (it may be empty)."""
    note = note.strip()
    if len(note) > MAX_NOTE:
        raise MarketError("note", "note_too_long", most=MAX_NOTE)
    request = await session.get(CallbackRequest, callback_id, with_for_update=True)
    if request is None:
        raise NotFound("callback", callback_id)
    if request.status != CallbackStatus.OPEN:
        raise Conflict("status", "callback_closed", ident=callback_id, by=request.done_by)
    request.status, request.done_at, request.done_by, request.note = (
        CallbackStatus.DONE, now, agent, note)
    session.add(AuditEntry(at=now, actor=agent, action="callback_done",
                           subject=f"callback:{callback_id}", detail={"note": note}))
    return request
