"""The browser phone on the local carrier's port: its JSON routes refuse bad input with a
reason, it exists only beside the local carrier, and in real Chromium a person registers a
worker by keypad, reads the SMS, and texts the hotline from the employer's phone."""

from __future__ import annotations

import re
import socket
import wave
from array import array
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from playwright.async_api import Locator, Page, async_playwright, expect

from gigline.runtime import start_hotline
from speech.mulaw import TABLE
from tests.browser import (  # noqa: F401 (fixtures)
    browser_fixture,
    chromium_path,
    page_fixture,
    screenshot,
)
from tests.conftest import free_port, make_settings
from tests.speech_fixtures import no_recognizer_left, utterance

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

async def test_the_page_and_its_files_come_from_the_carrier_with_a_strict_policy(hotline, http):
    base = hotline.carrier.rest_base
    async with http.get(f"{base}/phone") as page_response:
        assert page_response.status == 200
        assert page_response.headers["Content-Type"] == "text/html; charset=utf-8"
        assert "script-src" not in page_response.headers["Content-Security-Policy"], \
            "default-src 'self' covers scripts: none inline, none from elsewhere"
        assert "default-src 'self'" in page_response.headers["Content-Security-Policy"]
        assert '<script src="/phone/phone.js"' in await page_response.text()
    for name, kind in (("phone.js", "text/javascript"), ("phone.css", "text/css")):
        async with http.get(f"{base}/phone/{name}") as asset:
            assert asset.status == 200 and asset.content_type == kind
    async with http.get(f"{base}/phone/carrier.py") as outside:
        assert outside.status in (401, 404), "only the page's own files are served"


async def test_the_hotline_itself_serves_no_phone_page(hotline, http):
    for path in ("/phone", "/phone/phone.js", "/phones"):
        async with http.get(f"{hotline.url}{path}") as response:
            assert response.status == 404, path


async def test_with_twilio_configured_no_local_carrier_and_no_phone_runs(database_url, http):
    carrier_port = free_port()
    settings = make_settings(
        database_url, free_port(), GIGLINE_LOCAL_CARRIER_PORT=str(carrier_port),
        TWILIO_ACCOUNT_SID="AC" + "1" * 32, TWILIO_AUTH_TOKEN="secret",
        TWILIO_PHONE_NUMBER="+863592123456", GIGLINE_ID_HASH_KEY="k" * 32)
    running = await start_hotline(settings)
    try:
        assert running.carrier is None
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", carrier_port), timeout=2).close()
        async with http.get(f"{running.url}/phone") as response:
            assert response.status == 404
    finally:
        await running.close()


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


async def test_the_microphone_socket_takes_audio_refuses_text_and_ended_calls(hotline, http):
    phone = f"{hotline.carrier.rest_base}/phones/{WORKER}"
    async with http.post(f"{phone}/calls") as placed:
        url = f"{phone}/calls/{(await placed.json())['sid']}"
    async with http.ws_connect(f"{url}/microphone") as microphone:
        # Speech is off: no stream is open, so the voice is lost, as on Twilio.
        await microphone.send_bytes(b"\xff" * 500)
        await microphone.send_str("hello")
        closed = await microphone.receive()
        assert closed.type == aiohttp.WSMsgType.CLOSE and closed.data == 1003
    async with http.ws_connect(f"{url}/microphone") as microphone:
        async with http.post(url, data={"action": "hang_up"}) as hung_up:
            assert hung_up.status == 200
        await microphone.send_bytes(b"\xff" * 160)
        closed = await microphone.receive()
        assert closed.type == aiohttp.WSMsgType.CLOSE and closed.extra == "the call ended"
    async with http.get(f"{url}/microphone") as late:
        status, body = await answer(late)
        assert status == 409 and "already ended" in body["message"]


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


# --- in real Chromium -----------------------------------------------------------------------

def phone(page: Page, name: str) -> Locator:
    return page.locator(f'[data-phone="{name}"]')


def part(phone_box: Locator, role: str) -> Locator:
    return phone_box.locator(f'[data-role="{role}"]')


async def press(phone_box: Locator, keys: str) -> None:
    # Clicked as fast as Playwright can: keys pressed while the carrier is busy wait their
    # turn, and each Gather gets its digits when its numDigits or finish key says so.
    for key in keys:
        await phone_box.locator(f'[data-key="{key}"]').click()


async def open_phone(page: Page, hotline, name: str, number: str) -> Locator:
    if not page.url.endswith("/phone"):
        await page.goto(f"{hotline.carrier.rest_base}/phone")
    box = phone(page, name)
    await part(box, "number").fill(number)
    await part(box, "number").dispatch_event("change")
    return box


async def test_a_person_registers_a_new_worker_by_keypad_from_the_browser_phone(hotline, page):
    employer = await open_phone(page, hotline, "employer", EMPLOYER)  # the other phone texts
    await part(employer, "body").fill("帮助")
    await part(employer, "reply").locator("button").click()
    worker = await open_phone(page, hotline, "worker", WORKER)
    await expect(page.locator("#hotline-number")).to_have_text(hotline.carrier.hotline_number)
    await part(worker, "call").click()
    prompts = part(worker, "prompts")
    await expect(prompts).to_contain_text("零工热线")
    await expect(part(worker, "status")).to_contain_text("通话中")
    # consent, 钢筋工 and more trades, done, district and town, availability, wage, alerts …
    await press(worker, "1113212" + "350#" + "111" + VALID_ID.replace("X", "*"))
    record = part(worker, "record")
    await expect(record).to_be_visible(timeout=10_000)
    await record.click()
    await expect(record).to_be_hidden()
    await press(worker, "1")  # the name as recorded is right
    await expect(prompts).to_contain_text("登记好了", timeout=10_000)
    await expect(part(worker, "error")).to_be_hidden()
    sms = part(worker, "sms")
    await expect(sms.locator("li.received")).to_contain_text("登记成功", timeout=10_000)
    await expect(sms.locator("li.received")).to_contain_text("工号")
    await expect(part(employer, "sms").locator("li.received")).to_contain_text("0359")
    await screenshot(page, "browser_phone")
    await part(worker, "hangup").click()
    await expect(part(worker, "status")).to_contain_text("通话结束")
    await expect(part(worker, "call")).to_be_enabled()


async def test_the_employer_phone_texts_the_hotline_and_sees_the_reply(hotline, page):
    employer = await open_phone(page, hotline, "employer", EMPLOYER)
    await part(employer, "body").fill("帮助")
    await part(employer, "body").press("Enter")
    thread = part(employer, "sms")
    hotline_number = hotline.carrier.hotline_number
    await expect(thread.locator("li.sent")).to_have_text(f"我 → {hotline_number}帮助")
    await expect(thread.locator("li.received")).to_contain_text("0359", timeout=10_000)
    await expect(part(employer, "body")).to_have_value("")
    await expect(part(phone(page, "worker"), "sms").locator("li")).to_have_count(0)


async def test_a_script_in_an_sms_shows_as_text(hotline, page):
    employer = await open_phone(page, hotline, "employer", EMPLOYER)
    hostile = '<script>window.pwned = 1</script><img src=x onerror="window.pwned = 2">'
    # As the hotline would send it through Twilio's Messages API, and as the phone types it.
    hotline.carrier.sms.create({"To": EMPLOYER, "From": hotline.carrier.hotline_number,
                                "Body": hostile})
    await part(employer, "body").fill(hostile)
    await part(employer, "reply").locator("button").click()
    thread = part(employer, "sms")
    await expect(thread.locator("li.received .body").first).to_have_text(hostile)
    await expect(thread.locator("li.sent .body")).to_have_text(hostile)
    assert await thread.locator("script, img").count() == 0
    assert await page.evaluate("window.pwned") is None


async def test_a_bad_number_shows_the_carriers_reason_on_the_phone(hotline, page):
    worker = await open_phone(page, hotline, "worker", "12345")
    await part(worker, "call").click()
    await expect(part(worker, "error")).to_have_text("not a valid phone number: '12345'")
    await expect(part(worker, "call")).to_be_enabled()


# The browser's speech engine, replaced by one that notes what it was asked to say: headless
# Chromium has no voices to listen to.
LISTENING_SPEECH = """
window.spoken = [];
window.speechSynthesis.speak = (utterance) => window.spoken.push([utterance.lang, utterance.text]);
window.speechSynthesis.cancel = () => window.spoken.push(["cancel", ""]);
"""


async def test_prompts_are_spoken_in_mandarin_until_muted(hotline, page):
    await page.add_init_script(LISTENING_SPEECH)
    worker = await open_phone(page, hotline, "worker", WORKER)
    await part(worker, "call").click()
    await expect(part(worker, "prompts")).to_contain_text("零工热线")
    spoken = await page.evaluate("window.spoken")
    shown = await part(worker, "prompts").locator("li").all_text_contents()
    assert spoken == [["zh-CN", text] for text in shown]
    await page.locator("#speak-aloud").uncheck()
    await press(worker, "1")
    await expect(part(worker, "prompts").locator("li")).not_to_have_count(len(shown))
    assert await page.evaluate("window.spoken") == [*spoken, ["cancel", ""]], "muted"


# --- the microphone, with speech on ------------------------------------------------------

def fake_microphone_wav(word: str, path: Path) -> Path:
    """`word` of the test pack as Chromium's fake microphone plays it: 16-bit 48 kHz WAV
    (the 8 kHz recording interpolated up), then three seconds of quiet. None before: espeak's
    words are misheard after quiet (see test_speech_calls.py)."""
    quiet = b"\xff"
    mulaw = utterance(word) + quiet * 24000
    samples = [TABLE[code] for code in mulaw]
    up = 6
    wide = array("h", (samples[i] + (samples[min(i + 1, len(samples) - 1)] - samples[i])
                       * k // up for i in range(len(samples)) for k in range(up)))
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(8000 * up)
        wav.writeframes(wide.tobytes())
    return path


@pytest.fixture
async def speaking_page(tmp_path) -> AsyncIterator[Page]:
    """Chromium whose microphone says 예 (yes) once, permission granted."""
    wav = fake_microphone_wav("예", tmp_path / "yes.wav")
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=chromium_path(),
            args=["--no-sandbox", "--use-fake-ui-for-media-stream",
                  "--use-fake-device-for-media-stream",
                  f"--use-file-for-fake-audio-capture={wav}%noloop"])
        context = await chromium.new_context(locale="zh-CN")
        yield await context.new_page()
        await chromium.close()


async def test_the_microphone_answers_a_listening_prompt(speaking_hotline, speaking_page):
    page = speaking_page
    worker = await open_phone(page, speaking_hotline, "worker", WORKER)
    await part(worker, "call").click()
    await expect(part(worker, "prompts")).to_contain_text("直接说")
    await expect(part(worker, "listening")).to_contain_text("热线在听")
    await part(worker, "microphone").click()
    await expect(part(worker, "microphone")).to_have_attribute("aria-pressed", "true")
    await expect(part(worker, "error")).to_be_hidden()
    # 예 at the consent prompt reaches Vosk and the hotline moves the call on over REST:
    # to the trades, or to reading back what it heard when it is not sure. Which one
    # depends on how much of the word's start the fake microphone plays before the page
    # listens (espeak's words are misheard when clipped), so either shows it heard.
    heard = re.compile("请选您会的工种|您说的是")
    await expect(part(worker, "prompts").locator("li").last).to_contain_text(
        heard, timeout=20_000)
    await part(worker, "hangup").click()
    await expect(part(worker, "microphone")).to_have_attribute("aria-pressed", "false")
    await speaking_hotline.carrier.drain()
    await no_recognizer_left(speaking_hotline)
