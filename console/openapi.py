"""The OpenAPI 3.1 document for /api, made of the route table (console.table) and its
models: request bodies, answers, and every error with its status. tests/test_openapi.py
holds the API to it."""

from __future__ import annotations

from functools import cache
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from console.http import Route
from console.schemas import Error
from console.table import ROUTES

# Why each error status happens, whatever the route.
WHY = {
    400: "the body is not JSON, or a query parameter is malformed",
    401: "no valid API token (Authorization: Bearer …)",
    403: "the token's role may not do this (a supervisor's work)",
    404: "no such record (or one the body names)",
    409: "the record's state forbids it",
    422: "a field is invalid: `field` names it",
}


def _ref(model: type[BaseModel]) -> dict:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _operation(route: Route) -> dict:
    answer = {"type": "array", "items": _ref(route.answer)} if route.many else _ref(route.answer)
    op: dict[str, Any] = {
        "summary": route.summary,
        "security": [{"bearer": []}],
        "responses": {str(route.status): _json(answer, "Created" if route.status == 201
                                               else "OK")} | {
            str(status): _json(_ref(Error), WHY[status]) for status in route.refusals},
    }
    parameters = [{"name": param.name, "in": "query", "required": param.required}
                  | ({"description": param.description} if param.description else {})
                  | {"schema": param.schema} for param in route.query]
    if "{id}" in route.path:
        parameters.insert(0, {"name": "id", "in": "path", "required": True,
                              "schema": {"type": "integer", "minimum": 1}})
    if parameters:
        op["parameters"] = parameters
    if route.body:
        op["requestBody"] = {"required": True, "content": {"application/json": {
            "schema": _ref(route.body)}}}
    return op


def _components(trades: tuple[str, ...]) -> dict:
    bodies = dict.fromkeys(route.body for route in ROUTES if route.body)
    answers = dict.fromkeys([*(route.answer for route in ROUTES), Error])
    _, top = models_json_schema(
        [(model, "validation") for model in bodies]
        + [(model, "serialization") for model in answers],
        ref_template="#/components/schemas/{model}", by_alias=True)
    found = top["$defs"]
    if trades:  # a line's trade is one of the market's codes
        found["LineIn"]["properties"]["trade"]["enum"] = list(trades)
    return found


@cache
def openapi_document(trades: tuple[str, ...]) -> dict:
    """`trades`: the market's trade codes, the values a job line's trade may take."""
    paths: dict[str, dict] = {}
    for route in ROUTES:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Gigline agents' API", "version": "1"},
        "components": {"schemas": _components(trades), "securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer"}}},
        "paths": paths,
    }
