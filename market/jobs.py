"""Employers and jobs as agents manage them: register, verify, post, change, cancel.

Store functions raise a kind of MarketError naming the field at fault; what a kind means
to a caller (the API's status) is the caller's affair."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import uuid4

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from basics.credit_code import is_valid_credit_code
from basics.phones import InvalidPhoneNumber, to_e164
from market.notices import tell_holders
from prompts.catalogue import load_page_text
from store.models import Area, AuditEntry, Employer, Job, JobLine, Trade
from store.statuses import AreaKind, JobStatus, Verification

VERIFICATION_STATES = tuple(Verification)


class MarketError(ValueError):
    """A rule refused: `field` is what is at fault; `says` names the text saying why (the
    pages' catalogue's `rule.<says>`, with `params`), so each page says it in its own
    language; `reason` is that text in English, for the API and the logs. Raised as
    itself, the input is invalid; the kinds below are refusals of another nature."""

    def __init__(self, field: str, says: str, **params: object):
        self.field, self.says, self.params = field, says, params
        self.reason = load_page_text("en").text(f"rule.{says}", **params)
        super().__init__(f"{field}: {self.reason}")


class NotFound(MarketError):
    """No such record, or none in this market."""

    def __init__(self, what: str, ident: object, *, field: str | None = None,
                 says: str | None = None):
        super().__init__(field or what, says or f"no_{what.replace(' ', '_')}", ident=ident)


class Conflict(MarketError):
    """The record's state forbids it."""


@dataclass(frozen=True)
class LineSpec:
    trade: str  # trade code
    headcount: int
    day_wage_fen: int


@dataclass(frozen=True)
class JobSpec:
    employer_id: int
    lines: tuple[LineSpec, ...]
    start_at: datetime
    days: int
    daily_pay: bool
    town_id: int
    address: str
    notes: str = ""


async def register_employer(session: AsyncSession, *, market_id: int, name: str, phone: str,
                            address: str, credit_code: str, agent: str,
                            now: datetime) -> Employer:
    if not name.strip() or len(name.strip()) > 200:  # the column's width
        raise MarketError("name", "employer_name")
    credit_code = credit_code.strip().upper()
    if not is_valid_credit_code(credit_code):
        raise MarketError("credit_code", "credit_code")
    try:
        phone = to_e164(phone)
    except InvalidPhoneNumber:
        raise MarketError("phone", "not_a_phone", raw=phone) from None
    if await session.scalar(select(Employer.id).where(Employer.credit_code == credit_code)):
        raise Conflict("credit_code", "credit_code_taken")
    employer = Employer(market_id=market_id, name=name.strip(), phone=phone,
                        address=address.strip(), credit_code=credit_code, created_at=now)
    session.add(employer)
    await session.flush()
    session.add(_audit(now, agent, "employer_registered", f"employer:{employer.id}", {}))
    return employer


async def set_verification(session: AsyncSession, employer_id: int, *, state: Verification,
                           checked: str, agent: str, now: datetime) -> Employer:
    if state not in VERIFICATION_STATES:
        raise MarketError("state", "must_be_one_of", choices=", ".join(VERIFICATION_STATES))
    if not checked.strip():
        raise MarketError("checked", "say_checked")
    employer = await session.get(Employer, employer_id)
    if employer is None:
        raise NotFound("employer", employer_id)
    employer.verification = state
    employer.verified_at, employer.verified_by = now, agent
    employer.verification_note = checked.strip()
    if state == Verification.VERIFIED:  # jobs posted while unverified start their waves now
        await session.execute(
            update(Job).where(Job.employer_id == employer.id, Job.status == JobStatus.OPEN,
                              Job.start_at > now).values(next_wave_at=now))
    session.add(_audit(now, agent, f"employer_{state}", f"employer:{employer.id}",
                       {"checked": checked.strip()}))
    return employer


async def post_job(session: AsyncSession, spec: JobSpec, *, market_id: int, agent: str,
                   now: datetime) -> Job:
    employer = await session.get(Employer, spec.employer_id)
    if employer is None or employer.market_id != market_id:
        raise NotFound("employer", spec.employer_id)
    town = await session.get(Area, spec.town_id)
    if town is None or town.kind != AreaKind.TOWN or town.market_id != market_id:
        raise NotFound("town", spec.town_id, field="town_id", says="no_town_here")
    if spec.start_at <= now - timedelta(hours=1):
        raise MarketError("start_at", "start_past")
    trades = {t.code: t for t in await session.scalars(
        select(Trade).where(Trade.market_id == market_id))}
    for index, line in enumerate(spec.lines):
        if line.trade not in trades:
            raise MarketError(f"lines[{index}].trade", "unknown_trade", trade=line.trade)
    # The code is J + id, known after the insert; until then a unique placeholder.
    job = Job(market_id=market_id, employer_id=employer.id, code=f"~{uuid4().hex[:14]}",
              start_at=spec.start_at, end_at=spec.start_at + timedelta(days=spec.days),
              days=spec.days, daily_pay=spec.daily_pay, town_id=town.id,
              address=spec.address.strip(), notes=spec.notes.strip(), created_by=agent,
              created_at=now, next_wave_at=now)
    session.add(job)
    await session.flush()
    job.code = f"J{job.id}"  # short: workers type it on a keypad
    for line in spec.lines:
        session.add(JobLine(job_id=job.id, trade_id=trades[line.trade].id,
                            headcount=line.headcount, day_wage_fen=line.day_wage_fen))
    session.add(_audit(now, agent, "job_posted", f"job:{job.id}",
                       {"employer_verified": employer.verification == Verification.VERIFIED}))
    await session.flush()
    return job


async def load_job(session: AsyncSession, job_id: int, *, for_update: bool = False) -> Job:
    query = select(Job).where(Job.id == job_id).options(selectinload(Job.lines))
    job = await session.scalar(query.with_for_update() if for_update else query)
    if job is None:
        raise NotFound("job", job_id)
    return job


async def cancel_job(session: AsyncSession, job_id: int, *, agent: str, now: datetime,
                     catalogue, timezone: str) -> Job:
    job = await load_job(session, job_id, for_update=True)
    if job.status == JobStatus.CANCELLED:
        return job
    job.status, job.next_wave_at = JobStatus.CANCELLED, None
    await tell_holders(session, job, "sms_job_cancelled", catalogue=catalogue,
                       timezone=timezone, now=now, release=True)
    session.add(_audit(now, agent, "job_cancelled", f"job:{job.id}", {}))
    return job


async def change_job(session: AsyncSession, job_id: int, *, agent: str, now: datetime,
                     catalogue, timezone: str, start_at: datetime | None = None,
                     address: str | None = None, notes: str | None = None) -> Job:
    job = await load_job(session, job_id, for_update=True)
    if job.status != JobStatus.OPEN:
        raise Conflict("status", "job_status", code=job.code, status=job.status)
    changed = {}
    if start_at is not None and start_at != job.start_at:
        if start_at <= now - timedelta(hours=1):
            raise MarketError("start_at", "start_past")
        job.start_at, job.end_at = start_at, start_at + timedelta(days=job.days)
        changed["start_at"] = start_at.isoformat()
    if address is not None and address.strip() != job.address:
        job.address = address.strip()
        changed["address"] = job.address
    if changed:
        session.info.pop("line_facts", None)  # the job's facts just changed
        await tell_holders(session, job, "sms_job_changed", catalogue=catalogue,
                           timezone=timezone, now=now, release=False,
                           dedupe=f"changed:{now.timestamp()}")
    # Notes are the agents' own: a change is audited, but holders are not texted about it.
    if notes is not None and notes.strip() != job.notes:
        job.notes = notes.strip()
        changed["notes"] = job.notes
    if changed:
        session.add(_audit(now, agent, "job_changed", f"job:{job.id}", changed))
    return job


def _audit(now: datetime, agent: str, action: str, subject: str, detail: dict) -> AuditEntry:
    return AuditEntry(at=now, actor=agent, action=action, subject=subject, detail=detail)
