"""Small store helpers shared by the market's modules."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import Executable, Result, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker

from store.db import READ_ONLY
from store.driver_statements import DriverStatement
from store.sqlite_driver import quick_statements

DIALECT_INSERTS = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}


def dialect_insert(session: AsyncSession, table: Table):
    """INSERT with the database's own ON CONFLICT clause (PostgreSQL's or SQLite's)."""
    return DIALECT_INSERTS[session.bind.dialect.name](table)


async def insert_ignoring_duplicates(
    session: AsyncSession, table: Table, values: dict, conflict_columns: list[str] | None = None
) -> bool:
    """INSERT that does nothing when the unique key exists (any unique key if none is
    named); True if a row was added. Run as a keyed statement on the session's connection:
    no ORM object is made, and none pending needs flushing first (the session's own are
    flushed when it commits, after this row exists)."""
    key = (table, tuple(conflict_columns or ()))
    insert = _INSERTS_IGNORING.get(key)
    if insert is None:
        insert = _INSERTS_IGNORING[key] = KeyedInsertIgnoringDuplicates(table, conflict_columns)
    return (await insert.run(session, values)).rowcount == 1


_INSERTS_IGNORING: dict[tuple[Table, tuple[str, ...]], KeyedInsertIgnoringDuplicates] = {}


async def read_only(session: AsyncSession) -> AsyncConnection:
    """The session's connection for a read that writes nothing: on SQLite it takes no
    write lock and no BEGIN/ROLLBACK trips (the embedded writer is one connection)."""
    return await session.connection(execution_options={READ_ONLY: True})


# Statements that read or write a few rows by their keys take microseconds: the store runs
# them the cheapest way its driver allows (the embedded SQLite driver runs them on the
# event loop itself instead of a trip to its database thread, which under load waits a
# whole loop iteration). Callers say what a statement is, never how it is run.


async def execute_keyed(executor: AsyncSession | AsyncConnection,
                        statement: Executable | DriverStatement, params: dict | None = None
                        ) -> Result:
    """Runs a statement that touches rows by their keys only; one built once at import
    as a `DriverStatement` runs on the driver itself (store.driver_statements)."""
    if isinstance(statement, DriverStatement):
        return await statement.run(executor, params)
    with quick_statements():
        return await executor.execute(statement, params)


@asynccontextmanager
async def keyed_transaction(sessions: async_sessionmaker) -> AsyncIterator[AsyncSession]:
    """A transaction whose every statement touches rows by their keys only (the ORM's
    flush at commit included); committed on leaving."""
    with quick_statements():
        async with sessions() as session, session.begin():
            yield session


class KeyedInsertIgnoringDuplicates:
    """An INSERT ... ON CONFLICT DO NOTHING built once (building one costs more than the
    database takes to run it) and run as a keyed statement."""

    def __init__(self, table: Table, conflict_columns: list[str] | None, returning=None):
        self._statements = {}
        for dialect, insert in DIALECT_INSERTS.items():
            statement = insert(table).on_conflict_do_nothing(index_elements=conflict_columns)
            self._statements[dialect] = DriverStatement(
                statement.returning(returning) if returning is not None else statement)

    async def run(self, session: AsyncSession, values: dict) -> Result:
        return await self._statements[session.bind.dialect.name].run(session, values)
