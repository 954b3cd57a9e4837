"""`gigline serve --workers N` as an operator runs it: real processes on one port over
PostgreSQL, the local carrier in the parent."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from urllib.parse import urljoin
from xml.etree import ElementTree
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from sqlalchemy import func, select

from gigline.app import PROCESS_HEADER
from gigline.cli import main
from gigline.settings import Settings
from local_carrier import RemoteLine
from store.db import make_engine, make_sessionmaker
from store.models import Area, OutboundSms, Trade, Worker
from tests.conftest import API_TOKEN, TEST_DATABASE_URL, _fresh_postgres, free_port
from tests.test_end_to_end import VALID_ID
from tests.twilio_signing import signed_headers, voice_params

ON_POSTGRES = pytest.mark.skipif(not TEST_DATABASE_URL.startswith("postgresql"),
                                 reason="several processes need PostgreSQL")
REGISTRATION_KEYS = ["1", "1", "1", "3", "2", "1", "2", "350#", "1", "1", "1",
                     VALID_ID.replace("X", "*")]
EMPLOYER_PHONE = "+8613900000001"


def workers_env(tmp_path, database_url: str) -> dict[str, str]:
    env = os.environ | {
        "GIGLINE_DATA_DIR": str(tmp_path / "var"), "GIGLINE_PORT": str(free_port()),
        "GIGLINE_LOCAL_CARRIER_PORT": str(free_port()), "GIGLINE_LOCAL_CARRIER_TOKEN": "tok",
        "GIGLINE_DATABASE_URL": database_url, "GIGLINE_API_TOKENS": f"alice:{API_TOKEN}",
        "GIGLINE_API_SUPERVISORS": "alice",
        "GIGLINE_OUTBOX_INTERVAL": "0.2", "GIGLINE_SMS_RATE": "200",
        "GIGLINE_QUIET_HOURS": "00:00-00:00",  # alerts go out whatever the hour
    }
    for name in ("VOSK_MODEL_PATH", "VOSK_MODEL_PATH_ZH_CN"):
        env.pop(name, None)
    return env


async def gigline(env, cwd, *args: str, log=None) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gigline.cli", *args, env=env, cwd=cwd,
        stdout=asyncio.subprocess.PIPE, stderr=log or asyncio.subprocess.PIPE)


@asynccontextmanager
async def serving(env, cwd, workers: int = 2):
    """`gigline serve --workers N` once it says it listens (at its public URL); stopped
    with SIGTERM, whatever happens."""
    log = (cwd / "serve.log").open("wb")  # the processes' logs, for a failing test
    server = await gigline(env, cwd, "serve", "--workers", str(workers), log=log)
    public = env.get("GIGLINE_PUBLIC_URL", f"http://127.0.0.1:{env['GIGLINE_PORT']}")
    try:
        async with asyncio.timeout(60):
            first = (await server.stdout.readline()).decode()
        assert f"listening on {public}" in first, first
        assert workers == 1 or f"{workers} processes" in first
        yield server
    finally:
        if server.returncode is None:
            server.send_signal(signal.SIGTERM)
        async with asyncio.timeout(60):
            await server.wait()
        log.close()


def url_of(env) -> str:
    return f"http://127.0.0.1:{env['GIGLINE_PORT']}"


async def answering_processes(env, *, at_least: int, tries: int = 200) -> set[str]:
    """The processes that answer /healthz, each request on a new connection (the kernel
    picks a process per connection)."""
    seen: set[str] = set()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as http:
        for _ in range(tries):
            async with http.get(f"{url_of(env)}/healthz") as response:
                assert response.status == 200
                seen.add(response.headers[PROCESS_HEADER])
            if len(seen) >= at_least:
                break
    return seen


def tomorrow_morning() -> str:
    return f"{datetime.now(ZoneInfo('Asia/Shanghai')) + timedelta(days=1):%Y-%m-%d}T07:00:00"


def running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def test_several_processes_need_postgresql(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("GIGLINE_DATABASE_URL", raising=False)
    monkeypatch.setenv("GIGLINE_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("GIGLINE_PORT", str(free_port()))
    assert await asyncio.to_thread(main, ["serve", "--workers", "2"]) == 2
    assert capsys.readouterr().err.strip() == (
        "gigline: --workers 2 needs PostgreSQL (set GIGLINE_DATABASE_URL): SQLite is one "
        "process's database")
    assert not (tmp_path / "var" / "gigline.db").exists()


def test_a_number_of_processes_below_one_is_refused(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["serve", "--workers", "0"])
    assert exit_.value.code == 2
    assert "must be a whole number of at least 1: '0'" in capsys.readouterr().err


@ON_POSTGRES
async def test_an_unmigrated_database_is_refused_before_any_process_starts(tmp_path):
    env = workers_env(tmp_path, TEST_DATABASE_URL)
    await _fresh_postgres(Settings.from_env({"GIGLINE_DATABASE_URL": TEST_DATABASE_URL})
                          .database_url)
    server = await gigline(env, tmp_path, "serve", "--workers", "2")
    async with asyncio.timeout(30):
        out, err = await server.communicate()
    assert server.returncode == 2
    assert "gigline migrate" in err.decode()


@ON_POSTGRES
async def test_a_calls_turns_land_on_either_process_and_the_call_completes(
        tmp_path, database_url):
    env = workers_env(tmp_path, database_url)
    async with serving(env, tmp_path):
        # Twilio opens connections as it likes: each turn on a new one here.
        url, sid, caller = url_of(env), "CA" + "7" * 32, "+8613800000077"
        answered_by, twiml = [], None
        async with aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(force_close=True)) as http:
            action = "/twilio/voice"
            for keys in [None, *REGISTRATION_KEYS]:
                assert action, f"no question to answer with {keys}"
                # Twilio posts the keys without the one that finished them.
                params = voice_params(sid, caller, **({} if keys is None else
                                                      {"Digits": keys.rstrip("#")}))
                target = urljoin(url, action)
                async with http.post(target, data=params,
                                     headers=signed_headers("tok", target, params)) as reply:
                    assert reply.status == 200
                    answered_by.append(reply.headers[PROCESS_HEADER])
                    twiml = ElementTree.fromstring(await reply.text())
                gather = twiml.find("Gather")
                action = gather.get("action") if gather is not None else None
            # The kernel picks a process per connection: should every turn have landed on
            # one (1 time in 4,096), Twilio's retries of the last reach the other, which
            # answers from what the first stored.
            for _ in range(64):
                if len(set(answered_by)) == 2:
                    break
                async with http.post(target, data=params,
                                     headers=signed_headers("tok", target, params)) as reply:
                    answered_by.append(reply.headers[PROCESS_HEADER])
                    assert ElementTree.tostring(ElementTree.fromstring(await reply.text())) \
                        == ElementTree.tostring(twiml), "a retry is answered alike"
        assert twiml.find("Record") is not None, "after the ID number: record the name"
        assert len(set(answered_by)) == 2, answered_by

        # A whole registration through the local carrier, which the parent runs: the
        # welcome SMS goes out once, whichever scheduler claims it.
        async with aiohttp.ClientSession() as http:
            line = await RemoteLine.connect(http, f"http://127.0.0.1:"
                                                  f"{env['GIGLINE_LOCAL_CARRIER_PORT']}")
            caller = "+8613800000001"
            call = await line.place_call(caller)
            for keys in REGISTRATION_KEYS:
                await line.act(call.sid, "press", keys)
            await line.act(call.sid, "record", "2")
            done = await line.act(call.sid, "press", "1")
            assert any("登记好了" in prompt for prompt in done.prompts)
            await line.act(call.sid, "hang_up")
            welcomes = await sms_arriving(line, caller, "登记成功", count=1)
            await asyncio.sleep(1)  # several outbox sweeps of both processes
            assert len([m for m in await line.inbox(caller) if "登记成功" in m.body]) == 1
        assert welcomes


async def sms_arriving(line: RemoteLine, phone: str, text: str, *, count: int,
                       seconds: float = 20) -> list:
    async with asyncio.timeout(seconds):
        while True:
            found = [m for m in await line.inbox(phone) if text in m.body]
            if len(found) >= count:
                return found
            await asyncio.sleep(0.1)


@ON_POSTGRES
async def test_a_wave_of_alerts_goes_out_once_with_a_scheduler_in_each_process(
        tmp_path, database_url):
    env = workers_env(tmp_path, database_url)
    phones = [f"+86138000010{n:02d}" for n in range(30)]
    async with serving(env, tmp_path):
        engine = make_engine(database_url)
        try:
            async with make_sessionmaker(engine)() as session, session.begin():
                town = await session.scalar(select(Area).where(Area.name == "北城街道"))
                welders = list(await session.scalars(select(Trade).where(
                    Trade.code == "welder")))
                now = func.now()
                for phone in phones:
                    session.add(Worker(
                        market_id=town.market_id, phone=phone, status="active",
                        created_at=now, town_id=town.id, district_id=town.parent_id,
                        trades=welders, alert_channel="sms", consent_at=now))
            auth = {"Authorization": f"Bearer {API_TOKEN}"}
            async with aiohttp.ClientSession(base_url=url_of(env), headers=auth) as http:
                employer = await (await http.post("/api/employers", json={
                    "name": "安居建筑劳务有限公司", "phone": EMPLOYER_PHONE, "address": "运城",
                    "credit_code": "91140802MA0K000005"})).json()
                verified = await http.post(f"/api/employers/{employer['id']}/verification",
                                           json={"state": "verified", "checked": "营业执照原件"})
                assert verified.status == 200, await verified.text()
                areas = await (await http.get("/api/areas")).json()
                town_id = next(t["id"] for d in areas for t in d["towns"]
                               if t["name"] == "北城街道")
                posted = await http.post("/api/jobs", json={
                    "employer_id": employer["id"], "start_at": tomorrow_morning(),
                    "days": 5, "town_id": town_id, "address": "河东东街88号工地",
                    "lines": [{"trade": "welder", "headcount": 10, "day_wage_yuan": 500}]})
                assert posted.status == 201, await posted.text()
            async with aiohttp.ClientSession() as http:
                line = await RemoteLine.connect(http, f"http://127.0.0.1:"
                                                      f"{env['GIGLINE_LOCAL_CARRIER_PORT']}")
                for phone in phones:  # a wave: 3 workers a slot, all 30
                    await sms_arriving(line, phone, "急招", count=1)
                await asyncio.sleep(1)
                for phone in phones:
                    assert len([m for m in await line.inbox(phone) if "急招" in m.body]) == 1
            async with make_sessionmaker(engine)() as session:
                statuses = list(await session.scalars(select(OutboundSms.status)))
            assert len(statuses) == 30 and set(statuses) == {"delivered"}, statuses
        finally:
            await engine.dispose()


@ON_POSTGRES
async def test_a_process_that_dies_is_replaced_and_the_port_keeps_answering(
        tmp_path, database_url):
    env = workers_env(tmp_path, database_url)
    async with serving(env, tmp_path) as server:
        first = await answering_processes(env, at_least=2)
        assert len(first) == 2
        killed = int(min(first))
        os.kill(killed, signal.SIGKILL)
        async with asyncio.timeout(60):
            while True:
                now = await answering_processes(env, at_least=2)
                if len(now) == 2 and str(killed) not in now:
                    break
                await asyncio.sleep(0.2)
        assert str(killed) not in now and first - {str(killed)} <= now
        assert server.returncode is None
    assert server.returncode == 0


@ON_POSTGRES
async def test_sigterm_stops_every_process_and_frees_the_port(tmp_path, database_url):
    env = workers_env(tmp_path, database_url)
    async with serving(env, tmp_path) as server:
        pids = await answering_processes(env, at_least=2)
        again = await gigline(env, tmp_path, "serve", "--workers", "2")
        async with asyncio.timeout(30):
            _, err = await again.communicate()
        assert again.returncode == 2  # it would otherwise join the port group
        assert f"cannot listen on 127.0.0.1:{env['GIGLINE_PORT']}" in err.decode()
        single = await gigline(env, tmp_path, "serve")
        async with asyncio.timeout(30):
            _, err = await single.communicate()
        assert single.returncode == 2 and "cannot listen" in err.decode()
    assert server.returncode == 0
    assert not [pid for pid in pids if running(int(pid))]
    socket.create_server(("127.0.0.1", int(env["GIGLINE_PORT"]))).close()


@ON_POSTGRES
async def test_processes_that_cannot_start_stop_the_server_with_a_reason(tmp_path, database_url):
    env = workers_env(tmp_path, database_url) | {"GIGLINE_MARKET": "atlantis"}
    server = await gigline(env, tmp_path, "serve", "--workers", "2")
    async with asyncio.timeout(60):
        out, err = await server.communicate()
    assert server.returncode == 1
    assert "listening" not in out.decode()
    assert "gigline: worker process 0 exited with 1 while starting" in err.decode()
    socket.create_server(("127.0.0.1", int(env["GIGLINE_PORT"]))).close()
