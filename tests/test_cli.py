"""The README's first command as a person runs it: `gigline serve` on the embedded default."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import sys
from contextlib import asynccontextmanager

import aiohttp

from gigline.cli import main
from gigline.settings import LOCAL_ACCOUNT_SID
from tests.conftest import free_port
from tests.twilio_signing import signed_headers, voice_params


async def test_serve_starts_on_the_embedded_default_answers_and_stops(tmp_path):
    port, carrier_port = free_port(), free_port()
    env = os.environ | {
        "GIGLINE_DATA_DIR": str(tmp_path / "var"), "GIGLINE_PORT": str(port),
        "GIGLINE_LOCAL_CARRIER_PORT": str(carrier_port), "GIGLINE_LOCAL_CARRIER_TOKEN": "tok",
    }
    env.pop("GIGLINE_DATABASE_URL", None)
    server = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gigline.cli", "serve", env=env, cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        async with asyncio.timeout(30):
            first = (await server.stdout.readline()).decode()
        assert f"listening on http://127.0.0.1:{port}" in first
        url = f"http://127.0.0.1:{port}"
        params = voice_params("CA" + "1" * 32)
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{url}/healthz") as health:
                assert health.status == 200
            headers = signed_headers("tok", f"{url}/twilio/voice", params)
            async with http.post(f"{url}/twilio/voice", data=params, headers=headers) as call:
                assert "零工热线" in await call.text()
        assert (tmp_path / "var" / "gigline.db").exists()
    finally:
        server.send_signal(signal.SIGTERM)
        async with asyncio.timeout(30):
            assert await server.wait() == 0


async def test_call_refuses_real_twilio_credentials(monkeypatch, capsys):
    for name, value in {"TWILIO_ACCOUNT_SID": "AC" + "1" * 32, "TWILIO_AUTH_TOKEN": "t",
                        "TWILIO_PHONE_NUMBER": "+863592123456", "GIGLINE_ID_HASH_KEY": "k" * 32,
                        }.items():
        monkeypatch.setenv(name, value)
    assert await asyncio.to_thread(main, ["call"]) == 2
    assert "local carrier" in capsys.readouterr().err


async def test_serve_on_a_busy_port_says_so_in_one_line_and_exits_2(tmp_path):
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        env = os.environ | {"GIGLINE_DATA_DIR": str(tmp_path / "var"), "GIGLINE_PORT": str(port),
                            "GIGLINE_LOCAL_CARRIER_PORT": str(free_port())}
        env.pop("GIGLINE_DATABASE_URL", None)
        server = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "gigline.cli", "serve", env=env, cwd=tmp_path,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
        async with asyncio.timeout(30):
            _, stderr = await server.communicate()
    assert server.returncode == 2
    lines = stderr.decode().strip().splitlines()
    assert len(lines) == 1 and f"127.0.0.1:{port}" in lines[0], lines
    assert not (tmp_path / "var" / "gigline.db").exists(), "nothing ran before the port"


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


async def test_call_while_serve_runs_calls_the_running_hotline(tmp_path):
    env = embedded_env(tmp_path)
    async with serving(env, tmp_path):
        # 1: consent; the first trade question then hears silence, and the caller hangs up.
        lines = await call_from_terminal(env, tmp_path, "1\n\nh\n")
        calls = await carrier_calls(env)

    assert [(c["from"], c["direction"], c["status"]) for c in calls] == [
        ("+8613800138000", "inbound", "completed")]
    assert lines[0] == f"Calling the hotline running on http://127.0.0.1:{env['GIGLINE_PORT']}"
    assert any(line.startswith(GREETING) for line in lines), lines
    assert "  « 对不起，没听清。" in lines  # the silence reached the running hotline
    assert lines[-1].startswith("Call ended (completed")
    assert not [line for line in lines if LOG_LINE.search(line)]
    assert_no_speech_hint(lines)  # no Vosk model: speech is off


async def test_call_with_nothing_running_starts_a_hotline_and_logs_to_a_file(tmp_path):
    env = embedded_env(tmp_path)

    lines = await call_from_terminal(env, tmp_path, "1\nh\n")

    log_file = tmp_path / "var" / "gigline-call.log"
    assert lines[0] == f"Starting the hotline for this call; its log goes to {log_file}"
    assert any(line.startswith(GREETING) for line in lines), lines
    assert not [line for line in lines if LOG_LINE.search(line)]
    assert "speech is off" in log_file.read_text(encoding="utf-8")
    assert_no_speech_hint(lines)


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
