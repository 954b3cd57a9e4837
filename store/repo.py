"""Small store helpers shared by the market's modules."""

from __future__ import annotations

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from store.db import READ_ONLY
from store.sqlite_driver import quick_statements as quick_statements  # hot paths

DIALECT_INSERTS = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}


def dialect_insert(session: AsyncSession, table: Table):
    """INSERT with the database's own ON CONFLICT clause (PostgreSQL's or SQLite's)."""
    return DIALECT_INSERTS[session.bind.dialect.name](table)


async def insert_ignoring_duplicates(
    session: AsyncSession, table: Table, values: dict, conflict_columns: list[str] | None = None
) -> bool:
    """INSERT that does nothing when the unique key exists (any unique key if none is
    named); True if a row was added."""
    statement = dialect_insert(session, table).values(**values).on_conflict_do_nothing(
        index_elements=conflict_columns
    )
    result = await session.execute(statement)
    return result.rowcount == 1


async def read_only(session: AsyncSession) -> AsyncConnection:
    """The session's connection for a read that writes nothing: on SQLite it takes no
    write lock and no BEGIN/ROLLBACK trips (the embedded writer is one connection)."""
    return await session.connection(execution_options={READ_ONLY: True})
