"""The console in real headless Chromium: sign in, the landing page, sign out; the audit
page open to a supervisor and refused to an agent. Screenshots go to docs/screenshots/."""

from __future__ import annotations

from console.accounts import add_agent
from gigline.app import create_app
from gigline.keys import SESSIONS
from store.models import AuditEntry
from store.statuses import Role
from tests.browser import browser_fixture, page_fixture, screenshot  # noqa: F401 (fixtures)
from tests.conftest import make_settings

PASSWORD = "correct horse battery"


async def served(aiohttp_client, database_url, clock) -> str:
    client = await aiohttp_client(create_app(
        make_settings(database_url, 8080, GIGLINE_DEMO="0"), clock=clock))
    async with client.app[SESSIONS]() as session, session.begin():
        await add_agent(session, "王主管", Role.SUPERVISOR, PASSWORD, now=clock())
        await add_agent(session, "李坐席", Role.AGENT, PASSWORD, now=clock())
        session.add(AuditEntry(at=clock(), actor="李坐席", action="case_viewed",
                               subject="case:7", detail={}))
    return str(client.make_url("")).rstrip("/")


async def sign_in(page, base: str, name: str) -> None:
    await page.goto(f"{base}/console")
    assert page.url.startswith(f"{base}/console/login"), "signed out: sent to sign in"
    await page.fill("input[name=name]", name)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url(f"{base}/console")


async def test_an_agent_signs_in_sees_the_landing_page_and_signs_out(
        aiohttp_client, database_url, clock, page):
    base = await served(aiohttp_client, database_url, clock)
    await sign_in(page, base, "李坐席")
    assert await page.text_content("#staff-name") == "李坐席"
    assert await page.text_content("#staff-role") == "agent"
    await screenshot(page, "console-landing")
    cookies = {c["name"]: c for c in await page.context.cookies()}
    assert cookies["gigline_session"]["httpOnly"]
    assert await page.evaluate("document.cookie") == "", "no script reads the session"
    await page.goto(f"{base}/console/audit")
    assert "只有主管" in await page.text_content(".refusal"), "an agent is refused"
    await page.goto(f"{base}/console")
    await page.click("text=退出")
    await page.wait_for_url(f"{base}/console/login")
    await page.goto(f"{base}/console")
    assert page.url.startswith(f"{base}/console/login"), "signed out for good"


async def test_a_supervisor_reads_the_audit_page(
        aiohttp_client, database_url, clock, page):
    base = await served(aiohttp_client, database_url, clock)
    await sign_in(page, base, "王主管")
    await page.click("text=审计日志")
    await page.wait_for_url(f"{base}/console/audit")
    assert "case:7" in await page.text_content("#audit")
    await page.fill("input[name=agent]", "王主管")
    await page.click("text=筛选")
    await page.wait_for_url(f"{base}/console/audit?*")
    assert "没有记录" in await page.text_content("#audit")
    await page.fill("input[name=agent]", "李坐席")
    await page.click("text=筛选")
    await page.wait_for_selector("text=case:7")
    await screenshot(page, "console-audit")
