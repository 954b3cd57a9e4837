"""Rights cases (劳动维权): opened automatically when wages stay unpaid past the grace
period, or by a worker (phone menu 3, SMS "欠薪"); one case per employer and job; agents
work them and the worker hears of every step."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import bindparam, insert, select, update
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
from store.repo import Executor, execute_keyed, insert_ignoring_duplicates
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
    if hire is not None:
        employer_id = (await execute_keyed(executor, _EMPLOYER_OF_JOB, {"job_id": hire.job_id})
                       ).scalar()
        found = (await execute_keyed(executor, _OPEN_CASE, {
            "employer_id": employer_id, "job_id": hire.job_id, "open": list(CASE_OPEN),
        })).scalar()
    if found is not None:
        case = CaseJoined(found, employer_id)
    else:
        case = CaseJoined((await execute_keyed(executor, _NEW_CASE, {
            "employer_id": employer_id, "job_id": hire.job_id if hire else None,
            "status": CaseStatus.OPEN, "opened_by": opened_by, "owed_fen": 0,
            "recovered_fen": 0, "opened_at": now})).scalar(), employer_id)
        await _event(executor, case.id, now, opened_by, "opened")
    if await insert_ignoring_duplicates(executor, CaseWorker.__table__, {
            "case_id": case.id, "worker_id": worker.id, "hire_id": hire.id if hire else None,
            "owed_fen": owed_fen, "recovered_fen": 0}):
        await execute_keyed(executor, _ADD_OWED, {"case": case.id, "amount": owed_fen})
        await _event(executor, case.id, now, opened_by, "worker_added",
                     note=f"worker:{worker.id}", amount_fen=owed_fen)
        await _tell(executor, worker, case.id, "sms_case_opened", now, catalogue)
    if hold_employer and case.employer_id is not None:
        await execute_keyed(executor, _HOLD_ALERTS, {"employer": case.employer_id})
    return case


_EMPLOYER_OF_JOB = DriverStatement(select(Job.employer_id).where(Job.id == bindparam("job_id")))
_OPEN_CASE = DriverStatement(
    select(RightsCase.id).where(RightsCase.employer_id == bindparam("employer_id"),
                                RightsCase.job_id == bindparam("job_id"),
                                RightsCase.status.in_(bindparam("open", expanding=True)))
    .order_by(RightsCase.id).limit(1).with_for_update())
_NEW_CASE = DriverStatement(insert(RightsCase).returning(RightsCase.id))
_ADD_OWED = DriverStatement(
    update(RightsCase).where(RightsCase.id == bindparam("case"))
    .values(owed_fen=RightsCase.owed_fen + bindparam("amount")))
_HOLD_ALERTS = DriverStatement(
    update(Employer).where(Employer.id == bindparam("employer")).values(alerts_held=True))
_NEW_EVENT = DriverStatement(insert(CaseEvent))


async def _event(executor: Executor, case_id: int, at: datetime, actor: str, kind: str, *,
                 note: str = "", amount_fen: int | None = None) -> None:
    await execute_keyed(executor, _NEW_EVENT, {
        "case_id": case_id, "at": at, "actor": actor, "kind": kind, "note": note,
        "amount_fen": amount_fen})


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
    anything with a worker's `id` and `phone` (as `open_or_join`)."""
    hire = (await execute_keyed(executor, _LATEST_HIRE, {"worker_id": worker.id})).first()
    owed = amount_fen if amount_fen is not None else (
        (hire.owed_fen or 0) - hire.paid_fen if hire else 0)
    return await open_or_join(executor, worker=worker, hire=hire, owed_fen=owed,
                              opened_by=via, now=now, catalogue=catalogue,
                              hold_employer=hold_employer)


# The hire a worker's report is about: their latest unpaid one, else their latest.
_LATEST_HIRE = DriverStatement(
    select(Hire.id, Hire.job_id, Hire.owed_fen, Hire.paid_fen)
    .where(Hire.worker_id == bindparam("worker_id"), Hire.status != HireStatus.CANCELLED)
    .order_by((Hire.status == HireStatus.UNPAID).desc(), Hire.created_at.desc(), Hire.id.desc())
    .limit(1))


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
