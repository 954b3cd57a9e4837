"""The agents' working pages: workers (find, file, register or correct a walk-in),
callers waiting to be rung back, employers (find, file, verify or blacklist), jobs
(compose with a preview of who would be alerted, then follow live) and the dashboard.
Every change goes through the market's rules, in one transaction with its audit entry;
opening a worker's file is audited as a look at personal data."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from aiohttp import web
from multidict import MultiMapping
from pydantic import ValidationError

from basics.clock import market_today
from console import agents_api, api, audit, wages_api
from console.schemas import AgentIn, CaseActionIn, JobChangeIn
from console.session import (
    CSRF,
    Page,
    deps_of,
    refuse,
    refuse_rule,
    render,
    rule_says,
    staff_of,
    words_of,
)
from market import callbacks, figures, job_files, jobs, preview, walk_in, worker_files
from market.cases import REFERRALS, CaseAction
from market.jobs import MarketError
from store.models import Area, Employer, Trade
from store.statuses import AreaKind, Availability, CaseStatus, Channel, Role, Verification

PREFIX = "/console"
NO_CASE = "refused.no_case"
NO_EMPLOYER = "refused.no_employer"
NO_JOB = "refused.no_job"
NO_WORKER = "refused.no_worker"


def _page(request: web.Request, template: str, status: int = 200, **context) -> web.Response:
    return render(request, template, {
        "staff": staff_of(request), "csrf": request[CSRF], **context}, status)


def _id(request: web.Request) -> int | None:
    raw = request.match_info["id"]
    return int(raw) if raw.isdigit() and len(raw) < 10 else None


async def _through(request: web.Request, act, *, missing: str,
                   then: str) -> web.StreamResponse:
    """Runs a change (a rule, or the API's own handler) for a form: what it refuses is
    the page's answer (422 for a bad field, 404 for a record gone, 409 for a conflict);
    done, the browser goes to `then`."""
    try:
        await act()
    except ValidationError as invalid:
        first = invalid.errors()[0]
        return refuse(request, 422, "refused.invalid",
                      field=".".join(map(str, first["loc"])), reason=first["msg"])
    except jobs.NotFound:
        return refuse(request, 404, missing)
    except MarketError as refused:
        return refuse_rule(request, 409 if isinstance(refused, jobs.Conflict) else 422,
                           refused)
    raise web.HTTPSeeOther(then)


def _local(request: web.Request):
    zone = ZoneInfo(deps_of(request).desk.timezone)
    return lambda at: at.astimezone(zone).strftime("%Y-%m-%d %H:%M") if at else ""


# --- workers --------------------------------------------------------------------------
async def workers(request: web.Request) -> web.StreamResponse:
    desk, text = deps_of(request).desk, request.query.get("q", "")[:64]
    async with desk.sessions() as session:
        found = await worker_files.search(session, text, market_id=desk.market_id)
    return _page(request, "workers.html", q=text, found=found)


async def worker(request: web.Request) -> web.StreamResponse:
    deps, worker_id = deps_of(request), _id(request)
    if worker_id is None:
        return refuse(request, 404, NO_WORKER)
    async with deps.desk.sessions() as session, session.begin():
        file = await worker_files.worker_file(session, worker_id,
                                              market_id=deps.desk.market_id)
        if file is None:
            return refuse(request, 404, NO_WORKER)
        audit.looked_at(session, agent=staff_of(request).name, subject=f"worker:{worker_id}",
                        now=deps.clock())
    return _page(request, "worker.html", file=file, local=_local(request))


async def _choices(request: web.Request) -> dict:
    desk = deps_of(request).desk
    async with desk.sessions() as session:
        trades = list(await session.execute(
            Trade.__table__.select().where(Trade.market_id == desk.market_id)
            .order_by(Trade.position)))
        towns = list(await session.execute(
            Area.__table__.select().where(Area.market_id == desk.market_id,
                                          Area.kind == AreaKind.TOWN).order_by(Area.name)))
    return {"trades": [(t.code, t.name) for t in trades],
            "towns": [(t.id, t.name) for t in towns],
            "availabilities": list(Availability), "channels": list(Channel)}


def _profile(form: MultiMapping[str]) -> walk_in.Profile:
    def number(name: str) -> int | None:
        raw = form.get(name, "").strip()
        if not raw:
            return None
        if not raw.isdigit() or len(raw) > 9:
            raise MarketError(name, "whole_number")
        return int(raw)

    def text(name: str) -> str | None:
        return form.get(name, "").strip() or None

    trades = tuple(form.getall("trades", ()))
    return walk_in.Profile(name=text("name"), trades=trades or None,
                           town_id=number("town_id"), day_wage_yuan=number("day_wage_yuan"),
                           availability=text("availability"),
                           alert_channel=text("alert_channel"), id_number=text("id_number"))


async def new_worker(request: web.Request) -> web.StreamResponse:
    return _page(request, "worker_form.html", values={}, error=None, worker_id=None,
                 **await _choices(request))


async def register_worker(request: web.Request) -> web.StreamResponse:
    deps, form = deps_of(request), await request.post()
    desk = deps.desk
    try:
        async with desk.sessions() as session, session.begin():
            registered = await walk_in.register(
                session, form.get("phone", ""), _profile(form), market_id=desk.market_id,
                id_hash_key=desk.id_hash_key, catalogue=desk.catalogue, hotline=desk.hotline,
                agent=staff_of(request).name, now=deps.clock(),
                today=market_today(deps.clock(), desk.timezone))
            worker_id = registered.id
    except MarketError as refused:
        return _page(request, "worker_form.html", status=422, values=form, worker_id=None,
                     error=refused, **await _choices(request))
    deps.nudge_outbox()  # the registration SMS
    raise web.HTTPSeeOther(f"{PREFIX}/workers/{worker_id}")


async def edit_worker(request: web.Request) -> web.StreamResponse:
    deps, worker_id = deps_of(request), _id(request)
    async with deps.desk.sessions() as session:
        file = worker_id and await worker_files.worker_file(
            session, worker_id, market_id=deps.desk.market_id)
    if not file:
        return refuse(request, 404, NO_WORKER)
    values = {"name": file.name or "", "day_wage_yuan": (file.day_wage_fen or 0) // 100 or "",
              "availability": file.availability or "", "alert_channel": file.alert_channel}
    return _page(request, "worker_form.html", values=values, error=None, worker_id=worker_id,
                 **await _choices(request))


async def correct_worker(request: web.Request) -> web.StreamResponse:
    deps, worker_id, form = deps_of(request), _id(request), await request.post()
    desk = deps.desk
    if worker_id is None:
        return refuse(request, 404, NO_WORKER)
    try:
        async with desk.sessions() as session, session.begin():
            await walk_in.correct(session, worker_id, _profile(form), market_id=desk.market_id,
                                  id_hash_key=desk.id_hash_key, agent=staff_of(request).name,
                                  now=deps.clock(),
                                  today=market_today(deps.clock(), desk.timezone))
    except jobs.NotFound:
        return refuse(request, 404, NO_WORKER)
    except MarketError as refused:
        return _page(request, "worker_form.html", status=422, values=form,
                     worker_id=worker_id, error=refused, **await _choices(request))
    raise web.HTTPSeeOther(f"{PREFIX}/workers/{worker_id}")


# --- callbacks ------------------------------------------------------------------------
async def waiting_callers(request: web.Request) -> web.StreamResponse:
    """The queue shows callers' whole phone numbers: a look at personal data, audited."""
    deps = deps_of(request)
    async with deps.desk.sessions() as session, session.begin():
        queue = await callbacks.waiting(session, market_id=deps.desk.market_id)
        if queue:
            audit.looked_at(session, agent=staff_of(request).name, subject="callback",
                            now=deps.clock(),
                            detail={"callbacks": [c.callback_id for c in queue]})
    return _page(request, "callbacks.html", queue=queue, local=_local(request))


async def called_back(request: web.Request) -> web.StreamResponse:
    deps, callback_id, form = deps_of(request), _id(request), await request.post()
    try:
        async with deps.desk.sessions() as session, session.begin():
            await callbacks.called_back(session, callback_id or 0,
                                        agent=staff_of(request).name,
                                        note=form.get("note", ""), now=deps.clock())
    except jobs.NotFound:
        return refuse(request, 404, "refused.no_callback")
    except jobs.Conflict as conflict:
        return refuse_rule(request, 409, conflict)
    except MarketError as refused:
        return refuse_rule(request, 422, refused)
    raise web.HTTPSeeOther(f"{PREFIX}/callbacks")


# --- employers ------------------------------------------------------------------------
async def employers(request: web.Request) -> web.StreamResponse:
    desk, text = deps_of(request).desk, request.query.get("q", "")[:64]
    async with desk.sessions() as session:
        found = await job_files.search_employers(session, text, market_id=desk.market_id)
    return _page(request, "employers.html", q=text, found=found)


async def new_employer(request: web.Request) -> web.StreamResponse:
    return _page(request, "employer_form.html", values={}, error=None)


async def register_employer(request: web.Request) -> web.StreamResponse:
    """The 统一社会信用代码 is checked (its check character) before anything is kept."""
    deps, form = deps_of(request), await request.post()
    try:
        async with deps.desk.sessions() as session, session.begin():
            employer_id = (await jobs.register_employer(
                session, market_id=deps.desk.market_id, name=form.get("name", "").strip(),
                phone=form.get("phone", ""), address=form.get("address", "").strip(),
                credit_code=form.get("credit_code", ""), agent=staff_of(request).name,
                now=deps.clock())).id
    except MarketError as refused:
        return _page(request, "employer_form.html", status=422, values=form, error=refused)
    raise web.HTTPSeeOther(f"{PREFIX}/employers/{employer_id}")


async def employer(request: web.Request) -> web.StreamResponse:
    desk, employer_id = deps_of(request).desk, _id(request)
    async with desk.sessions() as session:
        file = employer_id and await job_files.employer_file(session, employer_id,
                                                             market_id=desk.market_id)
    if not file:
        return refuse(request, 404, NO_EMPLOYER)
    return _page(request, "employer.html", file=file, local=_local(request),
                 states=list(Verification))


async def verify_employer(request: web.Request) -> web.StreamResponse:
    deps, employer_id, form = deps_of(request), _id(request), await request.post()
    try:
        async with deps.desk.sessions() as session, session.begin():
            await jobs.set_verification(session, employer_id or 0,
                                        state=form.get("state", ""),
                                        checked=form.get("checked", "").strip(),
                                        agent=staff_of(request).name, now=deps.clock())
    except jobs.NotFound:
        return refuse(request, 404, NO_EMPLOYER)
    except MarketError as refused:
        return refuse_rule(request, 422, refused)
    deps.nudge_market()  # a verified employer's jobs are alerted now
    raise web.HTTPSeeOther(f"{PREFIX}/employers/{employer_id}")


# --- jobs -----------------------------------------------------------------------------
LINES_ON_FORM = 3


def _job_spec(form: MultiMapping[str], timezone: str) -> jobs.JobSpec:
    def whole(name: str, value: str) -> int:
        if not value.strip().isdigit() or len(value.strip()) > 6:
            raise MarketError(name, "whole_number")
        return int(value)

    try:
        day = date.fromisoformat(form.get("start_day", ""))
        at = time.fromisoformat(form.get("start_time", "07:00"))
    except ValueError:
        raise MarketError("start_day", "day_and_time") \
            from None
    lines = []
    for n in range(LINES_ON_FORM):
        trade = form.get(f"trade_{n}", "")
        if not trade:
            continue
        lines.append(jobs.LineSpec(trade, whole(f"headcount_{n}", form.get(f"headcount_{n}", "")),
                                   whole(f"wage_{n}", form.get(f"wage_{n}", "")) * 100))
    if not lines:
        raise MarketError("lines", "a_line_at_least")
    return jobs.JobSpec(
        employer_id=whole("employer_id", form.get("employer_id", "")), lines=tuple(lines),
        start_at=datetime.combine(day, at, ZoneInfo(timezone)),
        days=whole("days", form.get("days", "")), daily_pay=form.get("daily_pay") == "on",
        town_id=whole("town_id", form.get("town_id", "")), address=form.get("address", ""),
        notes=form.get("notes", ""))


async def _job_choices(request: web.Request) -> dict:
    desk = deps_of(request).desk
    async with desk.sessions() as session:
        employers = list(await session.execute(
            Employer.__table__.select().where(Employer.market_id == desk.market_id)
            .order_by(Employer.name)))
    return {**await _choices(request), "employers": [(e.id, e.name, e.verification)
                                                     for e in employers],
            "lines_on_form": range(LINES_ON_FORM)}


async def new_job(request: web.Request) -> web.StreamResponse:
    tomorrow = market_today(deps_of(request).clock(), deps_of(request).desk.timezone) \
        + timedelta(days=1)
    return _page(request, "job_form.html", values={"start_day": tomorrow.isoformat(),
                                                   "start_time": "07:00", "days": "1"},
                 error=None, preview=None, **await _job_choices(request))


async def compose_job(request: web.Request) -> web.StreamResponse:
    """`preview` shows who the first wave would alert; `publish` posts the job."""
    deps, form = deps_of(request), await request.post()
    desk = deps.desk
    publish = form.get("action") == "publish"
    try:
        spec = _job_spec(form, desk.timezone)
        async with desk.sessions() as session, session.begin():
            if not publish:
                shown = await preview.preview(session, desk, spec, now=deps.clock())
            else:
                job_id = (await jobs.post_job(session, spec, market_id=desk.market_id,
                                              agent=staff_of(request).name,
                                              now=deps.clock())).id
    except MarketError as refused:  # a record gone too: the form says which
        return _page(request, "job_form.html", status=422, values=form, preview=None,
                     error=refused, **await _job_choices(request))
    if not publish:
        return _page(request, "job_form.html", values=form, error=None, preview=shown,
                     **await _job_choices(request))
    deps.nudge_market()  # its first wave goes out now
    raise web.HTTPSeeOther(f"{PREFIX}/jobs/{job_id}")


async def _job_state(request: web.Request):
    desk, job_id = deps_of(request).desk, _id(request)
    async with desk.sessions() as session:
        return job_id and await job_files.job_state(session, job_id, market_id=desk.market_id)


async def job(request: web.Request) -> web.StreamResponse:
    state = await _job_state(request)
    if not state:
        return refuse(request, 404, NO_JOB)
    return _page(request, "job.html", job=state, local=_local(request))


async def job_live(request: web.Request) -> web.StreamResponse:
    """What the job page polls every two seconds: the lines as they fill."""
    state = await _job_state(request)
    if not state:
        return web.json_response({"error": "no such job"}, status=404)
    return web.json_response({
        "waves_sent": state.waves_sent, "status": state.status,
        "status_said": words_of(request).word("job", state.status),
        "lines": [{"line_id": line.line_id, "filled": line.filled,
                   "remaining": line.remaining, "offers": line.offers,
                   "by_wave": {str(k): v for k, v in line.by_wave.items()}}
                  for line in state.lines]})


# --- the rights desk ------------------------------------------------------------------
async def rights_cases(request: web.Request) -> web.StreamResponse:
    if request.query.get("status", "") not in ("", *CaseStatus):
        return refuse(request, 400, "refused.no_status")
    return _page(request, "cases.html", cases=await wages_api.list_cases(request),
                 statuses=list(CaseStatus), wanted=request.query.get("status", ""),
                 local=_local(request))


async def rights_case(request: web.Request) -> web.StreamResponse:
    if _id(request) is None:
        return refuse(request, 404, NO_CASE)
    try:
        case = await wages_api.get_case(request)  # audited as a look at personal data
    except jobs.NotFound:
        return refuse(request, 404, NO_CASE)
    return _page(request, "case.html", case=case, actions=list(CaseAction),
                 referrals=REFERRALS, local=_local(request))


async def case_action(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    if _id(request) is None:
        return refuse(request, 404, NO_CASE)

    async def act() -> None:
        await wages_api.case_action(request, CaseActionIn.model_validate(
            {k: v for k, v in form.items() if k != "csrf" and v != ""}))

    return await _through(request, act, missing=NO_CASE,
                          then=f"{PREFIX}/cases/{_id(request)}")


async def clear_hold(request: web.Request) -> web.StreamResponse:
    if _id(request) is None:
        return refuse(request, 404, NO_EMPLOYER)
    return await _through(request, lambda: wages_api.clear_employer(request),
                          missing=NO_EMPLOYER, then=f"{PREFIX}/employers/{_id(request)}")


# --- a job changed or cancelled (holders are told by SMS, as through the API) -----------
async def change_job(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    if _id(request) is None:
        return refuse(request, 404, NO_JOB)
    day, at = form.get("start_day", ""), form.get("start_time", "")

    async def act() -> None:
        await api.change_job(request, JobChangeIn.model_validate({
            k: v for k, v in {"start_at": f"{day}T{at}" if day and at else None,
                              "address": form.get("address") or None,
                              "notes": form.get("notes")}.items() if v is not None}))

    return await _through(request, act, missing=NO_JOB, then=f"{PREFIX}/jobs/{_id(request)}")


async def cancel_job(request: web.Request) -> web.StreamResponse:
    if _id(request) is None:
        return refuse(request, 404, NO_JOB)
    return await _through(request, lambda: api.cancel_job(request), missing=NO_JOB,
                          then=f"{PREFIX}/jobs/{_id(request)}")


# --- the staff, for supervisors (what `gigline agents` and /api/agents do) --------------
async def staff(request: web.Request, *, shown: dict | None = None,
                error: str = "", status: int = 200) -> web.StreamResponse:
    return _page(request, "staff.html", status=status, staff_list=
                 await agents_api.list_agents(request), roles=list(Role), shown=shown,
                 error=error)


async def add_staff(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    try:
        added = await agents_api.add_agent(request, AgentIn.model_validate(
            {"name": form.get("name", ""), "role": form.get("role", "agent")}))
    except ValidationError as invalid:
        return await staff(request, error=words_of(request).text(
            "refused.invalid", field="name", reason=invalid.errors()[0]["msg"]), status=422)
    except MarketError as refused:
        return await staff(request, error=rule_says(request, refused), status=422)
    # The password is shown this once, on this answer only (no-store: never cached).
    return await staff(request, shown={"name": added.name, "secret": added.password,
                                       "what": "password"})


async def issue_staff_token(request: web.Request) -> web.StreamResponse:
    try:
        token = await agents_api.issue_token(request)
    except MarketError as refused:  # NotFound: no such agent; Conflict: revoked
        return await staff(request, error=rule_says(request, refused),
                           status=409 if isinstance(refused, jobs.Conflict) else 404)
    return await staff(request, shown={"name": f"#{token.agent_id}", "secret": token.token,
                                       "what": "token"})


async def revoke_staff(request: web.Request) -> web.StreamResponse:
    try:
        await agents_api.revoke_agent(request)
    except MarketError as refused:
        return await staff(request, error=rule_says(request, refused),
                           status=409 if isinstance(refused, jobs.Conflict) else 404)
    raise web.HTTPSeeOther(f"{PREFIX}/staff")


# --- dashboard ------------------------------------------------------------------------
def _period(request: web.Request) -> figures.Period:
    desk = deps_of(request).desk
    today = market_today(deps_of(request).clock(), desk.timezone)
    try:
        first = date.fromisoformat(request.query.get("from") or
                                   (today - timedelta(days=29)).isoformat())
        last = date.fromisoformat(request.query.get("to") or today.isoformat())
    except ValueError:
        raise MarketError("from", "days_format") from None
    return figures.Period(first, last, desk.timezone)


async def _figures(request: web.Request):
    desk = deps_of(request).desk
    period = _period(request)
    async with desk.sessions() as session:
        return (period, await figures.totals(session, period, market_id=desk.market_id),
                await figures.daily(session, period),
                await figures.fill_minutes(session, period))


async def dashboard(request: web.Request) -> web.StreamResponse:
    try:
        period, totals, days, fills = await _figures(request)
    except MarketError as bad:  # the period's days, as typed or as a period
        return refuse_rule(request, 400, bad)
    chart = {"days": [d.day.isoformat() for d in days],
             **{name: [getattr(d, name) for d in days]
                for name in ("registrations", "alerted", "accepted", "hired")},
             **{name: [getattr(d, name) / 100 for d in days]
                for name in ("paid_fen", "unpaid_fen", "recovered_fen")}}
    return _page(request, "dashboard.html", period=period, totals=asdict(totals),
                 chart=chart, median_fill=figures.median(fills), filled_jobs=len(fills))


async def dashboard_csv(request: web.Request) -> web.StreamResponse:
    try:
        period, _, days, _ = await _figures(request)
    except MarketError as bad:  # the period's days, as typed or as a period
        return refuse_rule(request, 400, bad)
    return web.Response(
        text=figures.days_as_csv(days), content_type="text/csv", charset="utf-8",
        headers={"Content-Disposition":
                 f'attachment; filename="figures-{period.first}-{period.last}.csv"'})


PAGES: tuple[Page, ...] = (
    Page(Role.AGENT,      "GET",  f"{PREFIX}/workers", workers),
    Page(Role.AGENT,      "GET",  f"{PREFIX}/workers/new", new_worker),
    Page(Role.AGENT,      "POST", f"{PREFIX}/workers/new", register_worker),
    Page(Role.AGENT,      "GET",  f"{PREFIX}/workers/{{id}}", worker),
    Page(Role.AGENT,      "GET",  f"{PREFIX}/workers/{{id}}/edit", edit_worker),
    Page(Role.AGENT,      "POST", f"{PREFIX}/workers/{{id}}/edit", correct_worker),
    Page(Role.AGENT,      "GET",  f"{PREFIX}/callbacks", waiting_callers),
    Page(Role.AGENT,      "POST", f"{PREFIX}/callbacks/{{id}}/done", called_back),
    Page(Role.AGENT,      "GET",  f"{PREFIX}/employers", employers),
    Page(Role.AGENT,      "GET",  f"{PREFIX}/employers/new", new_employer),
    Page(Role.AGENT,      "POST", f"{PREFIX}/employers/new", register_employer),
    Page(Role.AGENT,      "GET",  f"{PREFIX}/employers/{{id}}", employer),
    Page(Role.SUPERVISOR, "POST", f"{PREFIX}/employers/{{id}}/verification", verify_employer),
    Page(Role.AGENT,      "GET",  f"{PREFIX}/jobs/new", new_job),
    Page(Role.AGENT,      "POST", f"{PREFIX}/jobs/new", compose_job),
    Page(Role.AGENT,      "GET",  f"{PREFIX}/jobs/{{id}}", job),
    Page(Role.AGENT,      "GET",  f"{PREFIX}/jobs/{{id}}/live", job_live),
    Page(Role.AGENT,      "POST", f"{PREFIX}/jobs/{{id}}/change", change_job),
    Page(Role.AGENT,      "POST", f"{PREFIX}/jobs/{{id}}/cancel", cancel_job),
    Page(Role.SUPERVISOR, "POST", f"{PREFIX}/employers/{{id}}/clear", clear_hold),
    Page(Role.AGENT,      "GET",  f"{PREFIX}/cases", rights_cases),
    Page(Role.AGENT,      "GET",  f"{PREFIX}/cases/{{id}}", rights_case),
    Page(Role.AGENT,      "POST", f"{PREFIX}/cases/{{id}}/actions", case_action),
    Page(Role.SUPERVISOR, "GET",  f"{PREFIX}/staff", staff),
    Page(Role.SUPERVISOR, "POST", f"{PREFIX}/staff", add_staff),
    Page(Role.SUPERVISOR, "POST", f"{PREFIX}/staff/{{id}}/tokens", issue_staff_token),
    Page(Role.SUPERVISOR, "POST", f"{PREFIX}/staff/{{id}}/revoke", revoke_staff),
    Page(Role.AGENT,      "GET",  f"{PREFIX}/dashboard", dashboard),
    Page(Role.AGENT,      "GET",  f"{PREFIX}/dashboard.csv", dashboard_csv),
)
