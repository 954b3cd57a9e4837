"""Offers a worker can hear, and taking a slot: first come, first served, never overfilled."""

from __future__ import annotations

from datetime import date, datetime, time
from functools import cache
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnElement,
    Executable,
    Integer,
    Select,
    and_,
    bindparam,
    case,
    exists,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from basics.market_views import OfferView, SlotOutcome
from market.hires import employer_request
from market.matching import (
    eligible_pairs,
    for_a_worker,
    for_worker_params,
    towns_within_reach,
)
from market.notices import facts_of, facts_read
from market.optouts import is_opted_out
from market.outbox import PRIORITY_REPLY, Sms, enqueue_many
from prompts.catalogue import Catalogue
from store.driver_statements import DriverStatement
from store.models import Area, Employer, Job, JobLine, Offer, Trade, Worker
from store.repo import DIALECT_INSERTS, Executor, dialect_name, execute_keyed
from store.statuses import HOLDING_A_SLOT, JobStatus, OfferChannel, OfferStatus, Verification

MAX_OFFERS_READ = 10
# What reserve_slot answers.
RESERVED, FULL, OVERLAP, NOT_OPEN = (SlotOutcome.RESERVED, SlotOutcome.FULL, SlotOutcome.OVERLAP,
                                     SlotOutcome.NOT_OPEN)


def _open_line_and_worker() -> Select:
    """A line a worker already offered may still take (open, of a verified employer, not
    started before today; whether a slot is free is the reservation's own question): its
    job's id, whether the worker and the employer opted out of SMS, and the line's facts
    (`market.notices.facts_of`). The worker's row is locked by it: one accept at a time
    per worker, so two overlapping jobs cannot both be taken."""
    return (facts_read(Job.id.label("job_id"),
                       is_opted_out(Worker.phone).label("worker_opted_out"),
                       is_opted_out(Employer.phone).label("employer_opted_out"))
            .join(Worker, Worker.id == bindparam("worker_id"))
            .where(JobLine.id == bindparam("line_id"), Job.status == JobStatus.OPEN,
                   Employer.verification == Verification.VERIFIED,
                   Job.start_at >= bindparam("start_of_today", type_=Job.start_at.type))
            .with_for_update(of=Worker))


def _held_and_overlapping() -> Select:
    """The worker's offer of the job, and whether they hold a slot on some of its days:
    read by a statement after the worker's lock is held (PostgreSQL reads a statement's
    other rows in the snapshot the statement began with)."""
    job = aliased(Job)
    own = select(Offer.status).where(Offer.job_id == job.id,
                                     Offer.worker_id == bindparam("worker_id")).scalar_subquery()
    return select(own, holds_overlapping_days(job)).where(job.id == bindparam("job_id"))


_TAKE_SLOT = DriverStatement(
    update(JobLine.__table__)
    .where(JobLine.id == bindparam("line_id"), JobLine.filled < JobLine.headcount)
    .values(filled=JobLine.filled + 1))
_GIVE_SLOT_BACK = DriverStatement(
    update(JobLine.__table__).where(JobLine.id == bindparam("line_id"))
    .values(filled=JobLine.filled - 1))


def _accept_offer(insert) -> Executable:
    """The worker's offer of the job accepted on the line, whether it was alerted (a row
    to update) or not (a row to add), and the employer asked: one statement, returning
    the offer's id; none if the offer holds a slot already."""
    table = Offer.__table__
    statement = insert(table).values({
        column: bindparam(column) for column in (
            "job_id", "job_line_id", "worker_id", "status", "channel", "wave", "score",
            "created_at", "accepted_at", "employer_asked_at")})
    taken = ("status", "job_line_id", "channel", "accepted_at", "employer_asked_at")
    return statement.on_conflict_do_update(
        index_elements=["job_id", "worker_id"],
        set_={**{name: statement.excluded[name] for name in taken},
              "employer_reminded_at": None},
        where=table.c.status.not_in(HOLDING_A_SLOT),
    ).returning(table.c.id)


_ACCEPT_OFFER = {dialect: DriverStatement(_accept_offer(insert))
                 for dialect, insert in DIALECT_INSERTS.items()}


@cache
def _offers_for_a_worker(limit: int) -> DriverStatement:
    """`find_offers`' statement, built once (building it costs more than running it): the
    worker as parameters (`for_a_worker`'s, with `now`, `town_id` and `district_id`)."""
    worker_id = bindparam("worker_id")
    settled = select(Offer.id).where(
        Offer.job_id == Job.id, Offer.worker_id == worker_id, Offer.status != OfferStatus.OFFERED
    )
    nearness = case(
        (Job.town_id == bindparam("town_id"), 0),
        # As `== None` would say: a worker of no district is nearest to towns of none.
        (Area.parent_id.is_not_distinct_from(bindparam("district_id", type_=Integer)), 1),
        else_=2,
    )
    return DriverStatement(
        eligible_pairs(JobLine.id, Job.code, Trade.name, JobLine.day_wage_fen, Job.days,
                       Area.name.label("place"), Job.start_at,
                       now=bindparam("now", type_=Job.start_at.type), **for_a_worker())
        .join(Trade, Trade.id == JobLine.trade_id)
        .join(Area, Area.id == Job.town_id)
        .where(~settled.exists())
        .order_by(nearness, Job.start_at, JobLine.day_wage_fen.desc(), JobLine.id)
        .limit(limit)
    )


async def find_offers(
    executor: Executor, worker, *, now: datetime, timezone: str,
    limit: int = MAX_OFFERS_READ,
) -> tuple[OfferView, ...]:
    """The lines the alert matcher would offer the worker (the same `eligible_pairs`),
    nearest first. Jobs the worker already holds, or was turned down or released from,
    are not read; jobs they were alerted to are. `worker`: anything with a worker's `id`,
    `town_id`, `district_id` and `available_from` (a Worker, or a call's caller)."""
    if worker.town_id is None:
        return ()
    reach = await towns_within_reach(executor, worker.town_id)
    # A read that locks nothing: a turn that only lists offers begins no transaction.
    rows = await execute_keyed(executor, _offers_for_a_worker(limit), {
        "now": now, "town_id": worker.town_id, "district_id": worker.district_id,
        **for_worker_params(worker, reach, timezone)}, standalone=True)
    zone = ZoneInfo(timezone)
    return tuple(
        OfferView(job_line_id=row.id, job_code=row.code, trade=row.name,
                  day_wage_fen=row.day_wage_fen, days=row.days, place=row.place,
                  start_date=row.start_at.astimezone(zone).date())
        for row in rows
    )


async def reserve_slot(
    executor: Executor,
    worker: Worker,
    job_line_id: int,
    *,
    channel: OfferChannel,
    now: datetime,
    today: date,
    timezone: str,
    catalogue: Catalogue,
    refusals_read: bool = False,
) -> SlotOutcome:
    """Takes one slot of the line for the worker (a Worker, or a row of its columns).
    Returns RESERVED, or why not: NOT_OPEN (closed, of an unverified employer, or a line
    the worker was never offered and could not be), OVERLAP (they hold work on some of
    those days) or FULL.

    Atomic on any database: the slot is counted by a conditional UPDATE, so with 10 slots
    and a crowd of accepts exactly 10 succeed. The employer is then asked to confirm.
    `refusals_read`: the caller has just read, with no lock as `_refusal` does, that none
    of its refusals holds (`market.replies` for an SMS by job code): only the locked
    steps are left."""
    if not refusals_read:
        refused = await _refusal(executor, worker, job_line_id, now=now, today=today,
                                 timezone=timezone)
        if refused is not None:
            return refused
    start_of_today = datetime.combine(today, time(0), ZoneInfo(timezone))
    line = (await execute_keyed(executor, _OPEN_LINE_AND_WORKER, {
        "line_id": job_line_id, "worker_id": worker.id,
        "start_of_today": start_of_today})).first()
    if line is None:  # closed since
        return NOT_OPEN
    facts = facts_of(line[3:], timezone=timezone, catalogue=catalogue)
    status, overlap = (await execute_keyed(executor, _HELD_AND_OVERLAPPING, {
        "worker_id": worker.id, "job_id": line.job_id})).one()
    if status in HOLDING_A_SLOT:
        return RESERVED
    if overlap:
        return OVERLAP
    opted_out = {phone for phone, out in ((worker.phone, line.worker_opted_out),
                                          (facts.employer_phone, line.employer_opted_out))
                 if out}
    # The line's row is locked from the slot's UPDATE to the commit, and every other
    # taker of the line waits for it: everything else is read before, and two
    # statements are left after it.
    took = await execute_keyed(executor, _TAKE_SLOT, {"line_id": job_line_id})
    if took.rowcount != 1:
        return FULL
    offer_id = (await execute_keyed(executor, _ACCEPT_OFFER[dialect_name(executor)], {
        "job_id": line.job_id, "job_line_id": job_line_id, "worker_id": worker.id,
        "status": OfferStatus.ACCEPTED, "channel": channel, "wave": 0, "score": {},
        "created_at": now, "accepted_at": now, "employer_asked_at": now})).scalar()
    if offer_id is None:  # a simultaneous accept by this worker got there first
        await execute_keyed(executor, _GIVE_SLOT_BACK, {"line_id": job_line_id})
        return RESERVED
    reserved = Sms(f"reserved:{offer_id}:{now.timestamp()}", worker.phone,
                   catalogue.text("sms_offer_reserved", trade=facts.trade, place=facts.place,
                                  start=facts.start, wage=catalogue.yuan(facts.wage_fen)),
                   "offer_reserved", PRIORITY_REPLY)
    await enqueue_many(executor, [
        *employer_request(offer_id, worker, facts, catalogue=catalogue, now=now), reserved],
        now=now, opted_out=opted_out)
    return RESERVED


def could_be_offered(line_id) -> ColumnElement[bool]:
    """Whether the matcher would have offered the line to the worker of `for_a_worker`'s
    parameters, slots and overlapping days aside (those get their own answer): a line
    the worker was not alerted to is theirs to take if so."""
    return exists(eligible_pairs(JobLine.id, now=bindparam("now", type_=Job.start_at.type),
                                 slots_and_days=False, **for_a_worker())
                  .where(JobLine.id == line_id))


def holds_overlapping_days(job, worker_id=None) -> ColumnElement[bool]:
    """Whether the worker holds a slot of another job on some of `job`'s days (`job` an
    alias of Job in the enclosing statement; `worker_id` a column of it, else the
    parameter `worker_id`)."""
    worker_id = bindparam("worker_id") if worker_id is None else worker_id
    return exists(
        select(Offer.id).join(Job, Job.id == Offer.job_id)
        .where(Offer.worker_id == worker_id, Offer.status.in_(HOLDING_A_SLOT),
               Job.id != job.id, Job.start_at < job.end_at, Job.end_at > job.start_at))


# Built once: building them costs more than running them.
_OPEN_LINE_AND_WORKER = DriverStatement(_open_line_and_worker())
_HELD_AND_OVERLAPPING = DriverStatement(_held_and_overlapping())


def _line_refusals() -> Select:
    """Everything that can refuse a worker a line, in reserve_slot's order of answers:
    whether the line is open (as `_open_lines`), the worker's own offer of its job, whether
    it could be offered to them, whether their days are taken, whether it is full."""
    line, job, own = aliased(JobLine), aliased(Job), aliased(Offer)
    is_open = and_(job.status == JobStatus.OPEN, Employer.verification == Verification.VERIFIED,
                   job.start_at >= bindparam("start_of_today", type_=Job.start_at.type))
    return (
        select(is_open.label("open"), own.status.label("offer_status"),
               could_be_offered(line.id).label("could"),
               holds_overlapping_days(job).label("overlap"),
               (line.filled >= line.headcount).label("full"))
        .select_from(line)
        .join(job, job.id == line.job_id)
        .join(Employer, Employer.id == job.employer_id)
        .outerjoin(own, and_(own.job_id == job.id, own.worker_id == bindparam("worker_id")))
        .where(line.id == bindparam("line_id"))
    )


# Built once: building it costs more than running it.
_LINE_REFUSALS = DriverStatement(_line_refusals())


async def _refusal(executor: Executor, worker: Worker, line_id: int, *, now: datetime,
                   today: date, timezone: str) -> SlotOutcome | None:
    """The answer for a worker who cannot take the line (or holds it already), read with
    no lock taken: a crowd's losers cost one statement each. None: try for the slot."""
    reach = await towns_within_reach(executor, worker.town_id) if worker.town_id else {}
    start_of_today = datetime.combine(today, time(0), ZoneInfo(timezone))
    row = (await execute_keyed(executor, _LINE_REFUSALS, {
        "line_id": line_id, "now": now, "start_of_today": start_of_today,
        **for_worker_params(worker, reach, timezone)})).first()
    if row is None or not row.open:
        return NOT_OPEN
    if row.offer_status in HOLDING_A_SLOT:
        return RESERVED
    if row.offer_status is None and not row.could:
        return NOT_OPEN
    if row.overlap:
        return OVERLAP
    if row.full:
        return FULL
    return None


async def offer_view(session: AsyncSession, offer_id: int, phone: str, *,
                     timezone: str) -> OfferView | None:
    row = (await session.execute(
        select(JobLine, Job, Trade.name, Area.name)
        .join(Offer, Offer.job_line_id == JobLine.id)
        .join(Worker, Worker.id == Offer.worker_id)
        .join(Job, Job.id == JobLine.job_id)
        .join(Trade, Trade.id == JobLine.trade_id)
        .join(Area, Area.id == Job.town_id)
        .where(Offer.id == offer_id, Worker.phone == phone)
    )).first()
    if row is None:
        return None
    line, job, trade, town = row
    return OfferView(job_line_id=line.id, job_code=job.code, trade=trade,
                     day_wage_fen=line.day_wage_fen, days=job.days, place=town,
                     start_date=job.start_at.astimezone(ZoneInfo(timezone)).date())
