"""A unit of work holds one session, or one connection (store.db.connection_unit):
opening a second inside it fails at once, instead of waiting for ever for the embedded
default's one pooled connection. A connection's unit commits what its statements and an
ORM session joined to it wrote, or nothing at all."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, insert, select, text
from sqlalchemy.exc import IntegrityError

from market.outbox import enqueue_sms, queued_any
from store.db import (
    NestedSession,
    UnitEnded,
    connection_unit,
    joined_session,
    make_engine,
    make_sessionmaker,
    sessions_engine,
)
from store.driver_statements import DriverStatement
from store.models import AuditEntry, OutboundSms
from store.repo import execute_keyed, read_only

NOW = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)


@pytest.fixture
async def sessions(database_url):
    engine = make_engine(database_url)
    yield make_sessionmaker(engine)
    await engine.dispose()


async def _write_both_ways(sessions, conn, key: str) -> None:
    """An SMS queued by a keyed statement on the connection, an audit entry by the ORM."""
    assert await enqueue_sms(conn, dedupe_key=key, phone="+8613800000001", body="hi",
                             kind="test", now=NOW)
    joined = joined_session(conn)
    joined.add(AuditEntry(at=NOW, actor="caller", action=key, subject="+8613800000001",
                          detail={}))
    await joined.flush()
    await joined.close()


async def _counts(sessions) -> tuple[int, int]:
    async with sessions() as session:
        return (await session.scalar(select(func.count()).select_from(OutboundSms)),
                await session.scalar(select(func.count()).select_from(AuditEntry)))


async def test_a_connection_unit_commits_its_statements_and_its_joined_session(sessions):
    async with connection_unit(sessions_engine(sessions)) as conn:
        await _write_both_ways(sessions, conn, "kept")
        assert queued_any(conn)
    assert await _counts(sessions) == (1, 1)


async def test_a_connection_unit_that_fails_leaves_nothing(sessions):
    with pytest.raises(LookupError):
        async with connection_unit(sessions_engine(sessions)) as conn:
            await _write_both_ways(sessions, conn, "lost")
            raise LookupError("the turn failed after writing")
    assert await _counts(sessions) == (0, 0)
    async with connection_unit(sessions_engine(sessions)) as conn:  # the connection is usable
        await _write_both_ways(sessions, conn, "after")
    assert await _counts(sessions) == (1, 1)


async def test_a_unit_whose_joined_flush_failed_fails_even_if_that_was_caught(sessions):
    """A failed flush rolls the unit's transaction back: the unit must not end as if
    all went well (what came before the failure is gone)."""
    with pytest.raises(UnitEnded):
        async with connection_unit(sessions_engine(sessions)) as conn:
            await _write_both_ways(sessions, conn, "first")
            joined = joined_session(conn)
            joined.add(OutboundSms(dedupe_key="first", channel="sms", phone="+8613800000001",
                                   body="again", kind="test", status="pending", priority=5,
                                   next_attempt_at=NOW, created_at=NOW, updated_at=NOW))
            with pytest.raises(IntegrityError):
                await joined.flush()  # the same dedupe key: refused
            await joined.close()
    assert await _counts(sessions) == (0, 0)
    async with connection_unit(sessions_engine(sessions)) as conn:  # the connection is usable
        await _write_both_ways(sessions, conn, "after")
    assert await _counts(sessions) == (1, 1)


async def test_what_a_unit_noted_ends_with_its_transaction(sessions):
    """The SQLite default has one pooled connection: the next unit gets the same one,
    and must not think it queued a message the first did."""
    engine = sessions_engine(sessions)
    async with connection_unit(engine) as conn:
        await enqueue_sms(conn, dedupe_key="once", phone="+8613800000001", body="hi",
                          kind="test", now=NOW)
        assert queued_any(conn)
    async with connection_unit(engine) as conn:
        assert not queued_any(conn)


async def test_a_unit_inside_another_fails_at_once(sessions):
    engine = sessions_engine(sessions)
    started = time.monotonic()
    async with connection_unit(engine) as conn:
        with pytest.raises(NestedSession):
            async with sessions():
                pass
        with pytest.raises(NestedSession):
            async with connection_unit(engine):
                pass
        assert await conn.scalar(text("SELECT 1")) == 1
    async with sessions() as session:
        await session.execute(text("SELECT 1"))
        with pytest.raises(NestedSession):
            async with connection_unit(engine):
                pass
    assert time.monotonic() - started < 1


_ADD_ENTRY = DriverStatement(insert(AuditEntry.__table__))


async def test_standalone_statements_commit_as_they_run_until_the_transaction_begins(
        sessions, database_url):
    """On PostgreSQL a standalone statement that nothing in the unit has written before
    commits as it runs: another connection sees it before the unit ends, and a failure
    later takes it not back. The next statement begins the unit's transaction, and a
    standalone one after that is part of it. On SQLite the unit is one transaction from
    its first statement, whichever it is."""
    engine, elsewhere = sessions_engine(sessions), make_engine(database_url)

    async def entries_seen_elsewhere() -> list[str]:
        async with make_sessionmaker(elsewhere)() as session:
            other = await read_only(session)  # takes no write lock: SQLite's is held
            return list(await other.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))

    entry = {"at": NOW, "actor": "caller", "subject": "+8613800000001", "detail": {}}
    try:
        with pytest.raises(IntegrityError):
            async with connection_unit(engine) as conn:
                await execute_keyed(conn, _ADD_ENTRY, {**entry, "action": "alone"},
                                    standalone=True)
                seen = await asyncio.create_task(entries_seen_elsewhere())
                await execute_keyed(conn, _ADD_ENTRY, {**entry, "action": "begins"})
                await execute_keyed(conn, _ADD_ENTRY, {**entry, "action": "inside"},
                                    standalone=True)
                await execute_keyed(conn, _ADD_ENTRY, {**entry, "action": None})
        kept = await entries_seen_elsewhere()
    finally:
        await elsewhere.dispose()
    alone = ["alone"] if engine.dialect.name == "postgresql" else []
    assert seen == kept == alone
    async with connection_unit(engine) as conn:  # its connection went back to the pool
        await execute_keyed(conn, _ADD_ENTRY, {**entry, "action": "later"})
    async with sessions() as session:
        assert list(await session.scalars(
            select(AuditEntry.action).order_by(AuditEntry.id))) == [*alone, "later"]


async def test_a_session_opened_inside_another_fails_at_once(sessions):
    started = time.monotonic()
    async with sessions() as outer:
        await outer.execute(text("SELECT 1"))  # holds the connection
        with pytest.raises(NestedSession):
            async with sessions():
                pass
        await outer.execute(text("SELECT 1"))  # the outer one is untouched
    assert time.monotonic() - started < 1


async def test_sessions_one_after_another_and_in_other_tasks_are_fine(sessions):
    async def one() -> int:
        async with sessions() as session:
            return await session.scalar(text("SELECT 1"))

    async with sessions() as session:
        await session.execute(text("SELECT 1"))
    assert await asyncio.gather(one(), one(), one()) == [1, 1, 1]
    async with sessions() as session, session.begin():
        # A task started inside a unit of work is a unit of its own.
        task = asyncio.create_task(one())
    assert await task == 1
