"""PostgreSQL connections of an engine lent to a unit of work for the statements it runs
on their own.

Most webhooks read a row or two and write one, each statement committing as it runs
(store.driver_statements, `standalone`). Through a connection unit such statements cost
SQLAlchemy's pool checkout and return, its Connection and a greenlet each way: on
PostgreSQL two to three times the driver's own CPU for them (`bench/unit_cost.py --db
postgres`). These connections are the driver's, made and set up by the engine's dialect
(its type codecs) and detached from the engine's pool; lending one is taking it
from a list, and its statements run in autocommit.

A connection whose statement fails as a lost connection is closed, and so is every idle
one (the database may have restarted under them all); one is replaced after
`RECYCLE_SECONDS` as the engine's pool replaces its own. `engine.dispose()` closes them."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import event, exc
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.util import await_only

from store.db import POOL_SIZE

# As many as the pool holds: a unit holds one from its first standalone statement to its
# end, as a connection unit holds a pooled one. Opened only as units need them.
SPARE_CONNECTIONS = POOL_SIZE
RECYCLE_SECONDS = 1800  # as the engine's own pool (store.db.make_engine)
WAIT_SECONDS = 30  # for one to come back when all are lent: the engine pool's own wait


@dataclass(frozen=True)
class Lent:
    made: float  # when it was opened (time.monotonic())
    adapted: Any  # SQLAlchemy's adapter of the asyncpg connection
    # The statements prepared on it, by their SQL (store.driver_statements): PostgreSQL
    # keeps a prepared statement per backend, so each connection keeps its own. A plain
    # dict, not the adapter's LRU cache: that cache's bookkeeping on every statement is
    # part of what running them on asyncpg directly saves.
    prepared: dict = field(default_factory=dict)


class SpareConnections:
    def __init__(self, engine: AsyncEngine, size: int = SPARE_CONNECTIONS, *,
                 recycle_seconds: float = RECYCLE_SECONDS,
                 wait_seconds: float = WAIT_SECONDS):
        self._engine, self._size = engine, size
        self._recycle_seconds, self._wait_seconds = recycle_seconds, wait_seconds
        self._idle: deque[Lent] = deque()
        self._open = 0  # idle, lent or being made
        self._waiting: deque[asyncio.Future] = deque()
        self._closed = False

    async def take(self) -> Lent:
        """A connection in autocommit, for `hand_back` when its holder is done."""
        while True:
            while self._idle:
                # The longest idle first, as the engine's pool takes its own: lent one
                # statement at a time, most recently returned first, statements crowded
                # onto a few backends and cost PostgreSQL more CPU.
                lent = self._idle.popleft()
                if (time.monotonic() - lent.made < self._recycle_seconds
                        and not lent.adapted.driver_connection.is_closed()):
                    return lent
                await self._close(lent)
            if self._open < self._size:
                return await self._make()
            try:
                handed = await self._wait()
            except TimeoutError:
                raise exc.TimeoutError(
                    f"all {self._size} spare connections were busy for "
                    f"{self._wait_seconds} s"
                ) from None
            if handed is not None:
                return handed

    def hand_back(self, lent: Lent, error: BaseException | None = None) -> None:
        """Takes a connection back for the next holder. `error`: what its last statement
        raised; one that says the connection is lost closes it (and the idle ones), and
        so does any error that is not the database's answer (the reply may have been cut
        short)."""
        if error is None or (isinstance(error, exc.DBAPIError)
                             and not error.connection_invalidated):
            self._give_back(lent)
            return
        self._discard(lent)
        if isinstance(error, exc.DBAPIError):
            self._close_idle()

    async def _make(self) -> Lent:
        self._open += 1
        try:
            fairy = await self._engine.raw_connection()
            fairy.detach()
        except BaseException:
            self._open -= 1
            self._wake_one_to_make()
            raise
        adapted = fairy.dbapi_connection
        adapted.autocommit = True
        return Lent(time.monotonic(), adapted)

    async def _wait(self) -> Lent | None:
        """A connection handed back; None: one was closed, so this caller may make one."""
        waiter = asyncio.get_running_loop().create_future()
        self._waiting.append(waiter)
        try:
            async with asyncio.timeout(self._wait_seconds):
                return await waiter
        except _MakeOne:
            return None
        except BaseException:
            # Timed out or cancelled: what was handed to this caller meanwhile goes on.
            if waiter in self._waiting:
                self._waiting.remove(waiter)
            elif waiter.done() and not waiter.cancelled():
                if waiter.exception() is None:
                    self._give_back(waiter.result())
                else:
                    self._wake_one_to_make()
            raise

    def _give_back(self, lent: Lent) -> None:
        if self._closed:
            self._discard(lent)
            return
        while self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.done():
                waiter.set_result(lent)
                return
        self._idle.append(lent)

    async def _close(self, lent: Lent) -> None:
        """Closes an idle connection as the database expects (one that is past its time)."""
        self._open -= 1
        try:
            await lent.adapted.driver_connection.close(timeout=5)
        except Exception:  # noqa: BLE001 - closing for good: a broken one is let go
            lent.adapted.driver_connection.terminate()
        self._wake_one_to_make()

    def _discard(self, lent: Lent) -> None:
        """Drops a connection whose state is not known (lost, or cut mid-statement)."""
        self._open -= 1
        lent.adapted.driver_connection.terminate()
        self._wake_one_to_make()

    def _wake_one_to_make(self) -> None:
        while self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.done():
                waiter.set_exception(_MakeOne())
                return

    def _close_idle(self) -> None:
        while self._idle:
            self._discard(self._idle.pop())

    async def close(self) -> None:
        """Closes the idle connections; one lent out is closed when it comes back."""
        self._closed = True
        while self._idle:
            await self._close(self._idle.pop())


class _MakeOne(Exception):
    """Told to a waiter: a connection was closed, so it may make one."""


_SPARES: WeakKeyDictionary[Engine, SpareConnections] = WeakKeyDictionary()


def spare_connections(engine: AsyncEngine) -> SpareConnections | None:
    """The engine's spare connections; None where it has none (SQLite: one writer,
    whose connection is the unit's own)."""
    sync = engine.sync_engine
    spares = _SPARES.get(sync)
    if spares is None and sync.dialect.name == "postgresql":
        spares = _SPARES[sync] = SpareConnections(engine)
        if not event.contains(sync, "engine_disposed", _close_spares):
            event.listen(sync, "engine_disposed", _close_spares)
    return spares


def _close_spares(engine: Engine) -> None:
    spares = _SPARES.pop(engine, None)
    if spares is not None:
        await_only(spares.close())  # in engine.dispose()'s greenlet
