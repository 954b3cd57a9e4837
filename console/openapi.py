"""The OpenAPI 3.1 document for /api, built from the models in console.schemas: request
bodies, answers, and every error with its status. tests/test_openapi.py holds the API to it."""

from __future__ import annotations

from functools import cache
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from console import schemas as s
from store.statuses import ReminderStatus

# Why each error status happens, whatever the route.
WHY = {
    400: "the body is not JSON, or a query parameter is malformed",
    401: "no valid API token (Authorization: Bearer …)",
    404: "no such record (or one the body names)",
    409: "the record's state forbids it",
    422: "a field is invalid: `field` names it",
}
REFERENCED = (s.EmployerIn, s.VerificationIn, s.JobIn, s.JobChangeIn, s.CaseActionIn,
              s.HireCorrectionIn, s.Error, s.TradeOut, s.DistrictOut, s.EmployerOut,
              s.EmployerDetailOut, s.JobOut, s.MatchOut, s.CaseOut, s.CaseDetailOut,
              s.HireOut, s.EmployerClearedOut, s.ReminderOut, s.FiguresOut)


def _ref(model: type[BaseModel]) -> dict:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _op(summary: str, ok: int, answer: dict, *, body: type[BaseModel] | None = None,
        path_id: bool = False, query: tuple[dict, ...] = (),
        errors: tuple[int, ...] = ()) -> dict:
    statuses = {401, *errors}
    if body:
        statuses |= {400, 422}
    if path_id:
        statuses.add(404)
    op: dict[str, Any] = {
        "summary": summary,
        "security": [{"bearer": []}],
        "responses": {str(ok): _json(answer, "Created" if ok == 201 else "OK")} | {
            str(status): _json(_ref(s.Error), WHY[status]) for status in sorted(statuses)},
    }
    parameters = list(query)
    if path_id:
        parameters.insert(0, {"name": "id", "in": "path", "required": True,
                              "schema": {"type": "integer", "minimum": 1}})
    if parameters:
        op["parameters"] = parameters
    if body:
        op["requestBody"] = {"required": True, "content": {"application/json": {
            "schema": _ref(body)}}}
    return op


def _array(model: type[BaseModel]) -> dict:
    return {"type": "array", "items": _ref(model)}


def _status_query(statuses: tuple[str, ...], default: str | None = None) -> dict:
    schema: dict[str, Any] = {"type": "string", "enum": list(statuses)}
    if default:
        schema["default"] = default
    return {"name": "status", "in": "query", "required": False, "schema": schema}


def _day_query(name: str, description: str) -> dict:
    return {"name": name, "in": "query", "required": True, "description": description,
            "schema": {"type": "string", "format": "date"}}


def _components(trades: tuple[str, ...]) -> dict:
    _, top = models_json_schema([(model, "serialization" if model.__name__.endswith(
        ("Out", "Error")) else "validation") for model in REFERENCED],
        ref_template="#/components/schemas/{model}", by_alias=True)
    found = top["$defs"]
    if trades:  # a line's trade is one of the market's codes
        found["LineIn"]["properties"]["trade"]["enum"] = list(trades)
    return found


@cache
def openapi_document(trades: tuple[str, ...]) -> dict:
    """`trades`: the market's trade codes, the values a job line's trade may take."""
    return {
        "openapi": "3.1.0",
        "info": {"title": "Gigline agents' API", "version": "1"},
        "components": {"schemas": _components(trades), "securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer"}}},
        "paths": {
            "/api/trades": {"get": _op("List the market's trades", 200, _array(s.TradeOut))},
            "/api/areas": {"get": _op("List districts and their towns", 200,
                                      _array(s.DistrictOut))},
            "/api/employers": {"post": _op("Register an employer", 201, _ref(s.EmployerOut),
                                           body=s.EmployerIn, errors=(409,))},
            "/api/employers/{id}": {"get": _op(
                "An employer, its open rights cases and whether they hold its job alerts", 200,
                _ref(s.EmployerDetailOut), path_id=True)},
            "/api/employers/{id}/verification": {"post": _op(
                "Verify, blacklist or unverify an employer", 200, _ref(s.EmployerOut),
                body=s.VerificationIn, path_id=True)},
            "/api/jobs": {"post": _op(
                "Post a job; its first wave of alerts goes out at once", 201, _ref(s.JobOut),
                body=s.JobIn, errors=(404,))},
            "/api/jobs/{id}": {
                "get": _op("A job with its lines and how full they are", 200, _ref(s.JobOut),
                           path_id=True),
                "patch": _op("Change a job's start, address or notes; holders are told by SMS",
                             200, _ref(s.JobOut), body=s.JobChangeIn, path_id=True,
                             errors=(409,)),
            },
            "/api/jobs/{id}/cancel": {"post": _op(
                "Cancel a job (again is no change); workers holding slots are told by SMS",
                200, _ref(s.JobOut), path_id=True)},
            "/api/jobs/{id}/matches": {"get": _op(
                "Who was offered the job, in which wave, and the score's parts", 200,
                _array(s.MatchOut), path_id=True)},
            "/api/cases": {"get": _op(
                "The latest 500 rights cases, newest first, of one status or all", 200,
                _array(s.CaseOut), query=(_status_query(s.CASE_STATUSES),))},
            "/api/cases/{id}": {"get": _op(
                "A rights case: who, where, when, how much, history and evidence (audited)",
                200, _ref(s.CaseDetailOut), path_id=True)},
            "/api/cases/{id}/actions": {"post": _op(
                "Assign, log contact, mediation, referral, amounts recovered, close; the "
                "workers are told by SMS", 200, _ref(s.CaseOut), body=s.CaseActionIn,
                path_id=True, errors=(409,))},
            "/api/hires/{id}": {"patch": _op(
                "Correct the days worked or the amount owed", 200, _ref(s.HireOut),
                body=s.HireCorrectionIn, path_id=True)},
            "/api/employers/{id}/clear": {"post": _op(
                "Lift the hold an open case put on the employer's job alerts", 200,
                _ref(s.EmployerClearedOut), path_id=True)},
            "/api/reminders": {"get": _op(
                "The latest 500 reminders of a status; `missed` ones fell due while Gigline "
                "was down too long", 200, _array(s.ReminderOut),
                query=(_status_query(s.REMINDER_STATUSES, ReminderStatus.MISSED.value),))},
            "/api/figures": {"get": _op(
                "The market's figures for a period of market days, both ends included", 200,
                _ref(s.FiguresOut), errors=(400,), query=(
                    _day_query("from", "the first day (YYYY-MM-DD)"),
                    _day_query("to", "the last day, not before `from` (else 400)")))},
        },
    }
