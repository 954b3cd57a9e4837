"""Small store helpers shared by the market's modules."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from weakref import WeakKeyDictionary

from sqlalchemy import Executable, Result, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine, Transaction
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker

from store.db import READ_ONLY, connection_unit, joined_session, sessions_engine
from store.driver_statements import DriverStatement, LazyUnit
from store.sqlite_driver import quick_statements

DIALECT_INSERTS = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}

# What a unit of work's statements run on: its session, or its connection
# (store.db.connection_unit) where the path is written in Core, or a unit that opens its
# connection when a statement needs its transaction (store.driver_statements.LazyUnit).
Executor = AsyncSession | AsyncConnection | LazyUnit


def engine_of(executor: Executor) -> Engine:
    """The (sync) engine the executor's statements run on, whichever kind it is."""
    bind = executor.get_bind() if isinstance(executor, AsyncSession) else executor.sync_engine
    return getattr(bind, "engine", bind)  # a session bound to a connection: its engine


def dialect_name(executor: Executor) -> str:
    bind = executor.bind if isinstance(executor, AsyncSession) else executor
    return bind.dialect.name


def dialect_insert(executor: Executor, table: Table):
    """INSERT with the database's own ON CONFLICT clause (PostgreSQL's or SQLite's)."""
    return DIALECT_INSERTS[dialect_name(executor)](table)


_TRANSACTION_INFO: WeakKeyDictionary[Transaction, dict] = WeakKeyDictionary()


def transaction_info(executor: Executor) -> dict:
    """A dict that lives as long as the executor's transaction: what its work noted for
    after the commit (an SMS queued). A connection's own `info` outlives it in the pool;
    a session joined to a connection's unit shares the unit's."""
    if isinstance(executor, AsyncSession):
        if not isinstance(executor.bind, AsyncConnection):
            # A session of its own is one unit of work: the app's commit once, and close.
            return executor.info
        executor = executor.bind
    transaction = executor.sync_connection.get_transaction()
    if transaction is None:
        raise RuntimeError("transaction_info outside a transaction")
    info = _TRANSACTION_INFO.get(transaction)
    if info is None:
        info = _TRANSACTION_INFO[transaction] = {}
    return info


@asynccontextmanager
async def orm_session(executor: Executor) -> AsyncIterator[AsyncSession]:
    """The ORM's session for a step of the executor's unit: the session itself, or one
    joined to the connection's transaction, flushed when the step is done."""
    if isinstance(executor, AsyncSession):
        yield executor
        return
    session = joined_session(executor)
    try:
        yield session
        await session.flush()
    finally:
        await session.close()


async def insert_ignoring_duplicates(
    executor: Executor, table: Table, values: dict, conflict_columns: list[str] | None = None,
    *, standalone: bool = False,
) -> bool:
    """INSERT that does nothing when the unique key exists (any unique key if none is
    named); True if a row was added. Run as a keyed statement on the unit's connection:
    no ORM object is made, and no pending one is flushed first (an ORM session's are
    flushed at its commit, or by the unit it joined, after this row exists)."""
    key = (table, tuple(conflict_columns or ()))
    insert = _INSERTS_IGNORING.get(key)
    if insert is None:
        insert = _INSERTS_IGNORING[key] = KeyedInsertIgnoringDuplicates(table, conflict_columns)
    return (await insert.run(executor, values, standalone=standalone)).rowcount == 1


_INSERTS_IGNORING: dict[tuple[Table, tuple[str, ...]], KeyedInsertIgnoringDuplicates] = {}


async def read_only(session: AsyncSession) -> AsyncConnection:
    """The session's connection for a read that writes nothing: on SQLite it takes no
    write lock and no BEGIN/ROLLBACK trips (the embedded writer is one connection)."""
    return await session.connection(execution_options={READ_ONLY: True})


# Statements that read or write a few rows by their keys take microseconds: the store runs
# them the cheapest way its driver allows (the embedded SQLite driver runs them on the
# event loop itself instead of a trip to its database thread, which under load waits a
# whole loop iteration). Callers say what a statement is, never how it is run.


async def execute_keyed(executor: Executor,
                        statement: Executable | DriverStatement, params: dict | None = None,
                        *, standalone: bool = False) -> Result:
    """Runs a statement that touches rows by their keys only; one built once at import
    as a `DriverStatement` runs on the driver itself (store.driver_statements).
    `standalone`: if nothing has begun the unit's transaction at the database yet, this
    statement commits as it runs, and the next one begins the transaction (a read that
    decides whether anything is to be written; a unit's one write). A statement that
    SQLAlchemy executes itself (not a `DriverStatement`, or one with Python-side
    defaults) runs inside the transaction all the same: correct, one round trip dearer."""
    if isinstance(statement, DriverStatement):
        return await statement.run(executor, params, standalone=standalone)
    with quick_statements():
        return await executor.execute(statement, params)


@asynccontextmanager
async def keyed_transaction(sessions: async_sessionmaker) -> AsyncIterator[AsyncConnection]:
    """A transaction whose every statement touches rows by their keys only, on a
    connection of its own (store.db.connection_unit); committed on leaving."""
    with quick_statements():
        async with connection_unit(sessions_engine(sessions)) as conn:
            yield conn


class KeyedInsertIgnoringDuplicates:
    """An INSERT ... ON CONFLICT DO NOTHING built once (building one costs more than the
    database takes to run it) and run as a keyed statement."""

    def __init__(self, table: Table, conflict_columns: list[str] | None, returning=None):
        self._statements = {}
        for dialect, insert in DIALECT_INSERTS.items():
            statement = insert(table).on_conflict_do_nothing(index_elements=conflict_columns)
            self._statements[dialect] = DriverStatement(
                statement.returning(returning) if returning is not None else statement)

    async def run(self, executor: Executor, values: dict, *, standalone: bool = False
                  ) -> Result:
        return await self._statements[dialect_name(executor)].run(
            executor, values, standalone=standalone)
