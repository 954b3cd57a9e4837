"""Start-up: settings are validated once; a database must be migrated before serving."""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import time
from pathlib import Path

import pytest
from aiohttp import web

from gigline.app import create_app
from gigline.cli import main
from gigline.keys import DESK, ENGINE
from gigline.settings import LOCAL_ACCOUNT_SID, Settings, SettingsError
from store.db import DatabaseNotMigrated
from tests.conftest import TEST_DATABASE_URL, free_port, make_settings


def test_no_settings_at_all_is_the_embedded_default():
    settings = Settings.from_env({})
    assert settings.embedded and settings.demo_data
    assert settings.database_url == "sqlite+aiosqlite:///var/gigline.db"
    assert settings.uses_local_carrier and settings.account_sid == LOCAL_ACCOUNT_SID
    assert settings.rest_api_base == "http://127.0.0.1:8081"
    assert settings.public_url == "http://127.0.0.1:8080"


def test_twilio_credentials_switch_off_the_local_carrier():
    settings = Settings.from_env({
        "TWILIO_ACCOUNT_SID": "AC" + "1" * 32, "TWILIO_AUTH_TOKEN": "secret",
        "TWILIO_PHONE_NUMBER": "+863592123456", "GIGLINE_ID_HASH_KEY": "k" * 32,
        "GIGLINE_PUBLIC_URL": "https://hotline.example.cn/",
        "GIGLINE_DATABASE_URL": "postgresql://db.example/gigline",
    })
    assert not settings.uses_local_carrier and settings.auth_token == "secret"
    assert settings.rest_api_base is None, "unset means Twilio itself"
    assert settings.public_url == "https://hotline.example.cn"
    assert settings.database_url == "postgresql+asyncpg://db.example/gigline"
    assert not settings.demo_data
    assert settings.stream_url == "wss://hotline.example.cn/twilio/stream"
    assert settings.vosk_model_path is None, "no model: keypad only"
    assert Settings.from_env({}).stream_url == "ws://127.0.0.1:8080/twilio/stream"


@pytest.mark.parametrize("env, named", [
    ({"GIGLINE_PUBLIC_URL": "https://hotline.example.cn"}, "loopback"),
    ({"TWILIO_ACCOUNT_SID": "AC1"}, "TWILIO_AUTH_TOKEN"),
    ({"TWILIO_ACCOUNT_SID": "AC1", "TWILIO_AUTH_TOKEN": "t"}, "TWILIO_PHONE_NUMBER"),
    ({"TWILIO_ACCOUNT_SID": "AC1", "TWILIO_AUTH_TOKEN": "t", "TWILIO_PHONE_NUMBER": "+1"},
     "GIGLINE_ID_HASH_KEY"),
    ({"TWILIO_ACCOUNT_SID": "AC1", "TWILIO_AUTH_TOKEN": "t",
      "TWILIO_MESSAGING_SERVICE_SID": "MG" + "1" * 32}, "GIGLINE_HOTLINE_NUMBER"),
    ({"GIGLINE_HOTLINE_NUMBER": "call us"}, "GIGLINE_HOTLINE_NUMBER"),
    ({"GIGLINE_PORT": "eighty"}, "GIGLINE_PORT"),
    ({"GIGLINE_PUBLIC_URL": "ftp://x"}, "GIGLINE_PUBLIC_URL"),
    ({"GIGLINE_LANGUAGE": "fr"}, "GIGLINE_LANGUAGE"),
    ({"GIGLINE_SPEECH_THREADS": "0"}, "GIGLINE_SPEECH_THREADS"),
    ({"GIGLINE_DATABASE_POOL_SIZE": "0"}, "GIGLINE_DATABASE_POOL_SIZE"),
    ({"TWILIO_ACCOUNT_SID": "AC1", "TWILIO_AUTH_TOKEN": "t", "TWILIO_PHONE_NUMBER": "+1",
      "GIGLINE_ID_HASH_KEY": "k" * 32, "GIGLINE_PUBLIC_URL": "http://hotline.example.cn",
      "VOSK_MODEL_PATH": "/opt/vosk/model"}, "https GIGLINE_PUBLIC_URL"),
])
def test_bad_settings_are_refused_with_the_setting_named(env, named):
    with pytest.raises(SettingsError, match=named):
        Settings.from_env(env)


# Each variable, a value other than its default, and what the settings make of it.
EVERY_VARIABLE = {
    "GIGLINE_DATABASE_URL": ("postgres://db.example/gigline", "database_url",
                             "postgresql+asyncpg://db.example/gigline"),
    "GIGLINE_DATA_DIR": ("/srv/gigline", "data_dir", Path("/srv/gigline")),
    "GIGLINE_DATABASE_POOL_SIZE": ("20", "database_pool_size", 20),
    "GIGLINE_PUBLIC_URL": ("https://hotline.example.cn/", "public_url",
                           "https://hotline.example.cn"),
    "GIGLINE_HOST": ("0.0.0.0", "listen_host", "0.0.0.0"),
    "GIGLINE_PORT": ("9000", "listen_port", 9000),
    "TWILIO_ACCOUNT_SID": ("AC" + "1" * 32, "twilio_account_sid", "AC" + "1" * 32),
    "TWILIO_AUTH_TOKEN": ("secret", "twilio_auth_token", "secret"),
    "TWILIO_PHONE_NUMBER": ("+863592123456", "twilio_phone_number", "+863592123456"),
    "GIGLINE_HOTLINE_NUMBER": ("0359-555 0000", "hotline_number", "+863595550000"),
    "TWILIO_MESSAGING_SERVICE_SID": ("MG" + "2" * 32, "twilio_messaging_service_sid",
                                     "MG" + "2" * 32),
    "GIGLINE_TWILIO_API_BASE": ("http://127.0.0.1:9999", "rest_api_base",
                                "http://127.0.0.1:9999"),
    "GIGLINE_LOCAL_CARRIER_PORT": ("9001", "local_carrier_port", 9001),
    "GIGLINE_LOCAL_CARRIER_TOKEN": ("carrier-token", "local_carrier_token", "carrier-token"),
    "GIGLINE_SCHEDULER": ("0", "run_scheduler", False),
    "GIGLINE_LANGUAGE": ("en", "language", "en"),
    "GIGLINE_VOICE": ("alice", "voice", "alice"),
    "GIGLINE_AGENT_NUMBERS": (" +8613900000099, ,+8613900000098", "agent_numbers",
                              ("+8613900000099", "+8613900000098")),
    "GIGLINE_ID_HASH_KEY": ("k" * 32, "id_hash_key", "k" * 32),
    "GIGLINE_MARKET": ("other", "market_code", "other"),
    "GIGLINE_OUTBOX_INTERVAL": ("0.5", "outbox_interval_seconds", 0.5),
    "GIGLINE_SMS_RATE": ("3", "sms_rate_per_second", 3),
    "GIGLINE_SMS_CONCURRENCY": ("4", "sms_concurrency", 4),
    "GIGLINE_DEMO": ("1", "demo_data", True),
    "GIGLINE_API_TOKENS": ("alice:" + "a" * 16 + ", bob:" + "b" * 20, "api_tokens",
                           {"a" * 16: "alice", "b" * 20: "bob"}),
    "GIGLINE_API_SUPERVISORS": ("alice", "api_supervisors", ("alice",)),
    "GIGLINE_WAVE_MULTIPLIER": ("2", "wave_multiplier", 2),
    "GIGLINE_WAVE_MINUTES": ("5", "wave_interval_minutes", 5),
    "GIGLINE_QUIET_HOURS": ("22:30 - 06:15", "quiet_hours", (time(22, 30), time(6, 15))),
    "GIGLINE_QUIET_OVERRIDE_HOURS": ("6", "quiet_hours_override_hours", 6),
    "GIGLINE_EMPLOYER_CONFIRM_MINUTES": ("30", "employer_confirm_minutes", 30),
    "GIGLINE_OUTBOX_LEASE_SECONDS": ("60", "outbox_lease_seconds", 60),
    "GIGLINE_WAGE_QUESTION_TIME": ("18:30", "wage_question_hour", time(18, 30)),
    "GIGLINE_WAGE_EMPLOYER_TIME": ("08:00", "wage_employer_hour", time(8)),
    "GIGLINE_WAGE_MAX_ASKS": ("2", "wage_max_asks", 2),
    "GIGLINE_WAGE_GRACE_DAYS": ("0", "wage_grace_days", 0),
    "GIGLINE_REMINDER_LATE_HOURS": ("1.5", "reminder_late_hours", 1.5),
    "GIGLINE_HOLD_EMPLOYERS_WITH_CASES": ("0", "hold_employers_with_cases", False),
    "GIGLINE_SPEECH_LANGUAGE": ("ko", "speech_language", "ko"),
    "VOSK_MODEL_PATH": ("/opt/vosk/model", "vosk_model_path", "/opt/vosk/model"),
    "GIGLINE_SPEECH_THREADS": ("3", "speech_threads", 3),
}


def test_every_variable_sets_its_setting():
    settings = Settings.from_env({name: raw for name, (raw, _, _) in EVERY_VARIABLE.items()})
    assert {name: getattr(settings, attribute)
            for name, (_, attribute, _) in EVERY_VARIABLE.items()} == \
        {name: value for name, (_, _, value) in EVERY_VARIABLE.items()}
    assert not settings.embedded and not settings.uses_local_carrier


def test_defaults_outside_the_embedded_default():
    settings = Settings.from_env({"GIGLINE_DATABASE_URL": "sqlite:///x.db"})
    assert {attribute: getattr(settings, attribute) for attribute in DEFAULTS} == DEFAULTS
    assert len(settings.local_carrier_token) == 32, "random per start"
    assert settings.speech_threads == (os.cpu_count() or 1) + 1


DEFAULTS = {
    "database_url": "sqlite+aiosqlite:///x.db", "data_dir": Path("var"), "embedded": False,
    "public_url": "http://127.0.0.1:8080", "listen_host": "127.0.0.1", "listen_port": 8080,
    "twilio_account_sid": None, "twilio_auth_token": None, "twilio_phone_number": None,
    "hotline_number": "+863592123456", "twilio_messaging_service_sid": None,
    "rest_api_base": "http://127.0.0.1:8081", "local_carrier_port": 8081,
    "run_scheduler": True, "language": "zh-CN", "voice": "Polly.Zhiyu", "agent_numbers": (),
    "id_hash_key": "gigline-dev-only-key", "market_code": "yuncheng",
    "outbox_interval_seconds": 2, "sms_rate_per_second": 1, "sms_concurrency": 8,
    "demo_data": False, "api_tokens": {}, "api_supervisors": (), "wave_multiplier": 3,
    "wave_interval_minutes": 10,
    "quiet_hours": (time(21), time(7)), "quiet_hours_override_hours": 12,
    "employer_confirm_minutes": 60, "outbox_lease_seconds": 120,
    "wage_question_hour": time(19), "wage_employer_hour": time(9), "wage_max_asks": 3,
    "wage_grace_days": 3, "reminder_late_hours": 6, "hold_employers_with_cases": True,
    "speech_language": "zh-CN", "vosk_model_path": None,
}


def test_the_embedded_default_opens_the_api_to_the_demo_agent_alone():
    tokens = Settings.from_env({}).api_tokens
    assert list(tokens.values()) == ["demo"] and len(next(iter(tokens))) >= 16
    assert list(Settings.from_env({"GIGLINE_API_TOKENS": ""}).api_tokens.values()) == ["demo"]
    given = Settings.from_env({"GIGLINE_API_TOKENS": "alice:" + "a" * 16}).api_tokens
    assert given == {"a" * 16: "alice"}, "tokens given: no demo token"
    assert not Settings.from_env({"GIGLINE_DEMO": "0"}).demo_data


def test_empty_variables_are_unset_where_unset_means_something():
    settings = Settings.from_env({
        "TWILIO_ACCOUNT_SID": "", "TWILIO_AUTH_TOKEN": "", "TWILIO_PHONE_NUMBER": "",
        "TWILIO_MESSAGING_SERVICE_SID": "", "GIGLINE_TWILIO_API_BASE": "",
        "GIGLINE_HOTLINE_NUMBER": "", "GIGLINE_LOCAL_CARRIER_TOKEN": "",
        "GIGLINE_SPEECH_LANGUAGE": "", "GIGLINE_LANGUAGE": "en", "VOSK_MODEL_PATH": "",
    })
    assert settings.uses_local_carrier and settings.rest_api_base == "http://127.0.0.1:8081"
    assert settings.hotline_number == "+863592123456" and len(settings.local_carrier_token) == 32
    assert settings.speech_language == "en" and settings.vosk_model_path is None


def test_a_model_for_the_speech_language_wins_over_the_general_one():
    env = {"VOSK_MODEL_PATH": "/any", "VOSK_MODEL_PATH_ZH_CN": "/zh", "VOSK_MODEL_PATH_KO": "/ko"}
    assert Settings.from_env(env).vosk_model_path == "/zh"
    assert Settings.from_env(env | {"GIGLINE_LANGUAGE": "en"}).vosk_model_path == "/any"
    assert Settings.from_env(env | {"GIGLINE_SPEECH_LANGUAGE": "ko"}).vosk_model_path == "/ko"


def test_settings_come_from_the_mapping_alone(monkeypatch):
    """Tests and benchmarks build settings from a dict: the shell's variables stay out."""
    monkeypatch.setenv("GIGLINE_PORT", "9999")
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", "AC" + "1" * 32)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "secret")
    settings = Settings.from_env({})
    assert settings.listen_port == 8080 and settings.uses_local_carrier


@pytest.mark.parametrize("name, raw", [
    ("GIGLINE_PORT", "eighty"),
    ("GIGLINE_SMS_RATE", "fast"),
    ("GIGLINE_PUBLIC_URL", "ftp://x"),
    ("GIGLINE_LANGUAGE", "fr"),
    ("GIGLINE_HOTLINE_NUMBER", "call us"),
    ("GIGLINE_QUIET_HOURS", "21:00"),
    ("GIGLINE_QUIET_HOURS", "night"),
    ("GIGLINE_WAGE_QUESTION_TIME", "7pm"),
])
def test_a_malformed_value_is_named_and_shown(name, raw):
    with pytest.raises(SettingsError) as refused:
        Settings.from_env({name: raw})
    message = str(refused.value)
    assert message.startswith(name) and message.endswith(repr(raw)), message


def test_every_malformed_value_is_named_at_once():
    with pytest.raises(SettingsError) as refused:
        Settings.from_env({"GIGLINE_PORT": "eighty", "GIGLINE_QUIET_HOURS": "night"})
    assert "GIGLINE_PORT" in str(refused.value) and "GIGLINE_QUIET_HOURS" in str(refused.value)


@pytest.mark.parametrize("name, raw", [
    ("GIGLINE_SMS_RATE", "0"), ("GIGLINE_SMS_CONCURRENCY", "0"),
    ("GIGLINE_WAVE_MULTIPLIER", "0"), ("GIGLINE_WAVE_MINUTES", "0"),
    ("GIGLINE_WAGE_MAX_ASKS", "0"), ("GIGLINE_WAGE_GRACE_DAYS", "-1"),
    ("GIGLINE_REMINDER_LATE_HOURS", "0"), ("GIGLINE_OUTBOX_LEASE_SECONDS", "1.5"),
    ("GIGLINE_EMPLOYER_CONFIRM_MINUTES", "0"),
])
def test_a_value_out_of_range_is_named(name, raw):
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({name: raw})


@pytest.mark.parametrize("tokens", ["alice:short-secret", "alice", ":" + "s" * 16])
def test_bad_api_tokens_are_refused_without_showing_them(tokens):
    with pytest.raises(SettingsError, match="GIGLINE_API_TOKENS") as refused:
        Settings.from_env({"GIGLINE_API_TOKENS": tokens})
    assert "secret" not in str(refused.value) and "s" * 16 not in str(refused.value)


async def test_serve_reports_a_bad_setting_in_one_line_and_exits_2(tmp_path):
    env = os.environ | {"GIGLINE_PORT": "eighty"}
    server = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gigline.cli", "serve", env=env, cwd=tmp_path,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    async with asyncio.timeout(30):
        _, stderr = await server.communicate()
    assert server.returncode == 2
    assert stderr.decode() == "gigline: GIGLINE_PORT must be a whole number: 'eighty'\n"
    assert not (tmp_path / "var").exists(), "nothing ran"


@pytest.fixture
async def empty_database_url(tmp_path):
    if TEST_DATABASE_URL:
        from tests.conftest import _fresh_postgres
        url = Settings.from_env({"GIGLINE_DATABASE_URL": TEST_DATABASE_URL}).database_url
        await _fresh_postgres(url)
        return url
    return f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"


async def test_the_app_refuses_an_unmigrated_database(empty_database_url):
    runner = web.AppRunner(create_app(make_settings(empty_database_url, 8080)))
    with pytest.raises(DatabaseNotMigrated, match="gigline migrate"):
        await runner.setup()
    await runner.cleanup()


async def test_gigline_migrate_then_the_app_starts(aiohttp_client, empty_database_url,
                                                   monkeypatch, capsys):
    monkeypatch.setenv("GIGLINE_DATABASE_URL", empty_database_url)
    assert await _run_cli(["migrate"]) == 0
    assert "latest migration" in capsys.readouterr().out
    client = await aiohttp_client(create_app(make_settings(empty_database_url, 8080)))
    assert (await client.get("/healthz")).status == 200


async def _run_cli(argv: list[str]) -> int:
    import asyncio

    # The CLI owns its event loop: run it in a thread, as a shell would run it.
    return await asyncio.to_thread(main, argv)


async def test_cli_reports_bad_settings_without_a_traceback(monkeypatch, capsys):
    monkeypatch.setenv("GIGLINE_PORT", "eighty")
    assert await _run_cli(["migrate"]) == 2
    assert "GIGLINE_PORT" in capsys.readouterr().err


async def test_the_embedded_default_migrates_itself(aiohttp_client, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings = Settings.from_env({"GIGLINE_SCHEDULER": "0"})
    client = await aiohttp_client(create_app(settings))
    assert (await client.get("/healthz")).status == 200
    assert (tmp_path / "var" / "gigline.db").exists()


async def test_the_migrations_build_exactly_the_models_schema(database_url):
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from store.db import make_engine
    from store.models import Base

    engine = make_engine(database_url)
    async with engine.connect() as conn:
        diff = await conn.run_sync(lambda sync: compare_metadata(
            MigrationContext.configure(sync, opts={"compare_type": True}), Base.metadata))
    await engine.dispose()
    assert diff == []


async def test_upgrading_keeps_offers_taken_before_instant_hire(tmp_path):
    """0001 -> 0002 on a database with a call-in reservation: the offer learns its job."""
    from sqlalchemy import text

    from store.db import make_engine, upgrade

    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'old.db'}")
    await upgrade(engine, "0001")
    async with engine.begin() as conn:
        for sql in (
            "INSERT INTO markets VALUES (1, 'm', 'M', 'Asia/Shanghai', '+863592123456')",
            "INSERT INTO areas VALUES (1, 1, NULL, 'town', 'T', '[]', 0, NULL, NULL)",
            "INSERT INTO trades VALUES (1, 1, 'welder', '焊工', '[]', 0)",
            "INSERT INTO employers VALUES (1, 1, 'E', '+8613900000001', '', "
            "'91140802MA0K000005', 'verified', NULL, NULL, '2026-11-22 00:00:00')",
            "INSERT INTO jobs VALUES (7, 1, 1, 'J7', 'open', '2026-11-23 07:00:00', 3, 0, 1, "
            "'', '', '2026-11-22 00:00:00')",
            "INSERT INTO job_lines VALUES (9, 7, 1, 2, 1, 50000)",
            "INSERT INTO workers (id, market_id, phone, status, alert_channel, priority_group, "
            "created_at) VALUES (1, 1, '+8613800000001', 'active', 'sms', 0, "
            "'2026-11-22 00:00:00')",
            "INSERT INTO offers VALUES (1, 9, 1, 'accepted', 'call_in', "
            "'2026-11-22 00:00:00', '2026-11-22 00:00:00')",
        ):
            await conn.execute(text(sql))
    await upgrade(engine)
    async with engine.connect() as conn:
        job_id = await conn.scalar(text("SELECT job_id FROM offers WHERE id = 1"))
        end_at = await conn.scalar(text("SELECT end_at FROM jobs WHERE id = 7"))
    await engine.dispose()
    assert job_id == 7
    assert str(end_at).startswith("2026-11-26 07:00:00")


async def test_upgrading_gives_each_worker_of_a_recovered_case_their_share(tmp_path):
    """0008 -> 0009: a case that recovered 400元 for workers owed 200元 and 300元 records
    160元 and 240元, the shares their SMS told them."""
    from sqlalchemy import text

    from store.db import make_engine, upgrade

    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'old.db'}")
    await upgrade(engine, "0008")
    async with engine.begin() as conn:
        await conn.execute(text(
            "INSERT INTO markets VALUES (1, 'm', 'M', 'Asia/Shanghai', '+863592123456')"))
        for worker_id in (1, 2, 3):
            await conn.execute(text(
                "INSERT INTO workers (id, market_id, phone, status, alert_channel, "
                "priority_group, jobs_completed, no_shows, created_at) VALUES (:id, 1, :phone, "
                "'active', 'sms', 0, 0, 0, '2026-11-22 00:00:00')"),
                {"id": worker_id, "phone": f"+861380000000{worker_id}"})
        for case_id, recovered in ((1, 40000), (2, 0)):
            await conn.execute(text(
                "INSERT INTO rights_cases (id, status, opened_by, owed_fen, recovered_fen, "
                "opened_at) VALUES (:id, 'recovered', 'agent', 50000, :recovered, "
                "'2026-11-22 00:00:00')"), {"id": case_id, "recovered": recovered})
        for case_id, worker_id, owed in ((1, 1, 20000), (1, 2, 30000), (2, 3, 50000)):
            await conn.execute(text(
                "INSERT INTO case_workers (case_id, worker_id, owed_fen) "
                "VALUES (:case, :worker, :owed)"),
                {"case": case_id, "worker": worker_id, "owed": owed})
    await upgrade(engine)
    async with engine.connect() as conn:
        shares = dict((await conn.execute(text(
            "SELECT worker_id, recovered_fen FROM case_workers"))).all())
    await engine.dispose()
    assert shares == {1: 16000, 2: 24000, 3: 0}


async def test_upgrading_copies_each_workers_town_and_rank_to_his_trades(empty_database_url):
    """0009 -> 0010 and back and again: the trades of workers registered before carry the
    worker's town and rank, and the triggers keep them so after the round trip."""
    from alembic import command
    from sqlalchemy import text

    from store.db import alembic_config, make_engine, upgrade

    engine = make_engine(empty_database_url)
    await upgrade(engine, "0009")
    async with engine.begin() as conn:
        for sql in (
            "INSERT INTO markets VALUES (1, 'm', 'M', 'Asia/Shanghai', '+863592123456')",
            "INSERT INTO areas (id, market_id, kind, name, synonyms, position) "
            "VALUES (5, 1, 'town', 'T', '[]', 0)",
            "INSERT INTO trades VALUES (1, 1, 'welder', '焊工', '[]', 0)",
            "INSERT INTO trades VALUES (2, 1, 'cook', '厨师', '[]', 1)",
        ):
            await conn.execute(text(sql))
        for worker_id, town, completed, priority in ((1, 5, 3, True), (2, None, 0, False)):
            await conn.execute(text(
                "INSERT INTO workers (id, market_id, phone, status, town_id, alert_channel, "
                "priority_group, jobs_completed, no_shows, created_at) VALUES (:id, 1, :phone, "
                "'active', :town, 'sms', :priority, :completed, 0, '2026-11-22 00:00:00')"),
                {"id": worker_id, "phone": f"+861380000000{worker_id}", "town": town,
                 "completed": completed, "priority": priority})
        await conn.execute(text(
            "INSERT INTO worker_trades (worker_id, trade_id) VALUES (1, 1), (1, 2), (2, 1)"))

    async def copies() -> list[tuple]:
        async with engine.connect() as conn:
            return [tuple(row) for row in await conn.execute(text(
                "SELECT worker_id, trade_id, town_id, match_rank FROM worker_trades"
                " ORDER BY worker_id, trade_id"))]

    def downgrade(conn) -> None:
        config = alembic_config()
        config.attributes["connection"] = conn
        command.downgrade(config, "0009")

    expected = [(1, 1, 5, 21.0), (1, 2, 5, 21.0), (2, 1, None, 0.0)]
    await upgrade(engine)
    assert await copies() == expected
    async with engine.begin() as conn:
        await conn.run_sync(downgrade)
    await upgrade(engine)
    assert await copies() == expected
    async with engine.begin() as conn:
        await conn.execute(text("UPDATE workers SET town_id = 5, no_shows = 1 WHERE id = 2"))
    assert (await copies())[2] == (2, 1, 5, -10.0)
    await engine.dispose()


async def test_two_instances_starting_at_once_on_a_new_database_both_start(database_url):
    """Both create the market (PostgreSQL runs them side by side): the loser reads the
    winner's instead of dying on the unique code."""
    from gigline.runtime import start_hotline

    def settings():
        return make_settings(database_url, free_port(), GIGLINE_LOCAL_CARRIER_PORT=str(
            free_port()), GIGLINE_DEMO="1")

    hotlines = await asyncio.gather(start_hotline(settings()), start_hotline(settings()))
    try:
        markets = {hotline.app[DESK].market_id for hotline in hotlines}
        assert len(markets) == 1
    finally:
        for hotline in hotlines:
            await hotline.close()


async def test_a_process_keeps_the_database_connections_it_is_given(
        aiohttp_client, database_url, clock):
    settings = make_settings(database_url, 8080).model_copy(update={"database_pool_size": 3})
    client = await aiohttp_client(create_app(settings, clock=clock))
    # SQLite has one writer, and one connection whatever the setting.
    assert client.app[ENGINE].pool.size() == (3 if database_url.startswith("postgres") else 1)
