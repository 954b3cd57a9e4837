"""aiosqlite with one trip to the database thread per statement.

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
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import partial

import aiosqlite

_small_writes = ContextVar("sqlite_small_writes", default=False)


@contextmanager
def small_writes() -> Iterator[None]:
    """Statements awaited inside run on the event loop itself instead of the database
    thread, once their transaction holds SQLite's write lock (every transaction here
    begins IMMEDIATE, so they can never wait for a lock). For a few single-row writes
    on a hot path: under load a trip waits for a whole loop iteration, ~100x longer
    than such a write takes. BEGIN and COMMIT still go to the thread (the COMMIT may
    checkpoint the WAL, which syncs to disk)."""
    token = _small_writes.set(True)
    try:
        yield
    finally:
        _small_writes.reset(token)


def connector(database: str, **connect_args):
    """An `async_creator` for SQLAlchemy's sqlite+aiosqlite engines."""

    async def connect() -> Connection:
        connection = Connection(
            partial(sqlite3.connect, database, check_same_thread=False, **connect_args),
            iter_chunk_size=64)
        connection._thread.daemon = True  # as SQLAlchemy does for aiosqlite's own
        return await connection

    return connect


class Connection(aiosqlite.Connection):
    _pending_begin: str | None = None  # run on the thread before the next statement
    _write_locked = False  # the open transaction began IMMEDIATE (or EXCLUSIVE)

    def cursor(self) -> OneTripCursor:  # SQLAlchemy enters it: `async with` is a no-op
        return OneTripCursor(self)

    async def commit(self) -> None:
        if self._in_transaction():
            await super().commit()
        self._pending_begin, self._write_locked = None, False  # nothing ran: nothing to end

    async def rollback(self) -> None:
        if self._in_transaction():
            await super().rollback()
        self._pending_begin, self._write_locked = None, False

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
            self._connection._pending_begin = sql
            return self
        if _small_writes.get() and self._connection._holds_write_lock():
            self._run("execute", sql, parameters)
        else:
            await self._connection._execute(self._run, "execute", sql, parameters)
        return self

    async def executemany(self, sql: str, seq_of_parameters) -> OneTripCursor:
        await self._connection._execute(self._run, "executemany", sql, seq_of_parameters)
        return self

    def _run(self, method: str, sql: str, parameters) -> None:
        """On the database thread (or the loop, for small writes)."""
        connection = self._connection
        cursor = connection._conn.cursor()
        try:
            if connection._pending_begin is not None:
                begin, connection._pending_begin = connection._pending_begin, None
                cursor.execute(begin)
                connection._write_locked = any(mode in begin.upper()
                                               for mode in ("IMMEDIATE", "EXCLUSIVE"))
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
