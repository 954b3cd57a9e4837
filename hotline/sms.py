"""Inbound SMS: stored once by MessageSid, decided, answered through the outbox."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from hotline import answers
from hotline.desk import CallDesk
from ivr_flows.sms_flow import SmsDecision, SmsIntent, decide
from market.hires import employer_answer, employer_note, waiting_requests
from market.optouts import set_opt_out
from market.outbox import (
    OPT_OUT_ACK,
    PRIORITY_OPT_OUT_ACK,
    PRIORITY_REPLY,
    enqueue_sms,
    store_inbound_and_answer,
)
from market.replies import (
    read_accept_by_code,
    take_job_by_code,
    take_job_by_sms,
    take_read_job,
)
from store.db import connection_unit
from store.driver_statements import LazyUnit, lazy_unit
from store.models import InboundSms
from store.repo import (
    Executor,
    insert_ignoring_duplicates,
    orm_session,
)

MAX_LISTED = 4  # waiting applications named in one SMS (it must fit one segment)
# A worker's answers and reports, for hotline.answers.
ANSWERS = frozenset({SmsIntent.PAY_ANSWER, SmsIntent.RATING, SmsIntent.ANSWER,
                     SmsIntent.REPORT_UNPAID, SmsIntent.CHECK_IN})


async def receive_sms(desk: CallDesk, *, message_sid: str, phone: str, to: str,
                      body: str) -> SmsIntent:
    """Returns the intent; a retried webhook (same MessageSid) changes nothing."""
    now = desk.clock()
    decision = decide(body, desk.catalogue, desk.market.hotline)
    inbound = {"message_sid": message_sid, "phone": phone, "to_number": to, "body": body,
               "intent": decision.intent, "received_at": now}
    if _accepts_by_code(decision) and desk.engine.dialect.name == "postgresql":
        await _accept_by_code(desk, inbound, decision.job_code, now)
        return decision.intent
    async with connection_unit(desk.engine) as conn:
        if not await insert_ignoring_duplicates(conn, InboundSms.__table__, inbound,
                                                ["message_sid"]):
            return decision.intent
        reply = await apply_sms(conn, desk, phone, body, decision, now)
        if reply:
            await enqueue_sms(conn, **_reply(message_sid, phone, reply, decision.intent, now))
    return decision.intent


def _accepts_by_code(decision: SmsDecision) -> bool:
    return (decision.intent == SmsIntent.ACCEPT and decision.job_code is not None
            and decision.bare_hire is None)


def _reply(message_sid: str, phone: str, body: str, intent: SmsIntent, now: datetime) -> dict:
    """`enqueue_sms`'s arguments for the answer to an inbound SMS."""
    opt_out = intent == SmsIntent.OPT_OUT
    # The one message an opted-out number still gets is the confirmation itself.
    return {"dedupe_key": f"reply:{message_sid}", "phone": phone, "body": body,
            "kind": OPT_OUT_ACK if opt_out else "reply",
            "priority": PRIORITY_OPT_OUT_ACK if opt_out else PRIORITY_REPLY, "now": now}


async def _accept_by_code(desk: CallDesk, inbound: dict, job_code: str,
                          now: datetime) -> None:
    """PostgreSQL: an accept by job code, most often one of a crowd answering the same
    alert, most of them too late. Whether it is refused is read before any transaction
    begins, and a refusal is stored with its answer by one statement, each committed as
    it runs (on spare connections: store.driver_statements.LazyUnit): 2 round trips
    instead of 6 (3 for a worker never alerted to the job). A worker who may get a slot
    tries for it in a transaction. (SQLite's statements are calls into this process, not
    round trips: there one transaction does it all.)"""
    phone, message_sid = inbound["phone"], inbound["message_sid"]
    terms = {"catalogue": desk.catalogue, "timezone": desk.timezone,
             "hotline": desk.market.hotline, "now": now}
    async with lazy_unit(desk.engine) as unit:
        read = await read_accept_by_code(unit, phone=phone, job_code=job_code, **terms)
        if not read.to_take:
            await _store_answered(unit, inbound, read.answer, now)
            return
        conn = await unit.connection()
        if not await insert_ignoring_duplicates(conn, InboundSms.__table__, inbound,
                                                ["message_sid"]):
            return
        reply = await take_read_job(conn, read, **terms)
        if reply:
            await enqueue_sms(conn, **_reply(message_sid, phone, reply, SmsIntent.ACCEPT, now))


async def _store_answered(unit: LazyUnit, inbound: dict, reply: str | None,
                          now: datetime) -> None:
    """The inbound SMS stored, and its answer queued if it is new, as one statement
    committed on its own."""
    if reply is None:
        await insert_ignoring_duplicates(unit, InboundSms.__table__, inbound, ["message_sid"],
                                         standalone=True)
        return
    await store_inbound_and_answer(
        unit, inbound, _reply(inbound["message_sid"], inbound["phone"], reply,
                              SmsIntent.ACCEPT, now))


async def apply_sms(executor: Executor, desk: CallDesk, phone: str, body: str,
                    decision: SmsDecision, now: datetime) -> str | None:
    """What the SMS changes; returns the answer to send (None: already queued). An
    accept by job code (a crowd answering one alert) is keyed statements; the rest works
    on the ORM."""
    if _accepts_by_code(decision):
        return await take_job_by_code(
            executor, phone=phone, job_code=decision.job_code, catalogue=desk.catalogue,
            timezone=desk.timezone, hotline=desk.market.hotline, now=now)
    async with orm_session(executor) as session:
        return await _apply_on_orm(session, desk, phone, body, decision, now)


async def _apply_on_orm(session: AsyncSession, desk: CallDesk, phone: str, body: str,
                        decision: SmsDecision, now: datetime) -> str | None:
    if decision.bare_hire is not None and (waiting := await waiting_requests(session, phone)):
        if len(waiting) > 1:  # which one? asked as workers are asked
            return desk.catalogue.text(
                "sms_employer_which", offers="、".join(f"Y{n}" for n in waiting[:MAX_LISTED]),
                example=f"Y{waiting[0]}")
        decision = replace(decision, intent=SmsIntent.EMPLOYER_ANSWER, offer_id=waiting[0],
                           hire=decision.bare_hire)
    if decision.opted_out is not None:
        await set_opt_out(session, phone, opted_out=decision.opted_out,
                          keyword=body.strip()[:32], source="sms", now=now)
        return decision.reply
    if decision.intent == SmsIntent.EMPLOYER_ANSWER:
        return await employer_answer(
            session, phone=phone, offer_id=decision.offer_id, hire=decision.hire,
            catalogue=desk.catalogue, timezone=desk.timezone, now=now, rules=desk.wage_rules)
    if decision.intent in (SmsIntent.EMPLOYER_CHECK_IN, SmsIntent.EMPLOYER_CORRECT):
        return await employer_note(
            session, phone=phone, offer_id=decision.offer_id, days_worked=decision.value,
            catalogue=desk.catalogue, timezone=desk.timezone, now=now)
    if decision.intent in ANSWERS:
        return await answers.answer(session, desk, phone, decision, now)
    if decision.intent == SmsIntent.ACCEPT:
        return await take_job_by_sms(
            session, phone=phone, job_code=decision.job_code, catalogue=desk.catalogue,
            timezone=desk.timezone, hotline=desk.market.hotline, now=now)
    return decision.reply


async def newest_inbound(session: AsyncSession) -> datetime | None:
    """When the newest SMS we stored came in."""
    return await session.scalar(select(func.max(InboundSms.received_at)))
