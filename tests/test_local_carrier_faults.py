"""The REST stand-in's chaos faults (random errors, timeouts, outages), over real HTTP."""

from __future__ import annotations

import asyncio
import base64
import time

import aiohttp
import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from local_carrier import LocalCarrier
from local_carrier.faults import FaultPlan

from .local_carrier_fixtures import (  # noqa: F401 - the *_fixture names are fixtures
    ACCOUNT_SID,
    AUTH_TOKEN,
    CALLER,
    HOTLINE,
    carrier_fixture,
    hotline_fixture,
    twilio_client_fixture,
)

# twilio 9.13's AsyncTwilioHttpClient still passes aiohttp's deprecated `auth=` argument.
pytestmark = pytest.mark.filterwarnings(
    "ignore:The 'auth' parameter is deprecated:DeprecationWarning"
)

TRANSIENT = {(429, 20429), (500, 20500), (503, 20503)}


async def send(client: Client, body: str = "x") -> tuple[int, int | None]:
    """(HTTP status, Twilio error code) of one send."""
    try:
        await client.messages.create_async(to=CALLER, from_=HOTLINE, body=body)
    except TwilioRestException as error:
        return error.status, error.code
    return 201, None


async def rest(
    carrier: LocalCarrier, method: str, data: dict[str, str] | None = None
) -> tuple[int, dict]:
    """A bare request to Messages.json: twilio-python reports a failed list page only
    as a generic TwilioException, without status or code."""
    credentials = base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
    url = f"{carrier.rest_base}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    async with (
        aiohttp.ClientSession(headers={"Authorization": f"Basic {credentials}"}) as http,
        http.request(method, url, data=data) as response,
    ):
        return response.status, await response.json()


async def listed(client: Client) -> list[str]:
    return [m.body for m in await client.messages.list_async(to=CALLER, from_=HOTLINE)]


async def test_random_errors_are_twilio_errors_and_do_nothing(
    twilio_client: Client, carrier: LocalCarrier
):
    carrier.randomise_faults(seed=1, error_rate=1.0)

    outcomes = [await send(twilio_client) for _ in range(30)]

    assert set(outcomes) == TRANSIENT  # all three kinds turn up, nothing else
    assert carrier.faults.stats.failed == 30
    assert await listed(twilio_client) == []  # GETs are spared, and nothing was sent
    assert carrier.inbox(CALLER) == []


async def test_a_random_error_has_twilios_error_body(carrier: LocalCarrier):
    carrier.randomise_faults(seed=1, error_rate=1.0)

    status, body = await rest(carrier, "POST", {"To": CALLER, "From": HOTLINE, "Body": "x"})

    assert (status, body["code"]) in TRANSIENT and body["status"] == status
    assert set(body) == {"code", "message", "more_info", "status"}
    assert body["more_info"] == f"https://www.twilio.com/docs/errors/{body['code']}"


async def test_timeouts_leave_exactly_the_carried_out_sends(
    twilio_client: Client, carrier: LocalCarrier
):
    carrier.randomise_faults(seed=3, timeout_rate=1.0, timeout_seconds=0.2)

    for n in range(10):
        # AsyncTwilioHttpClient ignores its own `timeout`, so the caller bounds the wait.
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.05):
                await send(twilio_client, f"send {n}")

    stats = carrier.faults.stats
    assert stats.timeouts_carried_out + stats.timeouts_dropped == 10
    assert stats.timeouts_carried_out and stats.timeouts_dropped  # seed 3 gives both
    assert len(await listed(twilio_client)) == stats.timeouts_carried_out


async def test_late_answers_tell_a_patient_client_nothing_more(
    twilio_client: Client, carrier: LocalCarrier
):
    carrier.randomise_faults(seed=3, timeout_rate=1.0, timeout_seconds=0.05)

    outcomes = [await send(twilio_client) for _ in range(6)]

    stats = carrier.faults.stats
    assert outcomes.count((201, None)) == stats.timeouts_carried_out
    assert outcomes.count((503, 20503)) == stats.timeouts_dropped


async def test_seeded_runs_are_reproducible(twilio_client: Client, carrier: LocalCarrier):
    async def run(seed: int) -> list[tuple[int, int | None]]:
        carrier.randomise_faults(seed=seed, error_rate=0.3, timeout_rate=0.3, timeout_seconds=0.01)
        return [await send(twilio_client) for _ in range(24)]

    first = await run(seed=7)
    assert await run(seed=7) == first
    assert await run(seed=8) != first
    assert {(201, None)} < set(first)  # a mix of successes and faults


@pytest.mark.parametrize(
    "off", [lambda c: c.calm_faults(), lambda c: c.randomise_faults(seed=1, error_rate=0)]
)
async def test_random_faults_can_be_switched_off(twilio_client: Client, carrier, off):
    carrier.randomise_faults(seed=1, error_rate=1.0)
    off(carrier)
    assert await send(twilio_client) == (201, None)


async def test_gets_are_faulted_only_when_asked(twilio_client: Client, carrier: LocalCarrier):
    carrier.randomise_faults(seed=1, error_rate=1.0, applies_to=("GET",))

    assert await send(twilio_client) == (201, None)
    status, body = await rest(carrier, "GET")
    assert (status, body["code"]) in TRANSIENT


@pytest.mark.parametrize(
    "rates",
    [
        {"error_rate": 0.7, "timeout_rate": 0.5},
        {"error_rate": -0.1},
        {"timeout_rate": 1.5},
        {"timeout_rate": 0.5, "timeout_seconds": -1},
    ],
)
def test_impossible_rates_are_refused(rates):
    with pytest.raises(ValueError):
        FaultPlan().randomise(seed=1, **rates)


async def test_an_outage_refuses_everything_until_restored(
    twilio_client: Client, carrier: LocalCarrier
):
    carrier.outage()
    assert carrier.faults.in_outage

    assert await send(twilio_client) == (503, 20503)
    status, body = await rest(carrier, "GET")
    assert (status, body["code"]) == (503, 20503)
    assert carrier.faults.stats.refused_in_outage == 2

    carrier.restore()
    assert not carrier.faults.in_outage
    assert await send(twilio_client, "after") == (201, None)
    assert await listed(twilio_client) == ["after"]  # the refused send did nothing


async def test_a_timed_outage_ends_by_itself(twilio_client: Client, carrier: LocalCarrier):
    carrier.outage(seconds=0.2)
    assert await send(twilio_client) == (503, 20503)

    await asyncio.sleep(0.25)

    assert not carrier.faults.in_outage
    assert await send(twilio_client) == (201, None)


async def test_close_releases_hanging_requests_at_once(
    twilio_client: Client, carrier: LocalCarrier
):
    carrier.randomise_faults(seed=3, timeout_rate=1.0, timeout_seconds=30)
    sends = [asyncio.create_task(send(twilio_client)) for _ in range(4)]
    stats = carrier.faults.stats
    async with asyncio.timeout(2):
        # The stats are plain counters, as a harness reads them, so polling is enough.
        while stats.timeouts_carried_out + stats.timeouts_dropped < 4:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
    assert stats.timeouts_carried_out and stats.timeouts_dropped

    started = time.monotonic()
    await carrier.close()
    async with asyncio.timeout(2):
        outcomes = await asyncio.gather(*sends)

    assert time.monotonic() - started < 2
    assert set(outcomes) == {(201, None), (503, 20503)}
