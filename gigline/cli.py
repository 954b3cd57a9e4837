"""`gigline serve | migrate | call`: the hotline from a terminal."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from typing import TYPE_CHECKING

import aiohttp

from gigline.logs import configure_logging, log_to_file
from gigline.runtime import (
    CannotListen,
    LocalCarrierRefused,
    RunningHotlineUnusable,
    running_hotline,
    start_hotline,
)
from gigline.settings import Settings, SettingsError
from store.db import DatabaseNotMigrated, make_engine, upgrade

if TYPE_CHECKING:
    from local_carrier import PhoneLine


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="gigline", description="零工热线 Gigline")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="run the hotline (embedded default: SQLite, local carrier)")
    commands.add_parser("migrate", help="upgrade the database to the latest migration")
    call = commands.add_parser("call", help="call the hotline from this terminal (local carrier)")
    call.add_argument("--from", dest="phone", default="+8613800000001",
                      help="the caller's phone number (default %(default)s)")
    args = parser.parse_args(argv)
    # The terminal phone's prompts are not to be broken up by log lines (see _call).
    configure_logging(logging.WARNING if args.command == "call" else logging.INFO)
    try:
        settings = Settings.from_env(os.environ)
        runner = {"serve": _serve, "migrate": _migrate, "call": _call}[args.command]
        return asyncio.run(runner(settings, args))
    except (SettingsError, DatabaseNotMigrated, CannotListen, LocalCarrierRefused,
            RunningHotlineUnusable) as exc:
        print(f"gigline: {exc}", file=sys.stderr)
        return 2


async def _serve(settings: Settings, args) -> int:
    hotline = await start_hotline(settings)
    print(f"Gigline listening on {hotline.url} (webhooks under {hotline.url}/twilio/)")
    if hotline.carrier:
        print(f"Try the hotline in a browser (keypad, SMS, a worker's and an employer's "
              f"phone): {hotline.carrier.browser_phone_url}")
        print(f"Local carrier (Twilio stand-in) REST API on {hotline.carrier.rest_base} "
              f"(account {settings.account_sid}, auth token {settings.auth_token}); "
              "try a call with: gigline call")
        print(f"Every SMS it carries: {hotline.carrier.rest_base}/inbox")
    if settings.embedded and "demo" in settings.api_tokens.values():
        token = next(t for t, agent in settings.api_tokens.items() if agent == "demo")
        print(f"API token for the agent 'demo': {token}")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await hotline.close()
    return 0


async def _migrate(settings: Settings, args) -> int:
    engine = make_engine(settings.database_url)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()
    print("database is at the latest migration")
    return 0


async def _call(settings: Settings, args) -> int:
    """Calls the hotline running at the configured address (`gigline serve`) through its
    local carrier; with none running, starts one in this process for the call."""
    from local_carrier import LocalLine

    if not settings.uses_local_carrier:
        print("gigline call uses the local carrier: unset the TWILIO_* settings", file=sys.stderr)
        return 2
    async with aiohttp.ClientSession() as http:
        line = await running_hotline(settings, http)
        if line is not None:
            print(f"Calling the hotline running on {settings.public_url}")
            await _terminal_call(line, args.phone)
            return 0
    log_file = settings.data_dir / "gigline-call.log"
    log_to_file(log_file)
    print(f"Starting the hotline for this call; its log goes to {log_file}")
    hotline = await start_hotline(settings)
    try:
        await _terminal_call(LocalLine(hotline.carrier), args.phone)
    finally:
        await hotline.close()
    return 0


async def _terminal_call(line: PhoneLine, phone: str) -> None:
    from local_carrier import run_terminal_call

    loop = asyncio.get_running_loop()

    async def read_line() -> str:
        typed = await loop.run_in_executor(None, sys.stdin.readline)
        if not typed:  # end of input: the caller hangs up
            return "h"
        return typed

    # linger: the SMS a registration sends arrive just after the caller hangs up.
    await run_terminal_call(line, phone, read_line=read_line,
                            write=lambda text: print(text, flush=True), linger=1.0)


if __name__ == "__main__":
    sys.exit(main())
