"""The audit log: every change an agent makes through the API, and every look at a
worker's personal data, is written with who, when and what, in the change's own
transaction; supervisors read it, filtered by agent, subject and day."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from console.table import ROUTES
from gigline.app import create_app
from market import cases
from store.models import AuditEntry, Worker
from tests.conftest import make_settings
from tests.market_world import CATALOGUE
from tests.test_api import EMPLOYER, job_body, town_id
from tests.test_wage_loop import WORKER, hired

ALICE = "wang-token-0123456789ab"  # wang, a supervisor
BOB = "li-token-0123456789abcd"  # li, an agent


def auth(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
async def client(aiohttp_client, database_url, clock):
    settings = make_settings(database_url, 8080, GIGLINE_API_TOKENS=f"wang:{ALICE},li:{BOB}",
                             GIGLINE_API_SUPERVISORS="wang", GIGLINE_DEMO="0")
    return await aiohttp_client(create_app(settings, clock=clock))


async def entries(market) -> list[AuditEntry]:
    async with market.sessions() as session:
        return list(await session.scalars(select(AuditEntry).where(
            AuditEntry.actor.in_(["wang", "li"])).order_by(AuditEntry.id)))


async def test_every_change_through_the_api_and_every_case_view_is_audited(market, client):
    """Each route that changes something is called once; each leaves its own entry. A new
    write route fails here until it is both called and audited."""
    hire = await hired(market, days=1)
    async with market.sessions() as session, session.begin():
        worker = await session.scalar(select(Worker).where(Worker.phone == WORKER))
        case = await cases.report_by_worker(session, worker, amount_fen=30000, via="agent",
                                            now=market.clock(), catalogue=CATALOGUE,
                                            hold_employer=True)
    employer = await (await client.post("/api/employers", json=EMPLOYER | {
        "credit_code": "91350100M000100Y43", "phone": "139 0000 0009"},
        headers=auth(BOB))).json()
    town = await town_id(client)
    calls = {
        ("POST", "/api/employers/{id}/verification"): (
            f"/api/employers/{employer['id']}", {"state": "verified", "checked": "执照"},
            ALICE),
        ("POST", "/api/jobs"): (None, job_body(employer["id"], town), BOB),
        ("PATCH", "/api/jobs/{id}"): ("job", {"notes": "带安全帽"}, BOB),
        ("POST", "/api/jobs/{id}/cancel"): ("job", None, BOB),
        ("POST", "/api/cases/{id}/actions"): (
            f"/api/cases/{case.id}", {"action": "assign", "note": "我来跟进"}, BOB),
        ("PATCH", "/api/hires/{id}"): (f"/api/hires/{hire.id}", {"days_worked": 1}, BOB),
        ("POST", "/api/employers/{id}/clear"): (f"/api/employers/{case.employer_id}", None,
                                                ALICE),
        ("POST", "/api/agents"): (None, {"name": "赵敏", "role": "agent"}, ALICE),
        ("POST", "/api/agents/{id}/tokens"): ("agent", None, ALICE),
        ("POST", "/api/tokens/{id}/revoke"): ("token", None, ALICE),
        ("POST", "/api/agents/{id}/revoke"): ("agent", None, ALICE),
    }
    writes = {(route.method, route.path) for route in ROUTES if route.method != "GET"}
    assert writes == set(calls) | {("POST", "/api/employers")}, "every write route is called"
    assert [e.action for e in await entries(market)] == ["employer_registered"]
    made = {}  # what a call created, for the calls after it: "job", "agent", "token"
    for (method, path), (base, body, token) in calls.items():
        before = len(await entries(market))
        base = made.get(base, base)
        url = path if base is None else base + path.split("{id}")[1]
        response = await client.request(method, url, json=body, headers=auth(token))
        assert response.status in (200, 201), (path, await response.text())
        answer = await response.json()
        if path == "/api/jobs":
            made["job"] = f"/api/jobs/{answer['id']}"
        elif path == "/api/agents":
            made["agent"] = f"/api/agents/{answer['id']}"
        elif path.endswith("/tokens"):
            made["token"] = f"/api/tokens/{answer['id']}"
        new = (await entries(market))[before:]
        assert len(new) >= 1, f"{method} {path} wrote no audit entry"
        assert new[-1].actor == ("wang" if token == ALICE else "li")
    viewed = await client.get(f"/api/cases/{case.id}", headers=auth(BOB))
    assert viewed.status == 200 and WORKER in await viewed.text()
    last = (await entries(market))[-1]
    assert (last.actor, last.action, last.subject) == ("li", "case_viewed", f"case:{case.id}")
    assert last.at == market.clock()


async def test_a_supervisor_reads_the_log_filtered_and_an_agent_may_not(market, client):
    for credit, phone in (("91140802MA0K000005", "139 0000 0001"),
                          ("91350100M000100Y43", "139 0000 0009")):
        created = await client.post("/api/employers", headers=auth(BOB), json=EMPLOYER | {
            "credit_code": credit, "phone": phone})
        assert created.status == 201
    await client.post("/api/employers/1/verification", headers=auth(ALICE),
                      json={"state": "verified", "checked": "执照"})
    read = await client.get("/api/audit", headers=auth(ALICE))
    assert [e["action"] for e in await read.json()] == [
        "employer_verified", "employer_registered", "employer_registered"]
    by_bob = await (await client.get("/api/audit?agent=li", headers=auth(ALICE))).json()
    assert {e["actor"] for e in by_bob} == {"li"} and len(by_bob) == 2
    one = await (await client.get("/api/audit?subject=employer:1",
                                  headers=auth(ALICE))).json()
    assert [e["action"] for e in one] == ["employer_verified", "employer_registered"]
    kind = await (await client.get("/api/audit?subject=employer", headers=auth(ALICE))).json()
    assert len(kind) == 3
    today = market.clock().date().isoformat()
    assert len(await (await client.get(f"/api/audit?from={today}&to={today}",
                                       headers=auth(ALICE))).json()) == 3
    assert await (await client.get("/api/audit?to=2026-01-01",
                                   headers=auth(ALICE))).json() == []
    assert (await client.get("/api/audit?from=yesterday", headers=auth(ALICE))).status == 400
    refused = await client.get("/api/audit", headers=auth(BOB))
    assert refused.status == 403
