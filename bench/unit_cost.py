"""What a connection unit costs on SQLite, beside sqlite3 doing the same work alone.

    PYTHONPATH=. python bench/unit_cost.py [--units 20000]

A webhook's transaction is one `store.db.connection_unit` running a few keyed statements
(`store/driver_statements.py`). This times, in CPU seconds of this process, a unit that
runs nothing, one that reads a row by its key, and one that reads it and updates it, on
a WAL database set up as `store.db.make_engine` sets one up; and, as the floor, sqlite3
itself running BEGIN IMMEDIATE, the same SELECT and UPDATE, and COMMIT. The difference
is what SQLAlchemy, the driver and the event loop add to each transaction."""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import Column, Integer, MetaData, String, Table, bindparam, insert, select, update

from store.db import connection_unit, make_engine
from store.driver_statements import DriverStatement
from store.repo import execute_keyed

ROWS = 1000
_metadata = MetaData()
THINGS = Table("things", _metadata, Column("id", Integer, primary_key=True),
               Column("name", String), Column("size", Integer))
READ = DriverStatement(select(THINGS).where(THINGS.c.id == bindparam("id")))
WRITE = DriverStatement(update(THINGS).where(THINGS.c.id == bindparam("thing")))


async def unit_costs(path: Path, units: int) -> dict[str, float]:
    """Microseconds of CPU a unit, by what it runs."""
    engine = make_engine(f"sqlite+aiosqlite:///{path}")
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
                    (await execute_keyed(conn, READ, {"id": key})).one()
                if statements >= 2:
                    await execute_keyed(conn, WRITE, {"thing": key, "size": n})
        return 1e6 * (time.process_time() - began) / units

    costs = {}
    for label, statements in (("unit, no statement", 0), ("unit, SELECT", 1),
                              ("unit, SELECT and UPDATE", 2)):
        await run(statements)  # warm: statements compiled, pages cached
        costs[label] = await run(statements)
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


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=20000, help="transactions timed a row")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "units.db"
        costs = asyncio.run(unit_costs(path, args.units))
        costs["sqlite3 alone, SELECT and UPDATE"] = sqlite3_cost(path, args.units)
    for label, micros in costs.items():
        print(f"{label:34s} {micros:7.1f} µs of CPU")


if __name__ == "__main__":
    main(sys.argv[1:])
