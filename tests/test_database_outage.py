"""PostgreSQL refuses connections for a while (a proxy in front of it is cut): callers
hear an apology and are called back, nothing answers 500, SMS that came in meanwhile are
caught up from the carrier, and an opt-out among them wins over a message already due."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url

from chaos.tcp_proxy import TcpProxy
from gigline.keys import SESSIONS, WATCH
from gigline.runtime import start_hotline
from market.outbox import enqueue_sms
from store.models import CallbackRequest, InboundSms, OptOut, OutboundSms
from tests.conftest import TEST_DATABASE_URL, free_port, make_settings

pytestmark = pytest.mark.skipif(not TEST_DATABASE_URL.startswith("postgresql"),
                                reason="a database server to cut off: PostgreSQL only")

WORKER = "+8613800000001"
CALLER = "+8613900000002"


@pytest.fixture
async def proxied_hotline(database_url):
    url = make_url(database_url)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    port = await proxy.start()
    settings = make_settings(
        url.set(host="127.0.0.1", port=port).render_as_string(hide_password=False),
        free_port(), GIGLINE_LOCAL_CARRIER_PORT=str(free_port()), GIGLINE_SCHEDULER="1",
        GIGLINE_OUTBOX_INTERVAL="0.2", GIGLINE_SMS_RATE="50", GIGLINE_DEMO="0")
    running = await start_hotline(settings)
    yield running, proxy
    proxy.restore()
    await running.close()
    await proxy.close()


async def eventually(check, seconds: float = 10.0) -> None:
    for _ in range(int(seconds * 10)):
        if await check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"not within {seconds} s")


async def test_an_outage_is_apologised_for_and_caught_up_after(proxied_hotline):
    hotline, proxy = proxied_hotline
    due_soon = datetime.now(UTC) + timedelta(seconds=2)
    async with hotline.app[SESSIONS]() as session, session.begin():
        await enqueue_sms(session, dedupe_key="notice", phone=WORKER, body="明天开工",
                          kind="test", now=due_soon)
    proxy.cut()

    for _ in range(2):  # the caller tries again: still one call back
        call = await hotline.carrier.place_call(CALLER)
        assert any("故障" in prompt for prompt in call.prompts), call.prompts
        assert call.ended, "the apology hangs up"
    texted = await hotline.carrier.send_sms(WORKER, "TD")
    assert texted.status == 200, "the carrier is not left with an error"
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{hotline.url}/healthz") as response:
            assert response.status == 503
            assert (await response.json())["database"] == "down"
        async with http.get(f"{hotline.url}/api/areas") as response:
            assert response.status in (401, 503), "no 500 for the API either"
    await asyncio.sleep(2.5)  # the notice falls due while the database is away

    proxy.restore()
    await eventually(lambda: _up(hotline))
    async with hotline.app[SESSIONS]() as session:
        [td] = [m for m in hotline.carrier.messages() if m.direction == "inbound"]
        assert await session.get(InboundSms, td.sid) is not None, "caught up"
        assert (await session.get(OptOut, WORKER)).opted_out
        [callback] = await session.scalars(select(CallbackRequest))
        assert callback.phone == CALLER and callback.reason == "database_down"
    ack = await hotline.carrier.wait_for_sms(WORKER)
    assert "明天开工" not in ack.body
    # The sender, woken by the recovery, settles the notice: suppressed, never sent.
    await eventually(lambda: _notice_status(hotline, "suppressed"))
    assert not [m for m in hotline.carrier.messages() if "明天开工" in m.body], \
        "the opt-out was applied before sending resumed"
    async with aiohttp.ClientSession() as http, http.get(f"{hotline.url}/healthz") as response:
        assert response.status == 200


async def _notice_status(hotline, status: str) -> bool:
    async with hotline.app[SESSIONS]() as session:
        return await session.scalar(
            select(OutboundSms.status).where(OutboundSms.kind == "test")) == status


async def _up(hotline) -> bool:
    return hotline.app[WATCH].up
