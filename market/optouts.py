"""Opt-outs win over everything: an opted-out number gets no SMS until it opts back in."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import ColumnElement, exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from store.models import OptOut
from store.repo import Executor


async def set_opt_out(
    session: AsyncSession, phone: str, *, opted_out: bool, keyword: str, source: str,
    now: datetime,
) -> None:
    row = await session.get(OptOut, phone)
    if row is None:
        row = OptOut(phone=phone)
        session.add(row)
    row.opted_out, row.keyword, row.source, row.changed_at = opted_out, keyword, source, now
    await session.flush()


async def opted_out_among(session: Executor, phones: Iterable[str]) -> set[str]:
    """Those of `phones` that are opted out, in one query."""
    wanted = set(phones)
    if not wanted:
        return set()
    return set(await session.scalars(
        select(OptOut.phone).where(OptOut.phone.in_(wanted), OptOut.opted_out.is_(True))))


def is_opted_out(phone) -> ColumnElement[bool]:
    """Whether the number (a column, or a parameter) is opted out, as an SQL expression."""
    return exists().where(OptOut.phone == phone, OptOut.opted_out.is_(True))
