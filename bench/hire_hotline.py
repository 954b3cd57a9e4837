"""The hotline as it runs for real (gigline.runtime.start_hotline) over the benchmark's
database, with the local carrier beside it, and the agents' API calls the scenarios need."""

from __future__ import annotations

import os
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp

from chaos.harness import serve, stop
from gigline.runtime import Hotline, start_hotline
from gigline.settings import Settings

API_TOKEN = "bench-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {API_TOKEN}"}
CARRIER_TOKEN = "bench-carrier-token-0123456789"
EMPLOYER = {"name": "运城市基准建筑劳务有限公司", "phone": "139 0000 0001", "address": "运城",
            "credit_code": "91140802MA0K000005"}  # passes the GB 32100 check


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def hotline_settings(database_url: str, *, scheduler: bool, outbox_interval: float) -> Settings:
    return Settings.from_env(hotline_env(database_url, scheduler=scheduler,
                                         outbox_interval=outbox_interval))


def hotline_env(database_url: str, *, scheduler: bool, outbox_interval: float) -> dict[str, str]:
    """The hotline's settings as `gigline serve` reads them from its environment."""
    port = free_port()
    return {
        "GIGLINE_DATABASE_URL": database_url,
        "GIGLINE_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "GIGLINE_PORT": str(port),
        "GIGLINE_LOCAL_CARRIER_PORT": str(free_port()),
        "GIGLINE_LOCAL_CARRIER_TOKEN": CARRIER_TOKEN,
        "GIGLINE_SCHEDULER": "1" if scheduler else "0",
        "GIGLINE_OUTBOX_INTERVAL": str(outbox_interval),
        # Well above a wave's 12-30 alerts a second: the rate limit is not what we time.
        "GIGLINE_SMS_RATE": "100",
        "GIGLINE_QUIET_HOURS": "00:00-00:00",  # a window of no length: never quiet
        "GIGLINE_API_TOKENS": f"bench:{API_TOKEN}",
        "GIGLINE_API_SUPERVISORS": "bench",  # verifies the employer it posts jobs for
        "GIGLINE_DEMO": "0",
    }


@asynccontextmanager
async def serving_hotline(env: dict[str, str], workers: int = 1) -> AsyncIterator[int]:
    """`gigline serve` (`--workers N` when asked) in its own process, as a carrier's
    webhooks find it: yields the process id once /healthz answers."""
    process = await serve(os.environ | env, *(["--workers", str(workers)] if workers > 1 else []))
    try:
        yield process.pid
    finally:
        await stop(process)


@asynccontextmanager
async def running_hotline(settings: Settings) -> AsyncIterator[Hotline]:
    hotline = await start_hotline(settings)
    try:
        yield hotline
    finally:
        await hotline.close()


async def verified_employer(http: aiohttp.ClientSession) -> int:
    """Registered and verified through the API, as an agent does before posting jobs."""
    async with http.post("/api/employers", json=EMPLOYER, headers=AUTH) as response:
        if response.status == 409:  # registered by an earlier scenario on this database
            raise RuntimeError("employer exists: register it once per database")
        response.raise_for_status()
        employer = await response.json()
    async with http.post(f"/api/employers/{employer['id']}/verification", headers=AUTH,
                         json={"state": "verified", "checked": "营业执照原件"}) as response:
        response.raise_for_status()
    return employer["id"]


async def town_ids(http: aiohttp.ClientSession) -> dict[str, int]:
    async with http.get("/api/areas", headers=AUTH) as response:
        areas = await response.json()
    return {town["name"]: town["id"] for district in areas for town in district["towns"]}
