"""Who may call what: every route of the agents' API refuses the unauthenticated (401)
and a role too small (403), generated from the route table so that a new route cannot
skip it; per-agent tokens work until revoked."""

from __future__ import annotations

import pytest

from console.accounts import add_agent, agent_named, issue_token, revoke
from console.http import Route
from console.table import ROUTES
from gigline.app import create_app
from gigline.keys import SESSIONS
from store.statuses import Role
from tests.conftest import make_settings

SUPERVISOR_TOKEN = "alice-token-0123456789"
AGENT_TOKEN = "bob-token-0123456789ab"


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
async def client(aiohttp_client, database_url, clock):
    settings = make_settings(
        database_url, 8080, GIGLINE_API_TOKENS=f"alice:{SUPERVISOR_TOKEN},bob:{AGENT_TOKEN}",
        GIGLINE_API_SUPERVISORS="alice", GIGLINE_DEMO="0")
    return await aiohttp_client(create_app(settings, clock=clock))


async def call(client, route: Route, headers: dict):
    path = route.path.replace("{id}", "1")
    return await client.request(route.method, path, headers=headers,
                                **({"json": {}} if route.body else {}))


def named(route: Route) -> str:
    return f"{route.method} {route.path}"


@pytest.mark.parametrize("route", ROUTES, ids=named)
@pytest.mark.parametrize("headers", [{}, bearer("not-a-token-at-all"), bearer("glt_forged"),
                                     {"Authorization": SUPERVISOR_TOKEN}])
async def test_every_route_refuses_the_unauthenticated(client, route, headers):
    response = await call(client, route, headers)
    assert response.status == 401, await response.text()
    assert response.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize("route", [r for r in ROUTES if r.role is not Role.AGENT], ids=named)
async def test_every_supervisors_route_refuses_an_agent_with_the_reason(client, route):
    response = await call(client, route, bearer(AGENT_TOKEN))
    assert response.status == 403
    assert "supervisor" in (await response.json())["error"]
    assert 403 in route.refusals, "the OpenAPI document says so"


@pytest.mark.parametrize("route", ROUTES, ids=named)
async def test_every_route_lets_its_role_in(client, route):
    """An agent passes every agent's route and a supervisor every route (what they get
    then, a 404 for record 1 or a 422 for an empty body, is the handler's answer)."""
    token = AGENT_TOKEN if route.role is Role.AGENT else SUPERVISOR_TOKEN
    response = await call(client, route, bearer(token))
    assert response.status not in (401, 403), await response.text()


async def test_a_per_agent_token_carries_its_role_until_revoked(client, clock):
    async with client.app[SESSIONS]() as session, session.begin():
        await add_agent(session, "carol 李强", Role.AGENT, "carol-password-1", now=clock())
        await add_agent(session, "dora", Role.SUPERVISOR, "dora-password-1", now=clock())
        carol_id, carol = await issue_token(session, await agent_named(session, "carol 李强"),
                                            now=clock())
        _, dora = await issue_token(session, await agent_named(session, "dora"), now=clock())
    assert (await client.get("/api/trades", headers=bearer(carol))).status == 200
    refused = await client.get("/api/audit", headers=bearer(carol))
    assert refused.status == 403 and "carol 李强" in (await refused.json())["error"]
    assert (await client.get("/api/audit", headers=bearer(dora))).status == 200
    async with client.app[SESSIONS]() as session, session.begin():
        await revoke(session, str(carol_id), now=clock())
        await revoke(session, "dora", now=clock())
    assert (await client.get("/api/trades", headers=bearer(carol))).status == 401
    assert (await client.get("/api/trades", headers=bearer(dora))).status == 401


async def test_a_supervisor_manages_the_staff_through_the_api(client):
    sup = bearer(SUPERVISOR_TOKEN)
    added = await client.post("/api/agents", json={"name": "周强", "role": "supervisor"},
                              headers=sup)
    assert added.status == 201
    agent = await added.json()
    assert agent["role"] == "supervisor" and len(agent["password"]) >= 10
    again = await client.post("/api/agents", json={"name": "周强"}, headers=sup)
    assert again.status == 409
    issued = await (await client.post(f"/api/agents/{agent['id']}/tokens", headers=sup)).json()
    mine = bearer(issued["token"])
    assert (await client.get("/api/audit", headers=mine)).status == 200, "a supervisor's"
    listed = await (await client.get("/api/agents", headers=mine)).json()
    assert [(a["name"], a["live_tokens"], a["active"]) for a in listed] == [("周强", 1, True)]
    assert "password" not in listed[0], "shown once, when made"
    revoked = await client.post(f"/api/tokens/{issued['id']}/revoke", headers=sup)
    assert revoked.status == 200
    assert (await client.post(f"/api/tokens/{issued['id']}/revoke", headers=sup)).status == 404
    assert (await client.get("/api/audit", headers=mine)).status == 401
    gone = await client.post(f"/api/agents/{agent['id']}/revoke", headers=sup)
    assert (await gone.json())["active"] is False
    assert (await client.post(f"/api/agents/{agent['id']}/tokens", headers=sup)).status == 409
