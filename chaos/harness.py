"""What every fault run shares: a throwaway database, `gigline serve` as a real process
pointed at the local carrier in this process (as it would be pointed at Twilio), an
outbox filled with a fan-out, and the count of what reached the phones."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import socket
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
from sqlalchemy import func, insert, select, text

from gigline.settings import LOCAL_ACCOUNT_SID, LOCAL_HOTLINE_NUMBER
from local_carrier import LocalCarrier
from store.db import make_engine, make_sessionmaker, upgrade
from store.models import OutboundSms

TOKEN = "chaos-run-token-0123456789"
POSTGRES_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
RESULTS = Path(__file__).parent.parent / "bench" / "results"
ALERT, NOTICE = 1, 5  # the outbox's priorities: alerts go first
UNSETTLED = ("pending", "claimed", "unknown")  # rows not yet settled with the carrier
DEADLINE = 1800.0  # for any one wait: a stuck outbox fails the run instead of hanging it


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.asynccontextmanager
async def throwaway_database(kind: str) -> AsyncIterator[str]:
    """A migrated, empty database: a SQLite file or a new PostgreSQL database."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            url = f"sqlite+aiosqlite:///{folder}/gigline.db"
            await _migrate(url)
            yield url
        return
    name = f"gigline_chaos_{os.getpid()}_{random.randrange(10**6)}"
    admin = make_engine(POSTGRES_ADMIN.replace("postgresql://", "postgresql+asyncpg://"))
    async with admin.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    try:
        await _migrate(url)
        yield url
    finally:
        async with admin.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


async def _migrate(url: str) -> None:
    engine = make_engine(url)
    await upgrade(engine)
    await engine.dispose()


@dataclass(frozen=True)
class Message:
    phone: str
    body: str
    priority: int


def fan_out(count: int, *, seed: int = 1, alert_share: float = 0.7) -> list[Message]:
    """`count` messages to distinct phones, most of them alerts; one phone in fifty gets
    a second message word for word the same as its first (the case reconciliation must
    not conflate)."""
    rng = random.Random(seed)
    messages: list[Message] = []
    for n in range(count):
        if n % 50 == 1:
            messages.append(messages[-1])
            continue
        priority = ALERT if rng.random() < alert_share else NOTICE
        body = f"急招焊工4人 日薪500 回复J{n % 97} 接活" if priority == ALERT else "明天7点开工"
        messages.append(Message(f"+86138{n:08d}", body, priority))
    return messages


async def fill_outbox(database_url: str, messages: list[Message]) -> None:
    now = datetime.now(UTC)
    rows = [{"dedupe_key": f"chaos:{n}", "channel": "sms", "phone": m.phone, "body": m.body,
             "kind": "alert" if m.priority == ALERT else "notice", "priority": m.priority,
             "status": "pending", "attempts": 0, "next_attempt_at": now, "created_at": now,
             "updated_at": now} for n, m in enumerate(messages)]
    engine = make_engine(database_url)
    async with make_sessionmaker(engine)() as session, session.begin():
        for start in range(0, len(rows), 1000):
            await session.execute(insert(OutboundSms), rows[start:start + 1000])
    await engine.dispose()


async def outbox_statuses(database_url: str) -> Counter:
    engine = make_engine(database_url)
    async with make_sessionmaker(engine)() as session:
        counts = Counter(dict((await session.execute(
            select(OutboundSms.status, func.count()).group_by(OutboundSms.status))).all()))
    await engine.dispose()
    return counts


@contextlib.asynccontextmanager
async def local_carrier(gigline_port: int) -> AsyncIterator[LocalCarrier]:
    """The local carrier's REST API on a free port; its webhooks go to Gigline."""
    async with aiohttp.ClientSession() as http:
        carrier = LocalCarrier(account_sid=LOCAL_ACCOUNT_SID, auth_token=TOKEN,
                               webhook_base=f"http://127.0.0.1:{gigline_port}",
                               hotline_number=LOCAL_HOTLINE_NUMBER, http=http)
        await carrier.start_rest()
        try:
            yield carrier
        finally:
            await carrier.close()


def gigline_env(database_url: str, port: int, rest_base: str, **overrides: str) -> dict:
    return os.environ | {
        "GIGLINE_DATABASE_URL": database_url, "GIGLINE_PORT": str(port),
        "GIGLINE_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "TWILIO_ACCOUNT_SID": LOCAL_ACCOUNT_SID, "TWILIO_AUTH_TOKEN": TOKEN,
        "TWILIO_PHONE_NUMBER": LOCAL_HOTLINE_NUMBER, "GIGLINE_TWILIO_API_BASE": rest_base,
        "GIGLINE_ID_HASH_KEY": "k" * 32, "GIGLINE_QUIET_HOURS": "00:00-00:00",
        "GIGLINE_DEMO": "0", "GIGLINE_API_TOKENS": f"chaos:{TOKEN}",
    } | overrides


async def start_gigline(database_url: str, port: int, rest_base: str,
                        **overrides: str) -> asyncio.subprocess.Process:
    """`gigline serve` in its own process; returns once /healthz answers."""
    return await serve(gigline_env(database_url, port, rest_base, **overrides))


async def serve(env: dict[str, str], *args: str) -> asyncio.subprocess.Process:
    """`gigline serve ARGS` with the environment `env` (its whole environment); returns
    once the process answers /healthz at GIGLINE_PORT."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gigline.cli", "serve", *args, env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    async with aiohttp.ClientSession() as http:
        for _ in range(600):
            if process.returncode is not None:
                raise RuntimeError(f"gigline serve exited with {process.returncode}")
            with contextlib.suppress(aiohttp.ClientError):
                async with http.get(f"http://127.0.0.1:{env['GIGLINE_PORT']}/healthz") as response:
                    if response.status == 200:
                        return process
            await asyncio.sleep(0.1)
    process.kill()
    raise RuntimeError("gigline serve did not answer /healthz within 60 s")


async def stop(process: asyncio.subprocess.Process) -> int:
    if process.returncode is None:
        process.terminate()
    return await process.wait()


@dataclass(frozen=True)
class Delivery:
    """What the phones got against what was queued."""

    expected: int
    delivered: int  # distinct queued messages the carrier took
    lost: int
    duplicated: int  # extra copies the carrier took

    @property
    def exact(self) -> bool:
        return self.lost == 0 and self.duplicated == 0


def delivery(messages: list[Message], carrier: LocalCarrier) -> Delivery:
    """Counted per (phone, text): a phone queued two identical texts must get two."""
    queued = Counter((m.phone, m.body) for m in messages)
    taken = Counter((r.to, r.body) for r in carrier.sms.messages()
                    if r.direction == "outbound-api")
    lost = sum(max(n - taken[key], 0) for key, n in queued.items())
    duplicated = sum(max(n - queued[key], 0) for key, n in taken.items())
    return Delivery(sum(queued.values()), sum(min(n, taken[k]) for k, n in queued.items()),
                    lost, duplicated)


def urgent_first(messages: list[Message], carrier: LocalCarrier) -> float:
    """The share of alerts the carrier took before the median notice: 1.0 when every
    alert went ahead of the notices."""
    alerts = {(m.phone, m.body) for m in messages if m.priority == ALERT}
    order = [(r.to, r.body) in alerts for r in reversed(carrier.sms.messages())
             if r.direction == "outbound-api"]
    notices = [n for n, is_alert in enumerate(order) if not is_alert]
    if not notices or not any(order):
        return 1.0
    median_notice = notices[len(notices) // 2]
    return sum(order[:median_notice]) / sum(order)


def write_result(name: str, result: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    path = RESULTS / f"chaos-{name}-{stamp}.json"
    path.write_text(json.dumps(result, indent=2, default=str))
    return path


async def until(condition, deadline: float = DEADLINE, every: float = 0.1) -> None:
    """Polls `condition`: the sending happens in another process."""
    give_up = time.monotonic() + deadline
    while not condition():
        if time.monotonic() > give_up:
            raise TimeoutError(f"not done within {deadline} s")
        await asyncio.sleep(every)


def unsettled(rows: Counter | dict) -> int:
    return sum(rows.get(status, 0) for status in UNSETTLED)


async def until_settled(url: str, deadline: float = DEADLINE) -> Counter:
    """Waits until no row is in doubt (everything settled with the carrier) and returns
    the rows by status: copies are counted only then."""
    give_up = time.monotonic() + deadline
    while unsettled(rows := await outbox_statuses(url)):
        if time.monotonic() > give_up:
            raise TimeoutError(f"rows still unsettled after {deadline} s")
        await asyncio.sleep(0.5)
    return rows
