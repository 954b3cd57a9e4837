"""Start-up: settings are validated once; a database must be migrated before serving."""

from __future__ import annotations

import pytest
from aiohttp import web

from gigline.app import create_app
from gigline.cli import main
from gigline.settings import LOCAL_ACCOUNT_SID, Settings, SettingsError
from store.db import DatabaseNotMigrated
from tests.conftest import TEST_DATABASE_URL, make_settings


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


@pytest.mark.parametrize("env, named", [
    ({"GIGLINE_PUBLIC_URL": "https://hotline.example.cn"}, "loopback"),
    ({"TWILIO_ACCOUNT_SID": "AC1"}, "TWILIO_AUTH_TOKEN"),
    ({"TWILIO_ACCOUNT_SID": "AC1", "TWILIO_AUTH_TOKEN": "t"}, "TWILIO_PHONE_NUMBER"),
    ({"TWILIO_ACCOUNT_SID": "AC1", "TWILIO_AUTH_TOKEN": "t", "TWILIO_PHONE_NUMBER": "+1"},
     "GIGLINE_ID_HASH_KEY"),
    ({"GIGLINE_PORT": "eighty"}, "GIGLINE_PORT"),
    ({"GIGLINE_PUBLIC_URL": "ftp://x"}, "GIGLINE_PUBLIC_URL"),
    ({"GIGLINE_LANGUAGE": "fr"}, "GIGLINE_LANGUAGE"),
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
