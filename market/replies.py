"""A worker takes a job by SMS: "1" or "接" for the one job open to them, or its code
("J101", "J101 1"). Slots go first come, first served; too late hears "already filled"
and the next job open to them, if any. Every refusal says which: full, days taken, or
not open to this worker."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, and_, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from basics.clock import market_today
from market.matching import (
    for_worker_params,
    has_free_slot,
    towns_within_reach,
)
from market.offers import (
    NOT_OPEN,
    OVERLAP,
    RESERVED,
    could_be_offered,
    holds_overlapping_days,
    reserve_slot,
)
from market.workers import load_worker
from prompts.catalogue import Catalogue
from store.driver_statements import DriverStatement
from store.models import Employer, Job, JobLine, Offer, Worker, WorkerTrade
from store.repo import Executor, execute_keyed
from store.statuses import (
    HOLDING_A_SLOT,
    JobStatus,
    OfferChannel,
    OfferStatus,
    Verification,
    WorkerStatus,
)

MAX_LISTED = 4


def _open_offer_codes(worker_id, now: datetime) -> Select:
    """Jobs alerted to the worker that still have a slot and have not started, newest
    alert first: their codes, and the offers' lines."""
    return (
        select(Job.code, Offer.job_line_id).join(Offer, Offer.job_id == Job.id)
        .join(JobLine, JobLine.id == Offer.job_line_id)
        .where(Offer.worker_id == worker_id, Offer.status == OfferStatus.OFFERED,
               Offer.alerted_at.is_not(None), Job.status == JobStatus.OPEN, Job.start_at > now,
               has_free_slot())
        .order_by(Offer.alerted_at.desc(), Offer.id.desc())
    )


async def open_offers(session: AsyncSession, worker_id: int,
                      now: datetime) -> list[tuple[int, str]]:
    """Jobs alerted to the worker that still have a slot and have not started: each
    offer's line and its job's code (what the worker types)."""
    return [(line_id, code) for code, line_id in
            await session.execute(_open_offer_codes(worker_id, now))]


async def take_job_by_sms(session: AsyncSession, *, phone: str, job_code: str | None,
                          catalogue: Catalogue, timezone: str, hotline: str,
                          now: datetime) -> str | None:
    """Returns the SMS answer, or None when the reservation SMS itself is the answer."""
    if job_code is not None:
        return await take_job_by_code(session, phone=phone, job_code=job_code,
                                       catalogue=catalogue, timezone=timezone,
                                       hotline=hotline, now=now)
    worker = await load_worker(session, phone)
    if worker is None or worker.status != WorkerStatus.ACTIVE:
        return catalogue.text("sms_unknown", hotline=hotline)
    offers = await open_offers(session, worker.id, now)
    if not offers:
        missed = await _alerted_and_filled(session, worker.id, now)
        if missed is not None:  # the "1" came after the line it answers filled
            return catalogue.text("sms_already_full", code=missed)
        return catalogue.text("sms_no_open_offer")
    if len(offers) > 1:
        listed = [code for _, code in offers[:MAX_LISTED]]
        return catalogue.text("sms_which_offer", offers=catalogue.join(listed),
                              example=listed[0])
    # Their one open offer: no other job to name if it is full.
    (line_id, code), = offers
    return await _reserve(session, worker, line_id, codes=(code, None), refusals_read=False,
                          catalogue=catalogue, timezone=timezone, hotline=hotline, now=now)


async def _reserve(executor: Executor, worker, line_id: int, *, codes: tuple[str, str | None],
                   refusals_read: bool, catalogue: Catalogue, timezone: str, hotline: str,
                   now: datetime) -> str | None:
    """`codes`: the job's code and the next job alerted to the worker with a slot, what a
    refusal names. `refusals_read`: every refusal `reserve_slot` reads first was read
    just before, and it reads none of them again (a crowd's late takers, refused under
    the line's lock, are many)."""
    outcome = await reserve_slot(
        executor, worker, line_id, channel=OfferChannel.SMS, now=now,
        today=market_today(now, timezone), timezone=timezone, catalogue=catalogue,
        refusals_read=refusals_read)
    if outcome == RESERVED:
        return None
    code, next_code = codes
    if outcome == NOT_OPEN:
        return catalogue.text("sms_not_open", code=code, hotline=hotline)
    if outcome == OVERLAP:
        return catalogue.text("sms_overlap", code=code)
    return _full(catalogue, code, next_code)


def _full(catalogue: Catalogue, code: str, next_code: str | None) -> str:
    if next_code is not None:  # alerted already: its code is enough, and the answer stays one SMS
        return catalogue.text("sms_already_full_next", code=code, next=next_code)
    return catalogue.text("sms_already_full", code=code)


# An accept by job code, read in one statement: the worker; the job; the line they would
# take (the one offered to them, else the job's first of their trades); their own offer;
# whether they hold a slot on some of its days; the newest other job alerted to them that
# still has a slot. A crowd answering an alert is refused from this alone.
_this, _o, _line = aliased(Job), aliased(Offer), aliased(JobLine)
_trade_line = (
    select(JobLine.id)
    .join(WorkerTrade, and_(WorkerTrade.trade_id == JobLine.trade_id,
                            WorkerTrade.worker_id == Worker.id))
    .where(JobLine.job_id == _this.id).order_by(JobLine.id).limit(1)
    .correlate(Worker, _this).scalar_subquery()
)
_next_code = (
    _open_offer_codes(Worker.id, bindparam("now", type_=Job.start_at.type))
    .where(Offer.job_line_id != _line.id).with_only_columns(Job.code).limit(1)
    .correlate(Worker, _line).scalar_subquery()
)
_ACCEPT_BY_CODE = DriverStatement(
    # The worker's columns reserve_slot reads, under their own names.
    select(Worker.id, Worker.status, Worker.phone, Worker.name, Worker.town_id,
           Worker.available_from, Worker.jobs_completed, Worker.rating_avg,
           _this.id.label("job_id"), _this.code,
           # reserve_slot's open line: open, of a verified employer, not started before today
           and_(_this.status == JobStatus.OPEN, Employer.verification == Verification.VERIFIED,
                _this.start_at >= bindparam("start_of_today", type_=Job.start_at.type))
           .label("open"),
           _o.status.label("offer_status"), _line.id.label("line_id"),
           holds_overlapping_days(_this, Worker.id).label("overlap"),
           (_line.filled >= _line.headcount).label("full"), _next_code.label("next_code"))
    .select_from(Worker)
    .outerjoin(_this, _this.code == bindparam("code"))
    .outerjoin(Employer, Employer.id == _this.employer_id)
    .outerjoin(_o, and_(_o.job_id == _this.id, _o.worker_id == Worker.id))
    .outerjoin(_line, _line.id == func.coalesce(_o.job_line_id, _trade_line))
    .where(Worker.phone == bindparam("phone"))
)
# Whether a line never offered to the worker could have been (`for_a_worker`'s parameters).
_COULD_BE_OFFERED = DriverStatement(select(could_be_offered(bindparam("line_id"))))


@dataclass(frozen=True)
class AcceptRead:
    """What an accept by job code comes to, read before anything is written: the answer
    of a refusal, or the slot to try for (`take_read_job`); neither for a worker who
    holds it already (their reservation SMS said it all)."""

    answer: str | None = None
    worker: Any = None  # the worker's row, with the columns reserve_slot reads
    line_id: int | None = None
    read: tuple[str, str | None] | None = None  # `_reserve`'s: the code and next job's

    @property
    def to_take(self) -> bool:
        return self.line_id is not None


async def read_accept_by_code(executor: Executor, *, phone: str, job_code: str,
                              catalogue: Catalogue, timezone: str, hotline: str,
                              now: datetime) -> AcceptRead:
    """Whether an accept by code is refused, read with no row locked, nothing written and
    no ORM: a crowd's losers cost one query each (two if they were never alerted to the
    job), and begin no transaction (standalone). Only a worker who may still get a slot
    is left to try for it."""
    start_of_today = datetime.combine(market_today(now, timezone), time(0), ZoneInfo(timezone))
    row = (await execute_keyed(executor, _ACCEPT_BY_CODE, {
        "phone": phone, "code": job_code, "start_of_today": start_of_today, "now": now},
        standalone=True)).first()
    if row is None or row.status != WorkerStatus.ACTIVE:
        return AcceptRead(catalogue.text("sms_unknown", hotline=hotline))
    if row.line_id is None:  # no such job, or none of its lines is of their trades
        return AcceptRead(catalogue.text("sms_not_open", code=job_code, hotline=hotline))
    # The order of reserve_slot's answers: closed, already theirs, not theirs to take,
    # days taken, full.
    if not row.open:
        return AcceptRead(catalogue.text("sms_not_open", code=row.code, hotline=hotline))
    if row.offer_status in HOLDING_A_SLOT:
        return AcceptRead()
    if row.offer_status is None and not (await execute_keyed(executor, _COULD_BE_OFFERED, {
            "line_id": row.line_id, "now": now,
            **for_worker_params(row, await towns_within_reach(executor, row.town_id)
                                if row.town_id is not None else {}, timezone)},
            standalone=True)).scalar():
        return AcceptRead(catalogue.text("sms_not_open", code=row.code, hotline=hotline))
    if row.overlap:
        return AcceptRead(catalogue.text("sms_overlap", code=row.code))
    if row.full:
        return AcceptRead(_full(catalogue, row.code, row.next_code))
    return AcceptRead(worker=row, line_id=row.line_id, read=(row.code, row.next_code))


async def take_read_job(executor: Executor, read: AcceptRead, *, catalogue: Catalogue,
                        timezone: str, hotline: str, now: datetime) -> str | None:
    """Tries for the slot `read_accept_by_code` left to try for, in the caller's
    transaction; returns the SMS answer, or None when the reservation SMS is the answer."""
    return await _reserve(executor, read.worker, read.line_id, codes=read.read,
                          refusals_read=True, catalogue=catalogue, timezone=timezone,
                          hotline=hotline, now=now)


async def take_job_by_code(executor: Executor, *, phone: str, job_code: str,
                           catalogue: Catalogue, timezone: str, hotline: str,
                           now: datetime) -> str | None:
    """`take_job_by_sms` for a job named by its code, in the caller's transaction."""
    read = await read_accept_by_code(executor, phone=phone, job_code=job_code,
                                     catalogue=catalogue, timezone=timezone,
                                     hotline=hotline, now=now)
    if not read.to_take:
        return read.answer
    return await take_read_job(executor, read, catalogue=catalogue, timezone=timezone,
                               hotline=hotline, now=now)


async def _alerted_and_filled(session: AsyncSession, worker_id: int,
                              now: datetime) -> str | None:
    """The code of the job the worker was last alerted to, if it is still to start and
    its line has filled since."""
    row = (await session.execute(
        select(Job.code, JobLine.filled >= JobLine.headcount)
        .join(Offer, Offer.job_id == Job.id).join(JobLine, JobLine.id == Offer.job_line_id)
        .where(Offer.worker_id == worker_id, Offer.status == OfferStatus.OFFERED,
               Offer.alerted_at.is_not(None), Job.status == JobStatus.OPEN, Job.start_at > now)
        .order_by(Offer.alerted_at.desc(), Offer.id.desc()).limit(1)
    )).first()
    return row[0] if row is not None and row[1] else None
