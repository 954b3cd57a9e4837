"""The OpenAPI 3.1 document for /api, built from the request models' JSON schemas."""

from __future__ import annotations

from functools import cache

from pydantic import BaseModel

from console.schemas import (
    SCHEMAS,
    CaseActionIn,
    EmployerIn,
    HireCorrectionIn,
    JobChangeIn,
    JobIn,
    VerificationIn,
)

ERROR = {
    "type": "object",
    "properties": {"error": {"type": "string"}, "field": {"type": ["string", "null"]},
                   "errors": {"type": "array", "items": {"type": "object"}}},
    "required": ["error"],
}


def _body(model: type[BaseModel]) -> dict:
    return {"required": True, "content": {"application/json": {
        "schema": {"$ref": f"#/components/schemas/{model.__name__}"}}}}


def _op(summary: str, ok: int, body: type[BaseModel] | None = None, path_id: bool = False,
        errors: tuple[int, ...] = (401,)) -> dict:
    op: dict = {
        "summary": summary,
        "security": [{"bearer": []}],
        "responses": {str(ok): {"description": "OK", "content": {"application/json": {
            "schema": {"type": "object" if ok != 200 or not summary.startswith("List")
                       else "array"}}}}},
    }
    for status in (*errors, *((400, 422) if body else ()), *((404,) if path_id else ())):
        op["responses"][str(status)] = {"description": "error", "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    if body:
        op["requestBody"] = _body(body)
    if path_id:
        op["parameters"] = [{"name": "id", "in": "path", "required": True,
                             "schema": {"type": "integer"}}]
    return op


@cache
def openapi_document() -> dict:
    schemas = {"Error": ERROR}
    for model in SCHEMAS:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
    return {
        "openapi": "3.1.0",
        "info": {"title": "Gigline agents' API", "version": "1"},
        "components": {"schemas": schemas, "securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer"}}},
        "paths": {
            "/api/trades": {"get": _op("List the market's trades", 200)},
            "/api/areas": {"get": _op("List districts and their towns", 200)},
            "/api/employers": {"post": _op("Register an employer", 201, EmployerIn,
                                           errors=(401, 409))},
            "/api/employers/{id}": {"get": _op("An employer", 200, path_id=True)},
            "/api/employers/{id}/verification": {"post": _op(
                "Verify, blacklist or unverify an employer", 200, VerificationIn, True)},
            "/api/jobs": {"post": _op("Post a job; its first wave of alerts goes out at once",
                                      201, JobIn)},
            "/api/jobs/{id}": {
                "get": _op("A job with its lines and how full they are", 200, path_id=True),
                "patch": _op("Change a job's start, address or notes; holders are told by SMS",
                             200, JobChangeIn, True, errors=(401, 409)),
            },
            "/api/jobs/{id}/cancel": {"post": _op(
                "Cancel a job; workers holding slots are told by SMS", 200, path_id=True)},
            "/api/jobs/{id}/matches": {"get": _op(
                "Who was offered the job, in which wave, and the score's parts", 200,
                path_id=True)},
            "/api/cases": {"get": _op("List rights cases (?status=open …)", 200)},
            "/api/cases/{id}": {"get": _op(
                "A rights case: who, where, when, how much, history and evidence", 200,
                path_id=True)},
            "/api/cases/{id}/actions": {"post": _op(
                "Assign, log contact, mediation, referral, amounts recovered, close; the "
                "workers are told by SMS", 200, CaseActionIn, True, errors=(401, 409))},
            "/api/hires/{id}": {"patch": _op("Correct the days worked or the amount owed",
                                             200, HireCorrectionIn, True)},
            "/api/employers/{id}/clear": {"post": _op(
                "Lift the hold an open case put on the employer's job alerts", 200,
                path_id=True)},
            "/api/reminders": {"get": _op("List reminders by status (?status=missed)", 200)},
            "/api/figures": {"get": _op(
                "The market's figures for ?from=YYYY-MM-DD&to=YYYY-MM-DD (market days)", 200,
                errors=(400, 401))},
        },
    }
