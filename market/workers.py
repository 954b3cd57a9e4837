"""Workers: consent, the profile built up call by call, and completed registration."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import CTE, bindparam, delete, exists, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from basics.identity import protect_id_number
from basics.market_views import WorkerView
from market.outbox import PRIORITY_NOTICE, enqueue_sms
from prompts.catalogue import Catalogue
from store.driver_statements import DriverStatement
from store.models import AuditEntry, Trade, Worker, WorkerTrade
from store.repo import (
    DIALECT_INSERTS,
    Executor,
    KeyedInsertIgnoringDuplicates,
    dialect_name,
    execute_keyed,
)
from store.statuses import Availability, WorkerStatus

PROFILE_FIELDS = {
    "district_id", "town_id", "day_wage_fen", "availability", "alert_channel",
    "name_recording_url",
}
AVAILABLE_IN_DAYS = {Availability.TODAY: 0, Availability.TOMORROW: 1, Availability.WEEK: 0}


def worker_number(worker: Worker) -> str:
    return f"{worker.id:06d}"


async def load_worker(session: AsyncSession, phone: str) -> Worker | None:
    return await session.scalar(
        select(Worker).where(Worker.phone == phone).options(selectinload(Worker.trades))
    )


def worker_view(worker: Worker) -> WorkerView:
    return _view(lambda name: getattr(worker, name),
                 tuple(t.code for t in sorted(worker.trades, key=lambda t: t.position)))


def _view(column: Callable[[str], Any], trades: tuple[str, ...]) -> WorkerView:
    """The one mapping of a worker's columns (by name) to what a turn knows of them."""
    return WorkerView(
        number=f"{column('id'):06d}", status=column("status"), name=column("name"),
        trades=trades, district_id=column("district_id"), town_id=column("town_id"),
        day_wage_fen=column("day_wage_fen"), availability=column("availability"),
        alert_channel=column("alert_channel"), id_last4=column("id_number_last4"),
        has_name_recording=bool(column("name_recording_url")),
        consented=column("consent_at") is not None,
    )


_W, _WT, _T = Worker.__table__, WorkerTrade.__table__, Trade.__table__
# What a turn knows of the caller, as columns (prefixed: they may share a row with the
# call's own columns), one row per trade.
VIEW_COLUMNS = [c.label(f"worker_{c.name}") for c in (
    _W.c.id, _W.c.phone, _W.c.status, _W.c.name, _W.c.district_id, _W.c.town_id, _W.c.day_wage_fen,
    _W.c.availability, _W.c.alert_channel, _W.c.id_number_last4, _W.c.name_recording_url,
    _W.c.consent_at, _W.c.available_from, _W.c.registered_at)] + [
    _T.c.code.label("worker_trade")]
_CALLER_NAMES = [c.name.removeprefix("worker_") for c in VIEW_COLUMNS[:-1]]
VIEW_ORDER = _T.c.position
# Consent comes in bursts (every new caller's first answer): its statements are built once.
_NEW_WORKER = KeyedInsertIgnoringDuplicates(_W, ["phone"], returning=_W.c.id)
_AUDIT = DriverStatement(insert(AuditEntry.__table__))
# A call's writes to its caller, keyed by the worker's id (SET: the columns given).
_UPDATE_CALLER = DriverStatement(update(_W).where(_W.c.id == bindparam("caller")))
_MARKET_TRADES = DriverStatement(
    select(_T.c.id, _T.c.code)
    .where(_T.c.market_id == bindparam("market_id"),
           _T.c.code.in_(bindparam("codes", expanding=True)))
    .order_by(_T.c.position))
_DROP_TRADES = DriverStatement(delete(_WT).where(_WT.c.worker_id == bindparam("caller")))
_ADD_TRADES = insert(_WT)


def with_worker_trades(from_clause):
    """`from_clause` (holding the workers table) joined to the worker's trades."""
    return (from_clause.outerjoin(_WT, _WT.c.worker_id == _W.c.id)
            .outerjoin(_T, _T.c.id == _WT.c.trade_id))


def with_worker_by_phone(from_clause, phone_column):
    """`from_clause` joined (outer) to the worker whose phone is `phone_column`."""
    return with_worker_trades(from_clause.outerjoin(_W, _W.c.phone == phone_column))


_CALLER_BY_PHONE = DriverStatement(
    select(*VIEW_COLUMNS).select_from(with_worker_trades(_W))
    .where(_W.c.phone == bindparam("phone")).order_by(VIEW_ORDER))


@dataclass(frozen=True)
class PickedTrades:
    """The trades a caller picked, by code, not yet written."""

    market_id: int
    codes: tuple[str, ...]


@dataclass
class Caller:
    """A call's worker as its turn knows them: their columns (VIEW_COLUMNS' names) and
    trades, read with the call's row and kept up to date by the turn's own writes, so
    a turn reads its caller once. What a turn changes is held (`unsaved`,
    `unsaved_trades`) until `save_caller` writes it, or the call's move-on does
    (`CallerWritesAlong`)."""

    columns: dict[str, Any]
    trades: tuple[str, ...]
    unsaved: dict[str, Any] = field(default_factory=dict)
    unsaved_trades: PickedTrades | None = None

    @property
    def id(self) -> int:
        return self.columns["id"]

    def change(self, values: dict) -> None:
        self.columns.update(values)
        self.unsaved.update(values)

    @property
    def held(self) -> bool:
        """Whether the turn changed anything of the caller not yet written."""
        return bool(self.unsaved) or self.unsaved_trades is not None

    def __getattr__(self, name: str) -> Any:  # town_id, available_from, ... as a Worker's
        try:
            return self.__dict__["columns"][name]
        except KeyError:
            raise AttributeError(name) from None

    def view(self) -> WorkerView:
        return _view(self.columns.__getitem__, self.trades)


async def load_caller(executor: Executor, phone: str) -> Caller | None:
    """The worker of this phone as a Caller: one keyed query, no ORM objects."""
    return caller_of((await execute_keyed(executor, _CALLER_BY_PHONE, {"phone": phone})).all())


async def load_worker_view(executor: Executor, phone: str) -> WorkerView | None:
    """What a call turn needs to know of the caller, in one query and without ORM
    objects: most turns only read it."""
    caller = await load_caller(executor, phone)
    return None if caller is None else caller.view()


def caller_of(rows) -> Caller | None:
    """The caller from rows holding VIEW_COLUMNS; None when they hold no worker."""
    if not rows or rows[0].worker_id is None:
        return None
    first = rows[0]
    return Caller({name: getattr(first, f"worker_{name}") for name in _CALLER_NAMES},
                  tuple(row.worker_trade for row in rows if row.worker_trade is not None))


def worker_view_of(rows) -> WorkerView | None:
    """The view from rows holding VIEW_COLUMNS; None when they hold no worker."""
    caller = caller_of(rows)
    return None if caller is None else caller.view()


async def record_consent(
    executor: Executor, view: WorkerView | None, *, market_id: int, phone: str,
    call_sid: str, now: datetime,
) -> WorkerView:
    """The caller's worker row exists from now on, with when and on which call they
    agreed (the first consent is kept). `view` is the caller as the turn began; the
    view returned is the caller now. Few plain statements: a turn holds SQLite's one
    connection while it runs, and consent turns come in bursts."""
    if view is not None and view.consented:
        return view
    if view is None:
        worker_id = (await _NEW_WORKER.run(executor, {
            "market_id": market_id, "phone": phone, "created_at": now,
            "consent_at": now, "consent_call_sid": call_sid})).scalar()
        if worker_id is None:  # another call from this phone registered it just now
            return await record_consent(executor, await load_worker_view(executor, phone),
                                        market_id=market_id, phone=phone,
                                        call_sid=call_sid, now=now)
        view = WorkerView(number=f"{worker_id:06d}", status=WorkerStatus.REGISTERING)
    else:  # a worker row without consent (none is made that way today): consent it once
        given = await executor.scalar(
            update(_W).where(_W.c.phone == phone, _W.c.consent_at.is_(None))
            .values(consent_at=now, consent_call_sid=call_sid).returning(_W.c.id))
        if given is None:
            return replace(view, consented=True)
    await execute_keyed(executor, _AUDIT, {"at": now, "actor": "caller",
                                          "action": "consent_given", "subject": phone,
                                          "detail": {"call_sid": call_sid}})
    return replace(view, consented=True)


def profile_values(fields: dict, today) -> dict:
    """The worker's columns a profile change writes (its trades aside): the one rule for
    a caller's answers and an agent's form."""
    unknown = set(fields) - PROFILE_FIELDS - {"trades"}
    if unknown:
        raise ValueError(f"not profile fields: {sorted(unknown)}")
    values = {name: fields[name] for name in PROFILE_FIELDS & set(fields)}
    if "availability" in fields:
        days = AVAILABLE_IN_DAYS.get(fields["availability"])
        values["available_from"] = None if days is None else today + timedelta(days=days)
    return values


async def save_profile(
    session: AsyncSession, worker: Worker, fields: dict, *, market_id: int, today
) -> None:
    for name, value in profile_values(fields, today).items():
        setattr(worker, name, value)
    if "trades" in fields:
        trades = await session.scalars(
            select(Trade).where(Trade.market_id == market_id, Trade.code.in_(fields["trades"]))
        )
        worker.trades = list(trades)
    await session.flush()


async def save_caller(executor: Executor, caller: Caller) -> None:
    """Writes what the turn changed of the caller: columns first, as the trades' rows
    copy the worker's town when inserted."""
    if caller.unsaved:
        await execute_keyed(executor, _UPDATE_CALLER, {"caller": caller.id, **caller.unsaved})
        caller.unsaved.clear()
    if (picked := caller.unsaved_trades) is not None:
        trades = (await execute_keyed(executor, _MARKET_TRADES, {
            "market_id": picked.market_id, "codes": list(picked.codes)})).all()
        await execute_keyed(executor, _DROP_TRADES, {"caller": caller.id})
        if trades:
            await executor.execute(_ADD_TRADES, [
                {"worker_id": caller.id, "trade_id": trade.id} for trade in trades])
        caller.trades = tuple(trade.code for trade in trades)  # in the trades' order
        caller.unsaved_trades = None


class CallerWritesAlong:
    """What a turn changed of the caller (its columns, or its trades) written by the
    statement of another write, `gate` (a data-modifying CTE returning what it wrote;
    PostgreSQL): the caller is written only if the gate wrote a row, and the two are one
    round trip with no transaction around them. The caller's values are bound by names
    of their own: a column's name among the parameters would be set in the gate too."""

    def __init__(self, gate: CTE):
        self._moved = exists(select(*gate.c))
        self._columns: dict[tuple[str, ...], DriverStatement] = {}  # built when first met
        wanted = (select(_T.c.id, _T.c.code, _T.c.position)
                  .where(_T.c.market_id == bindparam("new_market_id"),
                         _T.c.code.in_(bindparam("new_codes", expanding=True)), self._moved)
                  .cte("wanted"))
        caller = bindparam("caller", type_=_WT.c.worker_id.type)
        dropped = delete(_WT).where(_WT.c.worker_id == caller, self._moved,
                                    _WT.c.trade_id.not_in(select(wanted.c.id)))
        added = (DIALECT_INSERTS["postgresql"](_WT)
                 .from_select(["worker_id", "trade_id"], select(caller, wanted.c.id))
                 .on_conflict_do_nothing())
        self._trades = DriverStatement(
            select(select(func.count()).select_from(gate).scalar_subquery().label("moved"),
                   func.array(select(wanted.c.code).order_by(wanted.c.position)
                              .scalar_subquery()).label("trades"))
            .add_cte(dropped.cte("dropped")).add_cte(added.cte("added")))

    @staticmethod
    def can_write(executor: Executor, caller: Caller) -> bool:
        """On PostgreSQL, with one kind of change held, not both (the trades' rows follow
        the worker's town by trigger: one statement is not to change both)."""
        return (dialect_name(executor) == "postgresql"
                and bool(caller.unsaved) != (caller.unsaved_trades is not None))

    async def write(self, executor: Executor, caller: Caller, gate_params: dict) -> bool:
        """Runs the gate with the caller's held change, standalone (the unit's last
        write); whether the gate wrote."""
        if (picked := caller.unsaved_trades) is None:
            statement, params = self._columns_statement(caller)
            result = await execute_keyed(executor, statement, {**params, **gate_params},
                                         standalone=True)
            caller.unsaved.clear()
            return result.rowcount == 1
        row = (await execute_keyed(executor, self._trades, {
            "caller": caller.id, "new_market_id": picked.market_id,
            "new_codes": list(picked.codes), **gate_params}, standalone=True)).one()
        caller.trades, caller.unsaved_trades = tuple(row.trades), None
        return row.moved == 1

    def _columns_statement(self, caller: Caller) -> tuple[DriverStatement, dict]:
        names = tuple(sorted(caller.unsaved))
        statement = self._columns.get(names)
        if statement is None:
            statement = self._columns[names] = DriverStatement(
                update(_W).where(_W.c.id == bindparam("caller"), self._moved)
                .values({name: bindparam(f"new_{name}", type_=_W.c[name].type)
                         for name in names}))
        return statement, {"caller": caller.id, **{f"new_{name}": caller.unsaved[name]
                                                    for name in names}}


def save_caller_profile(caller: Caller, fields: dict, *, market_id: int, today) -> None:
    """`save_profile` for a call's caller, held for the call's move-on to write (or
    `save_caller`); its trades as picked until written."""
    caller.change(profile_values(fields, today))
    if "trades" in fields:
        caller.unsaved_trades = PickedTrades(market_id, tuple(fields["trades"]))
        caller.trades = caller.unsaved_trades.codes


def _id_number_columns(id_number: str, key: str) -> dict:
    protected = protect_id_number(id_number, key)
    return {"id_number_hash": protected.digest, "id_number_last4": protected.last4}


def store_id_number(worker: Worker, id_number: str, key: str) -> None:
    for name, value in _id_number_columns(id_number, key).items():
        setattr(worker, name, value)


def store_caller_id_number(caller: Caller, id_number: str, key: str) -> None:
    caller.change(_id_number_columns(id_number, key))  # unsaved: see save_caller


async def complete_registration(
    session: AsyncSession, worker: Worker, *, catalogue: Catalogue, hotline: str, now: datetime
) -> None:
    first_time = worker.status != WorkerStatus.ACTIVE
    worker.status = WorkerStatus.ACTIVE
    worker.registered_at = worker.registered_at or now
    await session.flush()  # what the agent's form added is logged before the welcome
    if first_time:
        await _welcome(session, worker.id, worker.phone, catalogue=catalogue,
                       hotline=hotline, now=now)


async def complete_caller_registration(
    executor: Executor, caller: Caller, phone: str, *, catalogue: Catalogue, hotline: str,
    now: datetime
) -> None:
    """`complete_registration` for a call's caller (of `phone`): the columns held for
    the call's move-on, the welcome SMS queued by keyed statements."""
    first_time = caller.columns["status"] != WorkerStatus.ACTIVE
    caller.change({"status": WorkerStatus.ACTIVE,  # unsaved: see save_caller
                   "registered_at": caller.columns["registered_at"] or now})
    if first_time:
        await _welcome(executor, caller.id, phone, catalogue=catalogue, hotline=hotline,
                       now=now)


async def _welcome(executor: Executor, worker_id: int, phone: str, *,
                   catalogue: Catalogue, hotline: str, now: datetime) -> None:
    """A newly registered worker is told their number by SMS; the audit log keeps it."""
    number = f"{worker_id:06d}"
    await enqueue_sms(
        executor,
        dedupe_key=f"registered:{worker_id}",
        phone=phone,
        body=catalogue.text("sms_registered", number=number, hotline=hotline),
        kind="registration",
        priority=PRIORITY_NOTICE,
        now=now,
    )
    await execute_keyed(executor, _AUDIT, {"at": now, "actor": "caller",
                                          "action": "registered", "subject": phone,
                                          "detail": {"worker": number}})
