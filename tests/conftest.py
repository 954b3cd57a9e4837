"""Shared fixtures: a fresh, migrated database per test (SQLite by default, PostgreSQL
when GIGLINE_TEST_DATABASE_URL names one), settings, a clock the test moves."""

from __future__ import annotations

import os
import socket

import pytest
from sqlalchemy import text

from gigline.settings import Settings
from store.db import make_engine, upgrade
from tests.clock import FixedClock

TEST_DATABASE_URL = os.environ.get("GIGLINE_TEST_DATABASE_URL", "")


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


async def _fresh_postgres(url: str) -> None:
    engine = make_engine(url)
    async with engine.begin() as conn:
        await conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        await conn.execute(text("CREATE SCHEMA public"))
    await engine.dispose()


@pytest.fixture
async def database_url(tmp_path) -> str:
    """An empty database at the latest migration."""
    if TEST_DATABASE_URL:
        url = Settings.from_env({"GIGLINE_DATABASE_URL": TEST_DATABASE_URL}).database_url
        await _fresh_postgres(url)
    else:
        url = f"sqlite+aiosqlite:///{tmp_path / 'gigline.db'}"
    engine = make_engine(url)
    await upgrade(engine)
    await engine.dispose()
    return url


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def make_settings(database_url: str, port: int, **overrides) -> Settings:
    env = {
        "GIGLINE_DATABASE_URL": database_url,
        "GIGLINE_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "GIGLINE_PORT": str(port),
        "GIGLINE_LOCAL_CARRIER_TOKEN": "test-token-0123456789",
        "GIGLINE_DEMO": "1",
        "GIGLINE_SCHEDULER": "0",
    }
    env.update(overrides)
    return Settings.from_env(env)


# The market-rules world, shared by the instant-hire and wage-loop tests.
from tests.market_world import market  # noqa: E402, F401
