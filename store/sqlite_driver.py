"""aiosqlite with one trip to the database thread per statement, and none at all for
the quick statements of a hot path.

aiosqlite runs every DB-API call SQLAlchemy makes (open a cursor, execute, fetch, close)
as a trip of its own to its thread and back through the event loop: three or four trips
a statement, each a hand-over of the GIL and a wake-up of the loop. When the loop is busy
(callers' audio arrives on it 50 times a second per call) each trip waits for a whole
loop iteration, and a call turn of five statements made nineteen of them. Here a
statement is executed, fetched and closed on the thread in one trip, a BEGIN goes with
the transaction's first statement, and ending a transaction that is not open costs
nothing; the connection and everything else is aiosqlite's own."""

from __future__ import annotations

import sqlite3
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import partial

import aiosqlite

_quick = ContextVar("sqlite_quick_statements", default=False)
# The WAL is checkpointed every this many commits, on the database thread: a commit run
# on the loop must not be the one that syncs the WAL into the database file (SQLite's own
# automatic checkpoint, every 1,000 pages, would make any commit that one). The commit
# after a checkpoint goes to the thread too: the first frames written to a WAL started
# afresh sync its header to disk (synchronous=NORMAL), as do a connection's first.
CHECKPOINT_EVERY_COMMITS = 100
WRITE_LOCKING = ("IMMEDIATE", "EXCLUSIVE")


@contextmanager
def quick_statements() -> Iterator[None]:
    """Statements awaited inside take microseconds (a row by its key): they run on the
    event loop itself instead of the database thread. Under load a trip waits for a whole
    loop iteration, ~100x longer than such a statement takes.

    Never a wait for a lock on the loop: inside a transaction that holds the write lock
    (every transaction here begins IMMEDIATE) nothing waits; a transaction's BEGIN and a
    read outside any transaction are tried without waiting and, if another connection
    holds the lock, go to the thread to wait as any other statement. A transaction begun
    on the loop also commits there."""
    token = _quick.set(True)
    try:
        yield
    finally:
        _quick.reset(token)


def connector(database: str, **connect_args):
    """An `async_creator` for SQLAlchemy's sqlite+aiosqlite engines."""

    async def connect() -> Connection:
        connection = Connection(partial(_connect, database, **connect_args),
                                iter_chunk_size=64)
        connection._thread.daemon = True  # as SQLAlchemy does for aiosqlite's own
        connection._busy_timeout_ms = int(1000 * connect_args.get("timeout", 5.0))
        return await connection

    return connect


def _connect(database: str, **connect_args) -> sqlite3.Connection:
    connection = sqlite3.connect(database, check_same_thread=False, **connect_args)
    connection.execute("PRAGMA wal_autocheckpoint=0")  # Connection.commit checkpoints
    return connection


def _takes_write_lock(begin: str) -> bool:
    return any(mode in begin.upper() for mode in WRITE_LOCKING)


class Connection(aiosqlite.Connection):
    _pending_begin: str | None = None  # run before the next statement
    _write_locked = False  # the open transaction began IMMEDIATE (or EXCLUSIVE)
    _begun_on_loop = False  # ... and on the event loop: it commits there too
    _busy_timeout_ms = 5000
    # The wait for a lock in force on the connection: none on the loop, the engine's on
    # the thread. Set only when it changes: a hot path of quick statements sets it once.
    _waiting_ms: int | None = None
    _commits = 0
    _begin_sent = False  # a BEGIN went to the thread: only the thread knows if it ran

    def cursor(self) -> OneTripCursor:  # SQLAlchemy enters it: `async with` is a no-op
        return OneTripCursor(self)

    def defer_begin(self, begin: str) -> None:
        """Sends `begin` with the transaction's first statement: what executing it does,
        without a statement's cost."""
        self._pending_begin = begin

    def _wait_for_locks(self, ms: int) -> None:
        if self._waiting_ms != ms:
            self._conn.execute(f"PRAGMA busy_timeout={ms}").close()
            self._waiting_ms = ms

    async def commit(self) -> None:
        if self._in_transaction():
            self._commits += 1
            nth = self._commits % CHECKPOINT_EVERY_COMMITS
            if nth == 0:
                await self._execute(self._commit_and_checkpoint)
            elif self._begun_on_loop and nth != 1:  # 1: the WAL may start afresh
                self._conn.commit()
            else:
                await super().commit()
        self._transaction_ended()

    async def rollback(self) -> None:
        # A statement cancelled while its BEGIN waited on the thread may still begin
        # there: the thread, which runs calls in order, rolls back after it.
        if self._begin_sent or self._in_transaction():
            await super().rollback()
        self._transaction_ended()

    def _transaction_ended(self) -> None:
        self._pending_begin, self._write_locked, self._begun_on_loop = None, False, False
        self._begin_sent = False

    def _commit_and_checkpoint(self) -> None:
        self._conn.commit()
        # PASSIVE: copies what no reader still needs, never waits for one.
        self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)").close()

    def _begin(self, on_loop: bool) -> None:
        """The transaction's deferred BEGIN (SQLAlchemy's is sent with its first statement)."""
        begin = self._pending_begin
        self._conn.execute(begin).close()
        self._pending_begin = None
        self._write_locked = _takes_write_lock(begin)
        self._begun_on_loop = on_loop

    def _on_loop(self, run: Callable[[], None]) -> bool:
        """Runs a quick statement on the loop if it cannot wait for a lock there; False
        if it has to go to the thread."""
        if self._holds_write_lock():
            run()  # nothing left to wait for
            return True
        begin = self._pending_begin
        if begin is not None and not _takes_write_lock(begin):
            return False  # a deferred transaction may have to wait at any write
        if begin is None and self._in_transaction():
            return False
        # BEGIN IMMEDIATE, or a read in autocommit: tried once without waiting.
        self._wait_for_locks(0)
        try:
            run()
            return True
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode & 0xFF != sqlite3.SQLITE_BUSY:  # SQLITE_BUSY_RECOVERY too
                raise
            return False  # another connection holds the lock: wait on the thread

    def _holds_write_lock(self) -> bool:
        return self._write_locked and self._in_transaction()

    def _in_transaction(self) -> bool:
        """Whether COMMIT or ROLLBACK has anything to end. The pool rolls back every
        connection it is handed back, after a commit too: that trip is saved. (Read on
        the loop: SQLAlchemy awaits each call, so the thread is idle on this connection.)"""
        return (self._pending_begin is None and self._connection is not None
                and self._connection.in_transaction)


class OneTripCursor:
    """What SQLAlchemy's adapter uses of aiosqlite's Cursor; rows are fetched with the
    statement, so the fetches and close cost no trip."""

    arraysize = 1

    def __init__(self, connection: Connection):
        self._connection = connection
        self.description = None
        self.rowcount = -1
        self.lastrowid: int | None = None
        self._rows: deque = deque()

    async def __aenter__(self) -> OneTripCursor:
        return self

    async def __aexit__(self, *_exc) -> None:
        await self.close()

    async def execute(self, sql: str, parameters=()) -> OneTripCursor:
        if sql.upper().startswith("BEGIN"):
            self._connection.defer_begin(sql)
            return self
        connection = self._connection
        if _quick.get() and connection._on_loop(
                partial(self._run, "execute", sql, parameters, on_loop=True)):
            return self
        connection._begin_sent |= connection._pending_begin is not None
        await connection._execute(self._run, "execute", sql, parameters)
        return self

    async def executemany(self, sql: str, seq_of_parameters) -> OneTripCursor:
        connection = self._connection
        connection._begin_sent |= connection._pending_begin is not None
        await connection._execute(self._run, "executemany", sql, seq_of_parameters)
        return self

    def _run(self, method: str, sql: str, parameters, on_loop: bool = False) -> None:
        """On the database thread (or the loop, for quick statements)."""
        connection = self._connection
        if not on_loop:
            connection._wait_for_locks(connection._busy_timeout_ms)
        if connection._pending_begin is not None:
            connection._begin(on_loop)
        cursor = connection._conn.cursor()
        try:
            getattr(cursor, method)(sql, parameters)
            rows = cursor.fetchall() if cursor.description else []
            # Read after the fetch: with RETURNING, SQLite counts rows as they are stepped.
            self.description, self.rowcount = cursor.description, cursor.rowcount
            self.lastrowid, self._rows = cursor.lastrowid, deque(rows)
        finally:
            cursor.close()

    async def fetchone(self):
        return self._rows.popleft() if self._rows else None

    async def fetchmany(self, size: int | None = None) -> list:
        count = min(size or self.arraysize, len(self._rows))
        return [self._rows.popleft() for _ in range(count)]

    async def fetchall(self) -> list:
        rows, self._rows = list(self._rows), deque()
        return rows

    async def close(self) -> None:
        self._rows.clear()
