"""Engine, sessions and the migration gate."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from weakref import WeakKeyDictionary

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import event, exc
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import NullPool
from sqlalchemy.util import greenlet_spawn

from store import sqlite_driver

MIGRATIONS = Path(__file__).parent / "migrations"


class DatabaseNotMigrated(RuntimeError):
    pass


# PostgreSQL connections a process keeps: about what the database runs at once on a small
# host. More only queue inside PostgreSQL, and each plans every hot statement afresh for
# its first runs on it, 1-2 ms a plan (docs/instant_hire_benchmarks.md: 30 against 12).
POOL_SIZE = 12


def make_engine(url: str, *, foreign_keys: bool = True,
                pool_size: int = POOL_SIZE) -> AsyncEngine:
    if url.startswith("sqlite"):
        database = make_url(url).database or ":memory:"
        if database != ":memory:" and not database.startswith("file:"):
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        # One connection: SQLite has one writer, and transactions queueing for it in this
        # process wait on the pool (asyncio), not in SQLite's sleeping busy handler.
        pooling = {"pool_size": 1, "max_overflow": 0} if foreign_keys else {"poolclass": NullPool}
        engine = create_async_engine(
            url, async_creator=sqlite_driver.connector(
                database, timeout=30, uri=database.startswith("file:")),
            **pooling)
        event.listen(engine.sync_engine, "connect",
                     _sqlite_pragmas if foreign_keys else _sqlite_pragmas_for_migrations)
        event.listen(engine.sync_engine, "begin", _sqlite_begin)
        return engine
    # Recycling instead of a ping before every checkout: a round trip less per request.
    # The pool's connections are opened as needed and kept: "overflow" connections beyond
    # it are closed on return, and under load each new one costs PostgreSQL a backend fork
    # and Gigline a connect, more than the turns they served.
    return create_async_engine(url, pool_size=pool_size, max_overflow=0, pool_recycle=1800)


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    # Take transactions into our own hands (see _sqlite_begin); the driver's own
    # deferred BEGIN lets two writers read the same row and then fail to upgrade.
    dbapi_conn.isolation_level = None
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _sqlite_pragmas_for_migrations(dbapi_conn, record) -> None:
    """SQLite alters a table by copying it: foreign keys stay off while it does (the
    upgrade checks them afterwards)."""
    _sqlite_pragmas(dbapi_conn, record)
    dbapi_conn.execute("PRAGMA foreign_keys=OFF")


# Execution option of a connection that only reads (store.repo.read_only): its
# statements run in autocommit, each its own snapshot, holding no lock.
READ_ONLY = "gigline_read_only"


def _sqlite_begin(conn: Connection) -> None:
    """Writers queue for SQLite's one write lock up front, so a read-then-write
    (take a slot, claim a row) is never interleaved with another's. The driver sends the
    BEGIN with the first statement (executing it through SQLAlchemy would only hand it
    the same)."""
    if not conn.get_execution_options().get(READ_ONLY):
        conn.connection.driver_connection.defer_begin("BEGIN IMMEDIATE")


class UnitEnded(RuntimeError):
    """A connection unit's transaction was rolled back before the unit's end."""


class NestedSession(RuntimeError):
    """A task opened a session while one of its own was still open. On the embedded
    default (one pooled connection) the inner one would wait for the outer for ever."""


# The unit of work (a session, or a connection_unit) each task has open, per engine: a
# unit holds one connection.
_open_sessions: WeakKeyDictionary[asyncio.Task, dict[AsyncEngine, object]] = (
    WeakKeyDictionary())


def _hold(bind, unit: object) -> None:
    task = asyncio.current_task()
    if task is not None:
        held = _open_sessions.setdefault(task, {})
        if bind in held:
            raise NestedSession(
                f"{task.get_name()} opened a unit of work (a session or a connection "
                "unit) inside another: finish the first (or pass it down) before starting "
                "the next")
        held[bind] = unit


def _let_go(bind, unit: object) -> None:
    held = _open_sessions.get(asyncio.current_task(), {})
    if held.get(bind) is unit:
        del held[bind]


class UnitOfWork(AsyncSession):
    """An AsyncSession that refuses to be opened inside another of the same task."""

    async def __aenter__(self) -> UnitOfWork:
        _hold(self.bind, self)
        return await super().__aenter__()

    async def __aexit__(self, *exc) -> None:
        try:
            await super().__aexit__(*exc)
        finally:
            _let_go(self.bind, self)


@asynccontextmanager
async def connection_unit(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """One transaction on a connection of its own, committed on leaving and rolled back
    on an error: the unit of work of a path written in Core. It costs a third of a
    session's (no session, identity map or transaction snapshot), and its checkout with
    BEGIN, and its COMMIT with the return to the pool, are one greenlet each. An ORM
    session joins its transaction only where a rarer step needs one (`joined_session`)."""
    unit = object()
    _hold(engine, unit)
    try:
        sync = await greenlet_spawn(_connect_and_begin, engine.sync_engine)
        begun = sync.get_transaction()
        try:
            yield AsyncConnection(engine, sync)
        except BaseException:
            await greenlet_spawn(_end, sync, False)
            raise
        intact = sync.get_transaction() is begun and begun.is_active
        await greenlet_spawn(_end, sync, intact)
        if not intact:
            raise UnitEnded("a statement failed inside the unit and its transaction was rolled "
                            "back: nothing it wrote is kept")
    finally:
        _let_go(engine, unit)


def joined_session(conn: AsyncConnection) -> AsyncSession:
    """An ORM session on a unit's connection and in its transaction, for a step that
    needs the ORM: flush what it changed, and the unit commits it (or rolls it back).
    A flush that fails rolls the whole unit back: the unit then fails (UnitEnded) even
    if the failure was caught, rather than commit what came after it on its own."""
    return AsyncSession(bind=conn, join_transaction_mode="rollback_only",
                        expire_on_commit=False)


def _connect_and_begin(engine) -> Connection:
    conn = engine.connect()
    try:
        conn.begin()
    except BaseException:
        conn.close()
        raise
    return conn


def _end(conn: Connection, commit: bool) -> None:
    try:
        if commit:
            conn.commit()
        else:
            conn.rollback()
    finally:
        conn.close()


def database_unreachable(error: BaseException) -> bool:
    """Whether `error` says the database cannot be reached now (refused, dropped, timed
    out, locked), as opposed to a statement that is wrong."""
    if isinstance(error, exc.DBAPIError):
        return error.connection_invalidated or isinstance(
            error, exc.OperationalError | exc.InterfaceError)
    # A connection refused or reset before SQLAlchemy could wrap it; the pool's wait.
    return isinstance(error, ConnectionError | OSError | exc.TimeoutError) and not isinstance(
        error, TimeoutError)


# PostgreSQL's deadlock_detected and serialization_failure: the transaction was ended
# so that another could go on; run again, it may well succeed.
LOST_TO_ANOTHER = {"40P01", "40001"}


def lost_to_another_transaction(error: BaseException) -> bool:
    """Whether the database ended this transaction for another's sake (a deadlock)."""
    return isinstance(error, exc.DBAPIError) and getattr(
        error.orig, "sqlstate", None) in LOST_TO_ANOTHER


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker:
    return async_sessionmaker(engine, class_=UnitOfWork, expire_on_commit=False)


def sessions_engine(sessions: async_sessionmaker) -> AsyncEngine:
    """The engine `make_sessionmaker` bound the sessions to: where a connection unit of
    the same database is opened."""
    return sessions.kw["bind"]


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def _head() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def _current(conn: Connection) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    def run(conn: Connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = conn
        command.upgrade(config, revision)
        if conn.dialect.name == "sqlite":
            broken = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            if broken:
                raise RuntimeError(f"the migration broke foreign keys: {broken[:5]}")

    url = engine.url.render_as_string(hide_password=False)
    migrating = make_engine(url, foreign_keys=False) if url.startswith("sqlite") else engine
    try:
        async with migrating.begin() as conn:
            await conn.run_sync(run)
    finally:
        if migrating is not engine:
            await migrating.dispose()


async def ensure_migrated(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        current = await conn.run_sync(_current)
    head = _head()
    if current != head:
        raise DatabaseNotMigrated(
            f"the database is at migration {current or 'none'}, the code needs {head}: "
            "run `gigline migrate` first"
        )


async def refresh_statistics(engine: AsyncEngine) -> None:
    """A database plans only as well as its statistics (matching needs them to start from
    a trade's workers, the outbox's claim to read its due index in order). SQLite keeps
    none by itself; PostgreSQL's autovacuum may not have looked at a table filled since."""
    async with engine.begin() as conn:
        await conn.exec_driver_sql("ANALYZE")
