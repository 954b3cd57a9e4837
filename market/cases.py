"""Rights cases (劳动维权): opened automatically when wages stay unpaid past the grace
period, or by a worker (phone menu 3, SMS "欠薪"); one case per employer and job; agents
work them and the worker hears of every step."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    Insert,
    ScalarSelect,
    Select,
    bindparam,
    func,
    insert,
    literal,
    null,
    select,
    union_all,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from market.jobs import Conflict, MarketError, NotFound
from market.outbox import PRIORITY_REPLY, enqueue_sms
from prompts.catalogue import Catalogue
from store.driver_statements import DriverStatement
from store.models import (
    CaseEvent,
    CaseWorker,
    Employer,
    Hire,
    Job,
    PayCheck,
    RightsCase,
    Worker,
)
from store.repo import (
    DIALECT_INSERTS,
    Executor,
    dialect_name,
    execute_keyed,
    insert_ignoring_duplicates,
)
from store.statuses import CASE_OPEN, NOT_PAID_IN_FULL, CaseStatus, HireStatus


class CaseAction(StrEnum):
    """What an agent does on a case; the case's history records it as the event's kind."""

    ASSIGN = "assign"
    CONTACT = "contact"
    MEDIATION = "mediation"
    REFER = "refer"
    RECOVERED = "recovered"
    CLOSE = "close"
    NOTE = "note"


# agent action -> the case's status after it
ACTIONS = {CaseAction.ASSIGN: CaseStatus.ASSIGNED, CaseAction.CONTACT: CaseStatus.CONTACTED,
           CaseAction.MEDIATION: CaseStatus.MEDIATION, CaseAction.REFER: CaseStatus.REFERRED,
           CaseAction.RECOVERED: CaseStatus.RECOVERED, CaseAction.CLOSE: CaseStatus.CLOSED,
           CaseAction.NOTE: None}
REFERRALS = ("arbitration", "platform")  # 劳动仲裁, 根治欠薪 platform


@dataclass(frozen=True)
class CaseJoined:
    """The case a worker's unpaid wages were put in."""

    id: int
    employer_id: int | None


async def open_or_join(executor: Executor, *, worker, hire, owed_fen: int, opened_by: str,
                       now: datetime, catalogue: Catalogue, hold_employer: bool) -> CaseJoined:
    """The employer's open case on that job gets this worker (anything with a worker's
    `id` and `phone`: a Worker, or a call's caller; `hire`: anything with a hire's `id`
    and `job_id`, or None); else a new case. Keyed statements, no ORM objects: a worker
    reports from a call's turn, on its connection."""
    employer_id = found = None
    if hire is not None and hire.job_id is not None:
        employer_id, found = (await execute_keyed(executor, _CASE_OF_JOB, {
            "job_id": hire.job_id, "open": list(CASE_OPEN)})).one()
    return await _put_in_case(
        executor, worker, _Report(hire.id if hire else None, hire.job_id if hire else None,
                                  employer_id, found),
        owed_fen=owed_fen, opened_by=opened_by, now=now, catalogue=catalogue,
        hold_employer=hold_employer)


@dataclass(frozen=True)
class _Report:
    """What a report of unpaid wages is about: the hire (if known), its job's employer,
    and the employer's open case on that job (if any, locked)."""

    hire_id: int | None
    job_id: int | None
    employer_id: int | None
    open_case: int | None


async def _put_in_case(executor: Executor, worker, report: _Report, *, owed_fen: int,
                       opened_by: str, now: datetime, catalogue: Catalogue,
                       hold_employer: bool) -> CaseJoined:
    member = {"worker_id": worker.id, "hire_id": report.hire_id, "owed_fen": owed_fen,
              "at": now, "actor": opened_by, "note": f"worker:{worker.id}"}
    if report.open_case is None:
        case_id = await _open_case(executor, member, {
            "employer_id": report.employer_id, "job_id": report.job_id,
            "status": CaseStatus.OPEN, "opened_by": opened_by, "owed_fen": owed_fen,
            "recovered_fen": 0, "opened_at": now})
        added = True
    else:
        case_id = report.open_case
        added = await _join_case(executor, {"case_id": case_id, **member})
    if added:
        await _tell(executor, worker, case_id, "sms_case_opened", now, catalogue)
    if hold_employer and report.employer_id is not None:
        await execute_keyed(executor, _HOLD_ALERTS, {"employer": report.employer_id})
    return CaseJoined(case_id, report.employer_id)


async def _open_case(executor: Executor, member: dict, case: dict) -> int:
    """A new case holding the worker, with its two events ("opened", "worker_added"):
    one statement on PostgreSQL (a worker's report is a call's turn)."""
    if dialect_name(executor) == "postgresql":
        return (await execute_keyed(executor, _NEW_CASE_WITH_WORKER, {**member, **case})
                ).scalar()
    case_id = (await execute_keyed(executor, _NEW_CASE, case)).scalar()
    await execute_keyed(executor, _NEW_MEMBER, {"case_id": case_id, **member})
    await execute_keyed(executor, _NEW_CASE_EVENTS, {"case_id": case_id, **member})
    return case_id


async def _join_case(executor: Executor, member: dict) -> bool:
    """The worker added to an open case, its owed sum to the case's and a "worker_added"
    event, unless they are in it already (a repeated report changes nothing); whether
    they were added. One statement on PostgreSQL."""
    if dialect_name(executor) == "postgresql":
        return (await execute_keyed(executor, _JOIN_CASE, member)).scalar() == 1
    if not await insert_ignoring_duplicates(executor, CaseWorker.__table__, {
            name: member[name] for name in ("case_id", "worker_id", "hire_id", "owed_fen")}
            | {"recovered_fen": 0}):
        return False
    await execute_keyed(executor, _ADD_OWED, member)
    await execute_keyed(executor, _WORKER_ADDED_EVENT, member)
    return True


def _member_row(case_id) -> Select:
    return select(case_id, *(bindparam(name, type_=CaseWorker.__table__.c[name].type)
                             for name in ("worker_id", "hire_id", "owed_fen")),
                  literal(0))


def _event_row(case_id, kind: str, *, joined: bool) -> Select:
    """A case event of the report's: "opened" has no note or amount; "worker_added" names
    the worker and their owed sum."""
    events = CaseEvent.__table__
    return select(case_id, bindparam("at", type_=events.c.at.type),
                  bindparam("actor", type_=events.c.actor.type), literal(kind),
                  bindparam("note", type_=events.c.note.type) if joined else literal(""),
                  bindparam("owed_fen", type_=events.c.amount_fen.type) if joined
                  else null())


_MEMBER_COLUMNS = ["case_id", "worker_id", "hire_id", "owed_fen", "recovered_fen"]
_EVENT_COLUMNS = ["case_id", "at", "actor", "kind", "note", "amount_fen"]


def _events_of_new_case(case_id) -> Insert:
    # One INSERT adds both, in this order (their ids order a case's history).
    return insert(CaseEvent).from_select(_EVENT_COLUMNS, union_all(
        _event_row(case_id, "opened", joined=False),
        _event_row(case_id, "worker_added", joined=True)))


def _new_case_with_worker() -> DriverStatement:
    """PostgreSQL: the case, its member and its events in one statement (data-modifying
    CTEs all run, read or not); returns the case's id."""
    columns = ("employer_id", "job_id", "status", "opened_by", "owed_fen", "recovered_fen",
               "opened_at")
    case = (insert(RightsCase).values({name: bindparam(name) for name in columns})
            .returning(RightsCase.id).cte("new_case"))
    member = insert(CaseWorker).from_select(_MEMBER_COLUMNS, _member_row(case.c.id)
                                            .select_from(case))
    events = _events_of_new_case(case.c.id)  # its selects read the case's CTE
    return DriverStatement(select(case.c.id).add_cte(member.cte("member"))
                           .add_cte(events.cte("events")))


def _join_case_statement() -> DriverStatement:
    """PostgreSQL: the worker into the case unless in it already, and only then their
    owed sum added and the event written; returns how many were added (0 or 1)."""
    case_id = bindparam("case_id", type_=CaseWorker.__table__.c.case_id.type)
    added = (DIALECT_INSERTS["postgresql"](CaseWorker)
             .from_select(_MEMBER_COLUMNS, _member_row(case_id))
             .on_conflict_do_nothing().returning(CaseWorker.case_id).cte("added"))
    owed = (update(RightsCase).where(RightsCase.id.in_(select(added.c.case_id)))
            .values(owed_fen=RightsCase.owed_fen + bindparam("owed_fen")))
    event = insert(CaseEvent).from_select(
        _EVENT_COLUMNS, _event_row(added.c.case_id, "worker_added", joined=True)
        .select_from(added))
    return DriverStatement(select(func.count()).select_from(added)
                           .add_cte(owed.cte("owed")).add_cte(event.cte("event")))


def _open_case_of(job_id, employer_id) -> ScalarSelect:
    """The employer's open case on the job (the oldest), locked: a report joins it."""
    return (select(RightsCase.id)
            .where(RightsCase.employer_id == employer_id, RightsCase.job_id == job_id,
                   RightsCase.status.in_(bindparam("open", expanding=True)))
            .order_by(RightsCase.id).limit(1).with_for_update().scalar_subquery())


_CASE_OF_JOB = DriverStatement(
    select(Job.employer_id, _open_case_of(Job.id, Job.employer_id))
    .where(Job.id == bindparam("job_id")))
_NEW_CASE = DriverStatement(insert(RightsCase).returning(RightsCase.id))
_NEW_CASE_WITH_WORKER = _new_case_with_worker()
_NEW_MEMBER = DriverStatement(
    insert(CaseWorker).from_select(_MEMBER_COLUMNS, _member_row(bindparam("case_id"))))
_NEW_CASE_EVENTS = DriverStatement(_events_of_new_case(bindparam("case_id")))
_JOIN_CASE = _join_case_statement()
_ADD_OWED = DriverStatement(
    update(RightsCase).where(RightsCase.id == bindparam("case_id"))
    .values(owed_fen=RightsCase.owed_fen + bindparam("owed_fen")))
_WORKER_ADDED_EVENT = DriverStatement(insert(CaseEvent).from_select(
    _EVENT_COLUMNS, _event_row(bindparam("case_id"), "worker_added", joined=True)))
_HOLD_ALERTS = DriverStatement(
    update(Employer).where(Employer.id == bindparam("employer")).values(alerts_held=True))


async def unpaid_past_grace(session: AsyncSession, check: PayCheck, *, now: datetime,
                            catalogue: Catalogue, hold_employer: bool) -> CaseJoined | None:
    """The case_check reminder: still unpaid after the grace period -> a case."""
    if check.status not in NOT_PAID_IN_FULL:
        return None
    hire = await session.get(Hire, check.hire_id)
    worker = await session.get(Worker, hire.worker_id)
    owed = check.owed_fen - (check.paid_fen or 0)
    return await open_or_join(session, worker=worker, hire=hire, owed_fen=owed,
                              opened_by="auto", now=now, catalogue=catalogue,
                              hold_employer=hold_employer)


async def report_by_worker(executor: Executor, worker, *, amount_fen: int | None,
                           via: str, now: datetime, catalogue: Catalogue,
                           hold_employer: bool) -> CaseJoined:
    """A worker reports unpaid wages: the case is about their latest unpaid hire, or
    their latest hire at all; with none, an agent finds out who the employer is. `worker`:
    anything with a worker's `id` and `phone` (as `open_or_join`). The hire, its
    employer and their open case are one read."""
    hire = (await execute_keyed(executor, _LATEST_HIRE, {
        "worker_id": worker.id, "open": list(CASE_OPEN)})).first()
    owed = amount_fen if amount_fen is not None else (
        (hire.owed_fen or 0) - hire.paid_fen if hire else 0)
    report = (_Report(hire.id, hire.job_id, hire.employer_id, hire.open_case) if hire
              else _Report(None, None, None, None))
    return await _put_in_case(executor, worker, report, owed_fen=owed, opened_by=via,
                              now=now, catalogue=catalogue, hold_employer=hold_employer)


def _latest_hire() -> DriverStatement:
    """The hire a worker's report is about (their latest unpaid one, else their latest),
    its job's employer and the employer's open case on it."""
    latest = (select(Hire.id, Hire.job_id, Hire.owed_fen, Hire.paid_fen)
              .where(Hire.worker_id == bindparam("worker_id"),
                     Hire.status != HireStatus.CANCELLED)
              .order_by((Hire.status == HireStatus.UNPAID).desc(), Hire.created_at.desc(),
                        Hire.id.desc())
              .limit(1).subquery("latest"))
    # The case is looked up for the one hire found (a subquery of the outer query's one
    # row): no other open case of the worker's is locked.
    return DriverStatement(
        select(*latest.c, Job.employer_id,
               _open_case_of(latest.c.job_id, Job.employer_id).label("open_case"))
        .select_from(latest.outerjoin(Job, Job.id == latest.c.job_id)))


_LATEST_HIRE = _latest_hire()


async def act(session: AsyncSession, case_id: int, *, action: CaseAction, agent: str, note: str,
              amount_fen: int | None, referral: str | None, now: datetime,
              catalogue: Catalogue) -> RightsCase:
    case = await session.get(RightsCase, case_id, with_for_update=True)
    if case is None:
        raise NotFound("case", case_id)
    if action not in ACTIONS:
        raise MarketError("action", "must_be_one_of", choices=", ".join(ACTIONS))
    if case.status == CaseStatus.CLOSED:
        raise Conflict("status", "case_closed", ident=case_id)
    if action == CaseAction.RECOVERED:
        if not amount_fen or amount_fen <= 0:
            raise MarketError("amount_yuan", "say_recovered")
        case.recovered_fen += amount_fen
    if action == CaseAction.REFER:
        if referral not in REFERRALS:
            raise MarketError("referral", "must_be_one_of", choices=", ".join(REFERRALS))
        case.referred_to = referral
    if action == CaseAction.ASSIGN:
        case.assigned_to = agent
    if ACTIONS[action]:
        case.status = ACTIONS[action]
    if action == CaseAction.CLOSE:
        case.closed_at = now
    session.add(CaseEvent(case_id=case.id, at=now, actor=agent, kind=action, note=note,
                          amount_fen=amount_fen))
    if action != CaseAction.NOTE:
        members = list(await session.execute(
            select(Worker, CaseWorker).join(CaseWorker, CaseWorker.worker_id == Worker.id)
            .where(CaseWorker.case_id == case.id).order_by(Worker.id)))
        amounts = shares(amount_fen or 0, [member.owed_fen for _, member in members])
        for (worker, member), amount in zip(members, amounts, strict=True):
            member.recovered_fen += amount
            await _tell(session, worker, case.id, f"sms_case_{action}", now, catalogue,
                        amount=catalogue.yuan(amount), event=now.timestamp())
    return case


def shares(total_fen: int, owed_fen: list[int]) -> list[int]:
    """A recovered sum split among a case's workers in proportion to what each is owed
    (equally if nothing was recorded), to the fen: each is told their own share. The
    fen left by rounding down go to the largest remainders, so the shares add up."""
    weights = owed_fen if sum(owed_fen) > 0 else [1] * len(owed_fen)
    whole = sum(weights)
    if not whole:
        return []
    exact = [total_fen * w for w in weights]
    amounts = [e // whole for e in exact]
    by_remainder = sorted(range(len(weights)), key=lambda i: (-(exact[i] % whole), i))
    for i in by_remainder[:total_fen - sum(amounts)]:
        amounts[i] += 1
    return amounts


async def _tell(executor: Executor, worker, case_id: int, prompt_id: str,
                now: datetime, catalogue: Catalogue, event: float = 0, **params) -> None:
    await enqueue_sms(executor, dedupe_key=f"{prompt_id}:{case_id}:{worker.id}:{event}",
                      phone=worker.phone, body=catalogue.text(prompt_id, case=case_id, **params),
                      kind="case", priority=PRIORITY_REPLY, now=now)
