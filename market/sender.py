"""Sends the outbox: claims due rows, hands them to the carrier, records the outcome.

Never twice: a row is marked `claimed` (committed) before the carrier is called. If the
process dies before the outcome is recorded, the row stays `claimed`; once its lease
has run out the carrier is asked whether it has the message, and only if it has not is
the row sent again."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from market.clock import Clock
from market.optouts import is_opted_out, set_opt_out
from market.outbox import OPT_OUT_ACK
from store.models import OutboundSms
from store.repo import quick_statements
from telephony.carrier import Carrier, CarrierError

log = logging.getLogger(__name__)

DEFAULT_LEASE = timedelta(minutes=2)
MAX_ATTEMPTS = 8
BACKOFF_BASE_SECONDS = 5
BACKOFF_MAX_SECONDS = 15 * 60
OVERTAKEN_CALLBACK_PAUSES_S = (0.05, 0.1, 0.2, 0.4, 0.8)  # then the sid is not ours
# Carrier statuses only move forward: a late "sent" never undoes "delivered".
STATUS_RANK = {"queued": 1, "accepted": 1, "sending": 2, "sent": 3,
               "delivered": 4, "undelivered": 4, "failed": 4, "read": 5}


@dataclass(frozen=True)
class Claimed:
    id: int
    channel: str  # sms | call (body is then the URL the carrier fetches on answer)
    phone: str
    body: str
    kind: str
    attempts: int
    created_at: datetime
    outcome_unknown: bool  # claimed before and never recorded: ask the carrier first


@dataclass(frozen=True)
class SendReport:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    suppressed: int = 0
    reconciled: int = 0


class OutboxSender:
    def __init__(self, sessions: async_sessionmaker, carrier: Carrier, clock: Clock, *,
                 status_callback: str | None, rate_per_second: float, interval_seconds: float,
                 lease: timedelta = DEFAULT_LEASE):
        # The lease must outlast any carrier request (the carrier times out well within it),
        # or a slow send could be taken for a dead one and sent again.
        self.sessions, self.carrier, self.clock, self.lease = sessions, carrier, clock, lease
        self.status_callback = status_callback
        self.batch = max(1, math.ceil(rate_per_second * interval_seconds))
        # The carrier's rate as a token bucket on the wall clock: sweeps asked for between
        # ticks (a webhook queued an SMS) share the same budget instead of adding to it.
        self.rate, self._tokens, self._filled_at = rate_per_second, float(self.batch), None

    def _budget(self) -> int:
        now = time.monotonic()
        if self._filled_at is not None:
            self._tokens = min(self.batch, self._tokens + (now - self._filled_at) * self.rate)
        self._filled_at = now
        return int(self._tokens)

    async def send_due(self) -> SendReport:
        counts = {"sent": 0, "retried": 0, "failed": 0, "suppressed": 0, "reconciled": 0}
        budget = self._budget()
        if budget < 1:
            return SendReport(**counts)
        for row in await self.claim(budget):
            outcome = await self._send_one(row)
            counts[outcome] += 1
            self._tokens -= 1
        return SendReport(**counts)

    async def claim(self, limit: int | None = None) -> list[Claimed]:
        """Marks the most urgent due rows claimed (committed) and returns them."""
        now = self.clock()
        expired = now - self.lease
        async with self.sessions() as session, session.begin():
            rows = list(await session.scalars(
                select(OutboundSms)
                .where(or_(
                    (OutboundSms.status == "pending") & (OutboundSms.next_attempt_at <= now),
                    (OutboundSms.status == "claimed") & (OutboundSms.claimed_at <= expired),
                ))
                .order_by(OutboundSms.priority, OutboundSms.next_attempt_at, OutboundSms.id)
                .limit(limit or self.batch)
                .with_for_update(skip_locked=True)
            ))
            claimed = []
            for row in rows:
                unknown = row.status == "claimed"
                if not unknown:
                    row.status, row.attempts = "claimed", row.attempts + 1
                row.claimed_at = row.updated_at = now
                claimed.append(Claimed(row.id, row.channel, row.phone, row.body, row.kind,
                                       row.attempts, row.created_at, unknown))
        return claimed

    async def _send_one(self, row: Claimed) -> str:
        if row.outcome_unknown:
            try:
                sid = await self._find(row)
            except CarrierError as exc:
                return await self._record_failure(row, exc)
            if sid:
                await self._record(row.id, status="queued", carrier_sid=sid)
                return "reconciled"
        async with self.sessions() as session:
            if (row.channel == "sms" and row.kind != OPT_OUT_ACK
                    and await is_opted_out(session, row.phone)):
                await self._record(row.id, status="suppressed")
                return "suppressed"
        try:
            sid = await self._hand_over(row)
        except CarrierError as exc:
            return await self._record_failure(row, exc)
        await self._record(row.id, status="queued", carrier_sid=sid)
        return "sent"

    async def _hand_over(self, row: Claimed) -> str:
        if row.channel == "call":
            return await self.carrier.place_call(row.phone, row.body,
                                                 status_callback=self.status_callback)
        return await self.carrier.send_sms(row.phone, row.body,
                                           status_callback=self.status_callback)

    async def _find(self, row: Claimed) -> str | None:
        if row.channel == "call":
            return await self.carrier.find_placed_call(row.phone, since=row.created_at)
        return await self.carrier.find_sent_sms(row.phone, row.body, since=row.created_at)

    async def _record_failure(self, row: Claimed, exc: CarrierError) -> str:
        now = self.clock()
        if exc.retryable and row.attempts < MAX_ATTEMPTS:
            delay = min(BACKOFF_BASE_SECONDS * 2 ** (row.attempts - 1), BACKOFF_MAX_SECONDS)
            log.warning("SMS %s to %s will be retried in %ss: %s", row.id, row.phone, delay, exc)
            await self._record(row.id, status="pending", error_code=exc.code,
                               error_message=str(exc),
                               next_attempt_at=now + timedelta(seconds=delay))
            return "retried"
        log.error("SMS %s to %s failed for good: %s", row.id, row.phone, exc)
        async with self.sessions() as session, session.begin():
            if exc.opted_out:
                await set_opt_out(session, row.phone, opted_out=True, keyword=str(exc.code),
                                  source="carrier", now=now)
            await _update(session, row.id, now, status="failed", error_code=exc.code,
                          error_message=str(exc))
        return "failed"

    async def _record(self, row_id: int, **values) -> None:
        async with self.sessions() as session, session.begin():
            await _update(session, row_id, self.clock(), **values)


async def _update(session: AsyncSession, row_id: int, now: datetime, **values) -> None:
    await session.execute(
        update(OutboundSms).where(OutboundSms.id == row_id).values(updated_at=now, **values)
    )


async def record_delivery_status(
    sessions: async_sessionmaker, carrier_sid: str, status: str, error_code: int | None,
    now: datetime,
) -> bool:
    """Applies a carrier status callback; False if the message is not ours. A callback
    can overtake the send (the carrier may call back before the sender has saved the
    message's sid): an unknown sid is looked up again for a moment instead of dropped."""
    for pause in (*OVERTAKEN_CALLBACK_PAUSES_S, None):
        if await _apply_delivery_status(sessions, carrier_sid, status, error_code, now):
            return True
        if pause is not None:
            await asyncio.sleep(pause)
    return False


async def _apply_delivery_status(
    sessions: async_sessionmaker, carrier_sid: str, status: str, error_code: int | None,
    now: datetime,
) -> bool:
    # One row by its key, on the event loop: callbacks come in bursts after alerts, and a
    # trip to the database thread would hold SQLite's one connection (and every call turn
    # waiting for it) across iterations of a busy loop. The whole session is inside: the
    # ORM sends its UPDATE as the transaction commits.
    with quick_statements():
        async with sessions() as session, session.begin():
            row = await session.scalar(
                select(OutboundSms).where(OutboundSms.carrier_sid == carrier_sid)
                .with_for_update()
            )
            if row is None:
                return False
            if status not in STATUS_RANK:
                log.warning("unknown message status %r for %s: ignored", status, carrier_sid)
            elif STATUS_RANK.get(status, 0) > STATUS_RANK.get(row.status, 0):
                row.status, row.updated_at = status, now
                if error_code:
                    row.error_code = error_code
            return True
