"""Staff accounts: who an agent is, how they prove it (a password, a session cookie, an
API token), and the lock-out. Each function takes a session and the time; the caller
owns the transaction. Secrets are shown once and kept only as hashes: passwords with
argon2 (slow on purpose, run off the event loop), tokens and session keys with SHA-256
(they are random and long, so a fast hash is enough)."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from market.jobs import Conflict, MarketError, NotFound
from store.models import Agent, AgentSession, AgentToken, AuditEntry, LoginFailure
from store.statuses import Role

LOCK_AFTER = 5  # failed sign-ins in a row, by name
LOCK_FOR = timedelta(minutes=15)
SESSION_FOR = timedelta(hours=12)  # one working day; then sign in again
TOKEN_PREFIX = "glt_"  # tells a per-agent token from an environment one in logs and forms

_hasher = PasswordHasher()
# Checked when the name has no account, so that a wrong name takes as long as a wrong
# password and timing tells no one which names exist.
_NO_ONE = _hasher.hash(secrets.token_urlsafe(16))


@dataclass(frozen=True)
class Staff:
    """Who is asking, as the console knows them."""

    name: str
    role: Role
    agent_id: int | None = None  # None for the environment's tokens (GIGLINE_API_TOKENS)


class SignInRefused(Exception):
    """The name and password do not sign in; the reason (a page text's id, with its
    params) never says whether the name exists."""

    def __init__(self, says: str, *, locked: bool = False, **params: object):
        super().__init__(says)
        self.says, self.params, self.locked = says, params, locked


WRONG = "refused.wrong_sign_in"
LOCKED = "refused.locked"
LOCK_MINUTES = LOCK_FOR.seconds // 60


def _sha256(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_password() -> str:
    return secrets.token_urlsafe(12)


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_hasher.hash, password)


async def _password_matches(stored: str, password: str) -> bool:
    def check() -> bool:
        try:
            return _hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return False

    return await asyncio.to_thread(check)


def is_token_id(text: str) -> bool:
    return text.isascii() and text.isdigit()


def _valid_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > 64:
        raise MarketError("name", "agent_name_length")
    if is_token_id(name):  # `gigline agents revoke 7` means token 7
        raise MarketError("name", "agent_name_digits")
    return name


def _audit(now: datetime, by: str, action: str, subject: str, detail: dict) -> AuditEntry:
    return AuditEntry(at=now, actor=by, action=action, subject=subject, detail=detail)


async def add_agent(session: AsyncSession, name: str, role: Role, password: str, *,
                    now: datetime, by: str = "") -> Agent:
    """`by`: who adds them, for the audit log (the CLI's operator is `cli`); empty for
    tests' own set-up."""
    name = _valid_name(name)
    if await session.scalar(select(Agent.id).where(Agent.name == name)) is not None:
        raise Conflict("name", "agent_exists", name=name)
    if len(password) < 10:
        raise MarketError("password", "password_short")
    agent = Agent(name=name, role=role, password_hash=await hash_password(password),
                  created_at=now)
    session.add(agent)
    await session.flush()
    if by:
        session.add(_audit(now, by, "agent_added", f"agent:{agent.id}",
                           {"name": name, "role": role}))
    return agent


async def any_agent(session: AsyncSession) -> bool:
    return await session.scalar(select(func.count()).select_from(Agent)) > 0


async def list_agents(session: AsyncSession) -> list[tuple[Agent, int]]:
    """Every agent with how many live API tokens they hold."""
    live = (select(func.count()).where(AgentToken.agent_id == Agent.id,
                                       AgentToken.revoked_at.is_(None))
            .correlate(Agent).scalar_subquery())
    return [(agent, tokens) for agent, tokens in
            await session.execute(select(Agent, live).order_by(Agent.name))]


async def agent_named(session: AsyncSession, name: str) -> Agent:
    agent = await session.scalar(select(Agent).where(Agent.name == name))
    if agent is None:
        raise NotFound("agent", name, field="name")
    return agent


async def agent_by_id(session: AsyncSession, agent_id: int) -> Agent:
    agent = await session.get(Agent, agent_id)
    if agent is None:
        raise NotFound("agent", agent_id, field="id")
    return agent


async def live_tokens(session: AsyncSession, agent_id: int) -> int:
    return await session.scalar(select(func.count()).where(
        AgentToken.agent_id == agent_id, AgentToken.revoked_at.is_(None)))


async def issue_token(session: AsyncSession, agent: Agent, *, now: datetime,
                      by: str = "") -> tuple[int, str]:
    """A new API token for the agent: its id (to revoke it by) and the token, which is
    not kept and cannot be shown again."""
    if agent.disabled_at is not None:
        raise Conflict("name", "agent_revoked", name=agent.name)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = AgentToken(agent_id=agent.id, token_hash=_sha256(token), created_at=now)
    session.add(row)
    await session.flush()
    if by:
        session.add(_audit(now, by, "token_issued", f"agent:{agent.id}", {"token": row.id}))
    return row.id, token


async def revoke_token(session: AsyncSession, token_id: int, *, now: datetime,
                       by: str = "") -> None:
    done = await session.execute(
        update(AgentToken).where(AgentToken.id == token_id, AgentToken.revoked_at.is_(None))
        .values(revoked_at=now))
    if not done.rowcount:
        raise NotFound("live token", token_id, field="id")
    if by:
        session.add(_audit(now, by, "token_revoked", f"token:{token_id}", {}))


async def revoke_agent(session: AsyncSession, agent: Agent, *, now: datetime,
                       by: str = "") -> None:
    """They can no longer sign in; their tokens are revoked and their sessions end."""
    agent.disabled_at = agent.disabled_at or now
    await session.execute(update(AgentToken).where(
        AgentToken.agent_id == agent.id, AgentToken.revoked_at.is_(None)).values(revoked_at=now))
    await session.execute(delete(AgentSession).where(AgentSession.agent_id == agent.id))
    if by:
        session.add(_audit(now, by, "agent_revoked", f"agent:{agent.id}", {}))


async def revoke(session: AsyncSession, name_or_token_id: str, *, now: datetime,
                 by: str = "") -> str:
    """A token id revokes that token; a name revokes the agent. Says what it did."""
    if is_token_id(name_or_token_id):
        await revoke_token(session, int(name_or_token_id), now=now, by=by)
        return f"token {name_or_token_id} revoked"
    agent = await agent_named(session, name_or_token_id)
    await revoke_agent(session, agent, now=now, by=by)
    return f"{agent.name} revoked: cannot sign in, tokens revoked, sessions ended"


async def staff_by_token(session: AsyncSession, token: str) -> Staff | None:
    if not token.startswith(TOKEN_PREFIX):
        return None
    agent = await session.scalar(
        select(Agent).join(AgentToken, AgentToken.agent_id == Agent.id)
        .where(AgentToken.token_hash == _sha256(token), AgentToken.revoked_at.is_(None),
               Agent.disabled_at.is_(None)))
    return None if agent is None else Staff(agent.name, Role(agent.role), agent.id)


async def sign_in(session: AsyncSession, name: str, password: str, *,
                  now: datetime) -> tuple[Staff, str, str]:
    """The agent, a new session's cookie value and its CSRF token; or SignInRefused.
    After LOCK_AFTER failures for a name within LOCK_FOR, the name is locked for the
    rest of that time, whether or not an account has it; tries while locked do not count,
    so the lock ends when it said it would."""
    name = name.strip()[:64]
    # Failures older than the lock matter no more: dropped here, so the table holds only
    # the last quarter hour of each name tried.
    await session.execute(delete(LoginFailure).where(LoginFailure.name == name,
                                                     LoginFailure.at <= now - LOCK_FOR))
    failures = await session.scalar(select(func.count()).select_from(LoginFailure).where(
        LoginFailure.name == name, LoginFailure.at > now - LOCK_FOR))
    if failures >= LOCK_AFTER:
        raise SignInRefused(LOCKED, locked=True, tries=LOCK_AFTER, minutes=LOCK_MINUTES)
    agent = await session.scalar(select(Agent).where(Agent.name == name,
                                                     Agent.disabled_at.is_(None)))
    if not await _password_matches(agent.password_hash if agent else _NO_ONE, password) \
            or agent is None:
        session.add(LoginFailure(name=name, at=now))
        if failures + 1 >= LOCK_AFTER:
            raise SignInRefused(LOCKED, locked=True, tries=LOCK_AFTER, minutes=LOCK_MINUTES)
        raise SignInRefused(WRONG)
    await session.execute(delete(LoginFailure).where(LoginFailure.name == name))
    await session.execute(delete(AgentSession).where(  # their sessions that ran out
        AgentSession.agent_id == agent.id, AgentSession.expires_at <= now))
    key, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    session.add(AgentSession(id=_sha256(key), agent_id=agent.id, csrf_token=csrf,
                             created_at=now, expires_at=now + SESSION_FOR))
    return Staff(agent.name, Role(agent.role), agent.id), key, csrf


async def staff_by_session(session: AsyncSession, key: str,
                           now: datetime) -> tuple[Staff, str] | None:
    """The signed-in agent and the session's CSRF token, if the cookie names a live one."""
    found = (await session.execute(
        select(Agent, AgentSession.csrf_token)
        .join(AgentSession, AgentSession.agent_id == Agent.id)
        .where(AgentSession.id == _sha256(key), AgentSession.expires_at > now,
               Agent.disabled_at.is_(None)))).first()
    if found is None:
        return None
    agent, csrf = found
    return Staff(agent.name, Role(agent.role), agent.id), csrf


async def sign_out(session: AsyncSession, key: str) -> None:
    await session.execute(delete(AgentSession).where(AgentSession.id == _sha256(key)))
