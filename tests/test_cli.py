"""The README's first command as a person runs it: `gigline serve` on the embedded default."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import sys

import aiohttp

from gigline.cli import main
from tests.conftest import free_port
from tests.gigline_processes import (
    GREETING,
    LOG_LINE,
    assert_no_speech_hint,
    call_from_terminal,
    carrier_calls,
    embedded_env,
    serving,
)
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
        second = (await server.stdout.readline()).decode()
        assert "in a browser" in second and f"http://127.0.0.1:{carrier_port}/phone" in second
        async with asyncio.timeout(30):  # a fresh install prints its first supervisor
            while "supervisor 'admin'" not in (line := (await server.stdout.readline()
                                                        ).decode()):
                assert line, "the first supervisor was never printed"
        password = re.search(r"password (\S+) \(shown once", line)[1]
        url = f"http://127.0.0.1:{port}"
        params = voice_params("CA" + "1" * 32)
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{url}/healthz") as health:
                assert health.status == 200
            headers = signed_headers("tok", f"{url}/twilio/voice", params)
            async with http.post(f"{url}/twilio/voice", data=params, headers=headers) as call:
                assert "零工热线" in await call.text()
        # unsafe: keep cookies of an IP address, as browsers do (aiohttp's jar does not).
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            async with http.get(f"{url}/console/login") as form:
                csrf = re.search(r'name="csrf" value="([^"]+)"', await form.text())[1]
            async with http.post(f"{url}/console/login", data={
                    "name": "admin", "password": password, "csrf": csrf}) as signed:
                assert "id=\"staff-role\">supervisor<" in await signed.text()
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


async def test_the_first_supervisor_is_made_and_printed_once(database_url, capsys):
    from gigline.cli import _first_supervisor
    from store.db import make_engine, make_sessionmaker
    from tests.conftest import make_settings

    engine = make_engine(database_url)
    sessions = make_sessionmaker(engine)
    settings = make_settings(database_url, 8080)
    try:
        await _first_supervisor(sessions, settings)
        assert "supervisor 'admin', password" in capsys.readouterr().out
        await _first_supervisor(sessions, settings)
        assert capsys.readouterr().out == "", "there is one now: nothing new, nothing shown"
    finally:
        await engine.dispose()
