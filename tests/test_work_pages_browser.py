"""The agents' working pages in real headless Chromium: register a walk-in at the window
and see the look at their file in the audit log, verify an employer as a supervisor (an
agent is not offered it), ring a waiting caller back, compose a job with its preview and
watch its lines fill without reloading, and read the dashboard's charts."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from console.accounts import add_agent
from gigline.app import create_app
from gigline.keys import DESK, SESSIONS
from market import cases, jobs
from market.waves import run_waves
from store.models import CallbackRequest, Worker
from store.statuses import Role
from tests.browser import browser_fixture, page_fixture, screenshot  # noqa: F401 (fixtures)
from tests.conftest import make_settings
from tests.test_console_browser import PASSWORD, sign_in

VALID_ID = "11010519491231002X"


async def served(aiohttp_client, database_url, clock):
    client = await aiohttp_client(create_app(
        make_settings(database_url, 8080, GIGLINE_DEMO="0"), clock=clock))
    async with client.app[SESSIONS]() as session, session.begin():
        await add_agent(session, "王主管", Role.SUPERVISOR, PASSWORD, now=clock())
        await add_agent(session, "李坐席", Role.AGENT, PASSWORD, now=clock())
    return client, str(client.make_url("")).rstrip("/")


async def sign_out(page) -> None:
    await page.click("text=退出")
    await page.wait_for_url("**/console/login")


async def register_walk_in(page, base: str, phone: str, name: str, trade: str) -> str:
    await page.goto(f"{base}/console/workers/new")
    await page.fill("input[name=phone]", phone)
    await page.fill("input[name=name]", name)
    await page.check(f"input[name=trades][value={trade}]")
    await page.select_option("select[name=town_id]", label="北城街道")
    await page.fill("input[name=day_wage_yuan]", "300")
    await page.select_option("select[name=availability]", "today")
    await page.select_option("select[name=alert_channel]", "sms")
    await page.fill("input[name=id_number]", VALID_ID)
    await page.click("text=保存")
    await page.wait_for_url("**/console/workers/*")
    return await page.text_content("#number")


async def test_a_walk_in_s_file_looked_at_shows_in_the_audit_log(
        aiohttp_client, database_url, clock, page):
    _, base = await served(aiohttp_client, database_url, clock)
    await sign_in(page, base, "李坐席")
    number = await register_walk_in(page, base, "13800000009", "<b>赵大姐</b>", "cleaner")
    assert await page.text_content("#phone") == "+8613800000009"
    assert await page.locator("h1 b").count() == 0, "a name is text, not markup"
    await page.goto(f"{base}/console/workers")
    await page.fill("input[name=q]", "13800000009")
    await page.click("text=查找")
    await page.wait_for_selector(f"#found >> text={number}")
    assert "138****0009" in await page.text_content("#found")
    await page.click(f"#found >> text={number}")
    await page.wait_for_url("**/console/workers/*")
    await screenshot(page, "console-worker")
    await sign_out(page)
    await sign_in(page, base, "王主管")
    await page.goto(f"{base}/console/audit?agent=李坐席")
    audit = await page.text_content("#audit")
    assert "worker_viewed" in audit and "consent_given" in audit


async def test_a_supervisor_verifies_an_employer_an_agent_cannot(
        aiohttp_client, database_url, clock, page):
    client, base = await served(aiohttp_client, database_url, clock)
    async with client.app[SESSIONS]() as session, session.begin():
        employer = await jobs.register_employer(
            session, market_id=client.app[DESK].market_id, name="安居建筑劳务",
            phone="+8613900000001", address="运城", credit_code="91140802MA0K000005",
            agent="李坐席", now=clock())
        employer_id = employer.id
    await sign_in(page, base, "李坐席")
    await page.goto(f"{base}/console/employers/{employer_id}")
    assert await page.locator("#verify").count() == 0
    await sign_out(page)
    await sign_in(page, base, "王主管")
    await page.goto(f"{base}/console/employers/{employer_id}")
    await page.select_option("#verify select[name=state]", "verified")
    await page.fill("#verify input[name=checked]", "营业执照原件，现场核实")
    await page.click("#verify >> text=保存")
    await page.wait_for_selector("#verification >> text=已核验")
    assert "现场核实" in await page.text_content("#verification-note")


async def test_a_waiting_caller_is_rung_back(aiohttp_client, database_url, clock, page):
    client, base = await served(aiohttp_client, database_url, clock)
    async with client.app[SESSIONS]() as session, session.begin():
        session.add(CallbackRequest(phone="+8613800000005", call_sid="CA5",
                                    reason="agent_requested", created_at=clock()))
    await sign_in(page, base, "李坐席")
    await page.click("text=待回电")
    await page.wait_for_selector("#queue >> text=+8613800000005")
    await page.fill("#queue input[name=note]", "已回电")
    await page.click("#queue >> text=已回电")
    await page.wait_for_selector("#queue >> text=没有人在等")


async def test_a_job_is_previewed_published_on_the_board_and_fills_before_the_agent_s_eyes(
        aiohttp_client, database_url, clock, page):
    client, base = await served(aiohttp_client, database_url, clock)
    desk = client.app[DESK]
    async with client.app[SESSIONS]() as session, session.begin():
        employer = await jobs.register_employer(
            session, market_id=desk.market_id, name="安居建筑劳务", phone="+8613900000001",
            address="运城", credit_code="91140802MA0K000005", agent="王主管", now=clock())
        await jobs.set_verification(session, employer.id, state="verified", checked="执照",
                                    agent="王主管", now=clock())
    await sign_in(page, base, "李坐席")
    await register_walk_in(page, base, "13800000001", "王师傅", "welder")
    await page.goto(f"{base}/console/jobs/new")
    await page.select_option("select[name=town_id]", label="北城街道")
    await page.fill("input[name=address]", "河东东街88号工地")
    await page.fill("input[name=start_day]", (clock() + timedelta(days=1)).date().isoformat())
    await page.fill("input[name=days]", "3")
    await page.select_option("select[name=trade_0]", "welder")
    await page.fill("input[name=headcount_0]", "1")
    await page.fill("input[name=wage_0]", "500")
    await page.click("text=预览匹配")
    await page.wait_for_selector("#preview >> text=北城街道")
    await screenshot(page, "console-job-preview")
    board = await page.context.new_page()  # the hall's screen, open before the job exists
    await board.goto(f"{base}/board")
    assert await board.locator("#lines tr").count() == 0
    await page.click("button[value=publish]")
    await page.wait_for_url("**/console/jobs/*")
    await board.wait_for_selector("#lines >> text=焊工", timeout=3000)  # no reload
    assert "500" in await board.text_content("#lines")
    offered = page.locator("#lines [data-field=offered]")
    assert await offered.text_content() == "0"
    await run_waves(desk, clock())  # the scheduler's wave, run here
    await page.wait_for_function(
        "document.querySelector('#lines [data-field=offered]').textContent === '1'",
        timeout=5000)
    assert await page.text_content("[data-field=waves_sent]") == "1"


async def test_the_dashboard_draws_its_charts(aiohttp_client, database_url, clock, page):
    _, base = await served(aiohttp_client, database_url, clock)
    await sign_in(page, base, "李坐席")
    await register_walk_in(page, base, "13800000009", "赵大姐", "cleaner")
    await page.goto(f"{base}/console/dashboard")
    await page.wait_for_selector("body[data-charts-drawn=yes]")
    assert await page.text_content("[data-total=registrations]") == "1"
    assert await page.locator("canvas").count() == 3
    await screenshot(page, "console-dashboard")


async def test_the_rights_desk_works_a_case(aiohttp_client, database_url, clock, page):
    client, base = await served(aiohttp_client, database_url, clock)
    await sign_in(page, base, "李坐席")
    await register_walk_in(page, base, "13800000002", "孙师傅", "welder")
    async with client.app[SESSIONS]() as session, session.begin():
        worker = await session.scalar(select(Worker).where(Worker.phone == "+8613800000002"))
        case = await cases.report_by_worker(
            session, worker, amount_fen=80000, via="worker_sms", now=clock(),
            catalogue=client.app[DESK].catalogue, hold_employer=True)
    await page.click("text=维权")
    await page.click(f"#cases >> text={case.id}")
    await page.wait_for_url(f"**/console/cases/{case.id}")
    await page.select_option("#act select[name=action]", "assign")
    await page.click("#act >> text=提交")
    await page.wait_for_selector("#assigned >> text=李坐席")
    await page.select_option("#act select[name=action]", "recovered")
    await page.fill("#act input[name=amount_yuan]", "800")
    await page.fill("#act input[name=note]", "老板已付清")
    await page.click("#act >> text=提交")
    await page.wait_for_selector("#timeline >> text=老板已付清")
    assert "800元 / 800元" in await page.text_content("#amounts")
    await screenshot(page, "console-case")
