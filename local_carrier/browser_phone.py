"""The browser phone: a page for a person trying the hotline with no carrier, served by the
local carrier on its own port (so it exists only where the local carrier runs: never
beside Twilio). Two simulated phones, a worker's and an employer's, each with a keypad, the
prompts as text (and spoken by the browser), a record button, a microphone for a hotline
with speech on (static/microphone.js encodes it as Media Streams carry it) and an SMS
thread; they work through the phone routes (rest_phones.py), like `gigline call`.

The page and its script are static files (static/): nothing a caller or the hotline wrote
is put into HTML on the server, and the script shows it with textContent only. The
Content-Security-Policy keeps to that: scripts from this origin only, none inline.
"""

from pathlib import Path

from aiohttp import web

from .rest_phones import PHONE_ROUTE

STATIC = Path(__file__).parent / "static"
PAGE_PATH = "/phone"
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; object-src 'none'; base-uri 'none'; "
                               "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",  # a reload after an update gets the new script
}


def add_browser_phone_routes(app: web.Application) -> None:
    # Named under PHONE_ROUTE: no account credentials, no injected REST faults (rest.py).
    app.router.add_get(PAGE_PATH, _page, name=f"{PHONE_ROUTE}-page")
    app.router.add_get(f"{PAGE_PATH}/{{name:(phone\\.(js|css)|microphone\\.js)}}", _asset,
                       name=f"{PHONE_ROUTE}-asset")


async def _page(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "phone.html", headers=SECURITY_HEADERS | {
        "Content-Type": "text/html; charset=utf-8"})


async def _asset(request: web.Request) -> web.FileResponse:
    name = request.match_info["name"]
    # The script holds Chinese text: say its charset rather than leave it to the browser.
    kind = "text/javascript" if name.endswith(".js") else "text/css"
    return web.FileResponse(STATIC / name, headers=SECURITY_HEADERS | {
        "Content-Type": f"{kind}; charset=utf-8"})
