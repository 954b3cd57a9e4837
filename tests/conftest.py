"""Shared fixtures: a fresh, migrated database per test (SQLite by default, PostgreSQL
when GIGLINE_TEST_DATABASE_URL names one), settings, a clock the test moves."""

from __future__ import annotations

import os

import pytest
from sqlalchemy import text

from gigline.settings import Settings
from store import sqlite_driver
from store.db import make_engine, upgrade
from tests.clock import FixedClock
from tests.hotline_settings import free_port, make_settings  # noqa: F401 (used by tests)

TEST_DATABASE_URL = os.environ.get("GIGLINE_TEST_DATABASE_URL", "")
# The end-to-end tests run over each carrier: Twilio (played by the local carrier) and
# JSON Line, whose adapter knows only the hotline's channel and carrier interfaces.
CARRIERS = ["twilio", "jsonline"]


async def start_over(carrier: str, settings, **options):
    """The hotline on real sockets, its calls and SMS going through `carrier`; the
    returned hotline's `carrier` is that carrier's phones."""
    from gigline.runtime import start_hotline
    from telephony.jsonline.channel import JsonLineChannel
    from telephony.jsonline.rest import JsonLineCarrier
    from tests.jsonline_carrier import JsonLineStandIn

    if carrier == "twilio":
        return await start_hotline(settings, **options)
    phones = JsonLineStandIn(settings.public_url, settings.auth_token,
                             settings.sms_from_number or "+863592123456")
    await phones.start(free_port())
    running = await start_hotline(
        settings, **options,
        carrier=JsonLineCarrier(api_base=phones.rest_base, secret=settings.auth_token,
                                public_url=settings.public_url,
                                request_timeout=settings.carrier_timeout_seconds),
        channel=JsonLineChannel(secret=settings.auth_token, public_url=settings.public_url))
    running.carrier = phones
    return running


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def trips(monkeypatch) -> list:
    """Every trip an embedded SQLite connection makes to its database thread (clear it to
    start counting)."""
    made = []
    execute = sqlite_driver.Connection._execute

    async def counting(self, fn, *args, **kwargs):
        made.append(fn)
        return await execute(self, fn, *args, **kwargs)

    monkeypatch.setattr(sqlite_driver.Connection, "_execute", counting)
    return made


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


API_TOKEN = "alice-token-0123456789"


@pytest.fixture(params=CARRIERS)
async def hiring_hotline(database_url, clock, request):
    """The hotline on real sockets with its scheduler on, the agents' API open to
    alice, no demo data: for end-to-end tests of instant hire and the wage loop."""
    settings = make_settings(
        database_url, free_port(), GIGLINE_LOCAL_CARRIER_PORT=str(free_port()),
        GIGLINE_SCHEDULER="1", GIGLINE_OUTBOX_INTERVAL="0.2", GIGLINE_SMS_RATE="50",
        # alice verifies employers and clears holds: a supervisor's work.
        GIGLINE_API_TOKENS=f"alice:{API_TOKEN}", GIGLINE_API_SUPERVISORS="alice",
        GIGLINE_DEMO="0")
    running = await start_over(request.param, settings, clock=clock)
    yield running
    await running.close()


# The market-rules world, shared by the instant-hire and wage-loop tests.
from tests.market_world import market  # noqa: E402, F401
from tests.speech_fixtures import (  # noqa: E402, F401
    korean_model_fixture,
    speaking_hotline_fixture,
)
