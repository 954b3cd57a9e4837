"""Runs one turn of a call: load the call's state, step the flow, carry out its effects,
save the state with the voice commands answered. A retried webhook gets those commands
again; the channel renders them in the carrier's language after the transaction.

The call's row is read without a lock and written only if it is still at the turn read
(`_MOVE_CALL_ON`): a turn that only moves the call on is those two statements, with no
transaction around them, and one whose effects write runs them in a transaction that
the write ends. The caller's answers to profile questions (trades, a town, a wage, an
ID number) are written by the move-on's own statement on PostgreSQL, so such a turn too
is two statements and no transaction. Two answers to one prompt (keys and speech, a
retry) may both step the flow; the first write takes the turn, and the other's effects
are rolled back and it is answered as the first was."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import count

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from basics.clock import market_today
from basics.market_views import HireView, OfferView, PayQuestionView
from hotline import answers
from hotline.carrier import Carrier, CarrierError
from hotline.channel import OutboundAnswered, VoiceReply
from hotline.desk import CallDesk
from ivr_flows import call_flow
from ivr_flows.commands import (
    AnswerPay,
    Ask,
    CheckIn,
    CompleteRegistration,
    ConnectAgent,
    FindHires,
    FindOffers,
    HangUp,
    RecordConsent,
    RecordName,
    RecordWageReport,
    RequestCallback,
    ReserveSlot,
    SaveProfile,
    Say,
    StoreIdNumber,
    voice_from_json,
    voice_to_json,
)
from ivr_flows.context import CallContext
from ivr_flows.inputs import CallStarted, Done, FlowInput, HiresFound, OffersFound, SlotResult
from ivr_flows.listening import Listen
from market import cases, hires, offers, wages, workers
from market.outbox import queued_any
from store.db import (
    database_unreachable,
    joined_session,
    lost_to_another_transaction,
)
from store.driver_statements import DriverStatement, LazyUnit, lazy_unit
from store.models import (
    CallbackRequest,
    CallSession,
    Hire,
    Job,
    PayCheck,
    WageReport,
    Worker,
)
from store.repo import (
    DIALECT_INSERTS,
    KeyedInsertIgnoringDuplicates,
    dialect_name,
    execute_keyed,
    insert_ignoring_duplicates,
    read_only,
)
from store.statuses import AWAITING_ANSWER, CallbackStatus, CallStatus, OfferChannel

log = logging.getLogger(__name__)

VOICE_COMMANDS = (Say, Ask, RecordName, ConnectAgent, HangUp)
KEYED_EFFECTS = (SaveProfile, StoreIdNumber, CompleteRegistration, FindOffers, RecordWageReport)
# Effects that change the caller's profile and read nothing of the caller's rows: what
# they change is held for the call's move-on to write (workers.Caller).
CALLER_COLUMN_EFFECTS = (SaveProfile, StoreIdNumber, CompleteRegistration)
MAX_EFFECT_ROUNDS = 4
TURN_ATTEMPTS = 2  # a turn ended by a deadlock is taken once more
# The hot path speaks to the table itself: no ORM compile or unit of work per turn, and
# its statements are built once and run on the driver (store.driver_statements).
CALLS = CallSession.__table__
# The call's columns a turn reads (CallRow's), then its caller's (workers.VIEW_COLUMNS).
_CALL_ROW = (CALLS.c.call_sid, CALLS.c.phone, CALLS.c.direction, CALLS.c.turn,
             CALLS.c.state, CALLS.c.last_response)
_READ_CALL = DriverStatement(
    select(*_CALL_ROW, *workers.VIEW_COLUMNS)
    .select_from(workers.with_worker_by_phone(CALLS, CALLS.c.phone))
    .where(CALLS.c.call_sid == bindparam("sid")).order_by(workers.VIEW_ORDER))
_UPDATE_CALL = DriverStatement(  # SET: the columns given
    update(CALLS).where(CALLS.c.call_sid == bindparam("sid")))
_MOVE_CALL_ON = DriverStatement(  # SET: the columns given, if the call is still at turn `at`
    update(CALLS).where(CALLS.c.call_sid == bindparam("sid"), CALLS.c.turn == bindparam("at")))
# The same move-on with what the turn changed of the caller, in one statement
# (PostgreSQL): the caller is written only if the call moved on.
_MOVE_CALL_ON_WRITING_CALLER = workers.CallerWritesAlong(
    update(CALLS).where(CALLS.c.call_sid == bindparam("moving_sid"),
                        CALLS.c.turn == bindparam("moving_at"))
    .values({name: bindparam(f"moving_{name}", type_=CALLS.c[name].type)
             for name in ("turn", "state", "updated_at", "last_response")})
    .returning(CALLS.c.call_sid).cte("moved"))
# SQLite inserts a new call, and _READ_CALL reads it.
_NEW_CALL = KeyedInsertIgnoringDuplicates(CALLS, ["call_sid"])
_CALL_COLUMNS = ("call_sid", "phone", "direction", "status", "state", "turn",
                 "last_response", "started_at", "updated_at")


def _open_call_statement() -> DriverStatement:
    """A call's first webhook on PostgreSQL: the row inserted and read back with its
    caller, as _READ_CALL reads it, in one statement; no row if a simultaneous retry of
    the webhook inserted it first."""
    opened = (DIALECT_INSERTS["postgresql"](CALLS)
              .values({name: bindparam(name, type_=CALLS.c[name].type)
                       for name in _CALL_COLUMNS})
              .on_conflict_do_nothing(index_elements=["call_sid"])
              .returning(*_CALL_ROW).cte("opened"))
    return DriverStatement(
        select(*opened.c, *workers.VIEW_COLUMNS)
        .select_from(workers.with_worker_by_phone(opened, opened.c.phone))
        .order_by(workers.VIEW_ORDER))


_OPEN_CALL = _open_call_statement()
_WAGE_REPORT = DriverStatement(insert(WageReport.__table__))
_LIVE_CALL = DriverStatement(
    select(CALLS.c.phone, CALLS.c.direction, CALLS.c.turn, CALLS.c.state).where(
        CALLS.c.call_sid == bindparam("sid"), CALLS.c.status == CallStatus.IN_PROGRESS))


@dataclass(frozen=True)
class Turn:
    reply: VoiceReply  # what to say, for the channel to render
    queued_messages: bool  # an SMS or call was queued: wake the sender
    taken: bool = True  # False: this turn was answered already (a retry, or keys beat speech)


class _Effects:
    """Carries out one turn's effects in its transaction, which the first effect that
    writes (or needs the ORM) opens (`transaction`): holding a profile answer or listing
    the offers opens none. The caller is read with the call's row; the effects most
    turns bring (a profile answer, the offers, a wage report and its rights case) are
    keyed statements on it. The rarer ones that take a slot, answer a pay check or check
    in work on the ORM (its Worker, loaded when one of them needs it), in a session
    joined to the turn's transaction when first needed. What they change of the
    caller's profile is held (`workers.Caller`) for the move-on to write, and written
    first if another effect follows."""

    def __init__(self, desk: CallDesk, unit: LazyUnit, call: CallRow,
                 caller: workers.Caller | None, now: datetime):
        self.desk, self.unit, self.call, self.now = desk, unit, call, now
        self.caller = caller  # None: no worker yet, or to be read again
        self.view = caller.view() if caller is not None else None
        self.worker: Worker | None = None  # loaded when an effect needs it
        self.today = market_today(now, desk.timezone)
        self._session: AsyncSession | None = None

    async def transaction(self) -> AsyncConnection:
        """The turn's connection and transaction, opened by the first effect that needs
        them: one that only holds a profile answer or lists offers does not."""
        return await self.unit.connection()

    async def session(self) -> AsyncSession:
        """The ORM's session on the turn's transaction: what it changes is flushed by
        `finish`, and the turn's connection commits it."""
        if self._session is None:
            self._session = joined_session(await self.transaction())
        return self._session

    async def finish(self) -> None:
        """Writes what the ORM's effects changed."""
        if self._session is not None:
            await self._session.flush()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def apply(self, effect: object) -> FlowInput | None:
        desk = self.desk
        if (self.caller is not None and self.caller.held
                and not isinstance(effect, CALLER_COLUMN_EFFECTS)):
            # what follows may read the row
            await workers.save_caller(await self.transaction(), self.caller)
        if isinstance(effect, RecordConsent):
            await self._let_go_of_worker()
            self.view = await workers.record_consent(
                await self.transaction(), self.view, market_id=desk.market_id,
                phone=self.call.phone, call_sid=self.call.call_sid, now=self.now,
            )
            self.caller = None  # read afresh if a later effect changes the worker
            return None
        if isinstance(effect, RequestCallback):
            await insert_ignoring_duplicates(
                await self.transaction(), CallbackRequest.__table__,
                {"phone": self.call.phone, "call_sid": self.call.call_sid,
                 "reason": effect.reason, "status": CallbackStatus.OPEN, "created_at": self.now},
                ["call_sid"],
            )
            return None
        # The view is read again only after the effect succeeded: a failed one has
        # rolled the turn back, and reading its objects would hide the database's error
        # (the outage handler answers by it) behind the session's own.
        if isinstance(effect, KEYED_EFFECTS):
            caller = await self._caller()
            following = await self._apply_keyed(effect, caller)
            self.view = caller.view()  # what the effect changed
            return following
        worker = await self._worker()
        following = await self._apply(effect, worker)
        self.view = workers.worker_view(worker)  # what the effect changed
        return following

    async def _apply_keyed(self, effect: object, caller: workers.Caller) -> FlowInput | None:
        desk = self.desk
        match effect:
            case SaveProfile(fields=fields):
                workers.save_caller_profile(caller, fields, market_id=desk.market_id,
                                            today=self.today)
            case StoreIdNumber(id_number=id_number):
                workers.store_caller_id_number(caller, id_number, desk.id_hash_key)
            case CompleteRegistration():
                await workers.complete_caller_registration(
                    await self.transaction(), caller, self.call.phone, catalogue=desk.catalogue,
                    hotline=desk.market.hotline, now=self.now)
            case FindOffers():
                return OffersFound(await offers.find_offers(  # a read: no transaction
                    self.unit, caller, now=self.now, timezone=desk.timezone))
            case RecordWageReport(amount_fen=amount):
                conn = await self.transaction()
                await execute_keyed(conn, _WAGE_REPORT, {
                    "worker_id": caller.id, "amount_fen": amount,
                    "call_sid": self.call.call_sid, "created_at": self.now})
                await cases.report_by_worker(
                    conn, caller, amount_fen=amount, via="worker_call", now=self.now,
                    catalogue=desk.catalogue, hold_employer=desk.hold_employers)
        return None

    async def _apply(self, effect: object, worker: Worker) -> FlowInput | None:
        desk, session = self.desk, await self.session()
        self.caller = None  # the ORM's effects may change the worker: read again if needed
        match effect:
            case FindHires():
                return HiresFound(await hires.hire_views(
                    session, worker_id=worker.id, now=self.now, timezone=desk.timezone))
            case ReserveSlot(job_line_id=line_id):
                outcome = await offers.reserve_slot(
                    session, worker, line_id, now=self.now,
                    channel=OfferChannel.ALERT_CALL if self.call.direction == "outbound"
                    else OfferChannel.CALL_IN,
                    today=self.today, timezone=desk.timezone, catalogue=desk.catalogue,
                )
                return SlotResult(line_id, outcome)
            case AnswerPay(check_id=check_id, answer=answer, paid_fen=paid):
                check = await session.get(PayCheck, check_id)
                hire = await session.get(Hire, check.hire_id) if check else None
                if hire is None or hire.worker_id != worker.id:
                    raise RuntimeError(f"pay check {check_id} is not this caller's")
                await wages.answer_pay_check(
                    session, check, answer=answer, paid_fen=paid, via="call", now=self.now,
                    rules=desk.wage_rules, catalogue=desk.catalogue, timezone=desk.timezone)
            case CheckIn():
                code = await answers.check_in(session, worker, now=self.now,
                                              timezone=desk.timezone)
                return Done(code is not None, code or "")
            case _:
                raise TypeError(f"unknown effect {effect!r}")
        return None

    async def _worker(self) -> Worker:
        if self.worker is None:
            self.worker = await workers.load_worker(await self.session(), self.call.phone)
        if self.worker is None:
            raise RuntimeError("the flow asked to change a worker before consent")
        return self.worker

    async def _let_go_of_worker(self) -> None:
        """Keyed statements write past the ORM: its changes go first, and its Worker is
        let go so that a later ORM effect reads what they wrote."""
        if self.worker is not None:
            await self._session.flush()
            self._session.expunge(self.worker)
            self.worker = None

    async def _caller(self) -> workers.Caller:
        await self._let_go_of_worker()
        if self.caller is None:
            self.caller = await workers.load_caller(self.unit, self.call.phone)
        if self.caller is None:
            raise RuntimeError("the flow asked to change a worker before consent")
        return self.caller


async def take_turn(
    desk: CallDesk,
    *,
    call_sid: str,
    caller: str,
    turn: int | None,
    event: FlowInput,
    direction: str = "inbound",
) -> Turn:
    """`turn` is the turn the webhook answers (from its action URL); None for a new call."""
    now = desk.clock()
    for attempt in count(1):
        read: CallRow | None = None
        try:
            async with lazy_unit(desk.engine) as unit:
                read, calling = await _read_or_open_call(unit, call_sid, caller, direction,
                                                         now)
                if read.turn > 0 and (turn is None or turn < read.turn):
                    return Turn(_stored_reply(read), False, taken=False)  # answered already
                if read.turn == 0 and not isinstance(event, CallStarted):
                    event = CallStarted()  # a gather of a call we never saw: start afresh
                return await _move_on(desk, unit, read, calling, event, now)
        except Exception as error:
            # Our effects ran unlocked: if another answer took this turn meanwhile, what
            # they met (or that they were too late) is rolled back, and we answer as it did.
            if read is None or database_unreachable(error):
                raise
            answered = await _answered_since(desk, read)
            if answered is not None:
                return answered
            # PostgreSQL ended this turn to break a deadlock with another answer to the
            # prompt (which locks the call and the worker in the other order) before that
            # one moved the call on: nothing of it was written, so it is taken again.
            if not lost_to_another_transaction(error) or attempt == TURN_ATTEMPTS:
                raise
            log.warning("call %s turn %s ended in a deadlock: taking it again",
                        call_sid, read.turn)


async def _read_or_open_call(unit: LazyUnit, call_sid: str, caller: str,
                             direction: str, now: datetime
                             ) -> tuple[CallRow, workers.Caller | None]:
    read, calling = await _read_call(unit, call_sid)
    if read is not None:
        return read, calling
    # the call's first webhook (or a simultaneous retry of it)
    opened = {"call_sid": call_sid, "phone": caller, "direction": direction,
              "status": CallStatus.IN_PROGRESS, "state": {}, "turn": 0,
              "last_response": "", "started_at": now, "updated_at": now}
    if dialect_name(unit) == "postgresql":
        rows = (await execute_keyed(unit, _OPEN_CALL, opened, standalone=True)).all()
        if rows:
            return _call_and_caller(rows)
    else:
        await _NEW_CALL.run(unit, opened, standalone=True)
    return await _read_call(unit, call_sid)


class _TurnTaken(RuntimeError):
    """Another answer to the prompt moved the call on while this one ran."""


async def _move_on(desk: CallDesk, unit: LazyUnit, call: CallRow,
                   calling: workers.Caller | None, event: FlowInput, now: datetime) -> Turn:
    effects = _Effects(desk, unit, call, calling, now)
    try:
        state, voice, listened_before = await _step(desk, call, event, effects)
        await effects.finish()
    finally:
        await effects.close()
    reply = VoiceReply(tuple(voice), call.turn + 1, call.call_sid, listened_before)
    moving = {"turn": call.turn + 1, "state": state.to_dict(), "updated_at": now,
              "last_response": json.dumps({"voice": voice_to_json(voice),
                                           "listened_before": listened_before},
                                          ensure_ascii=False)}
    if not await _move_call_on(unit, call, effects.caller, moving):
        raise _TurnTaken(f"call {call.call_sid} turn {call.turn} was taken meanwhile")
    return Turn(reply, unit.opened is not None and queued_any(unit.opened))


async def _move_call_on(unit: LazyUnit, call: CallRow,
                        caller: workers.Caller | None, moving: dict) -> bool:
    """Writes the call's next turn (`moving`: its columns) and what the turn changed of
    the caller, if the call is still at the turn read; False if it is not."""
    if caller is not None and _MOVE_CALL_ON_WRITING_CALLER.can_write(unit, caller):
        # One statement: a turn that writes only the caller's answers sends no BEGIN or
        # COMMIT either.
        return await _MOVE_CALL_ON_WRITING_CALLER.write(unit, caller, {
            "moving_sid": call.call_sid, "moving_at": call.turn,
            **{f"moving_{name}": value for name, value in moving.items()}})
    if caller is not None and caller.held:
        await workers.save_caller(await unit.connection(), caller)
    moved = await execute_keyed(unit, _MOVE_CALL_ON, {
        "sid": call.call_sid, "at": call.turn, **moving}, standalone=True)
    return moved.rowcount == 1


async def _answered_since(desk: CallDesk, read: CallRow) -> Turn | None:
    """The reply saved for the call's turn if another answer took it after `read`."""
    async with lazy_unit(desk.engine) as unit:
        call, _ = await _read_call(unit, read.call_sid)
    if call is None or call.turn <= read.turn:
        return None
    return Turn(_stored_reply(call), False, taken=False)


async def _step(desk: CallDesk, call: CallRow, event: FlowInput, effects: _Effects
                ) -> tuple[call_flow.CallState, list, bool]:
    """The flow's steps for this turn's event and the inputs its effects bring back:
    the call's new state, what to say, and whether the turn before listened."""
    state = call_flow.CallState.from_dict(call.state)
    listened_before = call_flow.listening(state, desk.market, desk.speech) is not None
    voice: list = []
    next_event: FlowInput | None = event
    for _ in range(MAX_EFFECT_ROUNDS):
        ctx = _context(desk, call.phone, effects)
        state, commands = call_flow.step(state, next_event, ctx)
        next_event = None
        for command in commands:
            if isinstance(command, VOICE_COMMANDS):
                voice.append(command)
            else:
                next_event = await effects.apply(command) or next_event
        if next_event is None:
            break
    return state, voice, listened_before


def _stored_reply(call: CallRow) -> VoiceReply:
    stored = json.loads(call.last_response)
    return VoiceReply(voice_from_json(stored["voice"]), call.turn, call.call_sid,
                      stored["listened_before"])


@dataclass(frozen=True)
class CallRow:
    call_sid: str
    phone: str
    direction: str
    turn: int
    state: dict
    last_response: str


async def _read_call(unit: LazyUnit,
                     call_sid: str) -> tuple[CallRow | None, workers.Caller | None]:
    """The call's row and its caller (workers.Caller), read before anything is written:
    one query (a turn's round trips are what queues at busy times), no ORM objects."""
    rows = (await execute_keyed(unit, _READ_CALL, {"sid": call_sid}, standalone=True)).all()
    if not rows:
        return None, None
    return _call_and_caller(rows)


def _call_and_caller(rows) -> tuple[CallRow, workers.Caller | None]:
    """The call's row and its caller from rows of _READ_CALL's columns."""
    return CallRow(*rows[0][:len(_CALL_ROW)]), workers.caller_of(rows)


def _context(desk: CallDesk, phone: str, effects: _Effects) -> CallContext:
    return CallContext(caller=phone, today=effects.today, market=desk.market,
                       catalogue=desk.catalogue, worker=effects.view, speech=desk.speech)


@dataclass(frozen=True)
class ListeningCall:
    call_sid: str
    phone: str
    direction: str
    turn: int
    listen: Listen | None  # what the current prompt hears; None: keys only


async def listening_call(desk: CallDesk, call_sid: str) -> ListeningCall | None:
    """A live call of ours, with what its current prompt listens for; None otherwise."""
    async with desk.sessions() as session:
        conn = await read_only(session)  # every prompt's stream asks: no write lock
        row = (await execute_keyed(conn, _LIVE_CALL, {"sid": call_sid})).first()
    if row is None:
        return None
    listen = call_flow.listening(call_flow.CallState.from_dict(row.state), desk.market,
                                 desk.speech)
    return ListeningCall(call_sid, row.phone, row.direction, row.turn, listen)


async def book_callbacks(session: AsyncSession, callers: dict[str, str], *, reason: str,
                         now: datetime) -> None:
    """Callers (by CallSid) to be called back, once each: a phone with a call back open
    already (it rang more than once) is left as it is."""
    waiting = set(await session.scalars(select(CallbackRequest.phone).where(
        CallbackRequest.phone.in_(set(callers.values())),
        CallbackRequest.status == CallbackStatus.OPEN)))
    for call_sid, phone in callers.items():
        if phone in waiting:
            continue
        waiting.add(phone)
        await insert_ignoring_duplicates(
            session, CallbackRequest.__table__,
            {"phone": phone, "call_sid": call_sid, "reason": reason, "status": CallbackStatus.OPEN,
             "created_at": now},
            ["call_sid"])


# A call with no turn for this long is over: its end is asked of the carrier (the
# callback saying so may have reached a process that was down, or the database).
STALE_CALL = timedelta(hours=1)
STALE_CALLS_BATCH = 50


async def end_stale_calls(desk: CallDesk, carrier: Carrier) -> int:
    """Asks the carrier how calls still open here ended; returns how many were ended."""
    now = desk.clock()
    async with desk.sessions() as session:
        stale = list(await session.scalars(
            select(CALLS.c.call_sid).where(CALLS.c.status == CallStatus.IN_PROGRESS,
                                           CALLS.c.updated_at <= now - STALE_CALL)
            .order_by(CALLS.c.updated_at).limit(STALE_CALLS_BATCH)))
    ended = 0
    for call_sid in stale:
        try:
            status = await carrier.call_status(call_sid)
        except CarrierError as exc:
            log.warning("could not ask the carrier about call %s: %s", call_sid, exc)
            return ended
        if status.ended:
            ended += await end_call(desk, call_sid, status)
    return ended


async def end_call(desk: CallDesk, call_sid: str, status: CallStatus) -> bool:
    """Records that the carrier ended the call; False for a call we never saw. One row by
    its key, on the event loop: calls end as often as they start, and a trip to the
    database thread would hold SQLite's one connection (and every turn waiting for it)
    for two iterations of a busy event loop."""
    now = desk.clock()
    async with lazy_unit(desk.engine) as unit:
        result = await execute_keyed(unit, _UPDATE_CALL, {
            "sid": call_sid, "status": status, "ended_at": now, "updated_at": now},
            standalone=True)
        return result.rowcount == 1


async def outbound_start(desk: CallDesk, answered: OutboundAnswered, phone: str
                         ) -> CallStarted:
    """How a call we placed starts: with what it is about, loaded for the phone that
    answered; if that is gone (or not this phone's), with the worker's usual menu."""
    load = {"alert": alert_offer, "pay": pay_question, "hired": hire_call}[answered.subject]
    found = await load(desk, answered.subject_id, phone) if phone else None
    return CallStarted() if found is None else CallStarted(**{answered.subject: found})


async def alert_offer(desk: CallDesk, offer_id: int, phone: str) -> OfferView | None:
    """The offer an alert call is about, if it is that phone's."""
    async with desk.sessions() as session:
        return await offers.offer_view(session, offer_id, phone, timezone=desk.timezone)


async def hire_call(desk: CallDesk, hire_id: int, phone: str) -> HireView | None:
    """The hire a "you are hired" call is about, if it is that phone's and still to come."""
    async with desk.sessions() as session:
        worker_id = await session.scalar(select(Worker.id).where(Worker.phone == phone))
        if worker_id is None:
            return None
        found = await hires.hire_views(session, worker_id=worker_id, now=desk.clock(),
                                       timezone=desk.timezone, hire_id=hire_id)
    return found[0] if found else None


async def pay_question(desk: CallDesk, check_id: int, phone: str) -> PayQuestionView | None:
    """The pay check a "were you paid?" call is about, if it is that phone's and open."""
    async with desk.sessions() as session:
        row = (await session.execute(
            select(PayCheck, Job.code).join(Hire, Hire.id == PayCheck.hire_id)
            .join(Worker, Worker.id == Hire.worker_id).join(Job, Job.id == Hire.job_id)
            .where(PayCheck.id == check_id, Worker.phone == phone,
                   PayCheck.status.in_(AWAITING_ANSWER))
        )).first()
    if row is None:
        return None
    check, code = row
    return PayQuestionView(check.id, code, check.owed_fen, check.period_start,
                           check.period_end, desk.wage_rules.grace.days)
