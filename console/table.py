"""Every operation of the agents' API, once: console.routes makes the app's routes of this
table and console.openapi the OpenAPI document, so the two cannot disagree."""

from __future__ import annotations

from typing import Any

from console import agents_api, api, audit, wages_api
from console import schemas as s
from console.http import Param, Route
from store.statuses import ReminderStatus, Role


def _status_query(statuses: tuple[str, ...], default: str | None = None) -> Param:
    schema: dict[str, Any] = {"type": "string", "enum": list(statuses)}
    if default:
        schema["default"] = default
    return Param("status", schema)


def _day_query(name: str, description: str) -> Param:
    return Param(name, {"type": "string", "format": "date"}, required=True,
                 description=description)


AGENT, SUPERVISOR = Role.AGENT, Role.SUPERVISOR
# A name or subject to look for, as console.audit.AuditFilter takes it (else 400).
NAME = {"type": "string", "maxLength": 64, "pattern": "^[^\\u0000-\\u001f]*$"}

# The first column is who may call the route (a supervisor may call all an agent may).
ROUTES: tuple[Route, ...] = (
    Route(AGENT,      "GET",  "/api/trades", api.list_trades, "List the market's trades",
          s.TradeOut, many=True),
    Route(AGENT,      "GET",  "/api/areas", api.list_areas, "List districts and their towns",
          s.DistrictOut, many=True),
    Route(AGENT,      "POST", "/api/employers", api.create_employer, "Register an employer",
          s.EmployerOut, status=201, body=s.EmployerIn, errors=(409,)),
    Route(AGENT,      "GET",  "/api/employers/{id}", api.get_employer,
          "An employer, its open rights cases and whether they hold its job alerts",
          s.EmployerDetailOut),
    Route(SUPERVISOR, "POST", "/api/employers/{id}/verification", api.verify_employer,
          "Verify, blacklist or unverify an employer", s.EmployerOut, body=s.VerificationIn),
    Route(AGENT,      "POST", "/api/jobs", api.create_job,
          "Post a job; its first wave of alerts goes out at once", s.JobOut, status=201,
          body=s.JobIn, errors=(404,)),
    Route(AGENT,      "GET",  "/api/jobs/{id}", api.get_job,
          "A job with its lines and how full they are", s.JobOut),
    Route(AGENT,      "PATCH", "/api/jobs/{id}", api.change_job,
          "Change a job's start, address or notes; holders are told by SMS", s.JobOut,
          body=s.JobChangeIn, errors=(409,)),
    Route(AGENT,      "POST", "/api/jobs/{id}/cancel", api.cancel_job,
          "Cancel a job (again is no change); workers holding slots are told by SMS",
          s.JobOut),
    Route(AGENT,      "GET",  "/api/jobs/{id}/matches", api.job_matches,
          "Who was offered the job, in which wave, and the score's parts", s.MatchOut,
          many=True),
    Route(AGENT,      "GET",  "/api/cases", wages_api.list_cases,
          "The latest 500 rights cases, newest first, of one status or all", s.CaseOut,
          many=True, query=(_status_query(s.CASE_STATUSES),)),
    Route(AGENT,      "GET",  "/api/cases/{id}", wages_api.get_case,
          "A rights case: who, where, when, how much, history and evidence (audited)",
          s.CaseDetailOut),
    Route(AGENT,      "POST", "/api/cases/{id}/actions", wages_api.case_action,
          "Assign, log contact, mediation, referral, amounts recovered, close; the workers "
          "are told by SMS", s.CaseOut, body=s.CaseActionIn, errors=(409,)),
    Route(AGENT,      "PATCH", "/api/hires/{id}", wages_api.correct_hire,
          "Correct the days worked or the amount owed", s.HireOut, body=s.HireCorrectionIn),
    Route(SUPERVISOR, "POST", "/api/employers/{id}/clear", wages_api.clear_employer,
          "Lift the hold an open case put on the employer's job alerts",
          s.EmployerClearedOut),
    Route(AGENT,      "GET",  "/api/reminders", wages_api.list_reminders,
          "The latest 500 reminders of a status; `missed` ones fell due while Gigline was "
          "down too long", s.ReminderOut, many=True,
          query=(_status_query(s.REMINDER_STATUSES, ReminderStatus.MISSED.value),)),
    Route(AGENT,      "GET",  "/api/figures", wages_api.figures,
          "The market's figures for a period of market days, both ends included",
          s.FiguresOut, errors=(400,), query=(
              _day_query("from", "the first day (YYYY-MM-DD)"),
              _day_query("to", "the last day, not before `from` (else 400)"))),
    Route(SUPERVISOR, "GET",  "/api/audit", audit.list_audit,
          "The audit log, newest first (500 at most): who changed or looked at what",
          s.AuditOut, many=True, errors=(400,), query=(
              Param("agent", NAME, description="only this agent's entries"),
              Param("subject", NAME,
                    description="`case:12` for one record, `case` for every case"),
              Param("from", {"type": "string", "format": "date"},
                    description="from this market day (YYYY-MM-DD)"),
              Param("to", {"type": "string", "format": "date"},
                    description="to this market day, included"))),
    Route(SUPERVISOR, "GET",  "/api/agents", agents_api.list_agents,
          "The staff: agents and supervisors, active or revoked, with their live tokens",
          s.AgentOut, many=True),
    Route(SUPERVISOR, "POST", "/api/agents", agents_api.add_agent,
          "Add an agent or supervisor; their password is made up and answered once",
          s.AgentAddedOut, status=201, body=s.AgentIn, errors=(409,)),
    Route(SUPERVISOR, "POST", "/api/agents/{id}/tokens", agents_api.issue_token,
          "A new API token for the agent, answered once", s.TokenOut, status=201,
          errors=(409,)),
    Route(SUPERVISOR, "POST", "/api/agents/{id}/revoke", agents_api.revoke_agent,
          "Revoke an agent: no more sign-in, tokens revoked, sessions ended", s.AgentOut),
    Route(SUPERVISOR, "POST", "/api/tokens/{id}/revoke", agents_api.revoke_token,
          "Revoke one API token", s.TokenRevokedOut),
)
