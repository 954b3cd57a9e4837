"""The console's own pages: sign in, sign out, the signed-in landing page, and the audit
log for supervisors. PAGES says who may open each; console.session enforces it, and
tests/test_sign_in.py opens every row without a session and with a smaller role."""

from __future__ import annotations

from urllib.parse import SplitResult, urlsplit, urlunsplit
from zoneinfo import ZoneInfo

from aiohttp import web

from console import audit, work_pages
from console.accounts import SESSION_FOR, SignInRefused, sign_in, sign_out
from console.http import BadRequest
from console.session import (
    CSRF,
    LANGUAGE_COOKIE,
    LOGIN_CSRF_COOKIE,
    LOGIN_PATH,
    PREFIX,
    SESSION_COOKIE,
    SESSION_KEY,
    Page,
    deps_of,
    forget_cookie,
    login_csrf,
    refuse,
    render,
    set_cookie,
    staff_of,
    words_of,
)
from prompts.catalogue import PAGE_LANGUAGES
from store.statuses import Role


def _ours(target: str) -> SplitResult | None:
    """`target`, if it is a console page of ours (no open redirect)."""
    parts = urlsplit(target)
    ours = parts.path == PREFIX or parts.path.startswith(PREFIX + "/")
    if parts.scheme or parts.netloc or "\\" in parts.path or not ours:
        return None
    return parts


def _next(target: str) -> str:
    """Where to go after signing in: a console page of ours other than the sign-in."""
    parts = _ours(target)
    return PREFIX if parts is None or parts.path.startswith(LOGIN_PATH) else parts.path


LANGUAGE_KEPT = 365 * 24 * 3600  # seconds: a browser at the window keeps its language


async def choose_language(request: web.Request) -> web.StreamResponse:
    """The pages' language, kept in a cookie of this browser; back to the page it was
    chosen on."""
    chosen = request.query.get("to", "")
    if chosen not in PAGE_LANGUAGES:
        return refuse(request, 400, "refused.no_language")
    back = _ours(request.query.get("next", ""))
    response = web.HTTPSeeOther(PREFIX if back is None else
                                urlunsplit(("", "", back.path, back.query, "")))
    set_cookie(request, response, LANGUAGE_COOKIE, chosen, max_age=LANGUAGE_KEPT)
    raise response


async def login_form(request: web.Request) -> web.StreamResponse:
    return _login_page(request, "", request.query.get("next", PREFIX), status=200)


def _login_page(request: web.Request, message: str, target: str, *, status: int,
                name: str = "") -> web.StreamResponse:
    token = login_csrf(request)
    response = render(request, "login.html", {"message": message, "next": _next(target),
                                              "name": name, "csrf": token}, status)
    set_cookie(request, response, LOGIN_CSRF_COOKIE, token)
    return response


async def login(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    name, password = str(form.get("name", "")), str(form.get("password", ""))
    deps = deps_of(request)
    # Caught inside the transaction, a refusal is committed too: it counts to the lock.
    async with deps.desk.sessions() as session, session.begin():
        try:
            staff, key, _ = await sign_in(session, name, password, now=deps.clock())
        except SignInRefused as refused:
            staff, key = None, ""
            reason = words_of(request).text(refused.says, **refused.params)
    if staff is None:
        return _login_page(request, reason, str(form.get("next", PREFIX)), status=401,
                           name=name)
    response = web.HTTPSeeOther(_next(str(form.get("next", PREFIX))))
    set_cookie(request, response, SESSION_COOKIE, key,
               max_age=int(SESSION_FOR.total_seconds()))
    forget_cookie(request, response, LOGIN_CSRF_COOKIE)
    raise response


async def logout(request: web.Request) -> web.StreamResponse:
    async with deps_of(request).desk.sessions() as session, session.begin():
        await sign_out(session, request[SESSION_KEY])
    response = web.HTTPSeeOther(LOGIN_PATH)
    forget_cookie(request, response, SESSION_COOKIE)
    raise response


async def landing(request: web.Request) -> web.StreamResponse:
    return render(request, "console.html", {
        "staff": staff_of(request), "csrf": request[CSRF],
        "supervisor": staff_of(request).role is Role.SUPERVISOR})


async def audit_page(request: web.Request) -> web.StreamResponse:
    desk = deps_of(request).desk
    try:
        wanted = audit.AuditFilter.of(request.query)
    except BadRequest as bad:
        return refuse(request, 400, "refused.invalid", field=bad.field, reason=bad.reason)
    async with desk.sessions() as session:
        entries = await audit.read(session, wanted, desk.timezone)
    zone = ZoneInfo(desk.timezone)
    return render(request, "audit.html", {
        "staff": staff_of(request), "csrf": request[CSRF], "wanted": wanted,
        "entries": entries, "page": audit.PAGE,
        "local": lambda at: at.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")})


PAGES: tuple[Page, ...] = (
    Page(None,            "GET",  LOGIN_PATH, login_form),
    Page(None,            "POST", LOGIN_PATH, login),
    Page(None,            "GET",  f"{PREFIX}/language", choose_language),
    Page(Role.AGENT,      "POST", f"{PREFIX}/logout", logout),
    Page(Role.AGENT,      "GET",  PREFIX, landing),
    Page(Role.SUPERVISOR, "GET",  f"{PREFIX}/audit", audit_page),
    *work_pages.PAGES,
)
