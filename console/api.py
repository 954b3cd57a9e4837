"""The JSON API under /api: employers, their verification, jobs and who was matched.

Every route but the OpenAPI document needs `Authorization: Bearer <token>`; the token
names the agent, who is recorded on everything they do. Bad input gets a 4xx naming
the field and the reason."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from aiohttp import web
from pydantic import BaseModel, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from console.openapi import openapi_document
from console.schemas import MAX_ID, EmployerIn, JobChangeIn, JobIn, VerificationIn
from gigline.keys import CLOCK, DESK, NUDGE_MARKET, SETTINGS
from hotline.desk import CallDesk
from market import jobs
from store.models import Employer, Job, Offer, RightsCase, Trade, Worker
from store.statuses import CASE_OPEN

AGENT = web.RequestKey("agent", str)


def add_routes(app: web.Application) -> None:
    app.middlewares.append(api_middleware)
    router = app.router
    router.add_get("/api/openapi.json", openapi)
    router.add_get("/api/trades", list_trades)
    router.add_get("/api/areas", list_areas)
    router.add_post("/api/employers", create_employer)
    router.add_get("/api/employers/{id:\\d+}", get_employer)
    router.add_post("/api/employers/{id:\\d+}/verification", verify_employer)
    router.add_post("/api/jobs", create_job)
    router.add_get("/api/jobs/{id:\\d+}", get_job)
    router.add_patch("/api/jobs/{id:\\d+}", change_job)
    router.add_post("/api/jobs/{id:\\d+}/cancel", cancel_job)
    router.add_get("/api/jobs/{id:\\d+}/matches", job_matches)


def _error(status: int, reason: str, field: str | None = None, **extra) -> web.Response:
    return web.json_response({"error": reason, "field": field, **extra}, status=status)


@web.middleware
async def api_middleware(request: web.Request, handler):
    if not request.path.startswith("/api/"):
        return await handler(request)
    if request.path != "/api/openapi.json":
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        agent = request.app[SETTINGS].api_tokens.get(token) if scheme == "Bearer" else None
        if agent is None:
            response = _error(401, "a valid API token is required (Authorization: Bearer …)")
            response.headers["WWW-Authenticate"] = "Bearer"
            return response
        request[AGENT] = agent
    try:
        return await handler(request)
    except web.HTTPException as exc:  # no such route, or not with that method
        if exc.status < 400:
            raise
        return _error(exc.status, exc.reason)
    except jobs.MarketError as exc:
        return _error(exc.status, exc.reason, exc.field)
    except ValidationError as exc:
        errors = [{"field": ".".join(str(p) for p in e["loc"]), "reason": e["msg"]}
                  for e in exc.errors()]
        return _error(422, errors[0]["reason"], errors[0]["field"], errors=errors)


async def _body(request: web.Request, model: type[BaseModel]) -> BaseModel:
    try:
        raw = json.loads(await request.text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise jobs.MarketError("body", "the body is not JSON", status=400) from None
    except RecursionError:
        raise jobs.MarketError("body", "the body is nested too deeply", status=400) from None
    return model.model_validate(raw)


def _desk(request: web.Request) -> CallDesk:
    return request.app[DESK]


def _iso(moment: datetime | None) -> str | None:
    """Times leave the API in UTC, whatever zone they came in."""
    return moment.astimezone(UTC).isoformat() if moment else None


def _local(desk: CallDesk, moment: datetime) -> datetime:
    """A time without an offset is the market's time."""
    return moment if moment.tzinfo else moment.replace(tzinfo=ZoneInfo(desk.timezone))


def _id(request: web.Request) -> int:
    ident = int(request.match_info["id"])
    if ident > MAX_ID:  # no row has it, and the database could not even compare it
        raise jobs.MarketError("id", f"no record {ident}", status=404)
    return ident


async def openapi(request: web.Request) -> web.Response:
    trades = tuple(t.code for t in _desk(request).market.trades)
    return web.json_response(openapi_document(trades))


async def list_trades(request: web.Request) -> web.Response:
    desk = _desk(request)
    async with desk.sessions() as session:
        trades = await session.scalars(
            select(Trade).where(Trade.market_id == desk.market_id).order_by(Trade.position))
        return web.json_response([{"code": t.code, "name": t.name, "synonyms": t.synonyms}
                                  for t in trades])


async def list_areas(request: web.Request) -> web.Response:
    desk = _desk(request)
    return web.json_response([
        {"id": d.id, "name": d.name, "towns": [{"id": t.id, "name": t.name} for t in d.towns]}
        for d in desk.market.districts
    ])


def _employer_json(employer: Employer) -> dict:
    return {
        "id": employer.id, "name": employer.name, "phone": employer.phone,
        "address": employer.address, "credit_code": employer.credit_code,
        "verification": employer.verification, "verified_by": employer.verified_by,
        "verified_at": _iso(employer.verified_at),
        "verification_note": employer.verification_note,
    }


async def create_employer(request: web.Request) -> web.Response:
    body = await _body(request, EmployerIn)
    desk = _desk(request)
    async with desk.sessions() as session, session.begin():
        employer = await jobs.register_employer(
            session, market_id=desk.market_id, name=body.name, phone=body.phone,
            address=body.address, credit_code=body.credit_code, agent=request[AGENT],
            now=request.app[CLOCK]())
        return web.json_response(_employer_json(employer), status=201)


async def get_employer(request: web.Request) -> web.Response:
    """The employer with its open rights cases and whether they hold its job alerts."""
    async with _desk(request).sessions() as session:
        employer = await session.get(Employer, _id(request))
        if employer is None:
            raise jobs.NotFound("employer", _id(request))
        open_cases = await session.scalars(
            select(RightsCase.id).where(RightsCase.employer_id == employer.id,
                                        RightsCase.status.in_(CASE_OPEN)))
        return web.json_response(_employer_json(employer) | {
            "open_cases": list(open_cases), "alerts_held": employer.alerts_held,
            "rating_avg": employer.rating_avg})


async def verify_employer(request: web.Request) -> web.Response:
    body = await _body(request, VerificationIn)
    async with _desk(request).sessions() as session, session.begin():
        employer = await jobs.set_verification(
            session, _id(request), state=body.state, checked=body.checked,
            agent=request[AGENT], now=request.app[CLOCK]())
        response = web.json_response(_employer_json(employer))
    request.app[NUDGE_MARKET]()
    return response


async def _job_json(session, job_id: int) -> dict:
    job = await session.scalar(select(Job).where(Job.id == job_id)
                               .options(selectinload(Job.lines)))
    trades = {t.id: t.code for t in await session.scalars(select(Trade))}
    return {
        "id": job.id, "code": job.code, "status": job.status, "employer_id": job.employer_id,
        "start_at": _iso(job.start_at), "end_at": _iso(job.end_at),
        "days": job.days, "daily_pay": job.daily_pay, "town_id": job.town_id,
        "address": job.address, "notes": job.notes, "waves_sent": job.waves_sent,
        "next_wave_at": _iso(job.next_wave_at),
        "lines": [{"id": line.id, "trade": trades[line.trade_id], "headcount": line.headcount,
                   "filled": line.filled, "day_wage_fen": line.day_wage_fen}
                  for line in sorted(job.lines, key=lambda x: x.id)],
    }


async def create_job(request: web.Request) -> web.Response:
    body = await _body(request, JobIn)
    desk = _desk(request)
    spec = jobs.JobSpec(
        employer_id=body.employer_id,
        lines=tuple(jobs.LineSpec(line.trade, line.headcount, line.day_wage_fen)
                    for line in body.lines),
        start_at=_local(desk, body.start_at), days=body.days, daily_pay=body.daily_pay,
        town_id=body.town_id, address=body.address, notes=body.notes)
    async with desk.sessions() as session, session.begin():
        job = await jobs.post_job(session, spec, market_id=desk.market_id,
                                  agent=request[AGENT], now=request.app[CLOCK]())
        response = web.json_response(await _job_json(session, job.id), status=201)
    request.app[NUDGE_MARKET]()  # the first wave goes out now, not at the next tick
    return response


async def get_job(request: web.Request) -> web.Response:
    async with _desk(request).sessions() as session:
        await jobs.load_job(session, _id(request))
        return web.json_response(await _job_json(session, _id(request)))


async def change_job(request: web.Request) -> web.Response:
    body = await _body(request, JobChangeIn)
    desk = _desk(request)
    async with desk.sessions() as session, session.begin():
        await jobs.change_job(
            session, _id(request), agent=request[AGENT], now=request.app[CLOCK](),
            catalogue=desk.catalogue, timezone=desk.timezone,
            start_at=_local(desk, body.start_at) if body.start_at else None,
            address=body.address, notes=body.notes)
        response = web.json_response(await _job_json(session, _id(request)))
    request.app[NUDGE_MARKET]()
    return response


async def cancel_job(request: web.Request) -> web.Response:
    desk = _desk(request)
    async with desk.sessions() as session, session.begin():
        await jobs.cancel_job(session, _id(request), agent=request[AGENT],
                              now=request.app[CLOCK](), catalogue=desk.catalogue,
                              timezone=desk.timezone)
        response = web.json_response(await _job_json(session, _id(request)))
    request.app[NUDGE_MARKET]()
    return response


async def job_matches(request: web.Request) -> web.Response:
    """Who was offered the job, in which wave, and why: the score's parts."""
    async with _desk(request).sessions() as session:
        await jobs.load_job(session, _id(request))
        offers = await session.execute(
            select(Offer, Worker.demo).join(Worker, Worker.id == Offer.worker_id)
            .where(Offer.job_id == _id(request)).order_by(Offer.wave, Offer.id))
        return web.json_response([
            {"offer_id": o.id, "worker_id": o.worker_id, "demo_worker": demo,
             "job_line_id": o.job_line_id,
             "wave": o.wave, "status": o.status, "channel": o.channel, "score": o.score,
             "alerted_at": _iso(o.alerted_at), "held_until": _iso(o.alert_hold_until)}
            for o, demo in offers
        ])

