"""The API for the wage loop: rights cases and their evidence, corrections of what a hire
owes, employers cleared of a hold, missed reminders, and the market's figures."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from aiohttp import web
from sqlalchemy import func, or_, select, update

from console.api import AGENT, _body, _desk, _id, _iso
from console.schemas import CaseActionIn, HireCorrectionIn
from gigline.keys import CLOCK, NUDGE_MARKET, NUDGE_OUTBOX
from market import cases, jobs
from market.cases import CaseAction
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
    Offer,
    OutboundSms,
    PayCheck,
    Reminder,
    RightsCase,
    Worker,
)
from store.statuses import CaseStatus, Channel, JobStatus, PayCheckStatus, ReminderStatus


def add_routes(app: web.Application) -> None:
    router = app.router
    router.add_get("/api/cases", list_cases)
    router.add_get("/api/cases/{id:\\d+}", get_case)
    router.add_post("/api/cases/{id:\\d+}/actions", case_action)
    router.add_patch("/api/hires/{id:\\d+}", correct_hire)
    router.add_post("/api/employers/{id:\\d+}/clear", clear_employer)
    router.add_get("/api/reminders", list_reminders)
    router.add_get("/api/figures", figures)


def _case_json(case: RightsCase) -> dict:
    return {"id": case.id, "status": case.status, "employer_id": case.employer_id,
            "job_id": case.job_id, "opened_by": case.opened_by, "opened_at": _iso(case.opened_at),
            "assigned_to": case.assigned_to, "owed_fen": case.owed_fen,
            "recovered_fen": case.recovered_fen, "referred_to": case.referred_to,
            "closed_at": _iso(case.closed_at)}


async def list_cases(request: web.Request) -> web.Response:
    status = request.query.get("status")
    async with _desk(request).sessions() as session:
        query = select(RightsCase).order_by(RightsCase.opened_at.desc()).limit(500)
        if status:
            query = query.where(RightsCase.status == status)
        return web.json_response([_case_json(c) for c in await session.scalars(query)])


async def get_case(request: web.Request) -> web.Response:
    """The case with who, where, when, how much, its history and the evidence we hold.
    Looking at it is audited: it shows workers' personal data."""
    case_id = _id(request)
    async with _desk(request).sessions() as session, session.begin():
        case = await session.get(RightsCase, case_id)
        if case is None:
            raise jobs.NotFound("case", case_id)
        session.add(AuditEntry(at=request.app[CLOCK](), actor=request[AGENT],
                               action="case_viewed", subject=f"case:{case_id}", detail={}))
        body = _case_json(case)
        employer = await session.get(Employer, case.employer_id) if case.employer_id else None
        job = await session.get(Job, case.job_id) if case.job_id else None
        body["employer"] = None if employer is None else {
            "id": employer.id, "name": employer.name, "phone": employer.phone,
            "address": employer.address, "credit_code": employer.credit_code}
        body["site"] = None if job is None else {
            "job_code": job.code, "address": job.address, "start_at": _iso(job.start_at),
            "end_at": _iso(job.end_at)}
        members = list(await session.execute(
            select(CaseWorker, Worker).join(Worker, Worker.id == CaseWorker.worker_id)
            .where(CaseWorker.case_id == case_id)))
        body["workers"] = [await _evidence(session, member, worker, job)
                           for member, worker in members]
        body["history"] = [
            {"at": _iso(e.at), "actor": e.actor, "kind": e.kind, "note": e.note,
             "amount_fen": e.amount_fen}
            for e in await session.scalars(select(CaseEvent).where(CaseEvent.case_id == case_id)
                                           .order_by(CaseEvent.at, CaseEvent.id))]
        return web.json_response(body)


async def _evidence(session, member: CaseWorker, worker: Worker, job: Job | None) -> dict:
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
    return {
        "worker_id": worker.id, "name": worker.name, "phone": worker.phone,
        "owed_fen": member.owed_fen,
        "hire": None if hire is None else {
            "id": hire.id, "status": hire.status, "contract_summary": hire.contract_summary,
            "days_worked": hire.days_worked, "owed_fen": hire.owed_fen,
            "paid_fen": hire.paid_fen, "started_at": _iso(hire.started_at),
            "started_by": hire.started_by},
        "pay_checks": [{"period_start": c.period_start.isoformat(),
                        "period_end": c.period_end.isoformat(), "owed_fen": c.owed_fen,
                        "status": c.status, "paid_fen": c.paid_fen,
                        "answered_at": _iso(c.answered_at)} for c in checks],
        "sms": sorted(
            [{"at": _iso(m.received_at), "direction": "in", "body": m.body} for m in sms_in]
            + [{"at": _iso(m.created_at), "direction": "out", "body": m.body,
                "status": m.status} for m in sms_out if m.channel == Channel.SMS],
            key=lambda m: m["at"]),
        "calls": [{"call_sid": c.call_sid, "started_at": _iso(c.started_at),
                   "direction": c.direction, "status": c.status} for c in calls],
        "recordings": [worker.name_recording_url] if worker.name_recording_url else [],
    }


async def case_action(request: web.Request) -> web.Response:
    body = await _body(request, CaseActionIn)
    desk = _desk(request)
    async with desk.sessions() as session, session.begin():
        case = await cases.act(
            session, _id(request), action=body.action, agent=request[AGENT], note=body.note,
            amount_fen=body.amount_fen, referral=body.referral, now=request.app[CLOCK](),
            catalogue=desk.catalogue)
        response = web.json_response(_case_json(case))
    request.app[NUDGE_OUTBOX]()
    return response


async def correct_hire(request: web.Request) -> web.Response:
    body = await _body(request, HireCorrectionIn)
    async with _desk(request).sessions() as session, session.begin():
        hire = await session.get(Hire, _id(request), with_for_update=True)
        if hire is None:
            raise jobs.NotFound("hire", _id(request))
        await correct_owed(session, hire, days_worked=body.days_worked, owed_fen=body.owed_fen)
        session.add(AuditEntry(at=request.app[CLOCK](), actor=request[AGENT],
                               action="hire_corrected", subject=f"hire:{hire.id}",
                               detail=body.model_dump(mode="json", exclude_none=True)))
        return web.json_response({"id": hire.id, "days_worked": hire.days_worked,
                                  "owed_fen": hire.owed_fen, "paid_fen": hire.paid_fen,
                                  "status": hire.status})


async def clear_employer(request: web.Request) -> web.Response:
    """Lift the hold an open case put on the employer's alerts."""
    now = request.app[CLOCK]()
    async with _desk(request).sessions() as session, session.begin():
        employer = await session.get(Employer, _id(request))
        if employer is None:
            raise jobs.NotFound("employer", _id(request))
        employer.alerts_held = False
        await session.execute(update(Job).where(Job.employer_id == employer.id,
                                                Job.status == JobStatus.OPEN, Job.start_at > now)
                              .values(next_wave_at=now))
        session.add(AuditEntry(at=now, actor=request[AGENT], action="employer_cleared",
                               subject=f"employer:{employer.id}", detail={}))
    request.app[NUDGE_MARKET]()
    return web.json_response({"id": _id(request), "alerts_held": False})


async def list_reminders(request: web.Request) -> web.Response:
    """Reminders by status: `missed` ones fell due while Gigline was down too long."""
    status = request.query.get("status", ReminderStatus.MISSED)
    async with _desk(request).sessions() as session:
        rows = await session.scalars(select(Reminder).where(Reminder.status == status)
                                     .order_by(Reminder.due_at.desc()).limit(500))
        return web.json_response([
            {"id": r.id, "kind": r.kind, "hire_id": r.hire_id, "pay_check_id": r.pay_check_id,
             "due_at": _iso(r.due_at), "status": r.status, "done_at": _iso(r.done_at)}
            for r in rows])


def _period(request: web.Request, timezone: str) -> tuple[datetime, datetime]:
    try:
        start = date.fromisoformat(request.query["from"])
        end = date.fromisoformat(request.query["to"])
    except (KeyError, ValueError):
        raise jobs.MarketError("from", "give from and to as YYYY-MM-DD", status=400) from None
    if end < start:
        raise jobs.MarketError("to", "the period ends before it starts", status=400)
    zone = ZoneInfo(timezone)
    first = datetime.combine(start, time(0), zone)
    # Days at the calendar's ends have no UTC instant or next day: the period runs from
    # the earliest to the latest moment Python can hold.
    try:
        first = first.astimezone(UTC)
    except OverflowError:
        first = datetime.min.replace(tzinfo=UTC)
    try:
        after = datetime.combine(end + timedelta(days=1), time(0), zone).astimezone(UTC)
    except OverflowError:
        after = datetime.max.replace(tzinfo=UTC)
    return first, after


async def figures(request: web.Request) -> web.Response:
    """The figures markets report, for a period of market days (both ends included)."""
    desk = _desk(request)
    start, end = _period(request, desk.timezone)

    async def count(model, column, *where) -> int:
        return await session.scalar(select(func.count()).select_from(model)
                                    .where(column >= start, column < end, *where))

    async with desk.sessions() as session:
        paid = (await session.execute(
            select(func.count(), func.coalesce(func.sum(PayCheck.paid_fen), 0))
            .where(PayCheck.status == PayCheckStatus.PAID, PayCheck.answered_at >= start,
                   PayCheck.answered_at < end))).one()
        recovered = await session.scalar(
            select(func.coalesce(func.sum(CaseEvent.amount_fen), 0))
            .where(CaseEvent.kind == CaseAction.RECOVERED, CaseEvent.at >= start,
                   CaseEvent.at < end))
        return web.json_response({
            "from": request.query["from"], "to": request.query["to"],
            "registrations": await count(Worker, Worker.registered_at),
            "recommended": await count(Offer, Offer.created_at),
            "hired": await count(Hire, Hire.created_at),
            "wages_confirmed_paid": paid[0], "wages_confirmed_paid_fen": int(paid[1]),
            "unpaid_cases_opened": await count(RightsCase, RightsCase.opened_at),
            "unpaid_cases_resolved": await count(
                RightsCase, RightsCase.closed_at,
                or_(RightsCase.recovered_fen > 0, RightsCase.status == CaseStatus.CLOSED)),
            "amount_recovered_fen": int(recovered),
        })
