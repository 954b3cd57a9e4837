"""The agents' working pages through the real app: a walk-in registered at the window and
found again, a worker's file opened and audited, a caller rung back, an employer verified
by a supervisor, a job previewed then published and followed, and the dashboard."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from console.staff_pages import PAGES
from gigline.keys import DESK, SESSIONS
from market import cases, jobs
from market.waves import run_waves
from store.models import Agent, AuditEntry, CallbackRequest, Employer, Worker
from tests.test_sign_in import app_client, form_token, sign_in

VALID_ID = "11010519491231002X"


@pytest.fixture
async def client(aiohttp_client, database_url, clock):
    client = await app_client(aiohttp_client, database_url, clock)
    await sign_in(client, "li")
    return client


async def csrf(client) -> str:
    return form_token(await (await client.get("/console")).text())


async def town(client, name: str = "北城街道") -> str:
    html = await (await client.get("/console/workers/new")).text()
    return re.search(rf'<option value="(\d+)">{name}</option>', html)[1]


async def register(client, **changes):
    data = {"csrf": await csrf(client), "phone": "13800000009", "name": "赵大姐",
            "trades": ["cleaner", "cook"], "town_id": await town(client),
            "day_wage_yuan": "180", "availability": "today", "alert_channel": "sms",
            "id_number": VALID_ID} | changes
    form = [(k, v) for k, values in data.items()
            for v in (values if isinstance(values, list) else [values])]
    return await client.post("/console/workers/new", data=form, allow_redirects=False)


async def audit(client, action: str) -> list[AuditEntry]:
    async with client.app[SESSIONS]() as session:
        return list(await session.scalars(select(AuditEntry).where(AuditEntry.action == action)))


async def test_a_walk_in_registered_at_the_window_is_found_and_their_file_audited(client):
    registered = await register(client)
    assert registered.status == 303
    page = await client.get(registered.headers["Location"])
    html = await page.text()
    assert page.status == 200 and "+8613800000009" in html and "保洁" in html
    [viewed] = await audit(client, "worker_viewed")
    assert viewed.actor == "li" and viewed.subject.startswith("worker:")
    found = await (await client.get("/console/workers", params={"q": "13800000009"})).text()
    assert "138****0009" in found and "+8613800000009" not in found, "search masks the phone"
    assert [e.actor for e in await audit(client, "consent_given")] == ["li"]


async def test_a_bad_field_is_named_and_nothing_is_registered(client):
    refused = await register(client, day_wage_yuan="5000")
    assert refused.status == 422 and "day_wage_yuan" in await refused.text()
    async with client.app[SESSIONS]() as session:
        assert await session.scalar(select(Worker).where(Worker.phone == "+8613800000009")) \
            is None


async def test_a_script_for_a_name_shows_as_text(client):
    registered = await register(client, name="<script>alert(1)</script>")
    html = await (await client.get(registered.headers["Location"])).text()
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)" in html


async def test_a_caller_waiting_is_rung_back_and_leaves_the_queue(client, clock):
    async with client.app[SESSIONS]() as session, session.begin():
        request = CallbackRequest(phone="+8613800000005", call_sid="CA5",
                                  reason="agent_requested", created_at=clock())
        session.add(request)
        await session.flush()
        callback_id = request.id
    queue = await (await client.get("/console/callbacks")).text()
    assert "+8613800000005" in queue and "agent_requested" in queue
    [looked] = await audit(client, "callback_viewed")
    assert looked.actor == "li" and looked.detail == {"callbacks": [callback_id]}
    done = await client.post(f"/console/callbacks/{callback_id}/done", allow_redirects=False,
                             data={"csrf": await csrf(client), "note": "已回电，想找保洁活"})
    assert done.status == 303
    assert "+8613800000005" not in await (await client.get("/console/callbacks")).text()
    again = await client.post(f"/console/callbacks/{callback_id}/done",
                              data={"csrf": await csrf(client), "note": ""})
    assert again.status == 409 and "li" in await again.text()


async def employer(client, clock) -> int:
    async with client.app[SESSIONS]() as session, session.begin():
        made = await jobs.register_employer(
            session, market_id=client.app[DESK].market_id, name="安居建筑劳务",
            phone="+8613900000001", address="运城", credit_code="91140802MA0K000005",
            agent="li", now=clock())
        return made.id


async def test_a_supervisor_verifies_an_employer_with_what_was_checked(client, clock):
    employer_id = await employer(client, clock)
    found = await (await client.get("/console/employers", params={"q": "安居"})).text()
    assert f"/console/employers/{employer_id}" in found
    page = await (await client.get(f"/console/employers/{employer_id}")).text()
    assert 'id="verify"' not in page, "an agent is not offered the form"
    await sign_in(client, "wang")
    verified = await client.post(f"/console/employers/{employer_id}/verification",
                                 allow_redirects=False,
                                 data={"csrf": await csrf(client), "state": "verified",
                                       "checked": "营业执照原件"})
    assert verified.status == 303
    page = await (await client.get(f"/console/employers/{employer_id}")).text()
    assert "营业执照原件" in page and "wang" in page


async def test_a_job_is_previewed_then_published_and_followed(client, clock):
    employer_id = await employer(client, clock)
    async with client.app[SESSIONS]() as session, session.begin():
        await jobs.set_verification(session, employer_id, state="verified", checked="执照",
                                    agent="wang", now=clock())
    await register(client, phone="13800000001", name="王师傅", trades=["welder"])
    tomorrow = (clock() + timedelta(days=1)).date().isoformat()
    form = {"csrf": await csrf(client), "employer_id": str(employer_id),
            "town_id": await town(client), "address": "河东东街88号", "start_day": tomorrow,
            "start_time": "07:00", "days": "3", "trade_0": "welder", "headcount_0": "1",
            "wage_0": "500"}
    previewed = await client.post("/console/jobs/new", data=form | {"action": "preview"})
    html = await previewed.text()
    assert previewed.status == 200 and 'id="preview"' in html and "焊工 × 1" in html
    assert re.search(r"<td>\d{6}</td><td>北城街道</td>", html), "the welder, by number"
    published = await client.post("/console/jobs/new", allow_redirects=False,
                                  data=form | {"action": "publish"})
    assert published.status == 303
    job_page = published.headers["Location"]
    assert "焊工" in await (await client.get(job_page)).text()
    await run_waves(client.app[DESK], clock())  # the scheduler's wave, run here
    live = await (await client.get(job_page + "/live")).json()
    assert live["waves_sent"] == 1 and live["lines"][0]["offers"] == {"offered": 1}
    assert live["lines"][0]["remaining"] == 1


async def test_a_job_form_with_no_line_says_so(client, clock):
    employer_id = await employer(client, clock)
    refused = await client.post("/console/jobs/new", data={
        "csrf": await csrf(client), "employer_id": str(employer_id),
        "town_id": await town(client), "start_day": "2026-11-24", "days": "1",
        "action": "preview"})
    assert refused.status == 422 and "lines" in await refused.text()


async def test_the_dashboard_and_its_csv(client):
    await register(client)
    page = await client.get("/console/dashboard", params={"from": "2026-11-23",
                                                          "to": "2026-11-23"})
    html = await page.text()
    assert page.status == 200 and 'data-total="registrations">1<' in html
    exported = await client.get("/console/dashboard.csv", params={"from": "2026-11-22",
                                                                  "to": "2026-11-23"})
    rows = list(csv.reader(io.StringIO(await exported.text())))
    assert exported.content_type == "text/csv" and rows[0][0] == "day"
    assert [r[0] for r in rows[1:]] == ["2026-11-22", "2026-11-23"]
    assert (await client.get("/console/dashboard", params={"from": "x"})).status == 400


async def test_an_employer_page_for_no_one_is_a_404(client):
    assert (await client.get("/console/employers/999")).status == 404
    assert (await client.get("/console/workers/abc")).status == 404
    async with client.app[SESSIONS]() as session:
        assert await session.scalar(select(Employer)) is None


async def open_case(client, clock) -> int:
    """A walk-in reports 800 yuan unpaid: a case with no hire, for an agent to work."""
    await register(client, phone="13800000002", name="孙师傅", trades=["welder"])
    async with client.app[SESSIONS]() as session, session.begin():
        worker = await session.scalar(select(Worker).where(Worker.phone == "+8613800000002"))
        case = await cases.report_by_worker(
            session, worker, amount_fen=80000, via="worker_sms", now=clock(),
            catalogue=client.app[DESK].catalogue, hold_employer=True)
        return case.id


async def test_the_rights_desk_works_a_case_from_list_to_recovery(client, clock):
    case_id = await open_case(client, clock)
    listed = await (await client.get("/console/cases", params={"status": "open"})).text()
    assert f"/console/cases/{case_id}" in listed
    page = await (await client.get(f"/console/cases/{case_id}")).text()
    assert "+8613800000002" in page and "800元" in page
    assert [e.subject for e in await audit(client, "case_viewed")] == [f"case:{case_id}"]
    for action in ({"action": "assign", "note": "李负责"},
                   {"action": "recovered", "amount_yuan": "300", "note": "老板先付一部分"}):
        acted = await client.post(f"/console/cases/{case_id}/actions", allow_redirects=False,
                                  data={"csrf": await csrf(client), **action})
        assert acted.status == 303
    page = await (await client.get(f"/console/cases/{case_id}")).text()
    assert "300元" in page and "老板先付一部分" in page and 'id="assigned">li<' in page
    assert '<span class="recovered">追回 300元</span>' in page, "the worker's own share"
    refused = await client.post(f"/console/cases/{case_id}/actions",
                                data={"csrf": await csrf(client), "action": "recovered"})
    assert refused.status == 422, "recovered needs its amount"
    assert (await client.get("/console/cases", params={"status": "lost"})).status == 400


async def published_job(client, clock, **changes) -> tuple[int, int]:
    employer_id = await employer(client, clock)
    tomorrow = (clock() + timedelta(days=1)).date().isoformat()
    form = {"csrf": await csrf(client), "employer_id": str(employer_id),
            "town_id": await town(client), "address": "河东东街88号", "start_day": tomorrow,
            "start_time": "07:00", "days": "3", "trade_0": "welder", "headcount_0": "1",
            "wage_0": "500", "action": "publish"} | changes
    published = await client.post("/console/jobs/new", allow_redirects=False, data=form)
    return employer_id, int(published.headers["Location"].rsplit("/", 1)[1])


async def test_a_job_is_changed_then_cancelled_from_its_page(client, clock):
    _, job_id = await published_job(client, clock)
    changed = await client.post(f"/console/jobs/{job_id}/change", allow_redirects=False,
                                data={"csrf": await csrf(client), "address": "解州镇北街1号"})
    assert changed.status == 303
    assert "解州镇北街1号" in await (await client.get(f"/console/jobs/{job_id}")).text()
    cancelled = await client.post(f"/console/jobs/{job_id}/cancel", allow_redirects=False,
                                  data={"csrf": await csrf(client)})
    assert cancelled.status == 303
    page = await (await client.get(f"/console/jobs/{job_id}")).text()
    assert 'data-field="status_said">已取消<' in page and 'id="change"' not in page
    live = await (await client.get(f"/console/jobs/{job_id}/live")).json()
    assert (live["status"], live["status_said"]) == ("cancelled", "已取消")
    await client.get("/console/language", params={"to": "en"})
    live = await (await client.get(f"/console/jobs/{job_id}/live")).json()
    assert live["status_said"] == "cancelled"
    assert 'data-field="status_said">cancelled<' in \
        await (await client.get(f"/console/jobs/{job_id}")).text()
    again = await client.post(f"/console/jobs/{job_id}/change",
                              data={"csrf": await csrf(client), "notes": "x"})
    assert again.status == 409


SCRIPT = "<script>alert(1)</script>"


async def test_a_script_anywhere_shows_as_text_on_every_page(client, clock):
    """Every page a signed-in supervisor can open, each over records whose free text is a
    script: none of it reaches the page as markup."""
    await sign_in(client, "wang")
    await register(client, name=SCRIPT)
    employer_id, job_id = await published_job(client, clock, address=SCRIPT, notes=SCRIPT)
    async with client.app[SESSIONS]() as session, session.begin():
        worker = await session.scalar(select(Worker).where(Worker.phone == "+8613800000009"))
        await session.execute(update(Employer).values(name=SCRIPT, address=SCRIPT))
        session.add(CallbackRequest(phone=worker.phone, call_sid="CA9", reason=SCRIPT[:32],
                                    created_at=clock()))
        case = await cases.report_by_worker(
            session, worker, amount_fen=100, via="worker_sms", now=clock(),
            catalogue=client.app[DESK].catalogue, hold_employer=True)
        ids = {"workers": worker.id, "employers": employer_id, "jobs": job_id,
               "cases": case.id}
    await client.post(f"/console/cases/{ids['cases']}/actions",
                      data={"csrf": await csrf(client), "action": "contact", "note": SCRIPT})
    opened = 0
    for page in PAGES:
        if page.method != "GET" or page.role is None or page.path.endswith(("/live", ".csv")):
            continue
        kind = page.path.split("/")[2] if page.path.count("/") > 1 else ""
        path = page.path.replace("{id}", str(ids.get(kind, 0)))
        response = await client.get(path, params={"q": "<script>"} if "{" not in page.path
                                    else None)
        body = await response.text()
        assert response.status == 200, path
        assert SCRIPT not in body, f"{path} shows a script as markup"
        opened += 1
    assert opened >= 10


@pytest.mark.parametrize(("field", "value", "why"), [
    ("credit_code", "91140802MA0K000004", "GB 32100 校验位不符"),
    ("phone", "12345", "不是有效的电话号码"),
    ("name", " ", "1到200个字"),
])
async def test_an_employer_is_registered_with_its_credit_code_checked(client, field, value,
                                                                      why):
    form = {"csrf": await csrf(client), "name": "安居建筑劳务", "phone": "13900000001",
            "address": "运城", "credit_code": "91140802MA0K000005"}
    refused = await client.post("/console/employers/new", data=form | {field: value})
    assert refused.status == 422 and why in await refused.text()
    registered = await client.post("/console/employers/new", data=form,
                                   allow_redirects=False)
    assert registered.status == 303
    page = await (await client.get(registered.headers["Location"])).text()
    assert "安居建筑劳务" in page and '<dd id="verification">未核验' in page
    again = await client.post("/console/employers/new", data=form)
    assert again.status == 422 and "这个信用代码的雇主已经登记过了" in await again.text()


async def test_a_supervisor_adds_issues_a_token_and_revokes_staff(client):
    await sign_in(client, "wang")
    added = await client.post("/console/staff", data={"csrf": await csrf(client),
                                                      "name": "赵新人", "role": "agent"})
    html = await added.text()
    assert added.status == 200 and "赵新人" in html
    password = re.search(r"<code>([^<]+)</code>", html)[1]
    assert added.headers["Cache-Control"] == "no-store", "the password is not kept"
    assert password not in await (await client.get("/console/staff")).text(), "shown once"
    async with client.app[SESSIONS]() as session:
        agent_id = await session.scalar(select(Agent.id).where(Agent.name == "赵新人"))
    token = await client.post(f"/console/staff/{agent_id}/tokens",
                              data={"csrf": await csrf(client)})
    secret = re.search(r"<code>(glt_[^<]+)</code>", await token.text())[1]
    api = await client.get("/api/trades", headers={"Authorization": f"Bearer {secret}"})
    assert api.status == 200, "the new token works"
    revoked = await client.post(f"/console/staff/{agent_id}/revoke", allow_redirects=False,
                                data={"csrf": await csrf(client)})
    assert revoked.status == 303
    api = await client.get("/api/trades", headers={"Authorization": f"Bearer {secret}"})
    assert api.status == 401, "revoking the agent ends their tokens"
    duplicate = await client.post("/console/staff", data={"csrf": await csrf(client),
                                                          "name": "li", "role": "agent"})
    assert duplicate.status == 422 and "已经有叫 li 的工作人员了" in await duplicate.text()
