"""Throwaway databases: a fresh SQLite file or PostgreSQL database per run, migrated with
`gigline migrate` as an operator would, and removed afterwards."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from sqlalchemy import select

from basics.clock import market_today, utc_now
from gigline.settings import Settings
from store.db import make_engine, make_sessionmaker
from store.models import Area, Market, Trade, Worker

DEFAULT_PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_PG_NAME = "gigline_bench"


@asynccontextmanager
async def fresh_database(kind: str, workdir: str, *, pg_admin: str = DEFAULT_PG_ADMIN,
                         pg_name: str = DEFAULT_PG_NAME) -> AsyncIterator[str]:
    """Yields the GIGLINE_DATABASE_URL of an empty, migrated database."""
    if kind == "sqlite":
        folder = tempfile.mkdtemp(prefix="sqlite-", dir=workdir)
        try:
            url = f"sqlite:///{folder}/gigline.db"
            migrate(url)
            yield url
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return
    if kind != "postgres":
        raise ValueError(f"unknown database kind {kind!r}")
    await _pg_admin(pg_admin, f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)',
                    f'CREATE DATABASE "{pg_name}"')
    try:
        url = pg_admin.rsplit("/", 1)[0] + f"/{pg_name}"
        migrate(url)
        yield url
    finally:
        await _pg_admin(pg_admin, f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')


def migrate(url: str) -> None:
    env = {**os.environ, "GIGLINE_DATABASE_URL": url}
    done = subprocess.run([sys.executable, "-m", "gigline.cli", "migrate"], env=env,
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"gigline migrate failed:\n{done.stdout}{done.stderr}")


async def _pg_admin(admin_url: str, *statements: str) -> None:
    conn = await asyncpg.connect(admin_url)
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


async def seed_workers(url: str, phones: list[str]) -> None:
    """Registered workers, as if they had called before: the rows a busy hotline has, and
    callers for the main menu. Needs the market, which Gigline creates at start-up."""
    engine = make_engine(Settings.from_env({"GIGLINE_DATABASE_URL": url}).database_url)
    now = utc_now()
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            market = await session.scalar(select(Market))
            trades = list(await session.scalars(select(Trade).order_by(Trade.position)))
            towns = list(await session.scalars(select(Area).where(Area.kind == "town")))
            today = market_today(now, market.timezone)
            session.add_all(
                Worker(market_id=market.id, phone=phone, status="active", priority_group=False,
                       alert_channel="sms", trades=[trades[i % len(trades)]],
                       district_id=towns[i % len(towns)].parent_id,
                       town_id=towns[i % len(towns)].id, day_wage_fen=20000 + 1000 * (i % 30),
                       availability="today", available_from=today, consent_at=now,
                       consent_call_sid=f"CAseed{i:026d}", created_at=now, registered_at=now)
                for i, phone in enumerate(phones)
            )
    finally:
        await engine.dispose()
