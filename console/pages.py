"""The staff's pages: server-rendered with Jinja2 (autoescape on, so a name holding
`<script>` shows as text), static files vendored under console/static/ (no CDN at run
time, no build step)."""

from __future__ import annotations

from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web

from console.session import page_middleware
from console.staff_pages import PAGES

STATIC = Path(__file__).parent / "static"


def setup(app: web.Application) -> None:
    aiohttp_jinja2.setup(app, loader=jinja2.PackageLoader("console", "templates"),
                         autoescape=jinja2.select_autoescape(default=True))
    app.router.add_static("/static/", STATIC, name="static")
    # Staff pages: each row says who may open it; the middleware signs staff in and
    # checks the role and every form's CSRF token before any handler runs.
    app.middlewares.append(page_middleware(PAGES))
    for page in PAGES:
        app.router.add_route(page.method, page.path, page.handler)
