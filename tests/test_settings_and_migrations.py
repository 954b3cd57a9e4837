"""Start-up: settings are validated once; a database must be migrated before serving."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web

from gigline.app import create_app
from gigline.cli import main
from gigline.keys import DESK
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
    ({"TWILIO_ACCOUNT_SID": "AC1", "TWILIO_AUTH_TOKEN": "t", "TWILIO_PHONE_NUMBER": "+1",
      "GIGLINE_ID_HASH_KEY": "k" * 32, "GIGLINE_PUBLIC_URL": "http://hotline.example.cn",
      "VOSK_MODEL_PATH": "/opt/vosk/model"}, "https GIGLINE_PUBLIC_URL"),
])
def test_bad_settings_are_refused_with_the_setting_named(env, named):
    with pytest.raises(SettingsError, match=named):
        Settings.from_env(env)


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
