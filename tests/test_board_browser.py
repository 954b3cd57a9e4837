"""The hall's big screen in real headless Chromium: the hotline runs on real sockets, an
agent posts jobs through the API, workers and the employer text the hotline through the
local carrier, and the open page follows without being reloaded, across a restart too."""

from __future__ import annotations

from dataclasses import dataclass

import aiohttp
import pytest
from playwright.async_api import Page, expect
from sqlalchemy import select

from gigline.keys import SESSIONS
from gigline.runtime import Hotline
from store.models import Trade
from tests.browser import browser_fixture, page_fixture, screenshot  # noqa: F401
from tests.clock import FixedClock
from tests.conftest import API_TOKEN, free_port, make_settings, start_over
from tests.test_instant_hire_e2e import EMPLOYER_PHONE, add_worker, offer_of

AUTH = {"Authorization": f"Bearer {API_TOKEN}"}
WITHIN = 2000  # ms: the board shows a change this soon
# Each runs if it is ever parsed as HTML (the test then finds `pwned` set); trade names
# hold at most 32 characters.
SCRIPT = "<script>pwned=1</script>"
IMAGE = "<img src=x onerror=pwned=1>"


@dataclass
class Hall:
    """A hotline the test can stop and start again on the same port and database."""

    settings: object
    clock: FixedClock
    running: Hotline
    employer_id: int | None = None

    @property
    def board(self) -> str:
        return f"{self.running.url}/board"

    async def restart(self, between=None) -> None:
        await self.running.close()
        if between is not None:
            await between()
        self.running = await start_over("twilio", self.settings, clock=self.clock)

    async def post_job(self, lines: list[tuple[str, int, int]], *, town: str = "北城街道",
                       start_at: str = "2026-11-24T07:00:00", address: str = "河东东街88号工地",
                       days: int = 5) -> str:
        async with aiohttp.ClientSession(base_url=self.running.url, headers=AUTH) as http:
            if self.employer_id is None:
                employer = await (await http.post("/api/employers", json={
                    "name": "安居建筑劳务有限公司", "phone": EMPLOYER_PHONE, "address": "运城",
                    "credit_code": "91140802MA0K000005"})).json()
                await http.post(f"/api/employers/{employer['id']}/verification",
                                json={"state": "verified", "checked": "营业执照原件"})
                self.employer_id = employer["id"]
            areas = await (await http.get("/api/areas")).json()
            town_id = next(t["id"] for d in areas for t in d["towns"] if t["name"] == town)
            response = await http.post("/api/jobs", json={
                "employer_id": self.employer_id, "start_at": start_at, "days": days,
                "town_id": town_id, "address": address,
                "lines": [{"trade": trade, "headcount": headcount, "day_wage_yuan": wage}
                          for trade, headcount, wage in lines]})
            assert response.status == 201
            return (await response.json())["code"]


@pytest.fixture
async def hall(database_url, clock):
    settings = make_settings(
        database_url, free_port(), GIGLINE_LOCAL_CARRIER_PORT=str(free_port()),
        GIGLINE_SCHEDULER="1", GIGLINE_OUTBOX_INTERVAL="0.2", GIGLINE_SMS_RATE="50",
        # alice verifies the employer: a supervisor's work.
        GIGLINE_API_TOKENS=f"alice:{API_TOKEN}", GIGLINE_API_SUPERVISORS="alice",
        GIGLINE_DEMO="0")
    hall = Hall(settings, clock, await start_over("twilio", settings, clock=clock))
    yield hall
    await hall.running.close()


def row(page: Page, code: str, trade: str):
    return page.locator("#lines tr").filter(has_text=code).filter(has_text=trade)


async def test_the_board_follows_a_job_from_posting_to_hire_without_reloading(hall, page):
    await page.goto(hall.board)
    await expect(page.locator("#empty")).to_be_visible()
    await page.evaluate("window.sameDocument = true")
    code = await hall.post_job([("welder", 3, 500), ("labourer", 2, 200)])
    welders = row(page, code, "焊工")
    await expect(welders).to_be_visible(timeout=WITHIN)
    await expect(welders.locator(".remaining")).to_have_text("3人")
    await expect(welders.locator(".wage")).to_have_text("500元")
    await expect(welders.locator(".town")).to_have_text("北城街道")
    await expect(welders.locator(".start")).to_have_text("11月24日")
    await expect(page.locator('[data-field="today.jobs"]')).to_have_text("1")
    await expect(page.locator('[data-field="open_slots"]')).to_have_text("5")

    worker = "+8613800000001"
    await add_worker(hall.running, worker)
    await hall.running.carrier.send_sms(worker, code)  # takes a welder's slot
    await expect(welders.locator(".remaining")).to_have_text("2人", timeout=WITHIN)
    await expect(page.locator('[data-field="open_slots"]')).to_have_text("4")

    offer = await offer_of(hall.running, worker)
    await hall.running.carrier.send_sms(EMPLOYER_PHONE, f"Y{offer.id}")  # the employer hires
    await expect(page.locator('[data-field="today.hires"]')).to_have_text("1", timeout=WITHIN)
    await expect(page.locator('[data-field="month.hires"]')).to_have_text("1")

    await hall.post_job([("carpenter", 4, 380), ("mason", 2, 420)], town="解州镇",
                        start_at="2026-11-25T07:30:00", days=10)
    await hall.post_job([("electrician", 1, 450)], start_at="2026-11-26T08:00:00", days=3)
    await expect(page.locator("#lines tr")).to_have_count(5, timeout=WITHIN)
    assert await page.evaluate("window.sameDocument") is True, "never reloaded"
    await screenshot(page, "board")


async def test_hostile_trades_show_as_text_and_the_address_not_at_all(hall, page):
    async with hall.running.app[SESSIONS]() as session, session.begin():
        for code, name in (("welder", SCRIPT), ("labourer", IMAGE)):
            (await session.scalar(select(Trade).where(Trade.code == code))).name = name
    await hall.post_job([("welder", 1, 500)], address=f"河东东街{SCRIPT}")  # first render
    await page.goto(hall.board)
    await expect(page.locator("#lines td.trade")).to_have_text([SCRIPT])
    await hall.post_job([("labourer", 2, 200)], address=f"河东东街{IMAGE}",  # an update
                        start_at="2026-11-25T07:00:00")
    await expect(page.locator("#lines td.trade")).to_have_text([SCRIPT, IMAGE],
                                                               timeout=WITHIN)
    assert await page.evaluate("window.pwned") is None
    assert await page.locator("#lines img, #lines script").count() == 0
    assert "河东东街" not in await page.content()


async def test_the_board_reconnects_after_a_restart_and_shows_what_changed(hall, page):
    await page.goto(hall.board)
    await page.evaluate("window.sameDocument = true")
    await expect(page.locator("#status")).to_be_hidden()
    await hall.restart(between=lambda: expect(page.locator("#status")).to_be_visible())
    code = await hall.post_job([("welder", 2, 500)])
    await expect(row(page, code, "焊工")).to_be_visible(timeout=3 * WITHIN)  # retry: 2 s
    await expect(page.locator("#status")).to_be_hidden()
    assert await page.evaluate("window.sameDocument") is True, "never reloaded"
