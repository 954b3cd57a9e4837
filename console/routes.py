"""The agents' JSON API under /api, as the app adds it: its middleware, a route for each
row of the route table, and the OpenAPI document made of the same table."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web
from pydantic import TypeAdapter

from console.http import (
    DOCUMENT_PATH,
    Route,
    api_middleware,
    desk_of,
    read_body,
    require,
    staff_of,
)
from console.openapi import openapi_document
from console.table import ROUTES


def add_routes(app: web.Application) -> None:
    app.middlewares.append(api_middleware)
    app.router.add_get(DOCUMENT_PATH, document)
    for route in ROUTES:
        app.router.add_route(route.method, route.path.replace("{id}", r"{id:\d+}"),
                             _endpoint(route))


def _endpoint(route: Route) -> Callable[[web.Request], Awaitable[web.Response]]:
    """The handler, given its body validated, its answer written as the route's model."""
    answer = TypeAdapter(list[route.answer] if route.many else route.answer)

    async def endpoint(request: web.Request) -> web.Response:
        require(staff_of(request), route.role)  # before the body is even read
        body = (await read_body(request, route.body),) if route.body else ()
        result = await route.handler(request, *body)
        return web.json_response(answer.dump_python(result, mode="json", by_alias=True),
                                 status=route.status)

    return endpoint


async def document(request: web.Request) -> web.Response:
    trades = tuple(trade.code for trade in desk_of(request).market.trades)
    return web.json_response(openapi_document(trades))
