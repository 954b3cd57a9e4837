"""The hall's big screen over HTTP through the real app: open to anyone, nothing personal
on the page or in the stream, the stream sends the board and then each change."""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import func, select

from console.board import ROWS
from gigline.app import create_app
from gigline.keys import SESSIONS
from store.models import Employer, Job, JobLine, Trade, Worker
from tests.conftest import make_settings
from tests.test_api import AUTH, TOKEN, job_body, town_id

HOSTILE = "<script>alert(1)</script>"


@pytest.fixture
async def client(aiohttp_client, database_url, clock):
    """The demo market: workers with names and phones, employers with addresses."""
    settings = make_settings(database_url, 8080, GIGLINE_API_TOKENS=f"alice:{TOKEN}")
    return await aiohttp_client(create_app(settings, clock=clock))


async def personal_data(client) -> list[str]:
    """Every name, phone (as stored and as dialled at home) and address in the market."""
    async with client.app[SESSIONS]() as session:
        workers = (await session.execute(select(Worker.name, Worker.phone))).all()
        employers = (await session.execute(
            select(Employer.name, Employer.phone, Employer.address))).all()
        addresses = list(await session.scalars(select(Job.address)))
    found = [value for row in [*workers, *employers] for value in row if value]
    found += [phone.removeprefix("+86") for phone in found if phone.startswith("+86")]
    assert len(found) > 6, "the demo market has people in it"
    return found + [a for a in addresses if a]


async def demo_employer(client) -> int:
    async with client.app[SESSIONS]() as session:
        return await session.scalar(
            select(Employer.id).where(Employer.verification == "verified").limit(1))


class Events:
    """Reads a text/event-stream response one event at a time."""

    def __init__(self, response):
        self.response = response
        self.retry: int | None = None

    async def next(self) -> dict:
        data = []
        while True:
            line = (await self.response.content.readline()).decode().rstrip("\n")
            if line.startswith("retry:"):
                self.retry = int(line.removeprefix("retry:"))
            elif line.startswith("data:"):
                data.append(line.removeprefix("data:").strip())
            elif not line and data:
                return json.loads("\n".join(data))


async def test_the_page_needs_no_login_and_shows_no_one(client):
    response = await client.get("/board")
    assert response.status == 200 and response.content_type == "text/html"
    page = await response.text()
    assert "运城零工市场" in page and "0359 212 3456" in page, "the market and its hotline"
    assert "焊工" in page and "元" in page, "the demo market's open jobs"
    for value in await personal_data(client):
        assert value not in page


async def test_the_stream_needs_no_login_and_sends_the_board_then_each_change(client):
    async with client.get("/board/events") as response:
        assert response.status == 200
        assert response.content_type == "text/event-stream"
        events = Events(response)
        first = await events.next()
        assert events.retry == 2000, "the page reconnects two seconds after a cut"
        before = {line["code"] for line in first["lines"]}
        assert first["today"]["jobs"] == str(len(before)), "the demo jobs, posted today"
        raw = json.dumps(first, ensure_ascii=False)
        for value in await personal_data(client):
            assert value not in raw
        posted = await client.post("/api/jobs", headers=AUTH, json=job_body(
            await demo_employer(client), await town_id(client),
            {"start_at": "2026-11-23T12:00:00"}))
        assert posted.status == 201
        code = (await posted.json())["code"]
        changed = await events.next()
    new = [line for line in changed["lines"] if line["code"] == code]
    assert [(line["trade"], line["remaining"], line["wage"], line["town"], line["start"])
            for line in new] == [("焊工", "4", "500元", "北城街道", "11月23日"),
                                 ("小工", "2", "200.50元", "北城街道", "11月23日")]
    assert int(changed["today"]["jobs"]) == int(first["today"]["jobs"]) + 1
    assert int(changed["open_slots"]) == int(first["open_slots"]) + 6


async def test_a_hostile_trade_shows_as_text_and_the_address_not_at_all(client):
    async with client.app[SESSIONS]() as session, session.begin():
        trade = await session.scalar(select(Trade).where(Trade.code == "welder"))
        trade.name = HOSTILE
    posted = await client.post("/api/jobs", headers=AUTH, json=job_body(
        await demo_employer(client), await town_id(client), {"address": HOSTILE}))
    assert posted.status == 201
    page = await (await client.get("/board")).text()
    assert HOSTILE not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert len(re.findall(r"<script\b", page)) == 1, "only the page's own board.js"


async def test_a_job_posted_through_another_instance_shows(client, aiohttp_client,
                                                           database_url, clock):
    """Two Gigline processes on one database: the board read from the second follows the
    jobs posted through the first (it reads the database, it does not hook our writes)."""
    other = await aiohttp_client(create_app(
        make_settings(database_url, 8081, GIGLINE_API_TOKENS=f"alice:{TOKEN}"), clock=clock))
    async with other.get("/board/events") as response:
        events = Events(response)
        first = await events.next()
        posted = await client.post("/api/jobs", headers=AUTH, json=job_body(
            await demo_employer(client), await town_id(client),
            {"start_at": "2026-11-23T12:00:00"}))
        code = (await posted.json())["code"]
        changed = await events.next()
    assert code not in {line["code"] for line in first["lines"]}
    assert code in {line["code"] for line in changed["lines"]}


async def test_lines_beyond_the_screen_are_counted_not_shown(client):
    trades = ["welder", "carpenter", "rebar", "electrician", "plumber", "mason", "painter",
              "labourer", "cleaner", "porter", "packer", "cook", "driver", "courier"]
    for some in (trades[:7], trades[7:]):  # as many lines as a job may have
        posted = await client.post("/api/jobs", headers=AUTH, json=job_body(
            await demo_employer(client), await town_id(client),
            {"lines": [{"trade": t, "headcount": 1, "day_wage_yuan": 300} for t in some]}))
        assert posted.status == 201, await posted.text()
    async with client.get("/board/events") as response:
        board = await Events(response).next()
    assert len(board["lines"]) == ROWS
    async with client.app[SESSIONS]() as session:
        all_lines = await session.scalar(select(func.count()).select_from(JobLine))
    assert board["more"] == str(all_lines - ROWS), "every line open: the demo's and these"
    page = await (await client.get("/board")).text()
    assert f'另有 <span data-field="more">{board["more"]}</span> 个岗位' in page
