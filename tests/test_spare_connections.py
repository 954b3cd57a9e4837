"""The PostgreSQL connections a webhook's standalone statements borrow
(store.spare_connections): a connection the database dropped fails its statement as
the database being unreachable and is replaced, statements beyond the spares wait their
turn, a wait past its limit or a cancelled statement loses no connection, old ones are
replaced, and disposing of the engine closes them."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import bindparam, column, exc, func, literal, select, table, text

from gigline.app import create_app
from store import driver_statements
from store.db import database_unreachable, make_engine
from store.driver_statements import DriverStatement, lazy_unit
from store.spare_connections import SpareConnections, spare_connections
from tests.conftest import TEST_DATABASE_URL, make_settings
from tests.test_webhooks import post
from tests.twilio_signing import voice_params

pytestmark = pytest.mark.skipif(not TEST_DATABASE_URL.startswith("postgresql"),
                                reason="spare connections are PostgreSQL's")

BACKEND = DriverStatement(select(func.pg_backend_pid().label("pid")))
SLEEP_THEN_BACKEND = DriverStatement(
    select(func.pg_backend_pid().label("pid"), func.pg_sleep(0.2).label("slept")))


@pytest.fixture
async def engine(database_url):
    engine = make_engine(database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
async def admin(engine):
    """A connection of the test's own, in autocommit."""
    async with engine.connect() as conn:
        yield await conn.execution_options(isolation_level="AUTOCOMMIT")


@pytest.fixture
async def made(engine):
    """Makes SpareConnections of the engine as a test asks, and closes them after."""
    made = []

    def make(**options) -> SpareConnections:
        made.append(SpareConnections(engine, **options))
        return made[-1]

    yield make
    for spares in made:
        await spares.close()


async def backend_on(spares: SpareConnections, statement: DriverStatement = BACKEND) -> int:
    """The server process of the spare connection that ran `statement`."""
    lent = await spares.take()
    try:
        pid = (await statement.compiled(spares_dialect(spares), {}).run(
            spares_dialect(spares), lent.adapted, {})).one().pid
    except BaseException as error:
        spares.hand_back(lent, error)
        raise
    spares.hand_back(lent)
    return pid


def spares_dialect(spares: SpareConnections):
    return spares._engine.dialect


async def alive(admin, pid: int) -> bool:
    return bool(await admin.scalar(text(
        "SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}))


async def test_connections_the_database_dropped_fail_one_statement_at_most(engine, admin):
    """PostgreSQL restarted under two idle spares: a statement that meets one dead fails
    as the database being unreachable (the caller hears the apology), the other dead one
    is let go with it, and the next statement runs on a new connection."""
    spares = spare_connections(engine)
    dropped = set(await asyncio.gather(*(backend_on(spares, SLEEP_THEN_BACKEND)
                                         for _ in range(2))))
    await admin.execute(text(
        "SELECT pg_terminate_backend(pid) FROM unnest(CAST(:pids AS int[])) AS pid"),
        {"pids": list(dropped)})
    failed = 0
    for _ in range(2):
        try:
            async with lazy_unit(engine) as unit:
                ran_on = (await unit.run(BACKEND, {}, standalone=True)).one().pid
        except exc.DBAPIError as error:
            assert database_unreachable(error)
            failed += 1
    assert failed <= 1
    assert ran_on not in dropped


async def test_a_statement_in_the_units_transaction_runs_on_the_units_connection(engine):
    """Once a unit's transaction began, a standalone statement joins it (it must see what
    the unit wrote): it runs on the unit's connection, not a spare one."""
    async with lazy_unit(engine) as unit:
        conn = await unit.connection()
        await conn.execute(text("CREATE TEMPORARY TABLE scratch (n int)"))
        in_unit = (await conn.execute(text("SELECT pg_backend_pid()"))).scalar()
        assert (await unit.run(BACKEND, {}, standalone=True)).one().pid == in_unit


async def test_statements_beyond_the_spares_wait_their_turn_and_all_run(made):
    spares = made(size=2)
    backends = await asyncio.gather(*(backend_on(spares, SLEEP_THEN_BACKEND)
                                      for _ in range(8)))
    assert len(set(backends)) == 2


async def test_a_wait_past_its_limit_fails_as_busy_and_loses_nothing(made):
    spares = made(size=1, wait_seconds=0.05)
    sleeping = asyncio.create_task(backend_on(spares, SLEEP_THEN_BACKEND))
    await asyncio.sleep(0.02)
    with pytest.raises(exc.TimeoutError) as raised:
        await backend_on(spares)
    assert database_unreachable(raised.value)
    held = await sleeping
    assert await backend_on(spares) == held


async def test_a_cancelled_statement_or_wait_loses_no_connection(made, admin):
    spares = made(size=1)
    sleeping = asyncio.create_task(backend_on(spares, SLEEP_THEN_BACKEND))
    waiting = asyncio.create_task(backend_on(spares))
    await asyncio.sleep(0.05)
    waiting.cancel()
    sleeping.cancel()  # mid-statement: its connection is dropped, not lent again
    for task in (waiting, sleeping):
        with pytest.raises(asyncio.CancelledError):
            await task
    after = await asyncio.wait_for(backend_on(spares), 5)
    assert await alive(admin, after)


async def test_a_wait_cancelled_as_a_connection_is_handed_to_it_passes_it_on(made):
    spares = made(size=1)
    held = await spares.take()
    waiting = asyncio.create_task(backend_on(spares))
    await asyncio.sleep(0.01)
    spares.hand_back(held)
    waiting.cancel()  # handed the connection as it came back, not yet resumed
    with pytest.raises(asyncio.CancelledError):
        await waiting
    await asyncio.wait_for(backend_on(spares), 2)


async def test_an_old_connection_is_closed_and_replaced(made, admin):
    spares = made(size=1, recycle_seconds=0)
    first = await backend_on(spares)
    second = await backend_on(spares)
    assert second != first
    for _ in range(100):
        if not await alive(admin, first):
            break
        await asyncio.sleep(0.02)
    else:
        raise AssertionError("the old connection was left open")


async def test_disposing_of_the_engine_closes_them(database_url):
    engine = make_engine(database_url)
    spares = spare_connections(engine)
    pids = await asyncio.gather(*(backend_on(spares, SLEEP_THEN_BACKEND) for _ in range(3)))
    await engine.dispose()
    watcher = make_engine(database_url)
    async with watcher.connect() as conn:
        left = await conn.scalar(text(
            "SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(:pids)"),
            {"pids": list(pids)})
    await watcher.dispose()
    assert left == 0
    assert spare_connections(engine) is not spares  # a disposed engine gets fresh ones


async def test_callers_are_answered_after_the_database_dropped_every_connection(
        aiohttp_client, database_url, clock, admin):
    """A restart of PostgreSQL drops every connection the hotline holds: the next
    webhook is answered (the apology at worst, never an error), and the call goes on."""
    client = await aiohttp_client(create_app(make_settings(database_url, 8080), clock=clock))
    await post(client, "/twilio/voice", voice_params("CA1"))
    await admin.execute(text(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE datname = current_database() AND pid <> pg_backend_pid()"))
    first = await post(client, "/twilio/voice/gather?t=1", voice_params("CA1", Digits="1"))
    assert first.status == 200
    retried = await post(client, "/twilio/voice/gather?t=1", voice_params("CA1", Digits="1"))
    assert retried.status == 200
    assert "gather?t=2" in await retried.text(), "the call did not go on"


PREPARED_HERE = DriverStatement(select(
    func.pg_backend_pid().label("pid"),
    select(func.count()).select_from(table("pg_prepared_statements", column("statement")))
    .where(column("statement").like(bindparam("like"))).scalar_subquery().label("prepared")))


async def test_a_spare_connection_prepares_each_statement_once(engine):
    """A statement run again on the same spare is not prepared again: PostgreSQL holds
    one prepared statement for it on that backend, however many units ran it."""
    seen = set()
    for _ in range(5):
        async with lazy_unit(engine) as unit:
            row = (await unit.run(PREPARED_HERE, {"like": "%pg_prepared_statements%"},
                                  standalone=True)).one()
            seen.add((row.pid, row.prepared))
    assert seen == {(next(iter(seen))[0], 1)}


async def test_a_statement_prepared_before_a_migration_runs_after_it(engine, admin):
    """A column's type changed while the hotline served (a migration): a statement a
    spare prepared before it answers with the new type at the first run after, with no
    error for the caller."""
    await admin.execute(text("DROP TABLE IF EXISTS migrated"))
    await admin.execute(text("CREATE TABLE migrated (id int PRIMARY KEY, size int)"))
    await admin.execute(text("INSERT INTO migrated VALUES (1, 7)"))
    things = table("migrated", column("id"), column("size"))
    read = DriverStatement(select(things.c.size).where(things.c.id == bindparam("id")))
    try:
        async with lazy_unit(engine) as unit:
            assert (await unit.run(read, {"id": 1}, standalone=True)).scalar() == 7
        await admin.execute(text("ALTER TABLE migrated ALTER COLUMN size TYPE text"))
        await admin.execute(text("UPDATE migrated SET size = 'seven' WHERE id = 1"))
        async with lazy_unit(engine) as unit:
            assert (await unit.run(read, {"id": 1}, standalone=True)).scalar() == "seven"
    finally:
        await admin.execute(text("DROP TABLE migrated"))


async def test_statements_past_a_connections_limit_let_the_oldest_go(engine, monkeypatch):
    """IN lists of many lengths are as many statements: a connection keeps at most
    PREPARED_PER_CONNECTION of them prepared, at PostgreSQL too."""
    monkeypatch.setattr(driver_statements, "PREPARED_PER_CONNECTION", 3)
    for n in range(1, 8):
        listed = DriverStatement(select(func.pg_backend_pid().label("pid")).where(
            literal(1).in_(bindparam("ones", expanding=True))))
        async with lazy_unit(engine) as unit:
            await unit.run(listed, {"ones": [1] * n}, standalone=True)
    async with lazy_unit(engine) as unit:
        row = (await unit.run(PREPARED_HERE, {"like": "%IN (%"}, standalone=True)).one()
    assert row.prepared == 3
