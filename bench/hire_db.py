"""Throwaway databases for the benchmark: a SQLite file in a temporary directory, or a
PostgreSQL database created on the local server and dropped (forcibly) afterwards."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from store.db import make_engine, upgrade
from store.db import refresh_statistics as gigline_statistics

DEFAULT_PG_ADMIN_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
# Its own database a run (the process id in its name): another run on the same server,
# a colleague's for instance, keeps its own.
PG_BENCH_DB = f"gigline_hire_bench_{os.getpid()}"


def kept_database_url(kind: str, pg_admin_url: str, name: str) -> str:
    """Where `--keep-db NAME` keeps a filled database between runs: a SQLite file in the
    temporary directory, or the PostgreSQL database gigline_hire_bench_keep_NAME."""
    if kind == "sqlite":
        path = Path(tempfile.gettempdir()) / f"gigline-hire-bench-{name}.db"
        return f"sqlite+aiosqlite:///{path}"
    return pg_admin_url.rsplit("/", 1)[0] + f"/gigline_hire_bench_keep_{name}"


@asynccontextmanager
async def kept_database(kind: str, pg_admin_url: str, name: str) -> AsyncIterator[str]:
    """Yields the URL of the kept database, created if missing and brought to the latest
    migration (a migration added since it was filled runs over its rows); never removed."""
    url = kept_database_url(kind, pg_admin_url, name)
    if kind == "postgres":
        admin = create_async_engine(pg_admin_url, isolation_level="AUTOCOMMIT")
        try:
            async with admin.connect() as conn:
                database = url.rsplit("/", 1)[1]
                if not await conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :d"),
                                         {"d": database}):
                    await conn.execute(text(f"CREATE DATABASE {database}"))
        finally:
            await admin.dispose()
    await _migrate(url)
    yield url


@asynccontextmanager
async def throwaway_database(kind: str, pg_admin_url: str) -> AsyncIterator[str]:
    """Yields the URL of an empty database at the latest migration; removes it after."""
    if kind == "sqlite":
        folder = Path(tempfile.mkdtemp(prefix="gigline-hire-bench-"))
        url = f"sqlite+aiosqlite:///{folder / 'bench.db'}"
        try:
            await _migrate(url)
            yield url
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return
    admin = create_async_engine(pg_admin_url, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            # A run killed half-way leaves the database behind: start clean.
            await conn.execute(text(f"DROP DATABASE IF EXISTS {PG_BENCH_DB} WITH (FORCE)"))
            await conn.execute(text(f"CREATE DATABASE {PG_BENCH_DB}"))
        url = pg_admin_url.rsplit("/", 1)[0] + f"/{PG_BENCH_DB}"
        try:
            await _migrate(url)
            yield url
        finally:
            async with admin.connect() as conn:
                await conn.execute(text(f"DROP DATABASE IF EXISTS {PG_BENCH_DB} WITH (FORCE)"))
    finally:
        await admin.dispose()


async def _migrate(url: str) -> None:
    engine = make_engine(url)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()


async def refresh_statistics(url: str) -> None:
    """Give the planner statistics as production has them: PostgreSQL's autovacuum would
    ANALYZE a freshly loaded table within a minute or so; on SQLite Gigline's scheduler
    runs store.db.refresh_statistics at start-up and every 6 hours."""
    engine = make_engine(url)
    try:
        if url.startswith("postgresql"):
            async with engine.connect() as conn:
                await conn.execute(text("ANALYZE"))
                await conn.commit()
        else:
            await gigline_statistics(engine)
    finally:
        await engine.dispose()
