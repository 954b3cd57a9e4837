"""Statements run on the driver itself (store.driver_statements) answer as SQLAlchemy's
execution of the same statement does, inside the same transaction, with the same errors:
on the embedded SQLite and on PostgreSQL (GIGLINE_TEST_DATABASE_URL)."""

from __future__ import annotations

import enum
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    delete,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.exc import IntegrityError

from store.db import database_unreachable, make_engine, make_sessionmaker
from store.driver_statements import DriverStatement
from store.listed import InListed
from store.repo import KeyedInsertIgnoringDuplicates, execute_keyed
from store.types import UtcDateTime


class Colour(enum.StrEnum):
    RED = "red"
    BLUE = "blue"


METADATA = MetaData()
THINGS = Table(
    "driver_things", METADATA,
    Column("id", Integer, primary_key=True),
    Column("name", String(40), unique=True, nullable=False),
    Column("colour", String(10), nullable=False),
    Column("state", JSON, nullable=False),
    Column("seen_at", UtcDateTime()),  # a TypeDecorator, as the models' times
    Column("done", Boolean, nullable=False),
    Column("stamp", Integer, default=lambda: 7),  # a Python-side default
)
AT = datetime(2026, 12, 6, 8, 30, 15, 123456, tzinfo=UTC)

BY_NAME = DriverStatement(select(THINGS.c.id, THINGS.c.name, THINGS.c.colour, THINGS.c.state,
                                 THINGS.c.seen_at, THINGS.c.done)
                          .where(THINGS.c.name == bindparam("name")))
NAMED_IN = DriverStatement(
    select(THINGS.c.name, (THINGS.c.colour == Colour.RED).label("red"))
    .where(THINGS.c.name.in_(bindparam("names", expanding=True)),
           THINGS.c.colour.in_([Colour.RED, Colour.BLUE]))
    .order_by(THINGS.c.name))
ADD = DriverStatement(insert(THINGS).returning(THINGS.c.id))
SET_BY_NAME = DriverStatement(update(THINGS).where(THINGS.c.name == bindparam("key")))
DROP = DriverStatement(delete(THINGS).where(THINGS.c.name == bindparam("name")))
COUNT = DriverStatement(select(func.count()).select_from(THINGS))
IDS_LISTED = DriverStatement(select(THINGS.c.name).where(InListed(THINGS.c.id, "ids"))
                             .order_by(THINGS.c.name))


@pytest.fixture
async def sessions(database_url):
    engine = make_engine(database_url)
    async with engine.begin() as conn:
        await conn.run_sync(METADATA.create_all)
    yield make_sessionmaker(engine)
    async with engine.begin() as conn:
        await conn.run_sync(METADATA.drop_all)
    await engine.dispose()


def thing(name: str, **values) -> dict:
    return {"name": name, "colour": Colour.RED, "state": {"step": "主菜单", "n": [1, 2]},
            "seen_at": AT, "done": False, "stamp": 1} | values


async def test_rows_read_on_the_driver_are_those_sqlalchemy_reads(sessions):
    async with sessions() as session, session.begin():
        for name, colour in (("a", Colour.RED), ("b", Colour.BLUE), ("c", Colour.RED)):
            await execute_keyed(session, ADD, thing(name, colour=colour))
    async with sessions() as session:
        ours = (await execute_keyed(session, BY_NAME, {"name": "b"})).one()
        theirs = (await session.execute(BY_NAME.statement, {"name": "b"})).one()
        assert tuple(ours) == tuple(theirs)
        assert ours.state == {"step": "主菜单", "n": [1, 2]} and ours.done is False
        assert ours.seen_at == AT and ours.colour == "blue"
        for names in (["a", "c"], ["c"], ["a", "b", "c", "zz"], []):
            ours = (await execute_keyed(session, NAMED_IN, {"names": names})).all()
            theirs = (await session.execute(NAMED_IN.statement, {"names": names})).all()
            assert [tuple(row) for row in ours] == [tuple(row) for row in theirs]
        assert [row.red for row in ours] == [row.red for row in theirs]
        assert (await execute_keyed(session, BY_NAME, {"name": "none"})).first() is None
        assert (await execute_keyed(session, COUNT)).scalar() == 3


async def test_they_write_inside_the_sessions_transaction(sessions):
    async with sessions() as session, session.begin():
        await execute_keyed(session, ADD, thing("kept"))
    async with sessions() as session:
        async with session.begin():
            # The transaction's first statement: it must begin the transaction, not run alone.
            changed = await execute_keyed(session, SET_BY_NAME, {"key": "kept", "done": True})
            assert changed.rowcount == 1
            assert (await session.execute(BY_NAME.statement, {"name": "kept"})).one().done
            await execute_keyed(session, DROP, {"name": "kept"})
            await session.rollback()
        assert (await execute_keyed(session, BY_NAME, {"name": "kept"})).one().done is False
    async with sessions() as session, session.begin():
        await execute_keyed(session, SET_BY_NAME, {"key": "kept", "done": True})
    async with sessions() as session:
        assert (await execute_keyed(session, BY_NAME, {"name": "kept"})).one().done is True


async def test_their_errors_are_sqlalchemys_and_the_session_goes_on(sessions):
    async with sessions() as session, session.begin():
        await execute_keyed(session, ADD, thing("twice"))
    async with sessions() as session:
        with pytest.raises(IntegrityError) as raised:
            async with session.begin():
                await execute_keyed(session, ADD, thing("twice"))
        assert not database_unreachable(raised.value)
        async with session.begin():
            assert (await execute_keyed(session, COUNT)).scalar() == 1
    ignoring = KeyedInsertIgnoringDuplicates(THINGS, ["name"], returning=THINGS.c.id)
    async with sessions() as session, session.begin():
        assert (await ignoring.run(session, thing("twice"))).scalar() is None
        assert (await ignoring.run(session, thing("once"))).scalar() is not None


async def test_a_python_side_default_is_left_to_sqlalchemy(sessions):
    async with sessions() as session, session.begin():
        values = thing("defaulted", seen_at=AT + timedelta(days=1))
        del values["stamp"]
        await execute_keyed(session, ADD, values)
        assert await session.scalar(
            select(THINGS.c.stamp).where(THINGS.c.name == "defaulted")) == 7


async def test_a_listed_parameter_reads_as_in_and_is_one_statement_on_postgresql(sessions):
    async with sessions() as session, session.begin():
        ids = {name: (await execute_keyed(session, ADD, thing(name))).scalar()
               for name in ("a", "b", "c")}
    async with sessions() as session:
        for listed in ([ids["a"], ids["c"]], [ids["b"]], [*ids.values(), -1], []):
            ours = (await execute_keyed(session, IDS_LISTED, {"ids": listed})).scalars()
            theirs = (await session.execute(IDS_LISTED.statement, {"ids": listed})).scalars()
            assert ours == list(theirs) == sorted(n for n, i in ids.items() if i in listed)
        if session.bind.dialect.name == "postgresql":
            # What the server holds prepared on this connection: one for every length.
            prepared = await session.scalars(text(
                "SELECT statement FROM pg_prepared_statements "
                "WHERE statement LIKE 'SELECT driver_things.name%'"))
            assert len(prepared.all()) == 1
