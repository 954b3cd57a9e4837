"""The embedded SQLite's driver: aiosqlite with a statement per trip to its thread."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, insert, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import create_async_engine

from store import sqlite_driver
from store.db import make_engine, make_sessionmaker
from store.repo import read_only

METADATA = MetaData()
THINGS = Table("things", METADATA, Column("id", Integer, primary_key=True),
               Column("name", String, unique=True), Column("size", Integer))


@pytest.fixture
async def engine(tmp_path):
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path}/driver.db")
    async with engine.begin() as conn:
        await conn.run_sync(METADATA.create_all)
    yield engine
    await engine.dispose()


async def test_rows_counts_and_returning(engine):
    async with engine.begin() as conn:
        await conn.execute(insert(THINGS), [{"name": "a", "size": 1}, {"name": "b", "size": 2},
                                            {"name": "c", "size": 3}])
        new_id = (await conn.execute(insert(THINGS).values(name="d", size=4)
                                     .returning(THINGS.c.id))).scalar_one()
        changed = await conn.execute(update(THINGS).where(THINGS.c.size < 3).values(size=0))
        assert changed.rowcount == 2
        rows = (await conn.execute(select(THINGS.c.name, THINGS.c.size)
                                   .order_by(THINGS.c.id))).all()
    assert new_id == 4
    assert [tuple(row) for row in rows] == [("a", 0), ("b", 0), ("c", 3), ("d", 4)]


async def test_a_failed_statement_raises_and_the_connection_goes_on(engine):
    async with engine.begin() as conn:
        await conn.execute(insert(THINGS).values(name="a", size=1))
    with pytest.raises(IntegrityError):
        async with engine.begin() as conn:
            await conn.execute(insert(THINGS).values(name="a", size=2))
    async with engine.connect() as conn:
        assert (await conn.execute(select(THINGS.c.size))).scalars().all() == [1]


async def test_a_statement_is_one_trip_to_the_database_thread(engine, trips):
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))  # the connection's first use: begin etc.
        trips.clear()
        rows = (await conn.execute(select(THINGS.c.id))).all()
        await conn.execute(update(THINGS).values(size=1))
        assert len(trips) == 2  # aiosqlite's own: cursor, execute, fetch, close each
    assert rows == []


async def test_a_transaction_takes_the_write_lock_with_its_first_statement(engine, tmp_path,
                                                                          trips):
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))
        await conn.commit()
        trips.clear()
        async with conn.begin():
            await conn.execute(select(THINGS.c.id))  # a read, but BEGIN IMMEDIATE ran first
            other = sqlite3.connect(tmp_path / "driver.db", timeout=0.05)
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
            other.close()
        assert len(trips) == 2  # BEGIN with the SELECT, then COMMIT
        async with conn.begin():
            pass  # began and committed with no statement: no trip, no error
        assert len(trips) == 2
        await conn.execute(insert(THINGS).values(name="after", size=1))
        await conn.commit()
    async with engine.connect() as conn:
        assert (await conn.execute(select(THINGS.c.name))).scalars().all() == ["after"]


async def test_a_committed_session_goes_back_to_the_pool_without_a_trip(engine, trips):
    sessions = make_sessionmaker(engine)
    async with sessions() as session, session.begin():
        await session.execute(text("SELECT 1"))
    trips.clear()
    async with sessions() as session, session.begin():
        await session.execute(insert(THINGS).values(name="kept", size=1))
    assert len(trips) == 2  # BEGIN with the INSERT, COMMIT; the pool's reset-rollback: none
    async with sessions() as session:
        await session.execute(insert(THINGS).values(name="dropped", size=2))
    assert len(trips) == 4  # BEGIN with the INSERT, one ROLLBACK (the session's, not two)
    async with engine.connect() as conn:
        assert (await conn.execute(select(THINGS.c.name))).scalars().all() == ["kept"]


async def test_quick_statements_run_on_the_loop_from_begin_to_commit(engine, trips):
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))
        await conn.commit()
        trips.clear()
        with sqlite_driver.quick_statements():
            await conn.execute(insert(THINGS).values(name="a", size=1))  # BEGIN IMMEDIATE too
            await conn.execute(insert(THINGS).values(name="b", size=2))
            await conn.execute(update(THINGS).values(size=3))
            with pytest.raises(IntegrityError):
                await conn.execute(insert(THINGS).values(name="a", size=4))
        await conn.commit()  # begun on the loop: committed there
        assert trips == []
        busy_ms = (await conn.exec_driver_sql("PRAGMA busy_timeout")).scalar()
    assert busy_ms == 30_000, "the wait for a lock is back to the engine's 30 s"
    async with engine.connect() as conn:
        rows = (await conn.execute(select(THINGS.c.name, THINGS.c.size))).all()
    assert sorted(tuple(row) for row in rows) == [("a", 3), ("b", 3)]


async def test_back_to_back_quick_transactions_send_sqlite_only_their_own_sql(engine):
    sent: list[str] = []
    async with engine.connect() as conn:
        raw = (await conn.get_raw_connection()).driver_connection._conn
        for size in (1, 2, 3):
            if size == 2:  # the first settled the connection's wait for a lock
                raw.set_trace_callback(sent.append)
            with sqlite_driver.quick_statements():
                await conn.execute(update(THINGS).values(size=size))
            await conn.commit()
        raw.set_trace_callback(None)
        busy_ms = (await conn.exec_driver_sql("PRAGMA busy_timeout")).scalar()
    assert [sql.split()[0] for sql in sent] == ["BEGIN", "UPDATE", "COMMIT"] * 2
    assert busy_ms == 30_000, "a statement on the thread waits for a lock as before"


async def test_quick_statements_wait_for_another_writer_on_the_thread(engine, tmp_path,
                                                                     trips):
    async def write() -> None:
        with sqlite_driver.quick_statements():
            await conn.execute(insert(THINGS).values(name="queued", size=1))
        await conn.commit()

    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))
        await conn.commit()
        other = sqlite3.connect(tmp_path / "driver.db")
        other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
        trips.clear()
        writing = asyncio.create_task(write())
        await asyncio.sleep(0.2)  # the loop runs on while the BEGIN waits on the thread
        assert not writing.done()
        other.commit()
        await asyncio.wait_for(writing, 5)
        assert len(trips) == 2, "BEGIN with the INSERT, then COMMIT, both on the thread"
    other.close()
    async with engine.connect() as conn:
        assert (await conn.execute(select(THINGS.c.name))).scalars().all() == ["queued"]


async def test_quick_statements_in_a_deferred_transaction_still_go_to_the_thread(tmp_path,
                                                                                trips):
    path = tmp_path / "deferred.db"
    engine = create_async_engine(f"sqlite+aiosqlite:///{path}",
                                 async_creator=sqlite_driver.connector(str(path)))
    try:
        async with engine.connect() as conn:
            await conn.run_sync(METADATA.create_all)
            await conn.commit()
            await conn.exec_driver_sql("BEGIN")  # deferred: no write lock until a write
            trips.clear()
            with sqlite_driver.quick_statements():
                await conn.execute(insert(THINGS).values(name="a", size=1))
                await conn.execute(insert(THINGS).values(name="b", size=2))
            assert len(trips) == 2  # the first may wait for the lock: never on the loop
            await conn.commit()
    finally:
        await engine.dispose()


async def test_the_wal_is_checkpointed_on_the_thread_every_so_many_commits(
        engine, tmp_path, trips, monkeypatch):
    monkeypatch.setattr(sqlite_driver, "CHECKPOINT_EVERY_COMMITS", 5)
    database = tmp_path / "driver.db"
    async with engine.connect() as conn:
        assert (await conn.exec_driver_sql("PRAGMA wal_autocheckpoint")).scalar() == 0
        await conn.commit()
        connection = (await conn.get_raw_connection()).driver_connection
        connection._commits = 0
        sizes, on_thread = [], []
        for n in range(7):
            trips.clear()
            with sqlite_driver.quick_statements():
                await conn.execute(insert(THINGS).values(name="x" * 5000 + str(n), size=n))
            await conn.commit()
            sizes.append(database.stat().st_size)
            on_thread.append(len(trips) == 1)
    # 1: a connection's first frames may start the WAL (its header is synced); 5: the
    # checkpoint; 6: the WAL starts afresh after it. The rest commit on the loop.
    assert on_thread == [True, False, False, False, True, True, False]
    assert sizes[0] == sizes[3] < sizes[4], "the fifth copied the WAL into the database"


async def test_a_read_only_session_takes_no_write_lock_and_one_trip(engine, tmp_path, trips):
    sessions = make_sessionmaker(engine)
    async with sessions() as session:
        await session.execute(text("SELECT 1"))
    trips.clear()
    async with sessions() as session:
        conn = await read_only(session)
        names = (await conn.execute(select(THINGS.c.name))).scalars().all()
        other = sqlite3.connect(tmp_path / "driver.db", timeout=0.05)
        other.execute("BEGIN IMMEDIATE")  # not locked out by the read
        other.rollback()
        other.close()
    assert names == []
    assert len(trips) == 1  # the SELECT: no BEGIN, and nothing to roll back


async def test_a_quick_read_only_query_runs_on_the_loop_beside_a_writer(engine, tmp_path,
                                                                       trips):
    sessions = make_sessionmaker(engine)
    async with sessions() as session, session.begin():
        await session.execute(insert(THINGS).values(name="kept", size=1))
    other = sqlite3.connect(tmp_path / "driver.db")
    other.execute("BEGIN IMMEDIATE")  # a writer elsewhere: a WAL reader does not wait
    other.execute("INSERT INTO things (name, size) VALUES ('uncommitted', 2)")
    trips.clear()
    async with sessions() as session:
        conn = await read_only(session)
        with sqlite_driver.quick_statements():
            names = (await conn.execute(select(THINGS.c.name))).scalars().all()
    other.rollback()
    other.close()
    assert names == ["kept"]
    assert trips == []


async def test_a_statement_cancelled_while_its_begin_waits_is_rolled_back_after_it(tmp_path):
    path = tmp_path / "cancelled.db"
    setup = sqlite3.connect(path)
    setup.execute("CREATE TABLE things (name TEXT)")
    setup.close()
    conn = await sqlite_driver.connector(str(path), timeout=5)()
    other = sqlite3.connect(path)
    try:
        other.execute("BEGIN IMMEDIATE")  # the write lock is elsewhere: our BEGIN waits
        cursor = conn.cursor()
        await cursor.execute("BEGIN IMMEDIATE")
        writing = asyncio.create_task(cursor.execute("INSERT INTO things VALUES ('lost')"))
        await asyncio.sleep(0.1)
        writing.cancel()  # e.g. the hotline stopping; the thread still waits to begin
        rolling_back = asyncio.create_task(conn.rollback())
        await asyncio.sleep(0.1)
        other.rollback()  # the lock comes free: the BEGIN and INSERT run, then the rollback
        await asyncio.wait_for(rolling_back, 5)
        assert not conn._conn.in_transaction, "no transaction left open on the connection"
        rows = await conn.execute_fetchall("SELECT name FROM things")
        assert list(rows) == []
    finally:
        other.close()
        await conn.close()
