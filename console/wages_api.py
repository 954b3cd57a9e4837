"""The API for the wage loop: rights cases and their evidence, corrections of what a hire
owes, employers cleared of a hold, missed reminders, and the market's figures."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date, timedelta

from aiohttp import web
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from console.audit import looked_at
from console.http import BadRequest, agent_of, deps_of, desk_of, record_id
from console.schemas import (
    CallOut,
    CaseActionIn,
    CaseDetailOut,
    CaseEmployerOut,
    CaseEventOut,
    CaseOut,
    CaseWorkerOut,
    EmployerClearedOut,
    FiguresOut,
    HireCorrectionIn,
    HireEvidenceOut,
    HireOut,
    PayCheckOut,
    ReminderOut,
    SiteOut,
    SmsOut,
)
from market import cases, jobs
from market import figures as figures_of
from market.wages import correct_owed
from store.models import (
    AuditEntry,
    CallSession,
    CaseEvent,
    CaseWorker,
    Employer,
    Hire,
    InboundSms,
    Job,
    OutboundSms,
    PayCheck,
    Reminder,
    RightsCase,
    Worker,
)
from store.statuses import Channel, JobStatus, ReminderStatus


async def list_cases(request: web.Request) -> list[CaseOut]:
    status = request.query.get("status")
    async with desk_of(request).sessions() as session:
        query = select(RightsCase).order_by(RightsCase.opened_at.desc()).limit(500)
        if status:
            query = query.where(RightsCase.status == status)
        return [CaseOut.model_validate(case) for case in await session.scalars(query)]


async def get_case(request: web.Request) -> CaseDetailOut:
    """The case with who, where, when, how much, its history and the evidence we hold.
    Looking at it is audited: it shows workers' personal data."""
    case_id = record_id(request)
    async with desk_of(request).sessions() as session, session.begin():
        case = await session.get(RightsCase, case_id)
        if case is None:
            raise jobs.NotFound("case", case_id)
        looked_at(session, agent=agent_of(request), subject=f"case:{case_id}",
                  now=deps_of(request).clock())
        employer = await session.get(Employer, case.employer_id) if case.employer_id else None
        job = await session.get(Job, case.job_id) if case.job_id else None
        members = list(await session.execute(
            select(CaseWorker, Worker).join(Worker, Worker.id == CaseWorker.worker_id)
            .where(CaseWorker.case_id == case_id)))
        events = await session.scalars(select(CaseEvent).where(CaseEvent.case_id == case_id)
                                       .order_by(CaseEvent.at, CaseEvent.id))
        return CaseDetailOut(
            **dict(CaseOut.model_validate(case)),
            employer=None if employer is None else CaseEmployerOut.model_validate(employer),
            site=None if job is None else SiteOut(
                job_code=job.code, address=job.address, start_at=job.start_at,
                end_at=job.end_at),
            workers=[await _evidence(session, member, worker, job)
                     for member, worker in members],
            history=[CaseEventOut.model_validate(event) for event in events])


async def _evidence(session: AsyncSession, member: CaseWorker, worker: Worker,
                    job: Job | None) -> CaseWorkerOut:
    hire = await session.get(Hire, member.hire_id) if member.hire_id else None
    since = (job.start_at if job else worker.created_at) - timedelta(days=30)
    sms_in = await session.scalars(select(InboundSms).where(
        InboundSms.phone == worker.phone, InboundSms.received_at >= since))
    sms_out = await session.scalars(select(OutboundSms).where(
        OutboundSms.phone == worker.phone, OutboundSms.created_at >= since))
    calls = await session.scalars(select(CallSession).where(
        CallSession.phone == worker.phone, CallSession.started_at >= since))
    checks = await session.scalars(select(PayCheck).where(PayCheck.hire_id == member.hire_id)
                                   ) if hire else []
    return CaseWorkerOut(
        worker_id=worker.id, name=worker.name, phone=worker.phone, owed_fen=member.owed_fen,
        recovered_fen=member.recovered_fen,
        hire=None if hire is None else HireEvidenceOut.model_validate(hire),
        pay_checks=[PayCheckOut.model_validate(check) for check in checks],
        sms=sorted(
            [SmsOut(at=m.received_at, direction="in", body=m.body) for m in sms_in]
            + [SmsOut(at=m.created_at, direction="out", body=m.body, status=m.status)
               for m in sms_out if m.channel == Channel.SMS],
            key=lambda m: m.at),
        calls=[CallOut.model_validate(call) for call in calls],
        recordings=[worker.name_recording_url] if worker.name_recording_url else [])


async def case_action(request: web.Request, body: CaseActionIn) -> CaseOut:
    deps = deps_of(request)
    async with deps.desk.sessions() as session, session.begin():
        case = await cases.act(
            session, record_id(request), action=body.action, agent=agent_of(request),
            note=body.note, amount_fen=body.amount_fen, referral=body.referral,
            now=deps.clock(), catalogue=deps.desk.catalogue)
        session.add(AuditEntry(at=deps.clock(), actor=agent_of(request),
                               action=f"case_{body.action}", subject=f"case:{case.id}",
                               detail=body.model_dump(mode="json", exclude_none=True)))
        answer = CaseOut.model_validate(case)
    deps.nudge_outbox()
    return answer


async def correct_hire(request: web.Request, body: HireCorrectionIn) -> HireOut:
    async with desk_of(request).sessions() as session, session.begin():
        hire = await session.get(Hire, record_id(request), with_for_update=True)
        if hire is None:
            raise jobs.NotFound("hire", record_id(request))
        await correct_owed(session, hire, days_worked=body.days_worked, owed_fen=body.owed_fen)
        session.add(AuditEntry(at=deps_of(request).clock(), actor=agent_of(request),
                               action="hire_corrected", subject=f"hire:{hire.id}",
                               detail=body.model_dump(mode="json", exclude_none=True)))
        return HireOut.model_validate(hire)


async def clear_employer(request: web.Request) -> EmployerClearedOut:
    """Lift the hold an open case put on the employer's alerts."""
    deps = deps_of(request)
    now = deps.clock()
    async with deps.desk.sessions() as session, session.begin():
        employer = await session.get(Employer, record_id(request))
        if employer is None:
            raise jobs.NotFound("employer", record_id(request))
        employer.alerts_held = False
        await session.execute(update(Job).where(Job.employer_id == employer.id,
                                                Job.status == JobStatus.OPEN, Job.start_at > now)
                              .values(next_wave_at=now))
        session.add(AuditEntry(at=now, actor=agent_of(request), action="employer_cleared",
                               subject=f"employer:{employer.id}", detail={}))
    deps.nudge_market()
    return EmployerClearedOut(id=record_id(request), alerts_held=False)


async def list_reminders(request: web.Request) -> list[ReminderOut]:
    """Reminders by status: `missed` ones fell due while Gigline was down too long."""
    status = request.query.get("status", ReminderStatus.MISSED)
    async with desk_of(request).sessions() as session:
        rows = await session.scalars(select(Reminder).where(Reminder.status == status)
                                     .order_by(Reminder.due_at.desc()).limit(500))
        return [ReminderOut.model_validate(reminder) for reminder in rows]


def _period(request: web.Request, timezone: str) -> figures_of.Period:
    try:
        first = date.fromisoformat(request.query["from"])
        last = date.fromisoformat(request.query["to"])
    except (KeyError, ValueError):
        raise BadRequest("from", "give from and to as YYYY-MM-DD") from None
    if last < first:
        raise BadRequest("to", "the period ends before it starts")
    return figures_of.Period(first, last, timezone)


async def figures(request: web.Request) -> FiguresOut:
    """The figures markets report, for a period of market days (both ends included)."""
    desk = desk_of(request)
    period = _period(request, desk.timezone)
    async with desk.sessions() as session:
        found = await figures_of.totals(session, period, market_id=desk.market_id)
    return FiguresOut(from_=request.query["from"], to=request.query["to"], **asdict(found))
