"""Signed-in staff on the console's pages: the session cookie, the CSRF check on every
form, and who may open which page.

The cookie holds only a random key; the session itself is a row (console.accounts), so
that log-out and revoking an agent end it at once. It is HttpOnly (no script reads it),
SameSite=Lax (no other site's form posts with it), Secure when the public URL is https,
and scoped to /console (the API takes bearer tokens, never cookies). Every POST under
/console carries a `csrf` field equal to the session's token, or, before sign-in, to a
cookie set with the form (double submit): without it, 403."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlencode

import aiohttp_jinja2
from aiohttp import web

from console.accounts import Staff, staff_by_session
from console.deps import CONSOLE, ConsoleDeps
from console.http import STAFF
from market.jobs import MarketError
from prompts.catalogue import PAGE_LANGUAGES, PageText, load_page_text
from store.statuses import Role

PREFIX = "/console"
SESSION_COOKIE = "gigline_session"
LOGIN_CSRF_COOKIE = "gigline_login_csrf"  # before sign-in there is no session to hold one
LOGIN_PATH = f"{PREFIX}/login"
LANGUAGE_COOKIE = "gigline_language"

CSRF = web.RequestKey("csrf", str)
SESSION_KEY = web.RequestKey("session_key", str)

PageHandler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Page:
    """One of the console's pages. `role` None: open to all (the sign-in page alone)."""

    role: Role | None
    method: str
    path: str
    handler: PageHandler


def deps_of(request: web.Request) -> ConsoleDeps:
    return request.app[CONSOLE]


def set_cookie(request: web.Request, response: web.StreamResponse, name: str,
               value: str, *, max_age: int | None = None) -> None:
    response.set_cookie(name, value, path=PREFIX, httponly=True, samesite="Lax",
                        secure=deps_of(request).secure_cookies, max_age=max_age)


def forget_cookie(request: web.Request, response: web.StreamResponse, name: str) -> None:
    response.del_cookie(name, path=PREFIX, secure=deps_of(request).secure_cookies,
                        httponly=True, samesite="Lax")


def login_csrf(request: web.Request) -> str:
    """The sign-in form's token: the one its cookie holds, or a new one (the handler sets
    the cookie with the form)."""
    return request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(32)


def words_of(request: web.Request) -> PageText:
    """The pages' words in the language the browser chose (its cookie), Chinese unless
    it chose another."""
    chosen = request.cookies.get(LANGUAGE_COOKIE)
    return load_page_text(chosen if chosen in PAGE_LANGUAGES else PAGE_LANGUAGES[0])


def render(request: web.Request, template: str, context: dict,
           status: int = 200) -> web.Response:
    """A page in the browser's language: every template gets `t` (a text by id), `yuan`
    (an amount in fen, written out), `word` (a stored status or other code, said),
    `said` (why a rule refused) and the language."""
    words = words_of(request)
    return aiohttp_jinja2.render_template(template, request, {
        "t": words.text, "yuan": words.yuan, "word": words.word, "lang": words.language,
        "said": lambda refused: rule_says(request, refused),
        "languages": PAGE_LANGUAGES, "here": request.path_qs, **context}, status=status)


def refuse(request: web.Request, status: int, key: str, **params: object) -> web.Response:
    """The refusal page, saying the text `key` in the browser's language."""
    return render(request, "refused.html", {"reason": words_of(request).text(key, **params)},
                  status)


def rule_says(request: web.Request, refused: MarketError) -> str:
    """Why a rule refused, in the browser's language."""
    return words_of(request).text(f"rule.{refused.says}", **refused.params)


def refuse_rule(request: web.Request, status: int, refused: MarketError) -> web.Response:
    return refuse(request, status, "refused.rule", field=refused.field,
                  reason=rule_says(request, refused))


def page_middleware(pages: tuple[Page, ...]):
    roles = {(page.method, page.path): page.role for page in pages}

    @web.middleware
    async def middleware(request: web.Request, handler):
        if request.path != PREFIX and not request.path.startswith(PREFIX + "/"):
            return await handler(request)
        deps = deps_of(request)
        key = request.cookies.get(SESSION_COOKIE)
        if key:
            async with deps.desk.sessions() as session:
                found = await staff_by_session(session, key, deps.clock())
            if found is not None:
                request[STAFF], request[CSRF] = found
                request[SESSION_KEY] = key
        if request.method == "POST" and not await _csrf_ok(request):
            return refuse(request, 403, "refused.form_expired")
        resource = request.match_info.route.resource
        path = resource.canonical if resource is not None else request.path  # /x/{id}
        role = roles.get((request.method, path), Role.AGENT)  # unknown: still guarded
        staff: Staff | None = request.get(STAFF)
        if role is not None and staff is None:
            if request.method == "GET":
                raise web.HTTPSeeOther(f"{LOGIN_PATH}?{urlencode({'next': request.path})}")
            return refuse(request, 401, "refused.sign_in_first")
        if role is not None and not staff.role.allows(role):
            words = words_of(request)
            return refuse(request, 403, "refused.role", role=words.word("role", role),
                          name=staff.name, has=words.word("role", staff.role))
        response = await handler(request)
        # Pages show personal data: no shared cache keeps them, and no other site frames
        # them (a framed form could be clicked unknowingly).
        response.headers.setdefault("Cache-Control", "no-store")
        response.headers.setdefault("X-Frame-Options", "DENY")
        return response

    return middleware


async def _csrf_ok(request: web.Request) -> bool:
    form = await request.post()  # read once; handlers get it again from aiohttp's cache
    sent = form.get("csrf")
    expected = (request.cookies.get(LOGIN_CSRF_COOKIE) if request.path == LOGIN_PATH
                else request.get(CSRF))
    return (isinstance(sent, str) and bool(expected)
            and hmac.compare_digest(sent.encode(), expected.encode()))


def staff_of(request: web.Request) -> Staff:
    return request[STAFF]
