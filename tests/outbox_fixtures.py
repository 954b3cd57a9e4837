"""What the outbox tests share: a hotline whose clock starts at the real time (the
carrier stamps messages with it, and reconciling compares against it), and helpers to
queue messages and read the outbox."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from gigline.keys import SESSIONS
from gigline.runtime import Hotline, start_hotline
from market.outbox import enqueue_sms
from store.models import OutboundSms
from tests.clock import FixedClock
from tests.hotline_settings import free_port, make_settings

PHONE = "+8613800000001"


@pytest.fixture(name="clock")
def real_time_clock() -> FixedClock:
    return FixedClock(now=datetime.now(UTC))


@asynccontextmanager
async def outbox_hotline(database_url: str, clock: FixedClock,
                         **env: str) -> AsyncIterator[Hotline]:
    settings = make_settings(database_url, free_port(),
                             GIGLINE_LOCAL_CARRIER_PORT=str(free_port()), **env)
    running = await start_hotline(settings, clock=clock)
    try:
        yield running
    finally:
        await running.close()


async def add(hotline: Hotline, clock: FixedClock, key: str, body: str = "测试短信",
              phone: str = PHONE, priority: int = 5) -> bool:
    async with hotline.app[SESSIONS]() as session, session.begin():
        return await enqueue_sms(session, dedupe_key=key, phone=phone, body=body, kind="test",
                                 now=clock(), priority=priority)


async def rows(hotline: Hotline) -> list[OutboundSms]:
    async with hotline.app[SESSIONS]() as session:
        return list(await session.scalars(select(OutboundSms).order_by(OutboundSms.id)))
