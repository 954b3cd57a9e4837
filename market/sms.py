"""Inbound SMS: stored once by MessageSid, answered through the outbox."""

from __future__ import annotations

from ivr_flows.sms_flow import decide
from market.desk import CallDesk
from market.optouts import set_opt_out
from market.outbox import OPT_OUT_ACK, PRIORITY_REPLY, enqueue_sms
from store.models import InboundSms
from store.repo import insert_ignoring_duplicates


async def receive_sms(desk: CallDesk, *, message_sid: str, phone: str, to: str, body: str) -> str:
    """Returns the intent; a retried webhook (same MessageSid) changes nothing."""
    now = desk.clock()
    decision = decide(body, desk.catalogue, desk.market.hotline)
    async with desk.sessions() as session, session.begin():
        first_time = await insert_ignoring_duplicates(
            session,
            InboundSms.__table__,
            {"message_sid": message_sid, "phone": phone, "to_number": to, "body": body,
             "intent": decision.intent, "received_at": now},
            ["message_sid"],
        )
        if not first_time:
            return decision.intent
        if decision.opted_out is not None:
            await set_opt_out(session, phone, opted_out=decision.opted_out,
                              keyword=body.strip()[:32], source="sms", now=now)
        await enqueue_sms(
            session,
            dedupe_key=f"reply:{message_sid}",
            phone=phone,
            body=decision.reply,
            # The one message an opted-out number still gets is the confirmation itself.
            kind=OPT_OUT_ACK if decision.intent == "opt_out" else "reply",
            priority=PRIORITY_REPLY,
            now=now,
        )
    return decision.intent
