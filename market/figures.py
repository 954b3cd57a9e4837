"""The market's figures for a period of market days: what the seeds' halls report
(registrations, people recommended and hired, wages confirmed paid, unpaid cases and what
was recovered), day by day for the supervisors' dashboard, and the alert -> accept ->
confirm funnel with the time jobs took to fill."""

from __future__ import annotations

import csv
import io
import statistics
from collections import Counter
from dataclasses import asdict, dataclass, fields
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from market.board import period_counts
from market.cases import CaseAction
from market.jobs import MarketError
from store.models import CaseEvent, Hire, Job, JobLine, Offer, PayCheck, RightsCase, Worker
from store.statuses import CaseStatus, PayCheckStatus

MAX_DAYS = 366  # a dashboard's longest period: a year, day by day


class PeriodError(MarketError):
    """A period that ends before it starts, or is longer than a dashboard shows."""


@dataclass(frozen=True)
class Period:
    first: date
    last: date  # included
    timezone: str

    def __post_init__(self) -> None:
        if self.last < self.first:
            raise PeriodError("to", "period_backwards")

    @property
    def bounds(self) -> tuple[datetime, datetime]:
        """The period as UTC instants, from its first midnight to the one after its last
        day. Days at the calendar's ends have no UTC instant or next day: the period then
        runs from the earliest or to the latest moment Python can hold."""
        zone = ZoneInfo(self.timezone)
        try:
            start = datetime.combine(self.first, time(0), zone).astimezone(UTC)
        except OverflowError:
            start = datetime.min.replace(tzinfo=UTC)
        try:
            end = datetime.combine(self.last + timedelta(days=1), time(0), zone).astimezone(UTC)
        except OverflowError:
            end = datetime.max.replace(tzinfo=UTC)
        return start, end

    def days(self) -> list[date]:
        count = (self.last - self.first).days + 1
        if count > MAX_DAYS:
            raise PeriodError("to", "period_too_long", most=MAX_DAYS)
        return [self.first + timedelta(days=n) for n in range(count)]


@dataclass(frozen=True)
class Totals:
    registrations: int
    recommended: int  # offers made: alerted, or heard by calling in
    hired: int
    wages_confirmed_paid: int  # pay checks the worker confirmed paid in full
    wages_confirmed_paid_fen: int
    unpaid_cases_opened: int
    unpaid_cases_resolved: int  # closed, or with money recovered
    amount_recovered_fen: int


async def totals(session: AsyncSession, period: Period, *, market_id: int) -> Totals:
    start, end = period.bounds
    happened = await period_counts(session, market_id=market_id, start=start, end=end)

    async def count(model, column, *where) -> int:
        return await session.scalar(select(func.count()).select_from(model)
                                    .where(column >= start, column < end, *where))

    paid = (await session.execute(
        select(func.count(), func.coalesce(func.sum(PayCheck.paid_fen), 0))
        .where(PayCheck.status == PayCheckStatus.PAID, PayCheck.answered_at >= start,
               PayCheck.answered_at < end))).one()
    recovered = await session.scalar(
        select(func.coalesce(func.sum(CaseEvent.amount_fen), 0))
        .where(CaseEvent.kind == CaseAction.RECOVERED, CaseEvent.at >= start,
               CaseEvent.at < end))
    return Totals(
        registrations=happened.registrations,  # counted as the hall's board counts them
        recommended=await count(Offer, Offer.created_at),
        hired=happened.hires,
        wages_confirmed_paid=paid[0], wages_confirmed_paid_fen=int(paid[1]),
        unpaid_cases_opened=await count(RightsCase, RightsCase.opened_at),
        unpaid_cases_resolved=await count(
            RightsCase, RightsCase.closed_at,
            or_(RightsCase.recovered_fen > 0, RightsCase.status == CaseStatus.CLOSED)),
        amount_recovered_fen=int(recovered))


@dataclass(frozen=True)
class Day:
    """One market day of the dashboard's charts."""

    day: date
    registrations: int = 0
    alerted: int = 0  # alerts that went out
    accepted: int = 0  # offers taken (a slot held)
    hired: int = 0  # confirmed by the employer
    paid_fen: int = 0  # wages confirmed paid
    unpaid_fen: int = 0  # owed on pay checks answered "not paid" or "partly"
    recovered_fen: int = 0


async def daily(session: AsyncSession, period: Period) -> list[Day]:
    """Each day of the period, in the market's time, with what happened on it. Rows are
    counted into days here (no database has the same day function), reading only the
    moment and the amount of each: a year of a city's market is a few hundred thousand."""
    days = period.days()
    start, end = period.bounds
    zone = ZoneInfo(period.timezone)
    counts: dict[str, Counter] = {}

    async def tally(name: str, moment, amount=None, *where) -> None:
        columns = (moment,) if amount is None else (moment, amount)
        rows = await session.execute(select(*columns).where(moment >= start, moment < end,
                                                            *where))
        counter = counts.setdefault(name, Counter())
        for row in rows:
            counter[row[0].astimezone(zone).date()] += 1 if amount is None else int(row[1] or 0)

    await tally("registrations", Worker.registered_at)
    await tally("alerted", Offer.alerted_at)
    await tally("accepted", Offer.accepted_at)
    await tally("hired", Hire.created_at)
    await tally("paid_fen", PayCheck.answered_at, PayCheck.paid_fen,
                PayCheck.status == PayCheckStatus.PAID)
    await tally("unpaid_fen", PayCheck.answered_at, PayCheck.owed_fen - func.coalesce(
        PayCheck.paid_fen, 0), PayCheck.status.in_((PayCheckStatus.UNPAID,
                                                    PayCheckStatus.PARTLY)))
    await tally("recovered_fen", CaseEvent.at, CaseEvent.amount_fen,
                CaseEvent.kind == CaseAction.RECOVERED)
    return [Day(day, **{name: counter[day] for name, counter in counts.items()})
            for day in days]


async def fill_minutes(session: AsyncSession, period: Period) -> list[float]:
    """For each job posted in the period whose every slot has a confirmed hire: the
    minutes from posting to the hire that filled it, fastest first."""
    start, end = period.bounds
    headcount = (select(JobLine.job_id, func.sum(JobLine.headcount).label("slots"))
                 .group_by(JobLine.job_id).subquery())
    hired = (select(Hire.job_id, func.count().label("hires"),
                    func.max(Hire.created_at).label("filled_at"))
             .group_by(Hire.job_id).subquery())
    rows = await session.execute(
        select(Job.created_at, hired.c.filled_at)
        .join(headcount, headcount.c.job_id == Job.id)
        .join(hired, hired.c.job_id == Job.id)
        .where(Job.created_at >= start, Job.created_at < end,
               hired.c.hires >= headcount.c.slots))
    return sorted((filled - posted).total_seconds() / 60 for posted, filled in rows)


def median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def days_as_csv(days: list[Day]) -> str:
    """The dashboard's days as CSV (amounts in yuan), for a spreadsheet."""
    out = io.StringIO()
    names = [f.name for f in fields(Day)]
    writer = csv.writer(out)
    writer.writerow([name.removesuffix("_fen") + ("_yuan" if name.endswith("_fen") else "")
                     for name in names])
    for day in days:
        row = asdict(day)
        writer.writerow([row["day"].isoformat()] + [
            f"{row[name] / 100:.2f}" if name.endswith("_fen") else row[name]
            for name in names[1:]])
    return out.getvalue()
