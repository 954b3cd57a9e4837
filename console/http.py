"""How the agents' API speaks HTTP: a row of its route table, the bearer check, reading a
request, and the one place where a refusal becomes a status.

Every route but the OpenAPI document needs `Authorization: Bearer <token>`: an agent's
own token (`gigline agents token NAME`) or one of GIGLINE_API_TOKENS. The token names the
agent, who is recorded on everything they do, and their role, which each route's row
checks (401 without a token, 403 with too small a role). Bad input gets a 4xx naming the
field and the reason."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from console.accounts import Staff, staff_by_token
from console.deps import CONSOLE, ConsoleDeps
from console.schemas import MAX_ID, Error, FieldError
from hotline.desk import CallDesk
from market.jobs import Conflict, MarketError, NotFound
from store.statuses import Role

STAFF = web.RequestKey("staff", Staff)
DOCUMENT_PATH = "/api/openapi.json"  # open to all: it says how to ask for a token

Body = TypeVar("Body", bound=BaseModel)
# (request) or (request, body) -> the route's answer model, or a list of them
Handler = Callable[..., Awaitable[BaseModel | Sequence[BaseModel]]]


@dataclass(frozen=True)
class Param:
    """A query parameter. Handlers read their own (a bad value is no 422 but, say, an
    empty list); this states them for the document."""

    name: str
    schema: dict[str, Any]
    required: bool = False
    description: str | None = None


@dataclass(frozen=True)
class Route:
    """One operation: the app's route and the OpenAPI document's operation are both
    made from it."""

    role: Role  # who may call it: tests/test_security.py calls every row with less
    method: str
    path: str  # as OpenAPI writes it; `{id}` is a record's id
    handler: Handler
    summary: str
    answer: type[BaseModel]
    many: bool = False  # the answer is a list of `answer`
    status: int = 200
    body: type[BaseModel] | None = None  # the handler gets it validated, as its second argument
    query: tuple[Param, ...] = ()
    errors: tuple[int, ...] = ()  # statuses besides those every route of its shape can give

    @property
    def refusals(self) -> tuple[int, ...]:
        """Every error status: no token (401), no such record ({id}: 404), a body that is
        not JSON (400) or breaks its model (422), and the route's own."""
        statuses = {401, *self.errors}
        if self.role is not Role.AGENT:
            statuses.add(403)
        if self.body:
            statuses |= {400, 422}
        if "{id}" in self.path:
            statuses.add(404)
        return tuple(sorted(statuses))


class BadRequest(Exception):
    """The request itself cannot be read: a body that is not JSON, a malformed query."""

    def __init__(self, field: str, reason: str):
        super().__init__(f"{field}: {reason}")
        self.field, self.reason = field, reason


class BadBody(Exception):
    """The body breaks its model: every field at fault, the first one named."""

    def __init__(self, errors: list[FieldError]):
        super().__init__(errors[0].reason)
        self.errors = errors
        self.field, self.reason = errors[0].field, errors[0].reason


# What each kind of refusal answers, most specific first: the rules raise kinds, only the
# API speaks HTTP. A plain MarketError is input the rules cannot take.
STATUSES: tuple[tuple[type[Exception], int], ...] = (
    (BadRequest, 400), (BadBody, 422), (NotFound, 404), (Conflict, 409), (MarketError, 422))


def status_of(refusal: BadRequest | BadBody | MarketError) -> int:
    return next(status for kind, status in STATUSES if isinstance(refusal, kind))


def _error(status: int, reason: str, field: str | None = None,
           errors: Sequence[FieldError] = ()) -> web.Response:
    body = Error(error=reason, field=field, errors=list(errors))
    return web.json_response(body.model_dump(mode="json"), status=status)


@web.middleware
async def api_middleware(request: web.Request, handler):
    if not request.path.startswith("/api/"):
        return await handler(request)
    if request.path != DOCUMENT_PATH:
        staff = await _bearer(request)
        if staff is None:
            response = _error(401, "a valid API token is required (Authorization: Bearer …)")
            response.headers["WWW-Authenticate"] = "Bearer"
            return response
        request[STAFF] = staff
    try:
        return await handler(request)
    except web.HTTPException as exc:  # no such route, or not with that method
        if exc.status < 400:
            raise
        return _error(exc.status, exc.reason)
    except WrongRole as exc:
        return _error(403, exc.reason)
    except BadBody as exc:
        return _error(status_of(exc), exc.reason, exc.field, exc.errors)
    except (BadRequest, MarketError) as exc:
        return _error(status_of(exc), exc.reason, exc.field)


async def _bearer(request: web.Request) -> Staff | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme != "Bearer" or not token:
        return None
    deps = deps_of(request)
    if token in deps.api_tokens:
        return deps.api_tokens[token]
    async with deps.desk.sessions() as session:
        return await staff_by_token(session, token)


class WrongRole(Exception):
    """The token is good but its role may not do this (403). Not an HTTPForbidden: the
    reason names the agent, and a name in Chinese cannot go in an HTTP status line."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def require(staff: Staff, role: Role) -> None:
    """Refuses (403, with why) a member of staff whose role does not allow `role`'s work."""
    if not staff.role.allows(role):
        raise WrongRole(f"only a {role} may do this; {staff.name} is an {staff.role}")


async def read_body(request: web.Request, model: type[Body]) -> Body:
    try:
        raw = json.loads(await request.text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise BadRequest("body", "the body is not JSON") from None
    except RecursionError:
        raise BadRequest("body", "the body is nested too deeply") from None
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise BadBody([FieldError(field=".".join(str(part) for part in error["loc"]),
                                  reason=error["msg"]) for error in exc.errors()]) from None


def deps_of(request: web.Request) -> ConsoleDeps:
    return request.app[CONSOLE]


def desk_of(request: web.Request) -> CallDesk:
    return deps_of(request).desk


def agent_of(request: web.Request) -> str:
    """The name recorded on what the request does."""
    return request[STAFF].name


def staff_of(request: web.Request) -> Staff:
    return request[STAFF]


def record_id(request: web.Request) -> int:
    ident = int(request.match_info["id"])
    if ident > MAX_ID:  # no row has it, and the database could not even compare it
        raise NotFound("record", ident, field="id")
    return ident
