"""The agents' JSON API through the real app: never open, bad input named, OpenAPI served."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from gigline.app import create_app
from gigline.keys import SESSIONS
from store.models import Area, AuditEntry
from tests.conftest import make_settings

TOKEN = "alice-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
EMPLOYER = {"name": "安居建筑劳务有限公司", "phone": "139 0000 0001", "address": "运城",
            "credit_code": "91140802MA0K000005"}


@pytest.fixture
async def client(aiohttp_client, database_url, clock):
    # alice verifies employers: a supervisor's work (GIGLINE_API_SUPERVISORS).
    settings = make_settings(database_url, 8080, GIGLINE_API_TOKENS=f"alice:{TOKEN}",
                             GIGLINE_API_SUPERVISORS="alice", GIGLINE_DEMO="0")
    return await aiohttp_client(create_app(settings, clock=clock))


async def town_id(client, name: str = "北城街道") -> int:
    async with client.app[SESSIONS]() as session:
        return await session.scalar(select(Area.id).where(Area.name == name))


async def verified_employer(client) -> int:
    created = await client.post("/api/employers", json=EMPLOYER, headers=AUTH)
    assert created.status == 201
    employer = await created.json()
    verified = await client.post(f"/api/employers/{employer['id']}/verification",
                                 json={"state": "verified", "checked": "营业执照原件"},
                                 headers=AUTH)
    assert verified.status == 200
    return employer["id"]


def job_body(employer_id: int, town: int, changes: dict | None = None) -> dict:
    return {"employer_id": employer_id, "start_at": "2026-11-24T07:00:00", "days": 10,
            "town_id": town, "address": "河东东街88号工地",
            "lines": [{"trade": "welder", "headcount": 4, "day_wage_yuan": 500},
                      {"trade": "labourer", "headcount": 2, "day_wage_yuan": "200.50"}],
            **(changes or {})}


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"},
                                     {"Authorization": TOKEN}])
async def test_the_api_is_never_open(client, headers):
    response = await client.get("/api/trades", headers=headers)
    assert response.status == 401
    assert "token" in (await response.json())["error"]
    assert response.headers["WWW-Authenticate"] == "Bearer"


async def test_the_openapi_document_describes_every_route(client):
    response = await client.get("/api/openapi.json")
    assert response.status == 200
    document = await response.json()
    assert document["openapi"].startswith("3.1")
    routes = {resource.canonical for resource in client.app.router.resources()
              if resource.canonical.startswith("/api/") and "openapi" not in resource.canonical}
    assert routes == set(document["paths"])
    assert "credit_code" in document["components"]["schemas"]["EmployerIn"]["properties"]


async def test_an_agent_registers_and_verifies_an_employer_and_it_is_audited(client):
    employer_id = await verified_employer(client)
    employer = await (await client.get(f"/api/employers/{employer_id}", headers=AUTH)).json()
    assert employer["phone"] == "+8613900000001"
    assert employer["verification"] == "verified" and employer["verified_by"] == "alice"
    assert employer["verification_note"] == "营业执照原件"
    async with client.app[SESSIONS]() as session:
        actions = list(await session.scalars(select(AuditEntry.action)))
    assert actions == ["employer_registered", "employer_verified"]


@pytest.mark.parametrize("change, status, field", [
    ({"credit_code": "91140802MA0K000004"}, 422, "credit_code"),
    ({"credit_code": "short"}, 422, "credit_code"),
    ({"phone": "12345"}, 422, "phone"),
    ({"name": ""}, 422, "name"),
    ({"surprise": 1}, 422, "surprise"),
])
async def test_bad_employers_are_refused_naming_the_field(client, change, status, field):
    response = await client.post("/api/employers", json=EMPLOYER | change, headers=AUTH)
    assert response.status == status
    assert (await response.json())["field"] == field


async def test_the_same_employer_twice_is_a_conflict(client):
    await client.post("/api/employers", json=EMPLOYER, headers=AUTH)
    response = await client.post("/api/employers", json=EMPLOYER, headers=AUTH)
    assert response.status == 409


async def test_posting_a_job_with_two_lines(client):
    employer_id = await verified_employer(client)
    response = await client.post("/api/jobs", json=job_body(employer_id, await town_id(client)),
                                 headers=AUTH)
    assert response.status == 201
    job = await response.json()
    assert job["code"] == f"J{job['id']}" and job["status"] == "open"
    assert job["start_at"] == "2026-11-23T23:00:00+00:00", "market time is Shanghai"
    assert [(line["trade"], line["headcount"], line["day_wage_fen"]) for line in job["lines"]] \
        == [("welder", 4, 50000), ("labourer", 2, 20050)]
    fetched = await client.get(f"/api/jobs/{job['id']}", headers=AUTH)
    assert (await fetched.json())["lines"][0]["filled"] == 0


@pytest.mark.parametrize("change, status, field", [
    ({"lines": []}, 422, "lines"),
    ({"lines": [{"trade": "astronaut", "headcount": 1, "day_wage_yuan": 500}]}, 422,
     "lines[0].trade"),
    ({"lines": [{"trade": "welder", "headcount": 0, "day_wage_yuan": 500}]}, 422,
     "lines.0.headcount"),
    ({"lines": [{"trade": "welder", "headcount": 1, "day_wage_yuan": -5}]}, 422,
     "lines.0.day_wage_yuan"),
    ({"lines": [{"trade": "welder", "headcount": 1, "day_wage_yuan": 500},
                {"trade": "welder", "headcount": 1, "day_wage_yuan": 400}]}, 422, "lines"),
    ({"days": 0}, 422, "days"),
    ({"start_at": "tomorrow"}, 422, "start_at"),
    ({"start_at": "2020-01-01T07:00:00"}, 422, "start_at"),
    ({"town_id": 999}, 404, "town_id"),
    ({"employer_id": 999}, 404, "employer"),
])
async def test_bad_jobs_are_refused_naming_the_field(client, change, status, field):
    employer_id = await verified_employer(client)
    body = job_body(employer_id, await town_id(client), change)
    response = await client.post("/api/jobs", json=body, headers=AUTH)
    assert response.status == status, await response.text()
    assert (await response.json())["field"] == field


async def test_a_body_that_is_not_json_is_400(client):
    response = await client.post("/api/jobs", data=b"\xff{", headers=AUTH)
    assert response.status == 400
    assert (await response.json())["field"] == "body"


async def test_unknown_job_is_404(client):
    for path in ("/api/jobs/999", "/api/jobs/999/matches"):
        response = await client.get(path, headers=AUTH)
        assert response.status == 404
    response = await client.post("/api/jobs/999/cancel", headers=AUTH)
    assert response.status == 404


async def test_changing_a_cancelled_job_is_a_conflict(client):
    employer_id = await verified_employer(client)
    job = await (await client.post("/api/jobs", json=job_body(employer_id, await town_id(client)),
                                   headers=AUTH)).json()
    cancelled = await client.post(f"/api/jobs/{job['id']}/cancel", headers=AUTH)
    assert (await cancelled.json())["status"] == "cancelled"
    response = await client.patch(f"/api/jobs/{job['id']}", json={"address": "别处"},
                                  headers=AUTH)
    assert response.status == 409
