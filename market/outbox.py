"""Every outbound SMS is a row first: queued once by its dedupe key, sent by the sender."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from market.optouts import is_opted_out
from store.models import OutboundSms
from store.repo import insert_ignoring_duplicates
from store.statuses import Channel, OutboxStatus

PRIORITY_OPT_OUT_ACK = 0  # confirmed at once, not behind a fan-out of alerts
PRIORITY_ALERT = 1
PRIORITY_REPLY = 3
PRIORITY_NOTICE = 5
OPT_OUT_ACK = "opt_out_ack"
QUEUED = "outbox_queued"


async def enqueue_sms(
    session: AsyncSession,
    *,
    dedupe_key: str,
    phone: str,
    body: str,
    kind: str,
    now: datetime,
    priority: int = PRIORITY_NOTICE,
    channel: Channel = Channel.SMS,
) -> bool:
    """Queues the SMS unless one with the same key exists; True if newly queued.

    A message for an opted-out number is kept, marked suppressed, and never sent (only
    the opt-out confirmation itself goes out)."""
    opted_out = kind != OPT_OUT_ACK and await is_opted_out(session, phone)
    queued = await insert_ignoring_duplicates(
        session,
        OutboundSms.__table__,
        {
            "dedupe_key": dedupe_key,
            "channel": channel,
            "phone": phone,
            "body": body,
            "kind": kind,
            "priority": priority,
            "status": OutboxStatus.SUPPRESSED if opted_out else OutboxStatus.PENDING,
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
            "updated_at": now,
        },
        ["dedupe_key"],
    )
    if queued and not opted_out:
        session.info[QUEUED] = True  # the caller wakes the sender once this commits
    return queued


def queued_any(session: AsyncSession) -> bool:
    """Whether this database transaction queued a message to send: the caller then wakes
    the sender."""
    return bool(session.info.get(QUEUED))
