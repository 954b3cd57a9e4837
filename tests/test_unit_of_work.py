"""A unit of work holds one session: opening a second inside it fails at once, instead of
waiting for ever for the embedded default's one pooled connection."""

from __future__ import annotations

import asyncio
import time

import pytest
from sqlalchemy import text

from store.db import NestedSession, make_engine, make_sessionmaker


@pytest.fixture
async def sessions(database_url):
    engine = make_engine(database_url)
    yield make_sessionmaker(engine)
    await engine.dispose()


async def test_a_session_opened_inside_another_fails_at_once(sessions):
    started = time.monotonic()
    async with sessions() as outer:
        await outer.execute(text("SELECT 1"))  # holds the connection
        with pytest.raises(NestedSession):
            async with sessions():
                pass
        await outer.execute(text("SELECT 1"))  # the outer one is untouched
    assert time.monotonic() - started < 1


async def test_sessions_one_after_another_and_in_other_tasks_are_fine(sessions):
    async def one() -> int:
        async with sessions() as session:
            return await session.scalar(text("SELECT 1"))

    async with sessions() as session:
        await session.execute(text("SELECT 1"))
    assert await asyncio.gather(one(), one(), one()) == [1, 1, 1]
    async with sessions() as session, session.begin():
        # A task started inside a unit of work is a unit of its own.
        task = asyncio.create_task(one())
    assert await task == 1
