"""The staff's pages: server-rendered with Jinja2 (autoescape on, so a name holding
`<script>` shows as text), static files vendored under console/static/ (no CDN at run
time, no build step)."""

from __future__ import annotations

from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web

STATIC = Path(__file__).parent / "static"


def setup(app: web.Application) -> None:
    aiohttp_jinja2.setup(app, loader=jinja2.PackageLoader("console", "templates"),
                         autoescape=jinja2.select_autoescape(default=True))
    app.router.add_static("/static/", STATIC, name="static")
