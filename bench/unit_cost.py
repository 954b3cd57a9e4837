"""What a connection unit costs, beside the database's driver doing the same work alone.

    PYTHONPATH=. python bench/unit_cost.py [--db sqlite|postgres] [--units 20000]

A webhook's transaction is one `store.db.connection_unit` running a few keyed statements
(`store/driver_statements.py`). This times, in CPU seconds of this process, a unit that
runs nothing, one that reads a row by its key, and one that reads it and updates it, on
a database set up as `store.db.make_engine` sets one up; and, as the floor, the driver
alone doing the same. The difference is what SQLAlchemy, the driver statements and the
event loop add to each unit.

SQLite: a WAL file; the floor is sqlite3 running BEGIN IMMEDIATE, the SELECT, the UPDATE
and COMMIT. PostgreSQL (a scratch database, dropped afterwards): the unit's statements
standalone, as a turn's read and move-on run, in a connection unit and in a lazy unit
(which runs them on a spare connection: store/spare_connections.py); the floor is
asyncpg on one connection, the same statements prepared and run back to back, and that
SELECT again after two greenlet switches (what a unit's checkout and return take) to
show what they cost the round trip after them. On uvloop, as the servers run."""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import asyncpg
import uvloop
from sqlalchemy import Column, Integer, MetaData, String, Table, bindparam, insert, select, update
from sqlalchemy.util.concurrency import greenlet_spawn

from bench.databases import DEFAULT_PG_ADMIN
from store.db import connection_unit, make_engine
from store.driver_statements import DriverStatement, lazy_unit
from store.repo import execute_keyed

ROWS = 1000
_metadata = MetaData()
THINGS = Table("things", _metadata, Column("id", Integer, primary_key=True),
               Column("name", String), Column("size", Integer))
READ = DriverStatement(select(THINGS).where(THINGS.c.id == bindparam("id")))
WRITE = DriverStatement(update(THINGS).where(THINGS.c.id == bindparam("thing")))


PG_SCRATCH = "gigline_unit_cost"
SELECT_SQL = "SELECT id, name, size FROM things WHERE id = $1"
UPDATE_SQL = "UPDATE things SET size = $2 WHERE id = $1"


async def unit_costs(url: str, units: int) -> dict[str, float]:
    """Microseconds of CPU a unit, by what it runs (its statements standalone)."""
    engine = make_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(_metadata.create_all)
        await conn.execute(insert(THINGS), [{"id": n, "name": f"thing {n}", "size": 0}
                                            for n in range(1, ROWS + 1)])

    async def run(statements: int) -> float:
        began = time.process_time()
        for n in range(units):
            key = n % ROWS + 1
            async with connection_unit(engine) as conn:
                if statements >= 1:
                    (await execute_keyed(conn, READ, {"id": key}, standalone=True)).one()
                if statements >= 2:
                    await execute_keyed(conn, WRITE, {"thing": key, "size": n},
                                        standalone=True)
        return 1e6 * (time.process_time() - began) / units

    async def run_lazily(statements: int) -> float:
        began = time.process_time()
        for n in range(units):
            key = n % ROWS + 1
            async with lazy_unit(engine) as unit:
                (await execute_keyed(unit, READ, {"id": key}, standalone=True)).one()
                if statements >= 2:
                    await execute_keyed(unit, WRITE, {"thing": key, "size": n},
                                        standalone=True)
        return 1e6 * (time.process_time() - began) / units

    costs = {}
    for label, statements in (("unit, no statement", 0), ("unit, SELECT", 1),
                              ("unit, SELECT and UPDATE", 2)):
        await run(statements)  # warm: statements compiled, pages cached
        costs[label] = await run(statements)
    if engine.dialect.name == "postgresql":  # on SQLite a lazy unit is a connection unit
        for label, statements in (("lazy unit, SELECT (spare)", 1),
                                  ("lazy unit, SELECT and UPDATE (spare)", 2)):
            await run_lazily(statements)
            costs[label] = await run_lazily(statements)
    await engine.dispose()
    return costs


def sqlite3_cost(path: Path, units: int) -> float:
    """Microseconds of CPU for sqlite3 alone to do the SELECT-and-UPDATE transaction."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA synchronous=NORMAL")  # WAL is set in the file already
    began = time.process_time()
    for n in range(units):
        key = n % ROWS + 1
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("SELECT id, name, size FROM things WHERE id = ?", (key,)).fetchall()
        conn.execute("UPDATE things SET size = ? WHERE id = ?", (n, key))
        conn.execute("COMMIT")
    conn.close()
    return 1e6 * (time.process_time() - began) / units


async def asyncpg_costs(url: str, units: int) -> dict[str, float]:
    """Microseconds of CPU for asyncpg alone, one connection, prepared statements."""
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    read, write = await conn.prepare(SELECT_SQL), await conn.prepare(UPDATE_SQL)

    async def run(statements: int, switches: int = 0) -> float:
        began = time.process_time()
        for n in range(units):
            key = n % ROWS + 1
            for _ in range(switches):
                await greenlet_spawn(lambda: None)
            if statements >= 1:
                await read.fetch(key)
            if statements >= 2:
                await write.fetch(key, n)
        return 1e6 * (time.process_time() - began) / units

    costs = {}
    for label, statements, switches in (
            ("asyncpg alone, SELECT", 1, 0), ("asyncpg alone, SELECT and UPDATE", 2, 0),
            ("two greenlets alone", 0, 2), ("two greenlets, then asyncpg's SELECT", 1, 2)):
        await run(statements, switches)
        costs[label] = await run(statements, switches)
    await conn.close()
    return costs


async def postgres_costs(admin_url: str, units: int) -> dict[str, float]:
    admin = await asyncpg.connect(admin_url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{PG_SCRATCH}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{PG_SCRATCH}"')
        url = admin_url.replace("postgresql://", "postgresql+asyncpg://").rsplit("/", 1)[0]
        url += f"/{PG_SCRATCH}"
        costs = await unit_costs(url, units)
        return costs | await asyncpg_costs(url, units)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{PG_SCRATCH}" WITH (FORCE)')
        await admin.close()


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--units", type=int, default=20000, help="transactions timed a row")
    parser.add_argument("--pg-admin-url", default=DEFAULT_PG_ADMIN)
    args = parser.parse_args(argv)
    if args.db == "postgres":
        costs = uvloop.run(postgres_costs(args.pg_admin_url, args.units))
    else:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "units.db"
            costs = uvloop.run(unit_costs(f"sqlite+aiosqlite:///{path}", args.units))
            costs["sqlite3 alone, SELECT and UPDATE"] = sqlite3_cost(path, args.units)
    for label, micros in costs.items():
        print(f"{label:38s} {micros:7.1f} µs of CPU")


if __name__ == "__main__":
    main(sys.argv[1:])
