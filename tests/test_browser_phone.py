"""The phone routes a browser phone uses: they refuse bad input with a reason, say how the
current Gather takes keys, and text the hotline as a phone."""

from __future__ import annotations

import aiohttp
import pytest

from gigline.runtime import start_hotline
from tests.conftest import free_port, make_settings

WORKER = "+8613800000011"
EMPLOYER = "+8613900000022"
VALID_ID = "11010519491231002X"


@pytest.fixture
async def hotline(database_url):
    """The hotline as `gigline serve` starts it on the embedded default: local carrier
    beside it, the outbox sent by the scheduler (quickly, for the test)."""
    settings = make_settings(database_url, free_port(),
                             GIGLINE_LOCAL_CARRIER_PORT=str(free_port()),
                             GIGLINE_SCHEDULER="1", GIGLINE_OUTBOX_INTERVAL="0.2",
                             GIGLINE_SMS_RATE="50")
    running = await start_hotline(settings)
    yield running
    await running.close()


@pytest.fixture
async def http():
    async with aiohttp.ClientSession() as session:
        yield session


async def answer(response: aiohttp.ClientResponse) -> tuple[int, dict | list]:
    return response.status, await response.json()


# --- over HTTP ------------------------------------------------------------------------------

@pytest.mark.parametrize("number", ["12345", "not-a-phone", "+86138"])
async def test_a_bad_number_is_refused_with_the_reason(hotline, http, number):
    base = f"{hotline.carrier.rest_base}/phones/{number}"
    async with http.post(f"{base}/calls") as call:
        assert await answer(call) == (400, {"message": f"not a valid phone number: {number!r}"})
    async with http.post(f"{base}/sms", data={"body": "帮助"}) as text:
        assert (await answer(text))[0] == 400
    async with http.get(f"{base}/messages") as thread:
        status, body = await answer(thread)
        assert status == 400 and "not a valid phone number" in body["message"]


async def test_keys_outside_the_keypad_and_unknown_actions_are_refused(hotline, http):
    phone = f"{hotline.carrier.rest_base}/phones/{WORKER}"
    async with http.post(f"{phone}/calls") as placed:
        status, call = await answer(placed)
    assert status == 201 and call["keypad"] == {
        "num_digits": 1, "finish_on_key": "", "timeout": call["keypad"]["timeout"]}
    url = f"{phone}/calls/{call['sid']}"
    for keys in ("12a", "", "<script>", "1 2"):
        async with http.post(url, data={"action": "press", "argument": keys}) as pressed:
            status, body = await answer(pressed)
            assert status == 400 and "keys must be some of 0-9 * #" in body["message"], keys
    async with http.post(url, data={"action": "dance"}) as unknown:
        status, body = await answer(unknown)
        assert status == 400 and "action must be one of" in body["message"]
    async with http.post(url, data={"action": "record"}) as record:
        status, body = await answer(record)
        assert status == 409 and "waiting for gather" in body["message"], \
            "at a keypad prompt, not a recording"


async def test_acting_on_an_ended_call_is_a_conflict(hotline, http):
    phone = f"{hotline.carrier.rest_base}/phones/{WORKER}"
    async with http.post(f"{phone}/calls") as placed:
        url = f"{phone}/calls/{(await placed.json())['sid']}"
    async with http.post(url, data={"action": "hang_up"}) as hung_up:
        status, view = await answer(hung_up)
        assert status == 200 and view["ended"] and view["keypad"] is None
    for action, argument in (("press", "1"), ("hang_up", ""), ("record", "3")):
        async with http.post(url, data={"action": action, "argument": argument}) as late:
            status, body = await answer(late)
            assert status == 409 and "ended (completed)" in body["message"], action
    other = f"{hotline.carrier.rest_base}/phones/{EMPLOYER}/calls/{view['sid']}"
    async with http.get(other) as not_theirs:
        assert not_theirs.status == 404, "a call is looked at from the phone that made it"


async def test_a_text_needs_a_body_that_fits(hotline, http):
    url = f"{hotline.carrier.rest_base}/phones/{EMPLOYER}/sms"
    for body, reason in (("", "needs a body"), ("   ", "needs a body"),
                         ("字" * 1601, "at most 1600 characters")):
        async with http.post(url, data={"body": body}) as text:
            status, answered = await answer(text)
            assert status == 400 and reason in answered["message"]


async def test_the_thread_holds_what_the_phone_sent_and_got(hotline, http):
    base = f"{hotline.carrier.rest_base}/phones/{EMPLOYER}"
    async with http.post(f"{base}/sms", data={"body": "帮助"}) as text:
        assert await answer(text) == (201, {"delivered": True})
    await hotline.carrier.wait_for_sms(EMPLOYER)
    async with http.get(f"{base}/messages") as thread_response:
        status, thread = await answer(thread_response)
    assert status == 200
    assert [(m["way"], m["from"]) for m in thread] == [
        ("sent", EMPLOYER), ("received", hotline.carrier.hotline_number)]
    assert thread[0]["body"] == "帮助" and "0359" in thread[1]["body"]
    async with http.get(f"{hotline.carrier.rest_base}/phones/{WORKER}/messages") as other:
        assert await answer(other) == (200, []), "another phone's thread is its own"
