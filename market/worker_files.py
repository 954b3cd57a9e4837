"""A worker's file as the market's staff see it: finding a worker by what a caller at the
window or on the phone can tell (phone, worker number, name, the ID card's last four),
and everything the market holds about them on one page. Search results mask the phone:
a worker's full file is a look at personal data, which the console audits."""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from basics.phones import InvalidPhoneNumber, to_e164
from store.models import (
    Area,
    CallSession,
    CaseWorker,
    Hire,
    InboundSms,
    Job,
    JobLine,
    Offer,
    OutboundSms,
    PayCheck,
    Rating,
    RightsCase,
    Trade,
    Worker,
)
from store.statuses import Channel

MAX_FOUND = 50
HISTORY = 50  # calls and SMS shown, newest first
_LAST4 = re.compile(r"\d{3}[\dXx]")
_NUMBER = re.compile(r"\d{1,9}")  # a worker number as said (42) or printed (000042)


@dataclass(frozen=True)
class Found:
    worker_id: int
    number: str  # 000042, as SMS and calls name the worker
    name: str | None
    phone_masked: str  # 138****8000
    status: str
    town: str | None


def masked(phone: str) -> str:
    national = phone.removeprefix("+86")
    return f"{national[:3]}****{national[-4:]}" if len(national) >= 7 else "****"


async def search(session: AsyncSession, text: str, *, market_id: int) -> list[Found]:
    """Workers matching `text` as a phone number, a worker number, the last four of an ID
    number, or part of a name; an empty or one-character text (but a number) finds no one."""
    text = text.strip()
    if len(text) < 2 and not text.isdigit():  # one letter would match half the register
        return []
    matches = [Worker.name.contains(text, autoescape=True)]
    with contextlib.suppress(InvalidPhoneNumber):  # not a phone number: other matches
        matches.append(Worker.phone == to_e164(text))
    if _NUMBER.fullmatch(text):
        matches.append(Worker.id == int(text))
    if _LAST4.fullmatch(text):
        matches.append(Worker.id_number_last4 == text.upper())
    rows = await session.execute(
        select(Worker, Area.name).outerjoin(Area, Area.id == Worker.town_id)
        .where(Worker.market_id == market_id, or_(*matches))
        .order_by(Worker.id).limit(MAX_FOUND))
    return [Found(w.id, f"{w.id:06d}", w.name, masked(w.phone), w.status, town)
            for w, town in rows]


@dataclass(frozen=True)
class OfferLine:
    offer_id: int
    job_code: str
    trade: str
    status: str
    channel: str
    created_at: datetime


@dataclass(frozen=True)
class HireLine:
    hire_id: int
    job_code: str
    status: str
    days_worked: int | None
    owed_fen: int | None
    paid_fen: int
    pay_checks: tuple[tuple[str, int, str], ...]  # (period, owed, status)


@dataclass(frozen=True)
class CaseLine:
    case_id: int
    status: str
    owed_fen: int


@dataclass(frozen=True)
class Contact:
    at: datetime
    kind: str  # call_in | call_out | sms_in | sms_out
    detail: str  # an SMS's text, or a call's status


@dataclass(frozen=True)
class WorkerFile:
    worker_id: int
    number: str
    phone: str
    name: str | None
    status: str
    trades: tuple[str, ...]
    district: str | None
    town: str | None
    day_wage_fen: int | None
    availability: str | None
    alert_channel: str | None
    id_last4: str | None
    name_recording_url: str | None
    rating_avg: float | None
    ratings: int
    jobs_completed: int
    no_shows: int
    registered_at: datetime | None
    offers: tuple[OfferLine, ...]
    hires: tuple[HireLine, ...]
    cases: tuple[CaseLine, ...]
    contacts: tuple[Contact, ...]  # newest first


async def worker_file(session: AsyncSession, worker_id: int, *,
                      market_id: int) -> WorkerFile | None:
    worker = await session.scalar(
        select(Worker).options(selectinload(Worker.trades))
        .where(Worker.id == worker_id, Worker.market_id == market_id))
    if worker is None:
        return None
    areas = dict((await session.execute(
        select(Area.id, Area.name).where(Area.id.in_(
            [a for a in (worker.district_id, worker.town_id) if a])))).all())
    offers = (await session.execute(
        select(Offer, Job.code, Trade.name).join(Job, Job.id == Offer.job_id)
        .join(JobLine, JobLine.id == Offer.job_line_id).join(Trade, Trade.id == JobLine.trade_id)
        .where(Offer.worker_id == worker.id).order_by(Offer.id.desc()).limit(HISTORY))).all()
    return WorkerFile(
        worker_id=worker.id, number=f"{worker.id:06d}", phone=worker.phone, name=worker.name,
        status=worker.status, trades=tuple(t.name for t in worker.trades),
        district=areas.get(worker.district_id), town=areas.get(worker.town_id),
        day_wage_fen=worker.day_wage_fen, availability=worker.availability,
        alert_channel=worker.alert_channel or Channel.SMS, id_last4=worker.id_number_last4,
        name_recording_url=worker.name_recording_url, rating_avg=worker.rating_avg,
        ratings=await session.scalar(
            select(func.count()).select_from(Rating).join(Hire, Hire.id == Rating.hire_id)
            .where(Hire.worker_id == worker.id, Rating.stars.is_not(None))),
        jobs_completed=worker.jobs_completed, no_shows=worker.no_shows,
        registered_at=worker.registered_at,
        offers=tuple(OfferLine(o.id, code, trade, o.status, o.channel, o.created_at)
                     for o, code, trade in offers),
        hires=await _hires(session, worker.id),
        cases=tuple(CaseLine(case_id, status, owed) for case_id, status, owed in (
            await session.execute(
                select(RightsCase.id, RightsCase.status, CaseWorker.owed_fen)
                .join(CaseWorker, CaseWorker.case_id == RightsCase.id)
                .where(CaseWorker.worker_id == worker.id)
                .order_by(RightsCase.id.desc()))).all()),
        contacts=await _contacts(session, worker.phone))


async def _hires(session: AsyncSession, worker_id: int) -> tuple[HireLine, ...]:
    rows = (await session.execute(
        select(Hire, Job.code).join(Job, Job.id == Hire.job_id)
        .where(Hire.worker_id == worker_id).order_by(Hire.id.desc()).limit(HISTORY))).all()
    checks: dict[int, list] = {}
    for check in await session.scalars(
            select(PayCheck).where(PayCheck.hire_id.in_([h.id for h, _ in rows]))
            .order_by(PayCheck.period_start)):
        period = f"{check.period_start.isoformat()}..{check.period_end.isoformat()}"
        checks.setdefault(check.hire_id, []).append((period, check.owed_fen, check.status))
    return tuple(HireLine(h.id, code, h.status, h.days_worked, h.owed_fen, h.paid_fen,
                          tuple(checks.get(h.id, ()))) for h, code in rows)


async def _contacts(session: AsyncSession, phone: str) -> tuple[Contact, ...]:
    calls = await session.scalars(select(CallSession).where(CallSession.phone == phone)
                                  .order_by(CallSession.started_at.desc()).limit(HISTORY))
    sms_in = await session.scalars(select(InboundSms).where(InboundSms.phone == phone)
                                   .order_by(InboundSms.received_at.desc()).limit(HISTORY))
    sms_out = await session.scalars(
        select(OutboundSms).where(OutboundSms.phone == phone, OutboundSms.channel == Channel.SMS)
        .order_by(OutboundSms.created_at.desc()).limit(HISTORY))
    contacts = [Contact(c.started_at, "call_out" if c.direction == "outbound" else "call_in",
                        c.status) for c in calls]
    contacts += [Contact(m.received_at, "sms_in", m.body) for m in sms_in]
    contacts += [Contact(m.created_at, "sms_out", m.body) for m in sms_out]
    return tuple(sorted(contacts, key=lambda c: c.at, reverse=True)[:HISTORY])
