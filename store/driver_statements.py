"""Statements of the hot paths, compiled once and run on the driver itself.

A turn runs a handful of statements that each touch a row or two by their keys. Through
SQLAlchemy's execution path (the session's bookkeeping, the execution context, the
parameters and result set built afresh, a greenlet around the driver's await) each
costs more CPU than the database takes to answer it. A `DriverStatement` is still
written in SQLAlchemy Core; it is compiled by the connection's own dialect once per set
of parameter names, and then runs as that SQL with that dialect's type processing on the
DB-API connection SQLAlchemy checked out, inside the transaction SQLAlchemy began (so it
commits, rolls back and fails as any other statement: errors are SQLAlchemy's).

A statement run `standalone` before anything has begun the transaction at the database
runs on its own and commits as it runs: on PostgreSQL no BEGIN or COMMIT is sent for it
(each is a round trip, and a turn that only moves the call on needs no more than its
read and its write). A `LazyUnit` runs such a statement on a spare connection of its
own (store.spare_connections) until something needs the unit's transaction, as an
asyncpg prepared statement that connection keeps. SQLite
begins its write lock with a unit's first statement, whichever it is.

What needs SQLAlchemy's execution (a Python-side column default, a callable parameter)
is sent to it unchanged."""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from sqlalchemy import Executable, Result, exc
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from store.db import connection_unit
from store.spare_connections import Lent, spare_connections
from store.sqlite_driver import OneTripCursor, quick_statements


class DriverStatement:
    """A Core statement built once at import, run on the driver (`store.repo.execute_keyed`)."""

    def __init__(self, statement: Executable):
        self.statement = statement
        # per dialect and parameters given (a list's by its length, as IN renders it)
        self._compiled: dict[tuple, _Compiled | None] = {}

    def __repr__(self) -> str:
        return f"DriverStatement({self.statement})"

    async def run(self, executor: AsyncSession | AsyncConnection | LazyUnit, params: dict | None,
                  *, standalone: bool = False) -> Any:
        params = params or {}
        if isinstance(executor, LazyUnit):
            return await executor.run(self, params, standalone)
        sync = await _connection_of(executor)
        compiled = self.compiled(sync.dialect, params)
        if compiled is None:
            return await AsyncConnection._retrieve_proxy_for_target(sync).execute(
                self.statement, params)
        try:
            return await compiled.run(sync.dialect, sync.connection.dbapi_connection, params,
                                      standalone)
        except exc.DBAPIError as error:
            if error.connection_invalidated:
                sync.invalidate(error.orig)
            raise

    def compiled(self, dialect: Dialect, params: dict) -> _Compiled | None:
        """The statement for these parameters as the driver runs it; None where
        SQLAlchemy's execution must run it."""
        key = (dialect.name, *((name, len(value) if isinstance(value, list | tuple) else -1)
                               for name, value in params.items()))
        try:
            return self._compiled[key]
        except KeyError:
            compiled = self._compiled[key] = _compile(self.statement, dialect, params)
            return compiled


class LazyUnit:
    """A unit of work whose connection unit (store.db.connection_unit) opens at the first
    statement that needs it: one in its transaction, or SQLAlchemy's execution. On
    PostgreSQL, while it is not open, statements run standalone go to one of the
    engine's spare connections (store.spare_connections), taken at the first and held
    until the unit ends or opens its connection, with no SQLAlchemy connection,
    transaction or greenlet: a turn that reads the call and moves it on is two such
    statements on one backend. On SQLite the unit opens at the first statement (its
    connection is the one writer's).

    Used as `async with lazy_unit(engine) as unit`: its connection unit, if it opened
    one, commits on leaving and rolls back on an error."""

    def __init__(self, engine: AsyncEngine):
        self.engine, self.sync_engine, self.dialect = engine, engine.sync_engine, engine.dialect
        self._spares = spare_connections(engine)
        self._spare: Lent | None = None
        self._opening = None  # connection_unit's context manager, once opened
        self.opened: AsyncConnection | None = None  # the connection unit, once opened

    async def __aenter__(self) -> LazyUnit:
        return self

    async def __aexit__(self, kind, error, traceback) -> bool | None:
        # A class of its own rather than a generator: a turn enters one or two, and
        # contextlib's machinery cost more than the spare connection's statement. A spare
        # still held here runs no statement (a failed one was handed back as it failed).
        self._hand_back_spare()
        if self._opening is not None:
            return await self._opening.__aexit__(kind, error, traceback)
        return None

    async def connection(self) -> AsyncConnection:
        """The unit's connection, opened if it was not (the spare one handed back)."""
        if self.opened is None:
            self._hand_back_spare()
            opening = connection_unit(self.engine)
            self.opened = await opening.__aenter__()
            self._opening = opening
        return self.opened

    def _hand_back_spare(self, error: BaseException | None = None) -> None:
        if self._spare is not None:
            spare, self._spare = self._spare, None
            self._spares.hand_back(spare, error)

    async def execute(self, statement: Executable, params: dict | None = None) -> Result:
        """SQLAlchemy's execution of `statement`, in the unit's transaction."""
        return await (await self.connection()).execute(statement, params)

    async def run(self, statement: DriverStatement, params: dict, standalone: bool
                  ) -> DriverResult:
        if standalone and self.opened is None and self._spares is not None:
            compiled = statement.compiled(self.dialect, params)
            if compiled is not None:
                if self._spare is None:
                    self._spare = await self._spares.take()
                try:
                    return await compiled.run(self.dialect, self._spare.adapted, params,
                                              prepared=self._spare.prepared)
                except BaseException as error:
                    self._hand_back_spare(error)
                    raise
        return await statement.run(await self.connection(), params, standalone=standalone)


def lazy_unit(engine: AsyncEngine) -> LazyUnit:
    """`async with lazy_unit(engine) as unit`: a LazyUnit of the engine."""
    return LazyUnit(engine)


_HELD = "gigline_driver_connection"


async def _connection_of(executor: AsyncSession | AsyncConnection) -> Connection:
    """The connection of the executor's transaction, asked of the session once a
    transaction (asking costs a greenlet each time)."""
    if isinstance(executor, AsyncConnection):
        return executor.sync_connection
    transaction = executor.sync_session.get_transaction()
    held = executor.info.get(_HELD)
    if held is not None and held[0] is transaction and not held[1].invalidated:
        return held[1]
    sync = (await executor.connection()).sync_connection
    executor.info[_HELD] = (executor.sync_session.get_transaction(), sync)
    return sync


@dataclass(frozen=True)
class _Given:
    """Stands for a parameter the caller gives (`index`: which item of a list)."""
    name: str
    index: int | None = None


def _compile(statement: Executable, dialect: Dialect, params: dict) -> _Compiled | None:
    compiled = statement.compile(dialect=dialect, column_keys=list(params))
    if (compiled.positiontup is None or getattr(compiled, "insert_prefetch", None)
            or getattr(compiled, "update_prefetch", None)
            or any(bind.callable is not None for bind in compiled.binds.values())):
        return None  # Python-side defaults, callables: SQLAlchemy's execution runs them
    given = {name: [_Given(name, i) for i in range(len(value))]
             if isinstance(value, list | tuple) and _expanding(compiled, name)
             else _Given(name)  # a list too, where it is one array (store.listed)
             for name, value in params.items()}
    expanded = compiled.construct_expanded_state(given)  # IN lists rendered at their length
    processors = {name: bind.type._cached_bind_processor(dialect)
                  for name, bind in compiled.binds.items()} | expanded.processors
    parameters = []
    for name in expanded.positiontup:
        value = expanded.parameters[name]
        parameters.append((value if isinstance(value, _Given) else None,
                           None if isinstance(value, _Given) else value,
                           processors.get(name)))
    # A SELECT's columns, or an INSERT's (UPDATE's, DELETE's) RETURNING: the primary key
    # PostgreSQL returns of an INSERT unasked is not read.
    columns = tuple(getattr(statement, "exported_columns", ()))
    return _Compiled(expanded.statement, tuple(parameters), tuple(c.type for c in columns),
                     namedtuple("Row", [c.key for c in columns], rename=True)
                     if columns else None, _RUNNERS[dialect.driver])


def _expanding(compiled, name: str) -> bool:
    bind = compiled.binds.get(name)
    return bind is not None and bind.expanding


@dataclass
class _Compiled:
    sql: str
    parameters: tuple[tuple[_Given | None, Any, Callable | None], ...]  # given, or own value
    types: tuple  # of the result's columns
    row: type | None  # None: the statement returns no rows
    runner: Callable
    _processors: tuple | None = field(default=None)  # per column; from the first result

    async def run(self, dialect: Dialect, adapted, params: dict, standalone: bool = False,
                  *, prepared: dict | None = None) -> DriverResult:
        """Runs on `adapted`, SQLAlchemy's adapter of a driver connection; a failure is
        raised as SQLAlchemy's DBAPIError, `connection_invalidated` if the connection is
        lost (for its holder to drop). `prepared`: the statements an asyncpg connection
        in autocommit keeps prepared (a spare one's), for asyncpg to run directly."""
        values = []
        for given, own, processor in self.parameters:
            if given is None:
                value = own
            elif given.index is None:
                value = params[given.name]
            else:
                value = params[given.name][given.index]
            values.append(processor(value) if processor is not None else value)
        dbapi = dialect.loaded_dbapi
        try:
            if prepared is None:
                rows, rowcount, coltypes = await self.runner(adapted, self.sql, values,
                                                             standalone)
            else:
                rows, rowcount, coltypes = await _run_prepared(adapted, prepared, self.sql,
                                                               values)
        except dbapi.Error as error:
            raise exc.DBAPIError.instance(
                self.sql, values, error, dbapi.Error,
                connection_invalidated=dialect.is_disconnect(error, adapted, None),
                dialect=dialect) from error
        if self.row is None:
            return DriverResult([], rowcount)
        if self._processors is None:
            self._processors = tuple(
                type_._cached_result_processor(dialect, coltype)
                for type_, coltype in zip(self.types, coltypes, strict=True))
        make, processors = self.row._make, self._processors
        if any(processors):
            rows = [make(value if process is None else process(value)
                         for process, value in zip(processors, row, strict=True))
                    for row in rows]
        else:
            rows = [make(row) for row in rows]
        return DriverResult(rows, rowcount)


async def _run_on_sqlite(adapted, sql: str, values: list, _standalone: bool) -> tuple:
    # The embedded driver (store.sqlite_driver): one trip, or none for a quick statement.
    # Standalone or not, the unit's first statement takes the write lock.
    cursor = OneTripCursor(adapted.driver_connection)
    with quick_statements():
        await cursor.execute(sql, values)
    rows = await cursor.fetchall()
    coltypes = [None] * len(cursor.description or ())
    return rows, cursor.rowcount, coltypes


async def _run_on_asyncpg(adapted, sql: str, values: list, standalone: bool) -> tuple:
    # SQLAlchemy's asyncpg adapter, awaited directly: it begins the transaction if this is
    # its first statement, keeps the prepared statement, and turns asyncpg's errors into
    # its DB-API's, as it does under SQLAlchemy's own execution. Standalone before its
    # transaction began (the adapter begins one at a statement, never before), the
    # statement runs in autocommit, and the next one begins the transaction.
    if standalone and adapted._transaction is None and not adapted.autocommit:
        adapted.autocommit = True
        try:
            return await _execute_on_asyncpg(adapted, sql, values)
        finally:
            adapted.autocommit = False
    return await _execute_on_asyncpg(adapted, sql, values)


async def _execute_on_asyncpg(adapted, sql: str, values: list) -> tuple:
    cursor = adapted.cursor()
    await cursor._prepare_and_execute(sql, values)
    coltypes = [column[1] for column in cursor.description or ()]
    return list(cursor._rows), cursor.rowcount, coltypes


# Past this many statements prepared on a connection (an IN list of many lengths) the
# oldest is let go: asyncpg closes a prepared statement once nothing holds it. As many as
# SQLAlchemy's adapter keeps by default.
PREPARED_PER_CONNECTION = 100


async def _run_prepared(adapted, prepared: dict, sql: str, values: list) -> tuple:
    # What SQLAlchemy's adapter does for a statement in autocommit (prepare it once per
    # connection, fetch, read the row count off the status), on asyncpg directly: without
    # the adapter's cursor, lock, LRU bookkeeping and description, which cost more CPU
    # than asyncpg's own run of a keyed statement.
    try:
        try:
            statement, coltypes = await _prepared(adapted, prepared, sql)
            rows = await statement.fetch(*values)
        except _STALE:
            # The schema changed under the prepared statement (a migration while serving):
            # it did not run, so it is prepared afresh and run once more, as asyncpg does
            # with its own statement cache outside a transaction.
            prepared.pop(sql, None)
            statement, coltypes = await _prepared(adapted, prepared, sql)
            rows = await statement.fetch(*values)
    except Exception as error:  # noqa: BLE001 - raised again, as the adapter's DB-API error
        adapted._handle_exception(error)
    count = (statement.get_statusmsg() or "").rpartition(" ")[2]  # "UPDATE 1", "INSERT 0 1"
    return rows, int(count) if count.isdigit() else -1, coltypes


_STALE = (asyncpg.exceptions.InvalidCachedStatementError,
          asyncpg.exceptions.OutdatedSchemaCacheError)


async def _prepared(adapted, prepared: dict, sql: str) -> tuple:
    """The connection's prepared statement for `sql` and its columns' type ids."""
    held = prepared.get(sql)
    if held is None:
        statement = await adapted.driver_connection.prepare(sql)
        held = prepared[sql] = (
            statement, [attribute.type.oid for attribute in statement.get_attributes()])
        if len(prepared) > PREPARED_PER_CONNECTION:
            del prepared[next(iter(prepared))]
    return held


_RUNNERS = {"aiosqlite": _run_on_sqlite, "asyncpg": _run_on_asyncpg}


class DriverResult:
    """The rows of a driver statement, read as SQLAlchemy's Result is read here."""

    def __init__(self, rows: list, rowcount: int):
        self._rows, self.rowcount = rows, rowcount

    def __iter__(self) -> Iterator:
        return iter(self._rows)

    def all(self) -> list:
        return self._rows

    def first(self):
        return self._rows[0] if self._rows else None

    def one(self):
        if len(self._rows) != 1:
            raise exc.NoResultFound("no row") if not self._rows else exc.MultipleResultsFound(
                "more than one row")
        return self._rows[0]

    def one_or_none(self):
        if len(self._rows) > 1:
            raise exc.MultipleResultsFound("more than one row")
        return self.first()

    def scalar(self):
        return self._rows[0][0] if self._rows else None

    def scalars(self) -> list:
        return [row[0] for row in self._rows]
