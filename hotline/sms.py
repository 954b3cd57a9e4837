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
from market.outbox import OPT_OUT_ACK, PRIORITY_OPT_OUT_ACK, PRIORITY_REPLY, enqueue_sms
from market.replies import take_job_by_code, take_job_by_sms
from store.db import connection_unit
from store.models import InboundSms
from store.repo import Executor, insert_ignoring_duplicates, orm_session

MAX_LISTED = 4  # waiting applications named in one SMS (it must fit one segment)
# A worker's answers and reports, for hotline.answers.
ANSWERS = frozenset({SmsIntent.PAY_ANSWER, SmsIntent.RATING, SmsIntent.ANSWER,
                     SmsIntent.REPORT_UNPAID, SmsIntent.CHECK_IN})


async def receive_sms(desk: CallDesk, *, message_sid: str, phone: str, to: str,
                      body: str) -> SmsIntent:
    """Returns the intent; a retried webhook (same MessageSid) changes nothing."""
    now = desk.clock()
    decision = decide(body, desk.catalogue, desk.market.hotline)
    async with connection_unit(desk.engine) as conn:
        first_time = await insert_ignoring_duplicates(
            conn,
            InboundSms.__table__,
            {"message_sid": message_sid, "phone": phone, "to_number": to, "body": body,
             "intent": decision.intent, "received_at": now},
            ["message_sid"],
        )
        if not first_time:
            return decision.intent
        reply = await apply_sms(conn, desk, phone, body, decision, now)
        if reply:
            await enqueue_sms(
                conn,
                dedupe_key=f"reply:{message_sid}",
                phone=phone,
                body=reply,
                # The one message an opted-out number still gets is the confirmation itself.
                kind=OPT_OUT_ACK if decision.intent == SmsIntent.OPT_OUT else "reply",
                priority=PRIORITY_OPT_OUT_ACK if decision.intent == SmsIntent.OPT_OUT
                else PRIORITY_REPLY,
                now=now,
            )
    return decision.intent


async def apply_sms(executor: Executor, desk: CallDesk, phone: str, body: str,
                    decision: SmsDecision, now: datetime) -> str | None:
    """What the SMS changes; returns the answer to send (None: already queued). An
    accept by job code (a crowd answering one alert) is keyed statements, the ORM only
    for a slot that may be free; the rest works on the ORM."""
    if (decision.intent == SmsIntent.ACCEPT and decision.job_code is not None
            and decision.bare_hire is None):
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
