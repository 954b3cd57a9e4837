"""Sends the outbox: claims due rows, hands them to the carrier, records the outcome.

Never twice: a row is marked `claimed` (committed) before the carrier is called. When no
answer comes back (a timeout, a connection dropped mid-request, the process killed) the
row's outcome is unknown, and the carrier is asked whether it has the message before the
row is ever sent again. A message is recognised at the carrier by its recipient, its
text and the time it was handed over, among the messages not already recorded as
another row's; since a recipient's messages go one at a time, in order, at most one of
them can be unaccounted for.

Sends run side by side (up to `concurrency` requests in flight) within the carrier's
rate, most urgent first: a slow or dead request holds only its own slot."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import datetime, timedelta

from sqlalchemy import Integer, bindparam, case, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, async_sessionmaker
from sqlalchemy.orm import aliased

from basics.clock import Clock
from hotline.carrier import Carrier, CarrierError
from market.optouts import set_opt_out
from market.outbox import OPT_OUT_ACK
from store.driver_statements import DriverStatement
from store.models import OptOut, OutboundSms
from store.repo import execute_keyed, keyed_transaction
from store.statuses import Channel, OutboxStatus

log = logging.getLogger(__name__)

DEFAULT_LEASE = timedelta(minutes=2)
# A message the carrier refused now and then (rate limits, server errors) is tried again
# after a growing pause; one it would not take for a day is given up as failed.
BACKOFF_BASE_SECONDS = 2
BACKOFF_MAX_SECONDS = 60
GIVE_UP_AFTER = timedelta(days=1)
# After this many failures in a row the carrier itself is in trouble (down, or limiting
# us): the whole sender pauses, then tries one message at a time until one goes. The
# messages waiting are not held against it: they go as soon as the carrier is back.
TROUBLE_AFTER_FAILURES = 3
PAUSE_MAX_SECONDS = 10
# An unanswered request is asked about after this: long enough for the carrier's list
# to show a message it took as the connection dropped.
ASK_AFTER = timedelta(seconds=5)
# The carrier's clock and ours may differ: a reconciliation looks back this much further.
CLOCK_SKEW = timedelta(minutes=1)
OVERTAKEN_CALLBACK_PAUSES_S = (0.05, 0.1, 0.2, 0.4, 0.8)  # then the sid is not ours
# Delivery statuses only move forward: a late "sent" never undoes "delivered".
STATUS_RANK = {OutboxStatus.QUEUED: 1, OutboxStatus.ACCEPTED: 1, OutboxStatus.SENDING: 2,
               OutboxStatus.SENT: 3, OutboxStatus.DELIVERED: 4,
               OutboxStatus.UNDELIVERED: 4, OutboxStatus.FAILED: 4, OutboxStatus.READ: 5}
# Rows not yet settled with the carrier: a later row to the same phone waits for them.
UNSETTLED = (OutboxStatus.PENDING, OutboxStatus.CLAIMED, OutboxStatus.UNKNOWN)
# A status the carrier should have called back about by now is asked for (the callback
# may have reached a process that was down); "sent" is final for many networks.
AWAITING_CALLBACK = (OutboxStatus.QUEUED, OutboxStatus.ACCEPTED, OutboxStatus.SENDING)
STATUS_CHECK_AFTER = timedelta(minutes=5)
STATUS_CHECK_WITHIN = timedelta(days=1)
STATUS_CHECK_BATCH = 50


@dataclass(frozen=True)
class Claimed:
    id: int
    channel: Channel  # a call's body is what the call is about: alert?offer=12
    phone: str
    body: str
    kind: str
    attempts: int
    handed_at: datetime  # when the attempt in question went (or goes) to the carrier
    created_at: datetime
    outcome_unknown: bool  # handed over before and never recorded: ask the carrier first


@dataclass
class SendReport:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    suppressed: int = 0
    reconciled: int = 0  # the carrier had it: recorded, not sent again
    unknown: int = 0  # no answer: the carrier will be asked before anything else

    def add(self, other: SendReport) -> None:
        for field in fields(self):
            setattr(self, field.name, getattr(self, field.name) + getattr(other, field.name))


class CarrierTrouble:
    """Counts the carrier's failures in a row (any success ends them) and, past
    TROUBLE_AFTER_FAILURES, how long the sender pauses: 1 s, 2 s, 4 s ... up to 10 s."""

    def __init__(self, clock: Clock):
        self.clock = clock
        self.failures = 0
        self.paused_until: datetime | None = None

    @property
    def on(self) -> bool:
        return self.failures >= TROUBLE_AFTER_FAILURES

    def pause_left(self) -> float:
        if self.paused_until is None:
            return 0.0
        return max((self.paused_until - self.clock()).total_seconds(), 0.0)

    def failed(self) -> None:
        if self.pause_left():
            return  # sends already in flight when it began: one trouble, one count
        self.failures += 1
        if self.on:
            pause = min(2 ** (self.failures - TROUBLE_AFTER_FAILURES), PAUSE_MAX_SECONDS)
            self.paused_until = self.clock() + timedelta(seconds=pause)
            if self.failures == TROUBLE_AFTER_FAILURES:
                log.error("the carrier is failing every request: sending pauses")

    def succeeded(self) -> None:
        if self.on:
            log.warning("the carrier takes messages again")
        self.failures, self.paused_until = 0, None


class OutboxSender:
    def __init__(self, sessions: async_sessionmaker, carrier: Carrier, clock: Clock, *,
                 rate_per_second: float, interval_seconds: float,
                 concurrency: int = 8, lease: timedelta = DEFAULT_LEASE,
                 wake: Callable[[], None] = lambda: None):
        # The lease must outlast any carrier request (the carrier times out well within it),
        # or a slow send could be taken for a dead one and sent again.
        self.sessions, self.carrier, self.clock, self.lease = sessions, carrier, clock, lease
        self.concurrency = concurrency
        self.wake = wake  # asks for another dispatch soon (a slot or the rate freed up)
        self.batch = max(1, math.ceil(rate_per_second * interval_seconds))
        # The carrier's rate as a token bucket on the wall clock: sweeps asked for between
        # ticks (a webhook queued an SMS) share the same budget instead of adding to it.
        self.rate, self._tokens, self._filled_at = rate_per_second, float(self.batch), None
        self._in_flight: set[asyncio.Task[SendReport]] = set()
        self._refill: asyncio.TimerHandle | None = None
        self.trouble = CarrierTrouble(clock)
        self.totals = SendReport()  # every outcome since start

    def _budget(self) -> int:
        now = time.monotonic()
        if self._filled_at is not None:
            self._tokens = min(self.batch, self._tokens + (now - self._filled_at) * self.rate)
        self._filled_at = now
        return int(self._tokens)

    async def dispatch(self) -> list[asyncio.Task[SendReport]]:
        """Starts sending the most urgent due rows the rate and the free slots allow and
        returns their tasks at once: it never waits for a send."""
        if pause := self.trouble.pause_left():
            self._wake_after(pause)
            return []
        room = min(self._budget(), self.concurrency - len(self._in_flight))
        if self.trouble.on:  # one message at a time until the carrier takes one
            room = min(room, 1 - len(self._in_flight))
        if room < 1:
            self._wake_when_refilled()
            return []
        claimed, suppressed = await self.claim(room)
        if suppressed:
            self.totals.suppressed += suppressed
            self.wake()  # a later message to the same phone may be next in line
        started = []
        for row in claimed:
            self._tokens -= 1
            task = asyncio.create_task(self._send_one(row), name=f"outbox-{row.id}")
            self._in_flight.add(task)
            task.add_done_callback(self._finished)
            started.append(task)
        if len(claimed) == room:  # more may be due: as soon as the rate allows
            self._wake_when_refilled()
        return started

    async def send_due(self) -> SendReport:
        """Dispatches and waits for those sends: one sweep's outcome (tests, tools)."""
        before = self.totals.suppressed
        started = await self.dispatch()
        report = SendReport(suppressed=self.totals.suppressed - before)
        for outcome in await asyncio.gather(*started):
            report.add(outcome)
        return report

    async def finish(self) -> None:
        """Waits for the sends in flight (each ends within the carrier's timeout)."""
        if self._refill is not None:
            self._refill.cancel()
        await asyncio.gather(*self._in_flight, return_exceptions=True)

    async def abandon(self) -> None:
        """Cuts the sends in flight off, as a dying process would: their rows stay
        claimed and are reconciled once the lease runs out."""
        for task in self._in_flight:
            task.cancel()
        await asyncio.gather(*self._in_flight, return_exceptions=True)

    def _finished(self, task: asyncio.Task[SendReport]) -> None:
        self._in_flight.discard(task)
        if not task.cancelled() and task.exception() is None:
            self.totals.add(task.result())
        elif not task.cancelled():
            log.error("a send failed to record its outcome: %r", task.exception())
        self.wake()

    def _wake_when_refilled(self) -> None:
        self._wake_after(1 / self.rate)

    def _wake_after(self, seconds: float) -> None:
        loop = asyncio.get_running_loop()
        if self._refill is None or self._refill.when() < loop.time():
            self._refill = loop.call_later(seconds, self.wake)

    async def claim(self, limit: int | None = None) -> tuple[list[Claimed], int]:
        """Marks the most urgent due rows claimed (committed) and returns them, with how
        many were suppressed instead (their number opted out). A row waits while an
        earlier one to the same phone is unsettled, so a recipient's messages keep their
        order (the opt-out confirmation excepted: it answers the opt-out now)."""
        now, limit = self.clock(), limit or self.batch
        earlier = aliased(OutboundSms)
        opted_out = (select(OptOut.opted_out).where(OptOut.phone == OutboundSms.phone)
                     .scalar_subquery())
        claiming = (select(OutboundSms, opted_out)
                    .with_for_update(skip_locked=True, of=OutboundSms))
        async with self.sessions() as session, session.begin():
            # Rows in doubt first (rare): a recipient's later messages wait for them.
            rows = (await session.execute(claiming.where(or_(
                (OutboundSms.status == OutboxStatus.UNKNOWN) & (OutboundSms.next_attempt_at <= now),
                (OutboundSms.status == OutboxStatus.CLAIMED)
                & (OutboundSms.claimed_at <= now - self.lease),
            )).order_by(OutboundSms.priority, OutboundSms.id).limit(limit))).all()
            if len(rows) < limit:
                # Read in the due index's order, so the scan stops at `limit` rows; each
                # is checked against its phone's earlier rows by the (phone, id) index.
                rows += (await session.execute(claiming.where(
                    OutboundSms.status == OutboxStatus.PENDING, OutboundSms.next_attempt_at <= now,
                    or_(OutboundSms.kind == OPT_OUT_ACK, ~exists().where(
                        earlier.phone == OutboundSms.phone, earlier.id < OutboundSms.id,
                        earlier.status.in_(UNSETTLED))),
                ).order_by(OutboundSms.priority, OutboundSms.next_attempt_at, OutboundSms.id)
                    .limit(limit - len(rows)))).all()
            claimed, opted_out_phones = [], set()
            for row, is_opted_out in rows:
                unknown = row.status != OutboxStatus.PENDING
                if (not unknown and is_opted_out and row.channel == Channel.SMS
                        and row.kind != OPT_OUT_ACK):
                    opted_out_phones.add(row.phone)
                    continue
                if not unknown:
                    row.attempts, row.handed_at = row.attempts + 1, now
                row.status, row.claimed_at, row.updated_at = OutboxStatus.CLAIMED, now, now
                claimed.append(Claimed(row.id, row.channel, row.phone, row.body, row.kind,
                                       row.attempts, row.handed_at or row.created_at,
                                       row.created_at, unknown))
            suppressed = (await session.execute(  # all of theirs at once, due or not
                update(OutboundSms).where(
                    OutboundSms.phone.in_(opted_out_phones),
                    OutboundSms.status == OutboxStatus.PENDING,
                    OutboundSms.channel == Channel.SMS, OutboundSms.kind != OPT_OUT_ACK)
                .values(status=OutboxStatus.SUPPRESSED, updated_at=now)
                .execution_options(synchronize_session=False))).rowcount if opted_out_phones else 0
        return claimed, suppressed

    async def _send_one(self, row: Claimed) -> SendReport:
        if row.outcome_unknown:
            return await self._reconcile(row)
        try:
            sid = await self._hand_over(row)
        except CarrierError as exc:
            return await self._record_failure(row, exc)
        self.trouble.succeeded()
        await self._record(row.id, status=OutboxStatus.QUEUED, carrier_sid=sid)
        return SendReport(sent=1)

    async def _reconcile(self, row: Claimed) -> SendReport:
        """The carrier is asked whether it took the row's message. If it did, the row is
        recorded as sent; if not, the row is due again (sent by the next sweep)."""
        try:
            sid = await self._find(row)
        except CarrierError as exc:
            log.warning("could not ask the carrier about message %s: %s", row.id, exc)
            await self._record(row.id, status=OutboxStatus.UNKNOWN,
                               next_attempt_at=self.clock() + ASK_AFTER)
            return SendReport(unknown=1)
        if sid is None:
            await self._record(row.id, status=OutboxStatus.PENDING, next_attempt_at=self.clock())
            self.wake()
            return SendReport(retried=1)
        await self._record(row.id, status=OutboxStatus.QUEUED, carrier_sid=sid)
        return SendReport(reconciled=1)

    async def _hand_over(self, row: Claimed) -> str:
        if row.channel == Channel.CALL:
            return await self.carrier.place_call(row.phone, row.body)
        return await self.carrier.send_sms(row.phone, row.body)

    async def _find(self, row: Claimed) -> str | None:
        """The carrier's id for the row's message: the oldest one since it was handed
        over that no other row has recorded."""
        since = row.handed_at - CLOCK_SKEW
        if row.channel == Channel.CALL:
            candidates = await self.carrier.find_placed_calls(row.phone, since=since)
        else:
            candidates = await self.carrier.find_sent_sms(row.phone, row.body, since=since)
        if not candidates:
            return None
        async with self.sessions() as session:
            known = set(await session.scalars(
                select(OutboundSms.carrier_sid).where(OutboundSms.carrier_sid.in_(candidates))))
        return next((sid for sid in candidates if sid not in known), None)

    async def _record_failure(self, row: Claimed, exc: CarrierError) -> SendReport:
        now = self.clock()
        if exc.outcome_unknown:
            log.warning("no answer from the carrier for message %s: it will be asked first",
                        row.id)
            await self._record(row.id, status=OutboxStatus.UNKNOWN, error_message=str(exc),
                               next_attempt_at=now + ASK_AFTER)
            return SendReport(unknown=1)
        if exc.retryable and now - row.created_at < GIVE_UP_AFTER:
            self.trouble.failed()
            # In trouble the pause paces the retries: the message goes first when it ends.
            delay = 0 if self.trouble.on else min(
                BACKOFF_BASE_SECONDS * 2 ** (row.attempts - 1), BACKOFF_MAX_SECONDS)
            log.warning("message %s will be retried in %ss: %s", row.id, delay, exc)
            await self._record(row.id, status=OutboxStatus.PENDING, error_code=exc.code,
                               error_message=str(exc),
                               next_attempt_at=now + timedelta(seconds=delay))
            return SendReport(retried=1)
        if not exc.retryable:
            self.trouble.succeeded()  # a refusal of this message: the carrier is working
        log.error("message %s failed for good: %s", row.id, exc)
        async with self.sessions() as session, session.begin():
            if exc.opted_out:
                await set_opt_out(session, row.phone, opted_out=True, keyword=str(exc.code),
                                  source="carrier", now=now)
            await _update(await session.connection(), row.id, now, status=OutboxStatus.FAILED,
                          error_code=exc.code, error_message=str(exc))
        self.wake()  # the recipient's next message may go now
        return SendReport(failed=1)

    async def _record(self, row_id: int, **values) -> None:
        async with keyed_transaction(self.sessions) as conn:
            await _update(conn, row_id, self.clock(), **values)

    async def check_statuses(self) -> int:
        """Asks the carrier for the status of messages whose callbacks never came (they
        may have reached a process that was down); returns how many changed."""
        now = self.clock()
        async with self.sessions() as session:
            waiting = list(await session.scalars(
                select(OutboundSms.carrier_sid).where(
                    OutboundSms.channel == Channel.SMS, OutboundSms.status.in_(AWAITING_CALLBACK),
                    OutboundSms.carrier_sid.is_not(None),
                    OutboundSms.updated_at <= now - STATUS_CHECK_AFTER,
                    OutboundSms.updated_at > now - STATUS_CHECK_WITHIN)
                .order_by(OutboundSms.updated_at).limit(STATUS_CHECK_BATCH)))
        changed = 0
        for sid in waiting:
            try:
                status, error_code = await self.carrier.sms_status(sid)
            except CarrierError as exc:
                log.warning("could not ask the carrier about %s: %s", sid, exc)
                return changed
            changed += await _apply_delivery_status(self.sessions, sid, status, error_code,
                                                    now, touch=True)
        return changed


async def _update(conn: AsyncConnection, row_id: int, now: datetime, **values) -> None:
    await execute_keyed(
        conn, update(OutboundSms).where(OutboundSms.id == row_id).values(updated_at=now, **values))


async def record_delivery_status(
    sessions: async_sessionmaker, carrier_sid: str, status: OutboxStatus,
    error_code: int | None, now: datetime,
) -> bool:
    """Applies a carrier status callback; False if the message is not ours. A callback
    can overtake the send (the carrier may call back before the sender has saved the
    message's sid): an unknown sid is looked up again for a moment instead of dropped."""
    for pause in (*OVERTAKEN_CALLBACK_PAUSES_S, None):
        if await _apply_delivery_status(sessions, carrier_sid, status, error_code, now) \
                is not None:
            return True
        if pause is not None:
            await asyncio.sleep(pause)
    return False


async def _apply_delivery_status(
    sessions: async_sessionmaker, carrier_sid: str, status: OutboxStatus,
    error_code: int | None, now: datetime, *, touch: bool = False,
) -> bool | None:
    """True if the status moved the row on, False if not, None if the sid is not ours.
    `touch` marks an unchanged row as just checked."""
    # One conditional UPDATE by the row's key, on the event loop: callbacks come in bursts
    # after alerts (two or three a message), and a trip to the database thread would hold
    # SQLite's one connection (and every call turn waiting for it) across iterations of a
    # busy loop. Only a callback that moves nothing on reads the row.
    params = {"sid": carrier_sid, "status": status, "rank": STATUS_RANK[status],
              "error_code": error_code or None, "now": now}
    # Each statement stands alone: on PostgreSQL no BEGIN or COMMIT trips.
    async with keyed_transaction(sessions) as conn:
        if (await execute_keyed(conn, _MOVE_ON, params, standalone=True)).rowcount:
            return True
        if touch:
            return False if (await execute_keyed(conn, _TOUCH, params, standalone=True)
                             ).rowcount else None
        return False if (await execute_keyed(conn, _KNOWN, params, standalone=True)
                         ).first() else None


_RANK = case(STATUS_RANK, value=OutboundSms.status, else_=0)
_BY_SID = OutboundSms.carrier_sid == bindparam("sid")
# A later status (by STATUS_RANK) replaces an earlier one; a late or repeated callback
# changes nothing. An error code comes with the statuses that have one.
_MOVE_ON = DriverStatement(update(OutboundSms).where(_BY_SID, bindparam("rank") > _RANK)
            .values(status=bindparam("status"), updated_at=bindparam("now"),
                    error_code=func.coalesce(bindparam("error_code", type_=Integer),
                                             OutboundSms.error_code))
            .execution_options(synchronize_session=False))
_TOUCH = DriverStatement(update(OutboundSms).where(_BY_SID).values(updated_at=bindparam("now"))
          .execution_options(synchronize_session=False))
_KNOWN = DriverStatement(select(OutboundSms.id).where(_BY_SID))
