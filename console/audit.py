"""The audit log as supervisors read it: who did or looked at what, when. Changes are
written by whatever makes them, in its transaction (market.jobs for employers and jobs,
console.wages_api for cases, hires and holds, console.accounts for the staff); a look at
a worker's personal data is written here, by `looked_at`, in the session that reads it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from aiohttp import web
from multidict import MultiMapping
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from console.http import BadRequest, desk_of
from console.schemas import AuditOut
from store.models import AuditEntry


def looked_at(session: AsyncSession, *, agent: str, subject: str, now: datetime,
              detail: dict | None = None) -> None:
    """`agent` is shown `subject` ("case:12", "worker:7") with workers' personal data
    (phones, names, recordings, ID last four). Call it in the session that reads them,
    inside a transaction, so the look is recorded if and only if the data went out."""
    kind = subject.partition(":")[0]
    session.add(AuditEntry(at=now, actor=agent, action=f"{kind}_viewed", subject=subject,
                           detail=detail or {}))


PAGE = 500  # the newest this many entries that match: narrow the filter for older ones


@dataclass(frozen=True)
class AuditFilter:
    """What a supervisor asks for; empty fields match everything."""

    agent: str = ""
    subject: str = ""  # `case:12` for one record, `case` for all cases
    day_from: date | None = None  # market days, both ends included
    day_to: date | None = None

    @classmethod
    def of(cls, query: MultiMapping[str]) -> AuditFilter:
        def day(name: str) -> date | None:
            raw = query.get(name, "").strip()
            try:
                return date.fromisoformat(raw) if raw else None
            except ValueError:
                raise BadRequest(name, "give the day as YYYY-MM-DD") from None

        def name(field: str) -> str:
            raw = query.get(field, "").strip()
            # No stored name holds these, and PostgreSQL refuses a NUL in a string.
            if len(raw) > 64 or any(ord(char) < 32 for char in raw):
                raise BadRequest(field, "at most 64 characters, none of them control ones")
            return raw

        return cls(agent=name("agent"), subject=name("subject"),
                   day_from=day("from"), day_to=day("to"))


async def read(session: AsyncSession, wanted: AuditFilter, timezone: str) -> list[AuditEntry]:
    zone = ZoneInfo(timezone)
    query = select(AuditEntry).order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(PAGE)
    if wanted.agent:
        query = query.where(AuditEntry.actor == wanted.agent)
    if wanted.subject:
        query = query.where(or_(AuditEntry.subject == wanted.subject,
                                AuditEntry.subject.startswith(f"{wanted.subject}:",
                                                              autoescape=True)))
    if wanted.day_from and (start := _start_of(wanted.day_from, zone)):
        query = query.where(AuditEntry.at >= start)
    if wanted.day_to and (end := _start_of(wanted.day_to, zone, days_later=1)):
        query = query.where(AuditEntry.at < end)
    return list(await session.scalars(query))


def _start_of(day: date, zone: ZoneInfo, *, days_later: int = 0) -> datetime | None:
    """The day's first moment in UTC; None past the calendar's ends, where no entry is
    (and no bound is needed)."""
    try:
        return datetime.combine(day + timedelta(days=days_later), time(0), zone
                                ).astimezone(UTC)
    except OverflowError:
        return None


async def list_audit(request: web.Request) -> list[AuditOut]:
    desk = desk_of(request)
    wanted = AuditFilter.of(request.query)
    async with desk.sessions() as session:
        return [AuditOut.model_validate(entry)
                for entry in await read(session, wanted, desk.timezone)]
