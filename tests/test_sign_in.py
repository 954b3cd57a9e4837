"""Staff sign in to the console: the session cookie's flags, CSRF on every form, the
lock-out that tells no one which names exist, sign-out and revocation ending the session
on the server, and every page refusing the signed-out and the wrong role (generated from
console.staff_pages.PAGES, so a new page cannot skip it)."""

from __future__ import annotations

import asyncio
import re
from http.cookies import SimpleCookie
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from console.accounts import LOCK_AFTER, LOCK_MINUTES, LOCKED, WRONG, add_agent, revoke
from console.staff_pages import PAGES
from gigline.app import create_app
from gigline.cli import main
from gigline.keys import SESSIONS
from prompts.catalogue import load_page_text
from store.db import make_engine
from store.models import AuditEntry
from store.statuses import Role
from tests.conftest import make_settings

PASSWORD = "correct horse battery"
CHINESE = load_page_text("zh-CN")  # what the pages say unless a browser chose English
LOCKED_TEXT = CHINESE.text(LOCKED, tries=LOCK_AFTER, minutes=LOCK_MINUTES)


async def app_client(aiohttp_client, database_url, clock, public_url=None):
    overrides = {"GIGLINE_PUBLIC_URL": public_url} if public_url else {}
    client = await aiohttp_client(create_app(
        make_settings(database_url, 8080, GIGLINE_DEMO="0", **overrides), clock=clock))
    async with client.app[SESSIONS]() as session, session.begin():
        await add_agent(session, "wang", Role.SUPERVISOR, PASSWORD, now=clock())
        await add_agent(session, "li", Role.AGENT, PASSWORD, now=clock())
        await add_agent(session, "<script>alert(1)</script>", Role.AGENT, PASSWORD,
                        now=clock())
    return client


@pytest.fixture
async def client(aiohttp_client, database_url, clock):
    return await app_client(aiohttp_client, database_url, clock)


def form_token(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html)[1]


async def sign_in(client, name: str, password: str = PASSWORD, *, csrf: bool = True,
                  next_: str = "/console"):
    token = form_token(await (await client.get("/console/login")).text())
    data = {"name": name, "password": password, "next": next_}
    if csrf:
        data["csrf"] = token
    return await client.post("/console/login", data=data, allow_redirects=False)


def set_cookies(response) -> dict[str, SimpleCookie]:
    found = {}
    for header in response.headers.getall("Set-Cookie", []):
        cookie = SimpleCookie(header)
        found.update(dict.fromkeys(cookie, cookie))
    return found


async def test_signing_in_sets_a_locked_down_cookie_and_shows_who_and_role(client):
    signed = await sign_in(client, "wang")
    assert signed.status == 303 and signed.headers["Location"] == "/console"
    morsel = set_cookies(signed)["gigline_session"]["gigline_session"]
    assert morsel["httponly"] and morsel["samesite"] == "Lax" and morsel["path"] == "/console"
    assert not morsel["secure"], "http: the browser would never send it back"
    page = await client.get("/console")
    html = await page.text()
    assert page.status == 200 and 'id="staff-name">wang<' in html and "supervisor" in html
    assert page.headers["Cache-Control"] == "no-store"
    assert page.headers["X-Frame-Options"] == "DENY"


async def test_behind_https_the_cookie_is_secure(aiohttp_client, database_url, clock):
    client = await app_client(aiohttp_client, database_url, clock,
                              public_url="https://127.0.0.1:8443")
    form = await client.get("/console/login")
    login_cookie = set_cookies(form)["gigline_login_csrf"]["gigline_login_csrf"]
    assert login_cookie["secure"] and login_cookie["httponly"]
    # The test client speaks http, so it would not send a Secure cookie back: we do.
    signed = await client.post(
        "/console/login", allow_redirects=False,
        headers={"Cookie": f"gigline_login_csrf={login_cookie.value}"},
        data={"name": "li", "password": PASSWORD, "csrf": form_token(await form.text())})
    assert set_cookies(signed)["gigline_session"]["gigline_session"]["secure"]


async def test_a_name_is_text_on_the_page_never_markup(client):
    await sign_in(client, "<script>alert(1)</script>")
    html = await (await client.get("/console")).text()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


@pytest.mark.parametrize("name, password", [("wang", "wrong password"),
                                            ("nobody", PASSWORD), ("", "")])
async def test_a_bad_sign_in_says_the_same_whoever_it_names(client, name, password):
    refused = await sign_in(client, name, password)
    assert refused.status == 401 and CHINESE.text(WRONG) in await refused.text()
    assert "gigline_session" not in set_cookies(refused)
    assert (await client.get("/console", allow_redirects=False)).status == 303


@pytest.mark.parametrize("name", ["li", "nobody"])
async def test_five_failures_lock_the_name_for_fifteen_minutes(client, clock, name):
    for attempt in range(1, 6):
        refused = await sign_in(client, name, f"wrong {attempt}")
        assert (LOCKED_TEXT if attempt == 5 else CHINESE.text(WRONG)) in await refused.text(), \
            attempt
    clock.advance(minutes=14)
    locked = await sign_in(client, name)
    assert locked.status == 401 and LOCKED_TEXT in await locked.text(), \
        "the right password too, and an unknown name alike"
    assert (await sign_in(client, "wang")).status == 303, "per name: others still sign in"
    clock.advance(minutes=1, seconds=1)
    after = await sign_in(client, name)
    assert after.status == (303 if name == "li" else 401)


async def test_signing_out_ends_the_session_on_the_server(client):
    signed = await sign_in(client, "li")
    key = set_cookies(signed)["gigline_session"]["gigline_session"].value
    landing = await (await client.get("/console")).text()
    out = await client.post("/console/logout", data={"csrf": form_token(landing)},
                            allow_redirects=False)
    assert out.status == 303 and out.headers["Location"] == "/console/login"
    assert set_cookies(out)["gigline_session"]["gigline_session"].value == ""
    replayed = await client.get("/console", allow_redirects=False,
                                headers={"Cookie": f"gigline_session={key}"})
    assert replayed.status == 303, "the old cookie opens nothing"


async def test_revoking_an_agent_ends_their_sessions(client, clock):
    await sign_in(client, "li")
    assert (await client.get("/console")).status == 200
    async with client.app[SESSIONS]() as session, session.begin():
        await revoke(session, "li", now=clock())
    assert (await client.get("/console", allow_redirects=False)).status == 303
    assert (await sign_in(client, "li")).status == 401


async def test_a_session_expires_after_a_working_day(client, clock):
    await sign_in(client, "li")
    clock.advance(hours=12, seconds=1)
    assert (await client.get("/console", allow_redirects=False)).status == 303


@pytest.mark.parametrize("token", [None, "forged", ""])
async def test_every_form_refuses_a_post_without_its_csrf_token(client, token):
    data = {"name": "wang", "password": PASSWORD}
    if token is not None:
        data["csrf"] = token
    await client.get("/console/login")  # the cookie half of the pair is set
    assert (await client.post("/console/login", data=data)).status == 403
    await sign_in(client, "wang")
    out = await client.post("/console/logout", data=data, allow_redirects=False)
    assert out.status == 403
    assert (await client.get("/console")).status == 200, "still signed in"


async def test_the_sign_in_token_of_another_browser_is_refused(client):
    other = form_token(await (await client.get("/console/login")).text())
    client.session.cookie_jar.clear()
    refused = await client.post("/console/login", data={
        "name": "wang", "password": PASSWORD, "csrf": other})
    assert refused.status == 403


async def test_after_sign_in_only_our_own_pages_are_gone_to(client):
    for elsewhere in ("https://evil.example/console", "//evil.example/console",
                      "/console\\..\\evil", "/consoles", "/console/login"):
        signed = await sign_in(client, "wang", next_=elsewhere)
        assert signed.headers["Location"] == "/console", elsewhere
    signed = await sign_in(client, "wang", next_="/console/audit")
    assert signed.headers["Location"] == "/console/audit"


GUARDED = [page for page in PAGES if page.role is not None]


def concrete(path: str) -> str:
    """A page of one record: record 1 stands for any."""
    return path.replace("{id}", "1")


@pytest.mark.parametrize("page", GUARDED, ids=lambda p: f"{p.method} {p.path}")
async def test_every_page_refuses_the_signed_out(client, page):
    response = await client.request(page.method, concrete(page.path), allow_redirects=False)
    if page.method == "GET":
        assert response.status == 303
        sent_to = urlsplit(response.headers["Location"])
        assert sent_to.path == "/console/login"
        assert parse_qs(sent_to.query) == {"next": [concrete(page.path)]}
    else:
        assert response.status in (401, 403)


@pytest.mark.parametrize("page", [p for p in GUARDED if p.role is Role.SUPERVISOR],
                         ids=lambda p: f"{p.method} {p.path}")
async def test_every_supervisors_page_refuses_an_agent(client, page):
    await sign_in(client, "li")
    landing = await (await client.get("/console")).text()
    response = await client.request(page.method, concrete(page.path), allow_redirects=False,
                                    data={"csrf": form_token(landing)})
    assert response.status == 403 and "只有主管可以打开这一页" in await response.text()
    await sign_in(client, "wang")
    landing = await (await client.get("/console")).text()
    let_in = await client.request(page.method, concrete(page.path), allow_redirects=False,
                                  data={"csrf": form_token(landing)})
    # A page opens; a form reaches its handler, which judges the (empty) form itself.
    assert let_in.status == 200 if page.method == "GET" else let_in.status not in (401, 403)


async def test_the_supervisor_reads_the_audit_page_filtered(client, clock):
    await sign_in(client, "wang")
    async with client.app[SESSIONS]() as session, session.begin():
        session.add_all([
            AuditEntry(at=clock(), actor="li", action="case_viewed", subject="case:7",
                       detail={}),
            AuditEntry(at=clock(), actor="wang", action="employer_verified",
                       subject="employer:3", detail={"checked": "<b>执照</b>"})])
    html = await (await client.get("/console/audit")).text()
    assert "case:7" in html and "employer:3" in html and "<b>执照" not in html
    html = await (await client.get("/console/audit?agent=li")).text()
    assert "case:7" in html and "employer:3" not in html
    html = await (await client.get("/console/audit?subject=employer")).text()
    assert "case:7" not in html and "employer:3" in html
    assert (await client.get("/console/audit?from=soon")).status == 400


async def cli(*args: str) -> int:
    return await asyncio.to_thread(main, ["agents", *args])


async def test_the_agents_commands_add_issue_list_and_revoke(database_url, monkeypatch,
                                                              capsys):
    monkeypatch.setenv("GIGLINE_DATABASE_URL", database_url)
    assert await cli("add", "zhao", "--role", "supervisor") == 0
    added = capsys.readouterr().out
    assert re.search(r"zhao \(supervisor\) added; password: \S{16} \(shown once\)", added)
    assert await cli("add", "zhao") == 2 and "already" in capsys.readouterr().err
    assert await cli("add", "42") == 2, "a name that reads as a token id"
    assert await cli("token", "zhao") == 0
    token_id, token = re.search(r"token (\d+) for zhao: (glt_\S+)", capsys.readouterr().out
                                ).groups()
    assert await cli("list") == 0
    assert re.search(r"zhao\tsupervisor\tactive\t1 token", capsys.readouterr().out)
    assert await cli("revoke", token_id) == 0
    assert await cli("revoke", token_id) == 2, "once"
    capsys.readouterr()
    assert await cli("revoke", "zhao") == 0
    assert await cli("list") == 0
    assert re.search(r"zhao\tsupervisor\trevoked\t0 token", capsys.readouterr().out)
    assert await cli("token", "zhao") == 2 and await cli("token", "nobody") == 2
    assert token not in capsys.readouterr().out
    engine = make_engine(database_url)
    try:
        async with engine.connect() as conn:
            done = (await conn.execute(select(AuditEntry.actor, AuditEntry.action)
                                       .order_by(AuditEntry.id))).all()
    finally:
        await engine.dispose()
    assert done == [("cli", "agent_added"), ("cli", "token_issued"), ("cli", "token_revoked"),
                    ("cli", "agent_revoked")]


async def test_the_pages_speak_chinese_until_a_browser_chooses_english(client):
    await sign_in(client, "li")
    chinese = await (await client.get("/console/workers")).text()
    assert 'lang="zh-CN"' in chinese and "退出" in chinese and "Sign out" not in chinese
    chosen = await client.get("/console/language",
                              params={"to": "en", "next": "/console/workers?q=138"},
                              allow_redirects=False)
    assert chosen.status == 303 and chosen.headers["Location"] == "/console/workers?q=138"
    english = await (await client.get("/console/workers")).text()
    assert 'lang="en"' in english and "Sign out" in english and "退出" not in english
    refused = await client.get("/console/audit")  # li is an agent
    assert refused.status == 403 and "Only a supervisor may open this page" in \
        await refused.text()
    assert "li · agent" in english, "the staff bar says the role in English too"

    elsewhere = await client.get("/console/language",
                                 params={"to": "en", "next": "https://evil.example/"},
                                 allow_redirects=False)
    assert elsewhere.headers["Location"] == "/console", "no open redirect"
    unknown = await client.get("/console/language", params={"to": "fr"})
    assert unknown.status == 400
