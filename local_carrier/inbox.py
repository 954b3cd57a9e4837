"""A page listing every SMS the local carrier carried, newest first: what a person trying
the demo would otherwise have to fish out of the REST API. Loopback only, like the
carrier itself; every value is escaped."""

from html import escape

from aiohttp import web

from .sms_center import SmsCenter

PAGE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>本地短信 · Local carrier SMS</title>
<style>body{{font-family:sans-serif;margin:1em}}td,th{{padding:.2em .6em;text-align:left;
vertical-align:top}}tr:nth-child(even){{background:#f4f4f4}}</style></head>
<body><h1>本地短信 Local carrier SMS ({count})</h1>
<table><tr><th>时间 created (UTC)</th><th>方向 direction</th><th>从 from</th><th>到 to</th>
<th>状态 status</th><th>内容 body</th></tr>
{rows}
</table></body></html>
"""
ROW = "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>"


def inbox_handler(sms: SmsCenter):
    async def inbox(request: web.Request) -> web.Response:
        messages = sms.messages()
        rows = "\n".join(ROW.format(*(escape(str(value)) for value in (
            m.date_created.strftime("%Y-%m-%d %H:%M:%S"), m.direction, m.from_ or "",
            m.to, m.status, m.body))) for m in messages)
        return web.Response(text=PAGE.format(count=len(messages), rows=rows),
                            content_type="text/html")

    return inbox
