"""`gigline serve` and `gigline call` as a person runs them: real processes on the embedded
default (SQLite under a temporary var/, the local carrier, demo data), on free ports."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from contextlib import asynccontextmanager

import aiohttp

from gigline.settings import LOCAL_ACCOUNT_SID
from tests.hotline_settings import free_port

# A line from the logging module (gigline.logs.FORMAT), wherever it would land.
LOG_LINE = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR|CRITICAL) ")
GREETING = "  « 您好，这里是运城零工热线"


def embedded_env(tmp_path) -> dict[str, str]:
    env = os.environ | {
        "GIGLINE_DATA_DIR": str(tmp_path / "var"), "GIGLINE_PORT": str(free_port()),
        "GIGLINE_LOCAL_CARRIER_PORT": str(free_port()), "GIGLINE_LOCAL_CARRIER_TOKEN": "tok",
    }
    for name in ("GIGLINE_DATABASE_URL", "VOSK_MODEL_PATH", "VOSK_MODEL_PATH_ZH_CN"):
        env.pop(name, None)
    return env


@asynccontextmanager
async def serving(env: dict[str, str], cwd):
    """`gigline serve` in its own process, once it says where it listens."""
    server = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gigline.cli", "serve", env=env, cwd=cwd,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
    try:
        async with asyncio.timeout(30):
            assert "listening on" in (await server.stdout.readline()).decode()
        yield server
    finally:
        server.send_signal(signal.SIGTERM)
        async with asyncio.timeout(30):
            assert await server.wait() == 0


async def call_from_terminal(env: dict[str, str], cwd, keys: str) -> list[str]:
    """`gigline call` with `keys` typed on its stdin: everything it wrote, stdout and
    stderr together as a person's terminal shows them."""
    call = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gigline.cli", "call", "--from", "13800138000", env=env, cwd=cwd,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT)
    async with asyncio.timeout(60):
        out, _ = await call.communicate(keys.encode())
    lines = out.decode().splitlines()
    assert call.returncode == 0, lines
    return lines


def assert_no_speech_hint(lines: list[str]) -> None:
    hints = [line for line in lines if line.startswith("[")]
    assert hints and not [hint for hint in hints if "say" in hint], hints


async def carrier_calls(env: dict[str, str]) -> list[dict]:
    """The calls the running hotline's local carrier carried (Twilio's Calls list)."""
    base = f"http://127.0.0.1:{env['GIGLINE_LOCAL_CARRIER_PORT']}"
    auth = aiohttp.BasicAuth(LOCAL_ACCOUNT_SID, env["GIGLINE_LOCAL_CARRIER_TOKEN"])
    async with aiohttp.ClientSession(auth=auth) as http, http.get(
            f"{base}/2010-04-01/Accounts/{LOCAL_ACCOUNT_SID}/Calls.json") as response:
        return (await response.json())["calls"]
