"""Supervisors manage the staff through the API as `gigline agents` does at the command
line: add, issue a token, revoke. Secrets made here are answered once and kept hashed;
each change is audited in its own transaction (console.accounts writes the entry)."""

from __future__ import annotations

from aiohttp import web

from console import accounts
from console.http import agent_of, deps_of, desk_of, record_id
from console.schemas import AgentAddedOut, AgentIn, AgentOut, TokenOut, TokenRevokedOut
from store.models import Agent
from store.statuses import Role


def _out(agent: Agent, tokens: int) -> AgentOut:
    return AgentOut(id=agent.id, name=agent.name, role=agent.role,
                    active=agent.disabled_at is None, live_tokens=tokens,
                    created_at=agent.created_at)


async def list_agents(request: web.Request) -> list[AgentOut]:
    async with desk_of(request).sessions() as session:
        return [_out(agent, tokens) for agent, tokens in await accounts.list_agents(session)]


async def add_agent(request: web.Request, body: AgentIn) -> AgentAddedOut:
    password = accounts.new_password()
    async with desk_of(request).sessions() as session, session.begin():
        agent = await accounts.add_agent(session, body.name, Role(body.role), password,
                                         now=deps_of(request).clock(), by=agent_of(request))
        return AgentAddedOut(**dict(_out(agent, 0)), password=password)


async def issue_token(request: web.Request) -> TokenOut:
    async with desk_of(request).sessions() as session, session.begin():
        agent = await accounts.agent_by_id(session, record_id(request))
        token_id, token = await accounts.issue_token(
            session, agent, now=deps_of(request).clock(), by=agent_of(request))
        return TokenOut(id=token_id, agent_id=agent.id, token=token)


async def revoke_agent(request: web.Request) -> AgentOut:
    async with desk_of(request).sessions() as session, session.begin():
        agent = await accounts.agent_by_id(session, record_id(request))
        await accounts.revoke_agent(session, agent, now=deps_of(request).clock(),
                                    by=agent_of(request))
        return _out(agent, 0)


async def revoke_token(request: web.Request) -> TokenRevokedOut:
    async with desk_of(request).sessions() as session, session.begin():
        await accounts.revoke_token(session, record_id(request),
                                    now=deps_of(request).clock(), by=agent_of(request))
    return TokenRevokedOut(id=record_id(request), revoked=True)
